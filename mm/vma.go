package mm

// Prot bits of a virtual memory area, as mmap's PROT_*.
const (
	ProtRead  = 1
	ProtWrite = 2
	ProtExec  = 4
)

// VMA is a reserved range [Start, End) with one protection; Prot 0 is a PROT_NONE reservation.
type VMA struct {
	Start, End uintptr
	Prot       uint32
}

// MaxVMAs bounds the table; the Go runtime uses a few dozen.
const MaxVMAs = 512

// VMAs is a sorted, non-overlapping table of areas in fixed storage (no allocation: it is edited from
// the syscall shim). Adjacent areas of equal protection are merged.
type VMAs struct {
	n int
	v [MaxVMAs]VMA
}

// MaxMMVMAs bounds an address space's own table (MMVMAs), which lives in the AddrSpace's frame.
const MaxMMVMAs = 64

// MMVMAs is an address space's table of areas (its mm's VMA tree): the same table as VMAs, smaller.
type MMVMAs struct {
	n int
	v [MaxMMVMAs]VMA
}

// vmaList is the code both tables share: their count and their storage, of any capacity.
type vmaList struct {
	n *int
	v []VMA
}

//go:nosplit
func (t *VMAs) list() vmaList { return vmaList{&t.n, t.v[:]} }

//go:nosplit
func (t *MMVMAs) list() vmaList { return vmaList{&t.n, t.v[:]} }

// Len returns the number of areas.
//
//go:nosplit
func (t *VMAs) Len() int { return t.n }

// At returns area i.
//
//go:nosplit
func (t *VMAs) At(i int) VMA { return t.v[i] }

// Find returns the area containing va.
//
//go:nosplit
func (t *VMAs) Find(va uintptr) (VMA, bool) { return t.list().find(va) }

// Overlaps reports whether any area intersects [start, end).
//
//go:nosplit
func (t *VMAs) Overlaps(start, end uintptr) bool { return t.list().overlaps(start, end) }

// Remove deletes [start, end) from the table, splitting areas it cuts. It fails only when a split
// would overflow the table.
//
//go:nosplit
func (t *VMAs) Remove(start, end uintptr) bool { return t.list().remove(start, end) }

// Set makes [start, end) one area with protection prot, replacing what was there.
//
//go:nosplit
func (t *VMAs) Set(start, end uintptr, prot uint32) bool { return t.list().set(start, end, prot) }

// FindFree returns the lowest page-aligned gap of size n in [lo, hi).
//
//go:nosplit
func (t *VMAs) FindFree(n, lo, hi uintptr) (uintptr, bool) { return t.list().findFree(n, lo, hi) }

// Len, At, Find, Remove and Set are VMAs' for an address space's table.
//
//go:nosplit
func (t *MMVMAs) Len() int { return t.n }

//go:nosplit
func (t *MMVMAs) At(i int) VMA { return t.v[i] }

//go:nosplit
func (t *MMVMAs) Find(va uintptr) (VMA, bool) { return t.list().find(va) }

//go:nosplit
func (t *MMVMAs) Remove(start, end uintptr) bool { return t.list().remove(start, end) }

//go:nosplit
func (t *MMVMAs) Set(start, end uintptr, prot uint32) bool { return t.list().set(start, end, prot) }

// Span returns the part of [start, end) that areas cover, from the first one's start to the last
// one's end; ok is false when none does.
//
//go:nosplit
func (t *MMVMAs) Span(start, end uintptr) (lo, hi uintptr, ok bool) {
	for i := 0; i < t.n; i++ {
		if t.v[i].End <= start || t.v[i].Start >= end {
			continue
		}
		if !ok {
			lo, ok = max(start, t.v[i].Start), true
		}
		hi = min(end, t.v[i].End)
	}
	return lo, hi, ok
}

// Around returns the end of the last area below start and the start of the first area at or above
// end, lo and hi where there is none: the floor and ceiling free_pgtables gets from the VMAs beside
// an unmapped range (prev->vm_end, next->vm_start).
//
//go:nosplit
func (t *MMVMAs) Around(start, end, lo, hi uintptr) (floor, ceiling uintptr) {
	floor, ceiling = lo, hi
	for i := 0; i < t.n; i++ {
		if t.v[i].End <= start {
			floor = t.v[i].End
		} else if t.v[i].Start >= end {
			return floor, t.v[i].Start
		}
	}
	return floor, ceiling
}

//go:nosplit
func (l vmaList) find(va uintptr) (VMA, bool) {
	for i := 0; i < *l.n; i++ {
		if va < l.v[i].Start {
			break
		}
		if va < l.v[i].End {
			return l.v[i], true
		}
	}
	return VMA{}, false
}

//go:nosplit
func (l vmaList) overlaps(start, end uintptr) bool {
	for i := 0; i < *l.n; i++ {
		if l.v[i].Start < end && start < l.v[i].End {
			return true
		}
	}
	return false
}

//go:nosplit
func (l vmaList) remove(start, end uintptr) bool {
	for i := 0; i < *l.n; i++ {
		a := l.v[i]
		if a.End <= start || end <= a.Start {
			continue
		}
		switch {
		case start <= a.Start && a.End <= end: // wholly covered
			l.del(i)
			i--
		case a.Start < start && end < a.End: // hole in the middle
			if *l.n == len(l.v) {
				return false
			}
			l.ins(i+1, VMA{end, a.End, a.Prot})
			l.v[i].End = start
		case a.Start < start: // tail cut
			l.v[i].End = start
		default: // head cut
			l.v[i].Start = end
		}
	}
	return true
}

//go:nosplit
func (l vmaList) set(start, end uintptr, prot uint32) bool {
	if !l.remove(start, end) || *l.n == len(l.v) {
		return false
	}
	i := 0
	for i < *l.n && l.v[i].Start < start {
		i++
	}
	l.ins(i, VMA{start, end, prot})
	// merge with neighbours of equal protection
	if i+1 < *l.n && l.v[i+1].Start == end && l.v[i+1].Prot == prot {
		l.v[i].End = l.v[i+1].End
		l.del(i + 1)
	}
	if i > 0 && l.v[i-1].End == start && l.v[i-1].Prot == prot {
		l.v[i-1].End = l.v[i].End
		l.del(i)
	}
	return true
}

//go:nosplit
func (l vmaList) findFree(n, lo, hi uintptr) (uintptr, bool) {
	at := lo
	for i := 0; i < *l.n; i++ {
		if l.v[i].End <= at {
			continue
		}
		if l.v[i].Start >= at+n {
			break
		}
		at = l.v[i].End
	}
	if at+n > hi || at+n < at {
		return 0, false
	}
	return at, true
}

//go:nosplit
func (l vmaList) ins(i int, a VMA) {
	for j := *l.n; j > i; j-- {
		l.v[j] = l.v[j-1]
	}
	l.v[i] = a
	*l.n++
}

//go:nosplit
func (l vmaList) del(i int) {
	for j := i; j < *l.n-1; j++ {
		l.v[j] = l.v[j+1]
	}
	*l.n--
}
