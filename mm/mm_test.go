package mm

import (
	"testing"
	"unsafe"
)

// Host tests of the arch-neutral memory code: a byte slice poses as RAM (no MMU is involved here;
// the page tables are only built and walked, as the kernel's #PF handler and crash dumper do).

// fakeRAM points the direct map at n page-aligned frames of host memory.
func fakeRAM(t *testing.T, n int) {
	ram := make([]byte, (n+1)*PageSize)
	off := -uintptr(unsafe.Pointer(&ram[0])) & (PageSize - 1) // page-align "physical 0"
	DirectMap = unsafe.Pointer(&ram[off])
	t.Cleanup(func() { DirectMap = nil })
}

func TestAllocator(t *testing.T) {
	fakeRAM(t, 64)
	var a Allocator
	a.Init(make([]Kind, 64))
	a.SetRange(8, 8, Free)
	seen := map[uint64]bool{}
	for i := 0; i < 8; i++ {
		f, ok := a.Alloc(Runtime)
		if !ok || f < 8 || f >= 16 || seen[f] {
			t.Fatalf("alloc %d: frame %d ok=%v", i, f, ok)
		}
		seen[f] = true
	}
	if _, ok := a.Alloc(Runtime); ok {
		t.Fatal("allocated beyond free memory")
	}
	if a.Count(Runtime) != 8 || a.Count(Free) != 0 {
		t.Errorf("counts runtime=%d free=%d", a.Count(Runtime), a.Count(Free))
	}
	if !a.Free(9) || a.Free(9) {
		t.Error("double free not refused")
	}
	if a.Free(0) {
		t.Error("freeing a reserved frame not refused")
	}
	if a.KindOf(9) != Quarantined {
		t.Errorf("a freed frame is %v, want quarantined", a.KindOf(9))
	}
	if _, ok := a.Alloc(PageTable); ok {
		t.Error("a quarantined frame was handed out again")
	}
	a.Drain()
	if f, ok := a.Alloc(PageTable); !ok || f != 9 || a.KindOf(9) != PageTable {
		t.Errorf("realloc got %d %v %v", f, ok, a.KindOf(9))
	}
}

// Freed frames are poisoned (as page-table entries: not present); a write into one while it is
// quarantined is reported when it leaves quarantine, and only then.
func TestQuarantinePoison(t *testing.T) {
	fakeRAM(t, QuarantineFrames+8)
	var a Allocator
	a.Init(make([]Kind, QuarantineFrames+8))
	a.SetRange(0, QuarantineFrames+8, Free)
	f, _ := a.Alloc(Runtime)
	a.Free(f)
	page := (*[PageSize / 8]uint64)(Phys(f << PageShift))
	for i, v := range page {
		if v != Poison || v&1 != 0 {
			t.Fatalf("word %d of a freed frame is %#x, want poison %#x (not present)", i, v, uint64(Poison))
		}
	}
	page[100] = 42 // write after free
	if n, _ := a.Violations(); n != 0 {
		t.Fatalf("violation reported before the frame left quarantine")
	}
	// push it out of the quarantine by freeing QuarantineFrames others
	for i := 0; i < QuarantineFrames; i++ {
		g, ok := a.Alloc(Runtime)
		if !ok {
			t.Fatalf("alloc %d failed", i)
		}
		a.Free(g)
	}
	n, v := a.Violations()
	if n != 1 || v[0].Frame != f || v[0].Offset != 800 || v[0].Value != 42 {
		t.Errorf("violations %d %+v, want one at frame %d offset 800 value 42", n, v, f)
	}
	a.Drain()
	if n, _ := a.Violations(); n != 1 || a.Count(Quarantined) != 0 {
		t.Errorf("after drain: %d violations, %d quarantined", n, a.Count(Quarantined))
	}
}

func TestVMAs(t *testing.T) {
	type op struct {
		set        bool
		start, end uintptr
		prot       uint32
	}
	cases := []struct {
		name string
		ops  []op
		want []VMA
	}{
		{"merge", []op{{true, 0x1000, 0x3000, 3}, {true, 0x3000, 0x5000, 3}}, []VMA{{0x1000, 0x5000, 3}}},
		{"split by prot", []op{{true, 0x1000, 0x5000, 0}, {true, 0x2000, 0x3000, 3}}, []VMA{{0x1000, 0x2000, 0}, {0x2000, 0x3000, 3}, {0x3000, 0x5000, 0}}},
		{"hole", []op{{true, 0x1000, 0x5000, 3}, {false, 0x2000, 0x3000, 0}}, []VMA{{0x1000, 0x2000, 3}, {0x3000, 0x5000, 3}}},
		{"remove all", []op{{true, 0x1000, 0x2000, 3}, {true, 0x4000, 0x5000, 3}, {false, 0, 0x10000, 0}}, nil},
		{"head and tail", []op{{true, 0x1000, 0x5000, 3}, {false, 0, 0x2000, 0}, {false, 0x4000, 0x9000, 0}}, []VMA{{0x2000, 0x4000, 3}}},
	}
	for _, c := range cases {
		var v VMAs
		for _, o := range c.ops {
			if o.set {
				v.Set(o.start, o.end, o.prot)
			} else {
				v.Remove(o.start, o.end)
			}
		}
		if v.Len() != len(c.want) {
			t.Errorf("%s: %d areas, want %d", c.name, v.Len(), len(c.want))
			continue
		}
		for i, w := range c.want {
			if v.At(i) != w {
				t.Errorf("%s: area %d = %+v, want %+v", c.name, i, v.At(i), w)
			}
		}
	}
	var v VMAs
	v.Set(0x10000, 0x20000, 3)
	if a, ok := v.FindFree(0x8000, 0x8000, 0x40000); !ok || a != 0x8000 {
		t.Errorf("FindFree before = %#x %v", a, ok)
	}
	if a, ok := v.FindFree(0x10000, 0x8000, 0x40000); !ok || a != 0x20000 {
		t.Errorf("FindFree after = %#x %v", a, ok)
	}
	if _, ok := v.Find(0x1ffff); !ok {
		t.Error("Find inside failed")
	}
}

func TestWalkTranslateClear(t *testing.T) {
	ram := make([]byte, 64*PageSize+PageSize)
	off := -uintptr(unsafe.Pointer(&ram[0])) & (PageSize - 1) // page-align "physical 0"
	DirectMap = unsafe.Pointer(&ram[off])
	defer func() { DirectMap = nil }()
	PT = Format{Levels: 4, Present: 1, Write: 2, Huge: 1 << 7, Table: 3, AddrMask: 0x000f_ffff_ffff_f000}
	var a Allocator
	a.Init(make([]Kind, 64))
	a.SetRange(0, 64, Free)
	root, _ := a.Alloc(PageTable)
	ZeroFrame(root)
	va := uintptr(0x7e00_1234_5000)
	p := Walk(&a, root<<PageShift, va, true)
	data, _ := a.Alloc(Runtime)
	*p = data<<PageShift | 3
	if pa, ok := Translate(root<<PageShift, va+0x123); !ok || pa != data<<PageShift|0x123 {
		t.Fatalf("Translate = %#x %v", pa, ok)
	}
	if a.Count(PageTable) != 4 {
		t.Errorf("page-table pages = %d, want 4", a.Count(PageTable))
	}
	if _, ok := Translate(root<<PageShift, va+PageSize); ok {
		t.Error("unmapped page translates")
	}
	var deferred FrameList
	if n := ClearRange(&a, root<<PageShift, 0, 1<<47, &deferred); n != 1 {
		t.Errorf("ClearRange cleared %d pages, want 1", n)
	}
	if _, ok := Translate(root<<PageShift, va); ok || a.KindOf(data) != Runtime {
		t.Error("page still mapped, or its frame freed before the flush")
	}
	deferred.FreeAll(&a)
	if a.KindOf(data) != Quarantined {
		t.Error("frame not freed (quarantined) after FreeAll")
	}
}

// AllocAligned finds n free frames in a row, the first a multiple of n, or reports there are none;
// a run broken by one allocated frame or crossing an alignment boundary does not count.
func TestAllocAligned(t *testing.T) {
	fakeRAM(t, 128)
	var a Allocator
	a.Init(make([]Kind, 128))
	a.SetRange(5, 40, Free) // 5..44: the aligned runs of 16 are 16..31 and 32..47 (only to 44: no)
	a.SetRange(20, 1, Runtime)
	if f, ok := a.AllocAligned(16, MMTable); ok {
		t.Fatalf("allocated %d..%d over a used frame or past free memory", f, f+15)
	}
	a.SetRange(20, 1, Free)
	f, ok := a.AllocAligned(16, MMTable)
	if !ok || f != 16 {
		t.Fatalf("AllocAligned(16) = %d, %v; want 16", f, ok)
	}
	if a.Count(MMTable) != 16 || a.KindOf(16) != MMTable || a.KindOf(31) != MMTable || a.KindOf(32) != Free {
		t.Errorf("counts: mm-pagetable %d; kinds of 16, 31, 32: %v %v %v", a.Count(MMTable), a.KindOf(16), a.KindOf(31), a.KindOf(32))
	}
	if g, ok := a.AllocAligned(4, Object); !ok || g%4 != 0 || g < 32 || g > 40 {
		t.Errorf("AllocAligned(4) = %d, %v; want an aligned run in 32..44", g, ok)
	}
	if g, ok := a.AllocAligned(1, Object); !ok || a.KindOf(g) != Object {
		t.Errorf("AllocAligned(1) = %d, %v", g, ok)
	}
}
