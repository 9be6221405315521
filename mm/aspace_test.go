package mm

import (
	"testing"
	"unsafe"
)

// Host tests of AddrSpace: fake RAM (see fakeRAM), an x86-64-like page-table format and a fake
// init_mm whose root holds a few kernel top-level entries.

// x86PT is an x86-64-like 4-level format; slot 128 is the user range (256 TiB + 512 GiB).
var x86PT = Format{Levels: 4, Present: 1, Write: 2, NoExec: 1 << 63, Huge: 1 << 7, Table: 3,
	AddrMask: 0x000f_ffff_ffff_f000, UserSlot: 128}

// kernelSlots are the top-level entries of the fake kernel half (identity map, runtime, image).
var kernelSlots = []int{0, 256, 511}

// topLevel is the span of one top-level entry under x86PT.
const topLevel = uintptr(1) << (PageShift + 9*3)

// setupMM gives a test fake RAM of frames frames (frame 0 stays reserved), x86PT, an InitMM whose root
// holds kernelSlots' entries (each pointing at an empty kernel table), an empty live table and every
// CPU's TLB state at boot. All of it is restored when the test ends.
func setupMM(t *testing.T, frames int) *Allocator {
	t.Helper()
	fakeRAM(t, frames)
	savedPT, savedInit := PT, InitMM
	savedLive, savedNLive, savedNext := live, nLive, nextCtx
	savedTLB := TLB
	t.Cleanup(func() {
		PT, InitMM = savedPT, savedInit
		live, nLive, nextCtx = savedLive, savedNLive, savedNext
		TLB = savedTLB
	})
	PT = x86PT
	live, nLive = [MaxAddrSpaces]uintptr{}, 0

	a := new(Allocator)
	a.Init(make([]Kind, frames))
	a.SetRange(1, uint64(frames-1), Free)
	root := allocZeroed(t, a, PageTable)
	InitMM.Root = root << PageShift
	for _, s := range kernelSlots {
		kt := allocZeroed(t, a, PageTable)
		table(InitMM.Root)[s] = kt<<PageShift | PT.Table
	}
	TLB = [MaxCPUs]TLBState{} // Reset keeps Stats: start from zero
	for cpu := range TLB {
		TLB[cpu].Reset()
	}
	return a
}

func allocZeroed(t *testing.T, a *Allocator, k Kind) uint64 {
	t.Helper()
	f, ok := a.Alloc(k)
	if !ok {
		t.Fatalf("out of fake RAM allocating %v", k)
	}
	ZeroFrame(f)
	return f
}

// table returns the page-table page at physical address pa.
func table(pa uint64) *[512]uint64 { return (*[512]uint64)(Phys(pa)) }

func newAS(t *testing.T, a *Allocator) *AddrSpace {
	t.Helper()
	as, ok := NewAddrSpace(a)
	if !ok {
		t.Fatal("NewAddrSpace failed")
	}
	return as
}

// objectFrame is the frame holding as's struct.
func objectFrame(as *AddrSpace) uint64 {
	return uint64(uintptr(unsafe.Pointer(as))-uintptr(DirectMap)) >> PageShift
}

// mapFresh maps n pages from va on, each to a newly allocated UserData frame, and returns the frames.
func mapFresh(t *testing.T, a *Allocator, as *AddrSpace, va uintptr, n int, write bool) []uint64 {
	t.Helper()
	frames := make([]uint64, n)
	for i := range frames {
		f, ok := a.Alloc(UserData)
		if !ok {
			t.Fatalf("out of fake RAM mapping page %d", i)
		}
		if !as.Map(a, va+uintptr(i)*PageSize, f, write) {
			t.Fatalf("Map(%#x) failed", va+uintptr(i)*PageSize)
		}
		frames[i] = f
	}
	return frames
}

// userTables lists the page-table frames under as's user slot (the root excluded), found by walking.
func userTables(as *AddrSpace) []uint64 {
	var out []uint64
	var walk func(pa uint64, level int)
	walk = func(pa uint64, level int) {
		out = append(out, pa>>PageShift)
		if level == PT.Levels-1 {
			return
		}
		for _, e := range table(pa) {
			if e&PT.Present != 0 && e&PT.Huge == 0 {
				walk(e&PT.AddrMask, level+1)
			}
		}
	}
	if e := table(as.Root)[PT.UserSlot]; e&PT.Present != 0 {
		walk(e&PT.AddrMask, 1)
	}
	return out
}

// poisoned reports whether every word of frame is Poison.
func poisoned(frame uint64) bool {
	for _, v := range (*[PageSize / 8]uint64)(Phys(frame << PageShift)) {
		if v != Poison {
			return false
		}
	}
	return true
}

func (l *FrameList) frames() []uint64 { return append([]uint64(nil), l.f[:l.n]...) }

func sameSet(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[uint64]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		if m[x] == 0 {
			return false
		}
		m[x]--
	}
	return true
}

// NewAddrSpace copies InitMM's top-level entries (the kernel half) but leaves the user slot empty, even
// when InitMM's has something in it; the struct and root live in Object and MMTable frames.
func TestNewAddrSpaceCopiesKernelHalf(t *testing.T) {
	a := setupMM(t, 64)
	src := table(InitMM.Root)
	src[PT.UserSlot] = 0x5000 | PT.Table // junk that must not be copied
	src[300] = 0x7000 | PT.Present       // an entry that is not a table: copied verbatim
	pt, obj, n := a.Count(MMTable), a.Count(Object), LiveAddrSpaces()

	as1, as2 := newAS(t, a), newAS(t, a)
	for _, as := range []*AddrSpace{as1, as2} {
		dst := table(as.Root)
		for i := range dst {
			want := src[i]
			if i == PT.UserSlot {
				want = 0
			}
			if dst[i] != want {
				t.Errorf("root entry %d = %#x, want %#x", i, dst[i], want)
			}
		}
		if as.Magic != asMagic || as.Users != 1 || as.Count != 1 || as.Tables != 1 || as.Pages != 0 || as.CPUMask != 0 || as.TLBGen != 0 {
			t.Errorf("fresh address space %+v", *as)
		}
		if a.KindOf(as.Root>>PageShift) != MMTable || a.KindOf(objectFrame(as)) != Object {
			t.Errorf("root frame is %v, struct frame %v", a.KindOf(as.Root>>PageShift), a.KindOf(objectFrame(as)))
		}
		if as.CtxID == 0 || as.CtxID == InitMM.CtxID {
			t.Errorf("ctx_id %d collides with the empty slot or InitMM", as.CtxID)
		}
		if !Live(as) {
			t.Error("new address space not Live")
		}
	}
	if as1.CtxID == as2.CtxID || as1.Root == as2.Root {
		t.Errorf("two spaces share ctx_id %d/%d or root %#x/%#x", as1.CtxID, as2.CtxID, as1.Root, as2.Root)
	}
	if a.Count(MMTable) != pt+2 || a.Count(Object) != obj+2 || LiveAddrSpaces() != n+2 {
		t.Errorf("counts pagetable +%d object +%d live +%d, want +2 each",
			a.Count(MMTable)-pt, a.Count(Object)-obj, LiveAddrSpaces()-n)
	}
}

// Map accepts only page-aligned addresses inside the user slot that are not mapped yet, and touches
// nothing when it refuses.
func TestMapRefusals(t *testing.T) {
	a := setupMM(t, 64)
	as := newAS(t, a)
	frame := allocZeroed(t, a, UserData)
	cases := []struct {
		name string
		va   uintptr
		want bool
	}{
		{"first user page", UserBase(), true},
		{"last user page", UserEnd() - PageSize, true},
		{"double map", UserBase(), false},
		{"double map, last page", UserEnd() - PageSize, false},
		{"unaligned", UserBase() + PageSize + 8, false},
		{"below the user range", UserBase() - PageSize, false},
		{"at the user end", UserEnd(), false},
		{"kernel slot 0", 0x1000, false},
		{"kernel slot 256", 256 * topLevel, false},
		{"kernel slot 511", 511 * topLevel, false},
	}
	for _, c := range cases {
		pt := a.Count(MMTable)
		if got := as.Map(a, c.va, frame, true); got != c.want {
			t.Errorf("%s: Map(%#x) = %v, want %v", c.name, c.va, got, c.want)
		}
		if !c.want && a.Count(MMTable) != pt {
			t.Errorf("%s: a refused Map allocated %d page tables", c.name, a.Count(MMTable)-pt)
		}
	}
	if as.Pages != 2 {
		t.Errorf("Pages = %d, want 2", as.Pages)
	}
	for _, s := range kernelSlots {
		if table(as.Root)[s] != table(InitMM.Root)[s] {
			t.Errorf("kernel entry %d changed by Map", s)
		}
	}
	if _, ok := Translate(as.Root, 256*topLevel); ok {
		t.Error("a refused kernel-range Map translates")
	}
}

// Map, Translate and Unmap in the user range: the entry's bits, the table accounting, and Unmap
// deferring the frames (on the list, not freed).
func TestMapTranslateUnmap(t *testing.T) {
	a := setupMM(t, 128)
	as := newAS(t, a)
	base := UserBase() + 5*PageSize
	pt := a.Count(MMTable)
	rw := mapFresh(t, a, as, base, 4, true)
	ro := mapFresh(t, a, as, base+4*PageSize, 2, false)
	frames := append(append([]uint64(nil), rw...), ro...)
	if got := a.Count(MMTable) - pt; got != 3 || as.Tables != 4 {
		t.Errorf("page tables allocated %d (Tables %d), want 3 (Tables 4: root, PDPT, PD, PT)", got, as.Tables)
	}
	if as.Pages != 6 {
		t.Errorf("Pages = %d, want 6", as.Pages)
	}
	for i, f := range frames {
		va := base + uintptr(i)*PageSize
		if pa, ok := as.Translate(va + 0x234); !ok || pa != f<<PageShift|0x234 {
			t.Errorf("Translate(%#x) = %#x %v, want %#x", va+0x234, pa, ok, f<<PageShift|0x234)
		}
		e := *Walk(a, as.Root, va, false)
		want := f<<PageShift | PT.Present | PT.NoExec
		if i < len(rw) {
			want |= PT.Write
		}
		if e != want {
			t.Errorf("entry for %#x = %#x, want %#x", va, e, want)
		}
	}
	if _, ok := as.Translate(base - PageSize); ok {
		t.Error("an unmapped page translates")
	}
	if _, ok := Translate(InitMM.Root, base); ok {
		t.Error("a user mapping shows through InitMM")
	}

	out := new(FrameList)
	if n := as.Unmap(a, UserBase()-PageSize, base+PageSize, out); n != 0 || out.n != 0 {
		t.Errorf("Unmap across the user range's start cleared %d pages", n)
	}
	if n := as.Unmap(a, base, base, out); n != 0 {
		t.Errorf("empty Unmap cleared %d pages", n)
	}
	if n := as.Unmap(a, base+PageSize, base+3*PageSize, out); n != 2 || as.Pages != 4 {
		t.Errorf("Unmap cleared %d pages (Pages %d), want 2 (4)", n, as.Pages)
	}
	if got := out.frames(); !sameSet(got, frames[1:3]) {
		t.Errorf("deferred frames %v, want %v", got, frames[1:3])
	}
	for i, f := range frames {
		_, ok := as.Translate(base + uintptr(i)*PageSize)
		if want := i < 1 || i >= 3; ok != want {
			t.Errorf("page %d translates %v after Unmap, want %v", i, ok, want)
		}
		if a.KindOf(f) != UserData {
			t.Errorf("frame %d is %v after Unmap: freed before the flush", f, a.KindOf(f))
		}
	}
	// the whole user range at once: the walk skips the empty gigabytes, and with no VMA left the
	// PT, PD and PDPT go too (free_pgtables), deferred with the pages
	if n := as.Unmap(a, UserBase(), UserEnd(), out); n != 4 || as.Pages != 0 || as.Tables != 1 {
		t.Errorf("Unmap of the user range cleared %d (Pages %d, Tables %d), want 4 (0, 1)", n, as.Pages, as.Tables)
	}
	var data, tables []uint64
	for _, f := range out.frames() {
		if a.KindOf(f) == MMTable {
			tables = append(tables, f)
		} else {
			data = append(data, f)
		}
	}
	if !sameSet(data, frames) || len(tables) != 3 || table(as.Root)[PT.UserSlot] != 0 {
		t.Errorf("deferred frames %v and tables %v, want %v and 3; root's user entry %#x", data, tables, frames, table(as.Root)[PT.UserSlot])
	}
	// the page can be mapped again, to another frame
	again := mapFresh(t, a, as, base+PageSize, 1, true)
	if pa, ok := as.Translate(base + PageSize); !ok || pa>>PageShift != again[0] {
		t.Errorf("remapped page translates to %#x %v, want frame %d", pa, ok, again[0])
	}
	out.FreeAll(a)
	for _, f := range frames {
		if a.KindOf(f) != Quarantined {
			t.Errorf("frame %d is %v after FreeAll, want quarantined", f, a.KindOf(f))
		}
	}
}

// Protect changes only mapped pages in the user range and counts the entries it changed.
func TestProtect(t *testing.T) {
	a := setupMM(t, 64)
	as := newAS(t, a)
	base := UserBase() + 2<<20
	// pages 0, 1, 2 writable, 3 unmapped, 4 read-only
	mapFresh(t, a, as, base, 3, true)
	mapFresh(t, a, as, base+4*PageSize, 1, false)
	pg := func(i int) uintptr { return base + uintptr(i)*PageSize }
	steps := []struct {
		name       string
		start, end uintptr
		write      bool
		want       uint64
		writable   [5]bool
	}{
		{"read-only over all five", pg(0), pg(5), false, 3, [5]bool{}},
		{"again: nothing changes", pg(0), pg(5), false, 0, [5]bool{}},
		{"one page writable", pg(1), pg(2), true, 1, [5]bool{false, true}},
		{"the unmapped page", pg(3), pg(4), true, 0, [5]bool{false, true}},
		{"empty range", pg(0), pg(0), true, 0, [5]bool{false, true}},
		{"across the user range's start: refused", UserBase() - PageSize, pg(5), true, 0, [5]bool{false, true}},
		{"beyond the user range: refused", pg(0), UserEnd() + PageSize, true, 0, [5]bool{false, true}},
		{"the whole user range", UserBase(), UserEnd(), true, 3, [5]bool{true, true, true, false, true}},
	}
	for _, s := range steps {
		if got := as.Protect(s.start, s.end, s.write); got != s.want {
			t.Errorf("%s: changed %d, want %d", s.name, got, s.want)
		}
		for i, w := range s.writable {
			p := Walk(a, as.Root, pg(i), false)
			if i == 3 {
				if *p != 0 {
					t.Errorf("%s: Protect created an entry %#x for an unmapped page", s.name, *p)
				}
				continue
			}
			if got := *p&PT.Write != 0; got != w || *p&PT.Present == 0 || *p&PT.NoExec == 0 {
				t.Errorf("%s: page %d entry %#x, want writable=%v, present, no-exec", s.name, i, *p, w)
			}
		}
	}
}

// LiveRoot knows the roots of live spaces and InitMM's, and forgets a root once its space is freed.
func TestLiveRoot(t *testing.T) {
	a := setupMM(t, 64)
	as1, as2 := newAS(t, a), newAS(t, a)
	cases := []struct {
		name string
		root uint64
		want *AddrSpace
	}{
		{"InitMM", InitMM.Root, &InitMM},
		{"first", as1.Root, as1},
		{"second", as2.Root, as2},
		{"a kernel table, not a root", table(InitMM.Root)[256] & PT.AddrMask, nil},
		{"physical 0", 0, nil},
	}
	for _, c := range cases {
		got, ok := LiveRoot(c.root)
		if got != c.want || ok != (c.want != nil) {
			t.Errorf("%s: LiveRoot(%#x) = %p %v, want %p", c.name, c.root, got, ok, c.want)
		}
	}
	root1 := as1.Root
	FreeAddrSpace(a, as1, new(FrameList), 0)
	if got, ok := LiveRoot(root1); ok || got != nil {
		t.Errorf("LiveRoot of a freed root = %p %v", got, ok)
	}
	if Live(as1) {
		t.Error("a freed space is Live")
	}
	if got, ok := LiveRoot(as2.Root); !ok || got != as2 {
		t.Errorf("LiveRoot of the survivor = %p %v", got, ok)
	}
	if got, ok := LiveRoot(InitMM.Root); !ok || got != &InitMM {
		t.Errorf("LiveRoot(InitMM) = %p %v after a free", got, ok)
	}
}

// buildSpace makes a space with pages in three PTs under two PDs: 6 user tables, 7 with the root.
func buildSpace(t *testing.T, a *Allocator) (*AddrSpace, []uint64) {
	t.Helper()
	as := newAS(t, a)
	var leaves []uint64
	leaves = append(leaves, mapFresh(t, a, as, UserBase(), 2, true)...)
	leaves = append(leaves, mapFresh(t, a, as, UserBase()+2<<20, 1, true)...)
	leaves = append(leaves, mapFresh(t, a, as, UserBase()+5<<30+7*PageSize, 1, false)...)
	if as.Tables != 7 {
		t.Fatalf("Tables = %d, want 7", as.Tables)
	}
	return as, leaves
}

// FreeAddrSpace gives back every page-table frame and the struct's frame, poisoned, and defers the
// mapped frames onto the list without freeing them.
func TestFreeAddrSpaceReturnsFrames(t *testing.T) {
	a := setupMM(t, 128)
	pt, obj, n := a.Count(MMTable), a.Count(Object), LiveAddrSpaces()
	other := newAS(t, a) // a bystander that must survive
	otherLeaves := mapFresh(t, a, other, UserBase(), 1, true)
	pt2, obj2 := a.Count(MMTable), a.Count(Object)

	as, leaves := buildSpace(t, a)
	tables := append(userTables(as), as.Root>>PageShift)
	if len(tables) != 7 {
		t.Fatalf("walk found %d tables, want 7", len(tables))
	}
	objFrame := objectFrame(as)
	out := new(FrameList)
	FreeAddrSpace(a, as, out, 0)

	if a.Count(MMTable) != pt2 || a.Count(Object) != obj2 || LiveAddrSpaces() != n+1 {
		t.Errorf("after free: pagetable %d object %d live %d, want %d %d %d",
			a.Count(MMTable), a.Count(Object), LiveAddrSpaces(), pt2, obj2, n+1)
	}
	if !sameSet(out.frames(), leaves) {
		t.Errorf("deferred %v, want the mapped frames %v", out.frames(), leaves)
	}
	for _, f := range leaves {
		if a.KindOf(f) != UserData {
			t.Errorf("mapped frame %d is %v: freed before the caller's flush", f, a.KindOf(f))
		}
	}
	for _, f := range append(tables, objFrame) {
		if a.KindOf(f) != Quarantined || !poisoned(f) {
			t.Errorf("freed frame %d is %v, poisoned %v", f, a.KindOf(f), poisoned(f))
		}
	}
	if as.Magic != Poison {
		t.Errorf("a freed struct reads Magic %#x, want poison", as.Magic)
	}
	if _, ok := Translate(tables[len(tables)-1]<<PageShift, UserBase()); ok {
		t.Error("a walk through the freed root still translates")
	}
	// the bystander is whole
	if pa, ok := other.Translate(UserBase()); !ok || pa>>PageShift != otherLeaves[0] || !Live(other) {
		t.Errorf("bystander translates %#x %v, live %v", pa, ok, Live(other))
	}
	out2 := new(FrameList)
	FreeAddrSpace(a, other, out2, 0)
	if a.Count(MMTable) != pt || a.Count(Object) != obj || LiveAddrSpaces() != n {
		t.Errorf("baseline not restored: pagetable %d object %d live %d, want %d %d %d",
			a.Count(MMTable), a.Count(Object), LiveAddrSpaces(), pt, obj, n)
	}
	out.FreeAll(a)
	out2.FreeAll(a)
	a.Drain()
	if v, _ := a.Violations(); v != 0 {
		t.Errorf("%d writes into quarantined frames", v)
	}
}

// leakTables (inject=leak-pagetable) forgets exactly that many page-table pages; the root and the
// struct are freed regardless.
func TestFreeAddrSpaceLeakTables(t *testing.T) {
	for _, c := range []struct {
		name       string
		leak, want int
	}{
		{"none", 0, 0},
		{"one", 1, 1},
		{"two", 2, 2},
		{"every user table", 6, 6},
		{"more than there are: capped at the user tables", 100, 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := setupMM(t, 64)
			pt, obj := a.Count(MMTable), a.Count(Object)
			as, _ := buildSpace(t, a)
			root := as.Root >> PageShift
			FreeAddrSpace(a, as, new(FrameList), c.leak)
			if got := int(a.Count(MMTable) - pt); got != c.want {
				t.Errorf("leaked %d page tables, want %d", got, c.want)
			}
			if a.Count(Object) != obj || a.KindOf(root) != Quarantined {
				t.Errorf("struct or root not freed: object +%d, root %v", a.Count(Object)-obj, a.KindOf(root))
			}
		})
	}
}

// SyncKernelEntry copies InitMM's top-level entry into every live space and never touches the user
// slot, nor a freed space's root.
func TestSyncKernelEntry(t *testing.T) {
	a := setupMM(t, 64)
	as1, as2 := newAS(t, a), newAS(t, a)
	mapFresh(t, a, as1, UserBase(), 1, true)
	user1, user2 := table(as1.Root)[PT.UserSlot], table(as2.Root)[PT.UserSlot]
	dead := newAS(t, a)
	deadRoot := dead.Root >> PageShift
	FreeAddrSpace(a, dead, new(FrameList), 0)

	cases := []struct {
		name  string
		va    uintptr
		entry uint64
		sync  bool // whether the entry must reach the live spaces
	}{
		{"new entry in slot 300", 300*topLevel + 0x1234, 0x9000 | PT.Table, true},
		{"changed entry in slot 256", 256 * topLevel, 0xa000 | PT.Table, true},
		{"slot 0", 0x40_0000, 0xb000 | PT.Table, true},
		{"slot 511", 511*topLevel + topLevel - 1, 0xc000 | PT.Table, true},
		{"cleared entry in slot 300", 300 * topLevel, 0, true},
		{"the user slot", UserBase() + 0x5000, 0xd000 | PT.Table, false},
	}
	for _, c := range cases {
		slot := int(c.va / topLevel)
		table(InitMM.Root)[slot] = c.entry
		SyncKernelEntry(c.va)
		for _, as := range []*AddrSpace{as1, as2} {
			got := table(as.Root)[slot]
			if c.sync && got != c.entry {
				t.Errorf("%s: entry %d = %#x, want %#x", c.name, slot, got, c.entry)
			}
		}
		if table(as1.Root)[PT.UserSlot] != user1 || table(as2.Root)[PT.UserSlot] != user2 {
			t.Errorf("%s: a user slot changed: %#x %#x", c.name, table(as1.Root)[PT.UserSlot], table(as2.Root)[PT.UserSlot])
		}
		if !poisoned(deadRoot) {
			t.Errorf("%s: a freed root was written", c.name)
		}
	}
	// a space made after the sync has the new kernel half
	as3 := newAS(t, a)
	for i, e := range table(InitMM.Root) {
		if i == PT.UserSlot {
			e = 0
		}
		if table(as3.Root)[i] != e {
			t.Errorf("late space entry %d = %#x, want %#x", i, table(as3.Root)[i], e)
		}
	}
}

// LiveAddrSpaces counts spaces as they come and go; a full live table refuses a new one and gives its
// frames back.
func TestLiveAddrSpaces(t *testing.T) {
	a := setupMM(t, 2*MaxAddrSpaces+64)
	if LiveAddrSpaces() != 0 {
		t.Fatalf("LiveAddrSpaces = %d at start", LiveAddrSpaces())
	}
	var spaces []*AddrSpace
	for i := 0; i < MaxAddrSpaces; i++ {
		spaces = append(spaces, newAS(t, a))
		if LiveAddrSpaces() != i+1 {
			t.Fatalf("after %d: LiveAddrSpaces = %d", i+1, LiveAddrSpaces())
		}
	}
	pt, obj := a.Count(MMTable), a.Count(Object)
	if as, ok := NewAddrSpace(a); ok || as != nil {
		t.Fatal("a space beyond MaxAddrSpaces was made")
	}
	if LiveAddrSpaces() != MaxAddrSpaces || a.Count(MMTable) != pt || a.Count(Object) != obj {
		t.Errorf("a refused NewAddrSpace kept frames: live %d pagetable +%d object +%d",
			LiveAddrSpaces(), a.Count(MMTable)-pt, a.Count(Object)-obj)
	}
	FreeAddrSpace(a, spaces[10], new(FrameList), 0)
	if LiveAddrSpaces() != MaxAddrSpaces-1 {
		t.Errorf("after one free: %d", LiveAddrSpaces())
	}
	again := newAS(t, a) // takes the freed slot
	if again.slot != 10 || LiveAddrSpaces() != MaxAddrSpaces {
		t.Errorf("new space in slot %d, live %d", again.slot, LiveAddrSpaces())
	}
	spaces[10] = again
	for i, as := range spaces {
		FreeAddrSpace(a, as, new(FrameList), 0)
		if LiveAddrSpaces() != MaxAddrSpaces-1-i {
			t.Fatalf("after freeing %d: LiveAddrSpaces = %d", i+1, LiveAddrSpaces())
		}
	}
}

// NewAddrSpace fails cleanly when memory runs out.
func TestNewAddrSpaceOutOfMemory(t *testing.T) {
	a := setupMM(t, 64)
	var last uint64
	for {
		f, ok := a.Alloc(Runtime)
		if !ok {
			break
		}
		last = f
	}
	obj := a.Count(Object)
	if as, ok := NewAddrSpace(a); ok || as != nil || LiveAddrSpaces() != 0 {
		t.Errorf("NewAddrSpace without memory = %p %v, live %d", as, ok, LiveAddrSpaces())
	}
	// one frame left: the struct gets it, the root does not, and the struct's frame goes back
	a.Free(last)
	a.Drain()
	if as, ok := NewAddrSpace(a); ok || as != nil || LiveAddrSpaces() != 0 {
		t.Errorf("NewAddrSpace with one frame = %p %v, live %d", as, ok, LiveAddrSpaces())
	}
	if a.Count(Object) != obj || a.KindOf(last) != Quarantined {
		t.Errorf("the struct's frame was kept: object +%d, frame %v", a.Count(Object)-obj, a.KindOf(last))
	}
}

// Retire takes a space out of the live table once (LiveRoot forgets it, the count drops), without
// freeing anything; FreeAddrSpace after it frees the frames and does not count the space out again.
func TestRetire(t *testing.T) {
	a := setupMM(t, 64)
	pt, obj := a.Count(MMTable), a.Count(Object)
	as, keep := newAS(t, a), newAS(t, a)
	mapFresh(t, a, as, UserBase(), 1, true)
	Retire(as)
	Retire(as)
	if _, ok := LiveRoot(as.Root); ok || Live(as) || LiveAddrSpaces() != 1 {
		t.Errorf("after Retire: LiveRoot %v Live %v count %d, want false false 1", ok, Live(as), LiveAddrSpaces())
	}
	if a.KindOf(as.Root>>PageShift) != MMTable || a.KindOf(objectFrame(as)) != Object {
		t.Error("Retire freed frames")
	}
	FreeAddrSpace(a, as, new(FrameList), 0)
	if LiveAddrSpaces() != 1 || !Live(keep) {
		t.Errorf("FreeAddrSpace of a retired space: count %d, survivor live %v", LiveAddrSpaces(), Live(keep))
	}
	FreeAddrSpace(a, keep, new(FrameList), 0)
	if a.Count(MMTable) != pt || a.Count(Object) != obj || LiveAddrSpaces() != 0 {
		t.Errorf("counts pagetable +%d object +%d live %d", a.Count(MMTable)-pt, a.Count(Object)-obj, LiveAddrSpaces())
	}
}
