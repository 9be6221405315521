package mm

import "testing"

// FuzzVMAs drives the VMA table the way the system-call shim does (mmap: Set after FindFree or at a
// hint; munmap and MAP_FIXED: Remove), with operations decoded from the fuzzer's bytes, and checks it
// against a page-granular model after every step: the table stays sorted, non-overlapping and merged,
// Find agrees with the model on every page touched, and FindFree returns free, in-bounds ranges.
func FuzzVMAs(f *testing.F) {
	f.Add([]byte{0, 1, 4, 3, 1, 2, 2, 0, 1, 1})
	f.Add([]byte{2, 0, 16, 1, 0, 3, 2, 1, 8, 0, 5, 4, 1, 2, 2})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, ops []byte) {
		const pages = 64 // the model: a 64-page window
		var tab VMAs
		var model [pages]uint32 // protection+1 per page, 0 when not mapped
		va := func(p int) uintptr { return uintptr(p) * PageSize }
		for len(ops) >= 4 {
			op, a, n, prot := ops[0]%3, int(ops[1])%pages, int(ops[2])%16+1, uint32(ops[3])%8
			ops = ops[4:]
			if a+n > pages {
				n = pages - a
			}
			switch op {
			case 0: // mmap at a hint (MAP_FIXED_NOREPLACE-like): Set only where free
				if tab.Overlaps(va(a), va(a+n)) {
					continue
				}
				if tab.Set(va(a), va(a+n), prot) {
					for p := a; p < a+n; p++ {
						model[p] = prot + 1
					}
				}
			case 1: // munmap
				if tab.Remove(va(a), va(a+n)) {
					for p := a; p < a+n; p++ {
						model[p] = 0
					}
				}
			case 2: // mmap anywhere in the window
				at, ok := tab.FindFree(va(n), 0, va(pages))
				if !ok {
					continue
				}
				if at%PageSize != 0 || at+va(n) > va(pages) || tab.Overlaps(at, at+va(n)) {
					t.Fatalf("FindFree(%d pages) = %#x: not a free, in-bounds, aligned range", n, at)
				}
				if tab.Set(at, at+va(n), prot) {
					for p := int(at / PageSize); p < int(at/PageSize)+n; p++ {
						model[p] = prot + 1
					}
				}
			}
			for i := 0; i < tab.Len(); i++ {
				v := tab.At(i)
				if v.Start >= v.End {
					t.Fatalf("empty or inverted area %+v", v)
				}
				if i > 0 {
					prev := tab.At(i - 1)
					if prev.End > v.Start {
						t.Fatalf("areas %+v and %+v overlap or are out of order", prev, v)
					}
					if prev.End == v.Start && prev.Prot == v.Prot {
						t.Fatalf("adjacent areas %+v and %+v of equal protection are not merged", prev, v)
					}
				}
			}
			for p := 0; p < pages; p++ {
				v, ok := tab.Find(va(p) + 7)
				if ok != (model[p] != 0) || ok && v.Prot+1 != model[p] {
					t.Fatalf("page %d: Find says %v %+v, the model says %d", p, ok, v, model[p])
				}
			}
		}
	})
}
