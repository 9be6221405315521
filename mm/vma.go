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
func (t *VMAs) Find(va uintptr) (VMA, bool) {
	for i := 0; i < t.n; i++ {
		if va < t.v[i].Start {
			break
		}
		if va < t.v[i].End {
			return t.v[i], true
		}
	}
	return VMA{}, false
}

// Overlaps reports whether any area intersects [start, end).
//
//go:nosplit
func (t *VMAs) Overlaps(start, end uintptr) bool {
	for i := 0; i < t.n; i++ {
		if t.v[i].Start < end && start < t.v[i].End {
			return true
		}
	}
	return false
}

// Remove deletes [start, end) from the table, splitting areas it cuts. It fails only when a split
// would overflow the table.
//
//go:nosplit
func (t *VMAs) Remove(start, end uintptr) bool {
	for i := 0; i < t.n; i++ {
		a := t.v[i]
		if a.End <= start || end <= a.Start {
			continue
		}
		switch {
		case start <= a.Start && a.End <= end: // wholly covered
			t.del(i)
			i--
		case a.Start < start && end < a.End: // hole in the middle
			if t.n == MaxVMAs {
				return false
			}
			t.ins(i+1, VMA{end, a.End, a.Prot})
			t.v[i].End = start
		case a.Start < start: // tail cut
			t.v[i].End = start
		default: // head cut
			t.v[i].Start = end
		}
	}
	return true
}

// Set makes [start, end) one area with protection prot, replacing what was there.
//
//go:nosplit
func (t *VMAs) Set(start, end uintptr, prot uint32) bool {
	if !t.Remove(start, end) || t.n == MaxVMAs {
		return false
	}
	i := 0
	for i < t.n && t.v[i].Start < start {
		i++
	}
	t.ins(i, VMA{start, end, prot})
	// merge with neighbours of equal protection
	if i+1 < t.n && t.v[i+1].Start == end && t.v[i+1].Prot == prot {
		t.v[i].End = t.v[i+1].End
		t.del(i + 1)
	}
	if i > 0 && t.v[i-1].End == start && t.v[i-1].Prot == prot {
		t.v[i-1].End = t.v[i].End
		t.del(i)
	}
	return true
}

// FindFree returns the lowest page-aligned gap of size n in [lo, hi).
//
//go:nosplit
func (t *VMAs) FindFree(n, lo, hi uintptr) (uintptr, bool) {
	at := lo
	for i := 0; i < t.n; i++ {
		if t.v[i].End <= at {
			continue
		}
		if t.v[i].Start >= at+n {
			break
		}
		at = t.v[i].End
	}
	if at+n > hi || at+n < at {
		return 0, false
	}
	return at, true
}

//go:nosplit
func (t *VMAs) ins(i int, a VMA) {
	for j := t.n; j > i; j-- {
		t.v[j] = t.v[j-1]
	}
	t.v[i] = a
	t.n++
}

//go:nosplit
func (t *VMAs) del(i int) {
	for j := i; j < t.n-1; j++ {
		t.v[j] = t.v[j+1]
	}
	t.n--
}
