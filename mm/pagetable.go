package mm

// Format is an architecture's radix page-table entry layout (x86-64 4-level; POWER radix will be another
// instance). Walks are generic; only these bits differ.
type Format struct {
	Levels   int    // number of levels, root first
	Present  uint64 // valid bit
	Write    uint64 // writable
	NoExec   uint64 // no-execute
	Huge     uint64 // leaf at an upper level (2 MiB / 1 GiB)
	Table    uint64 // bits set in a non-leaf entry besides the address
	AddrMask uint64 // bits of an entry that hold the next table / frame address
	Leaf     uint64 // bits every user leaf carries besides Present (POWER radix: leaf, R/C, read)
	UserSlot int    // the top-level entry that is each AddrSpace's own (the user range); the rest is shared
	// RootFrames is how many frames a root takes, aligned to its size (0 is 1). Walks use its first
	// 512 entries: addresses stay below 2^48. POWER radix's 4 KiB-page root is 8192 entries.
	RootFrames uint64
}

// rootFrames is RootFrames, at least 1.
//
//go:nosplit
func rootFrames() uint64 { return max(PT.RootFrames, 1) }

// PT is the format of the machine's MMU, set by the arch layer at boot.
var PT Format

//go:nosplit
func index(va uintptr, level, levels int) uintptr {
	shift := uint(PageShift + 9*(levels-1-level))
	return (va >> shift) & 511
}

// Walk returns a pointer to the last-level entry for va under root (a physical address), allocating
// zeroed intermediate tables from a when create is set. It returns nil when an intermediate table is
// missing (and create is false), memory is exhausted, or the walk meets a huge leaf.
//
//go:nosplit
func Walk(a *Allocator, root uint64, va uintptr, create bool) *uint64 {
	return walk(a, root, va, create, PageTable)
}

// walk is Walk allocating tables of kind k.
//
//go:nosplit
func walk(a *Allocator, root uint64, va uintptr, create bool, k Kind) *uint64 {
	table := root
	for level := 0; level < PT.Levels-1; level++ {
		e := (*[512]uint64)(Phys(table))
		p := &e[index(va, level, PT.Levels)]
		if *p&PT.Present == 0 {
			if !create {
				return nil
			}
			f, ok := a.Alloc(k)
			if !ok {
				return nil
			}
			ZeroFrame(f)
			*p = f<<PageShift | PT.Table
		} else if *p&PT.Huge != 0 {
			return nil
		}
		table = *p & PT.AddrMask
		if a.KindOf(table>>PageShift) == Quarantined {
			return nil // a freed table still linked: never write into it
		}
	}
	e := (*[512]uint64)(Phys(table))
	return &e[index(va, PT.Levels-1, PT.Levels)]
}

// Leaf returns the entry that maps va under root, a page's or a huge leaf's, and the size it maps; 0
// and 0 if nothing does. (POWER's hash MMU fills its HPTEs from it.)
//
//go:nosplit
func Leaf(root uint64, va uintptr) (entry, size uint64) {
	table := root
	for level := 0; level < PT.Levels; level++ {
		v := (*[512]uint64)(Phys(table))[index(va, level, PT.Levels)]
		if v&PT.Present == 0 {
			return 0, 0
		}
		if level == PT.Levels-1 || v&PT.Huge != 0 {
			return v, uint64(1) << uint(PageShift+9*(PT.Levels-1-level))
		}
		table = v & PT.AddrMask
	}
	return 0, 0
}

// Translate returns the physical address va maps to under root, following huge leaves too.
//
//go:nosplit
func Translate(root uint64, va uintptr) (pa uint64, ok bool) {
	v, size := Leaf(root, va)
	if size == 0 {
		return 0, false
	}
	return v&PT.AddrMask&^(size-1) | uint64(va)&(size-1), true
}

// probe returns the leaf entry for va, or nil and the size of the aligned region around va that has no
// table at all (so range walks skip unmapped gigabytes in one step).
//
//go:nosplit
func probe(root uint64, va uintptr) (*uint64, uintptr) {
	table := root
	for level := 0; level < PT.Levels-1; level++ {
		e := (*[512]uint64)(Phys(table))
		v := e[index(va, level, PT.Levels)]
		if v&PT.Present == 0 || v&PT.Huge != 0 {
			return nil, uintptr(1) << uint(PageShift+9*(PT.Levels-1-level))
		}
		table = v & PT.AddrMask
	}
	e := (*[512]uint64)(Phys(table))
	return &e[index(va, PT.Levels-1, PT.Levels)], PageSize
}

// ClearRange unmaps every 4 KiB page in [start, end) under root and puts its frame on out; the caller
// flushes the TLBs that may hold the translations and then frees the list (a frame must not be reused
// while a stale translation to it can exist). It returns how many pages it unmapped. Page-table pages
// stay.
//
//go:nosplit
func ClearRange(a *Allocator, root uint64, start, end uintptr, out *FrameList) (cleared uint64) {
	for va := start; va < end; {
		p, step := probe(root, va)
		if p != nil && *p&PT.Present != 0 {
			if !out.Push((*p & PT.AddrMask) >> PageShift) {
				a.Free((*p & PT.AddrMask) >> PageShift) // list full: see FrameList
			}
			*p = 0
			cleared++
		}
		next := (va + step) &^ (step - 1)
		if next <= va {
			break
		}
		va = next
	}
	return cleared
}

// FrameList holds frames between unmap and free. It has fixed storage (it is filled in trap context);
// MaxDeferred bounds one unmap's deferral, beyond which frames are freed at once — callers unmapping
// more than that in one go must flush before touching the allocator again (dropPages does).
type FrameList struct {
	n int
	f [MaxDeferred]uint64
}

// MaxDeferred is how many frames one FrameList holds.
const MaxDeferred = 1 << 16

//go:nosplit
func (l *FrameList) Push(frame uint64) bool {
	if l.n == len(l.f) {
		return false
	}
	l.f[l.n] = frame
	l.n++
	return true
}

// First returns the first listed frame.
//
//go:nosplit
func (l *FrameList) First() (uint64, bool) { return l.f[0], l.n > 0 }

// Pop takes the last listed frame off the list.
//
//go:nosplit
func (l *FrameList) Pop() (uint64, bool) {
	if l.n == 0 {
		return 0, false
	}
	l.n--
	return l.f[l.n], true
}

// FreeAll returns every listed frame to a and empties the list.
//
//go:nosplit
func (l *FrameList) FreeAll(a *Allocator) {
	for i := 0; i < l.n; i++ {
		a.Free(l.f[i])
	}
	l.n = 0
}
