package mm

import (
	"math/rand"
	"testing"
)

// Host tests of fork's copy (dup_mmap), the write fault's decision (do_wp_page) and copy
// (wp_page_copy), and the share table that keeps a frame until its last mapping goes.

// emptyShares starts a test with an empty share table, and leaves one.
func emptyShares(t *testing.T) {
	clear := func() { shareTable, nShared = [shareSlots]struct{ frame, extra uint64 }{}, 0 }
	clear()
	t.Cleanup(clear)
}

// fork copies the VMAs and maps every page in the child to the same frame, write-protected in both.
func TestForkSharesWriteProtected(t *testing.T) {
	emptyShares(t)
	a := setupMM(t, 128)
	parent, child := newAS(t, a), newAS(t, a)
	rw := mapFresh(t, a, parent, UserBase(), 3, true)
	ro := mapFresh(t, a, parent, UserBase()+8*PageSize, 1, false)
	n, ok := parent.Fork(a, child)
	if !ok || n != 3 || child.Pages != 4 || SharedFrames() != 4 {
		t.Fatalf("Fork: %d write-protected, ok %v, child pages %d, shared %d; want 3, true, 4, 4", n, ok, child.Pages, SharedFrames())
	}
	for i, f := range append(rw, ro...) {
		va := UserBase() + uintptr(i)*PageSize
		if i == 3 {
			va = UserBase() + 8*PageSize
		}
		for _, as := range []*AddrSpace{parent, child} {
			if e, _ := Leaf(as.Root, va); e&PT.AddrMask>>PageShift != f || e&PT.Write != 0 {
				t.Errorf("page %d: entry %#x, want frame %d read-only", i, e, f)
			}
		}
	}
	if child.vmas.Len() != 2 {
		t.Errorf("child has %d VMAs, want the parent's 2", child.vmas.Len())
	}
	// a write fault: copied while shared, reused once the other mapping is gone
	p, kind := child.WriteFault(UserBase())
	if kind != WPCopy {
		t.Fatalf("write fault on a shared page: %v, want WPCopy", kind)
	}
	to, _ := a.Alloc(UserData)
	*(*uint64)(Phys(rw[0] << PageShift)) = 0x5a
	old := CopyOut(p, to)
	if *(*uint64)(Phys(to << PageShift)) != 0x5a || *p != 0 || old != rw[0] {
		t.Errorf("CopyOut: contents %#x, entry %#x, old frame %d", *(*uint64)(Phys(to << PageShift)), *p, old)
	}
	if CopyIn(p, to, old) || FrameShared(old) {
		t.Errorf("CopyIn: the parent's mapping still holds frame %d: it must not be freed, nor shared", old)
	}
	if _, kind := parent.WriteFault(UserBase()); kind != WPReused {
		t.Errorf("the parent's write fault after the child's copy: %v, want WPReused", kind)
	}
	if _, kind := parent.WriteFault(UserBase()); kind != WPSpurious {
		t.Errorf("a second write fault: %v, want WPSpurious", kind)
	}
	if _, kind := parent.WriteFault(UserBase() + 8*PageSize); kind != WPNone {
		t.Errorf("a write fault in a read-only VMA: %v, want WPNone", kind)
	}
}

// exit of either side frees a shared frame only with its last mapping.
func TestForkExitFreesOnce(t *testing.T) {
	emptyShares(t)
	a := setupMM(t, 128)
	parent, child := newAS(t, a), newAS(t, a)
	frames := mapFresh(t, a, parent, UserBase(), 4, true)
	if _, ok := parent.Fork(a, child); !ok {
		t.Fatal("Fork failed")
	}
	out := new(FrameList)
	child.ExitTables(a, out, 0)
	for _, f := range out.frames() {
		if a.KindOf(f) == UserData {
			t.Errorf("the child's exit listed frame %d, which the parent still maps", f)
		}
	}
	out.FreeAll(a)
	if SharedFrames() != 0 {
		t.Errorf("%d frames still shared after the child's exit", SharedFrames())
	}
	parent.ExitTables(a, out, 0)
	var data []uint64
	for _, f := range out.frames() {
		if a.KindOf(f) == UserData {
			data = append(data, f)
		}
	}
	if !sameSet(data, frames) {
		t.Errorf("the parent's exit listed frames %v, want %v", data, frames)
	}
}

// The share table against a map, through random shares and unshares (deletion moves entries back).
func TestShareTable(t *testing.T) {
	emptyShares(t)
	model := map[uint64]int{}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		f := uint64(rng.Intn(3000) + 1)
		if rng.Intn(2) == 0 && len(model) < shareSlots/2 {
			if !shareFrame(f) {
				t.Fatalf("share %d refused with %d shared", f, len(model))
			}
			model[f]++
		} else if held := unshareFrame(f); held != (model[f] > 0) {
			t.Fatalf("unshare %d: held %v, model %d", f, held, model[f])
		} else if held {
			if model[f]--; model[f] == 0 {
				delete(model, f)
			}
		}
		if SharedFrames() != len(model) {
			t.Fatalf("step %d: %d shared, model %d", i, SharedFrames(), len(model))
		}
	}
	for f := range model {
		if !FrameShared(f) {
			t.Errorf("frame %d lost from the table", f)
		}
		for unshareFrame(f) {
		}
	}
}
