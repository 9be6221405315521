package mm

// free_pgd_range and its per-level helpers (mm/memory.c, Linux 6.1), for the 4-level tables both
// ports use (x86-64's pgd, pud, pmd, pte; POWER radix with 4 KiB pages; the p4d level is folded, as
// on 4-level x86: free_pud_range's p4d_clear clears the root's entry). A table goes when the range
// being torn down is the only user of everything it spans: its span must start at or above floor
// (the end of the VMA before) and end at or below ceiling (the start of the VMA after). PTE tables
// go for every PMD entry in the range once free_pgd_range has trimmed it to PMD boundaries inside
// [floor, ceiling). Differences: one call covers the span of all the VMAs one munmap removes, where
// free_pgtables makes one per cluster of VMAs within PMD_SIZE of each other (the same tables go:
// no table lies in a gap between VMAs); a huge leaf is skipped, not split (no port maps one in the
// user range); the walk stops when the gather's batch fills and is run again from the top after the
// flush (what it freed is unlinked, so it goes on where it stopped).

// pgFree is one free_pgd_range call: where the tables go, and the teardown whose batch they join.
type pgFree struct {
	a              *Allocator
	u              *Unmapping
	as             *AddrSpace
	tables         *FrameList
	floor, ceiling uintptr
}

// levelSize is what one entry of a table at level l (0: the root) spans.
//
//go:nosplit
func levelSize(l int) uintptr { return uintptr(1) << uint(PageShift+9*(PT.Levels-1-l)) }

// addrEnd is pgd/pud/pmd_addr_end: the next boundary of size after addr, or end if that comes first.
//
//go:nosplit
func addrEnd(addr, end, size uintptr) uintptr {
	if b := (addr + size) &^ (size - 1); b-1 < end-1 {
		return b
	}
	return end
}

// spans is the floor and ceiling test of free_pmd_range and free_pud_range: may the table whose
// entries each span size (its parent's entry spans size<<9), reached for [start, end), go?
//
//go:nosplit
func (w *pgFree) spans(start, end, size uintptr) bool {
	if start&^(size<<9-1) < w.floor {
		return false
	}
	ceiling := w.ceiling
	if ceiling != 0 {
		if ceiling &^= size<<9 - 1; ceiling == 0 {
			return false
		}
	}
	return end-1 <= ceiling-1
}

// pgdRange is free_pgd_range(addr, end, floor, ceiling): false when the batch filled.
//
//go:nosplit
func (w *pgFree) pgdRange(addr, end, floor, ceiling uintptr) bool {
	if PT.Levels != 4 {
		return true // the ports' format; another depth keeps its tables until __mmdrop
	}
	w.floor, w.ceiling = floor, ceiling
	pmd := levelSize(2)
	addr &^= pmd - 1
	if addr < floor {
		if addr += pmd; addr == 0 {
			return true
		}
	}
	if ceiling != 0 {
		if ceiling &^= pmd - 1; ceiling == 0 {
			return true
		}
	}
	if end-1 > ceiling-1 {
		end -= pmd
	}
	if addr > end-1 {
		return true
	}
	root := (*[512]uint64)(Phys(w.as.Root))
	for next := addr; addr != end; addr = next {
		next = addrEnd(addr, end, levelSize(0))
		if e := &root[index(addr, 0, 4)]; *e&PT.Present != 0 && *e&PT.Huge == 0 && !w.pudRange(e, addr, next) {
			return false
		}
	}
	return true
}

// pudRange is free_pud_range under the root's entry e (the p4d folded into it), with free_pmd_range
// written out inside it for each PUD entry: every PTE table of the entry's range goes
// (free_pte_range), then the PMD table itself if nothing outside the range uses its span. One frame
// less on the walk's nosplit path, which must fit fuzzing's instrumentation too.
//
//go:nosplit
func (w *pgFree) pudRange(e *uint64, addr, end uintptr) bool {
	start := addr
	pud := (*[512]uint64)(Phys(*e & PT.AddrMask))
	for next := addr; addr != end; addr = next {
		next = addrEnd(addr, end, levelSize(1))
		p := &pud[index(addr, 1, 4)]
		if *p&PT.Present == 0 || *p&PT.Huge != 0 {
			continue
		}
		pmd := (*[512]uint64)(Phys(*p & PT.AddrMask))
		for a, n := addr, addr; a != next; a = n { // free_pmd_range
			n = addrEnd(a, next, levelSize(2))
			if q := &pmd[index(a, 2, 4)]; *q&PT.Present != 0 && *q&PT.Huge == 0 && w.table(q, a) {
				return false
			}
		}
		if w.spans(addr, next, levelSize(2)) && w.table(p, addr) {
			return false
		}
	}
	return !w.spans(start, end, levelSize(1)) || !w.table(e, start)
}

// table unlinks the table entry e points to and queues it (pte/pmd/pud_free_tlb: freed_tables set,
// the gather's range grown by a page at addr); true when the batch is now full.
//
//go:nosplit
func (w *pgFree) table(e *uint64, addr uintptr) (full bool) {
	f := (*e & PT.AddrMask) >> PageShift
	*e = 0
	u := w.u
	u.G.FreedTables = true
	u.Freed++
	w.as.Tables--
	switch {
	case u.Leak > 0:
		u.Leak--
	case !w.tables.Push(f):
		u.spill = f // a full list ends the step, as a full batch does (tlb_flush_mmu)
		u.gather(addr)
		return true
	}
	return u.gather(addr)
}
