package mm

// munmap and exit_mmap as Linux 6.1 runs them (mm/mmap.c's unmap_region and exit_mmap): the pages
// are zapped through an mmu_gather (unmap_vmas), then the page tables the range no longer needs are
// freed (free_pgtables → free_pgd_range, bounded by the neighbouring VMAs), then the gather flushes
// (tlb_finish_mmu), with freed_tables set if a table went, which on x86 interrupts lazy CPUs too.
//
// The gather's page batch (include/asm-generic/tlb.h, mm/mmu_gather.c) is what makes one teardown
// flush more than once: __tlb_remove_page_size queues each page in the on-stack bundle
// (MMU_GATHER_BUNDLE, 8), then in up to MAX_GATHER_BATCH_COUNT (10000/510 = 19) batches of
// MAX_GATHER_BATCH ((4096-16)/8 = 510) pages; when the last is full it says so, and zap_pte_range
// flushes mid-way (force_flush: tlb_flush_mmu_tlbonly, then tlb_flush_mmu frees the batch) and goes
// on, reusing the batches. On native x86 page-table pages join the same batch (native_tlb_remove_table
// is tlb_remove_page), so a full batch may also flush inside free_pgtables. For anonymous private
// memory nothing else flushes early in 6.1: zap_pte_range's other force_flush is for dirty file pages
// (6.2's delayed rmap, tlb_flush_rmaps, is for those too). Here a step stops when the batch is full
// and the caller flushes (and frees what the batch holds) before the next step.
const (
	gatherBundle   = 8
	gatherBatchMax = (PageSize - 16) / 8
	gatherBatches  = 10000 / gatherBatchMax
	// GatherBatch is how many pages and tables one flush covers at most: 8 + 19×510 = 9698.
	GatherBatch = gatherBundle + gatherBatches*gatherBatchMax
)

// Unmapping is one munmap or exit_mmap in progress: what is left to zap and free, and the flush owed
// for what was done since the last one (G, the gather's range and freed_tables).
type Unmapping struct {
	G              Gather
	start, end     uintptr // the pages to zap: the span of the VMAs removed
	floor, ceiling uintptr // free_pgtables' bounds: the neighbouring VMAs' end and start
	next           uintptr // where the zap goes on
	zapped         bool    // unmap_vmas is done: free_pgtables is left
	full           bool    // exit_mmap (tlb_gather_mmu_fullmm): every flush is of everything
	queued         int     // pages and tables in the batch since the last flush
	ranged         bool    // G has a range (munmap's: the union of what was cleared and freed)
	Leak           int     // injected leak-pagetable: tables unlinked but never freed
	// spill is a table the caller's list had no room for: the walk stops there, as at a full
	// batch, and UnmapStep frees it (Free's stack does not fit under the walk's nosplit budget)
	spill          uint64
	Cleared, Freed uint64 // pages cleared and tables freed, in all
}

// BeginUnmap starts munmap(start, end): the VMAs in the range are removed (split where cut), and
// the teardown covers the span they had, between the VMAs left beside it. False when no VMA was there
// (nothing to do, and no flush) or a split would overflow the table (munmap's ENOMEM).
//
//go:nosplit
func (as *AddrSpace) BeginUnmap(u *Unmapping, start, end uintptr) bool {
	*u = Unmapping{}
	if !InUserRange(start, end) {
		return false
	}
	lo, hi, ok := as.vmas.Span(start, end)
	if !ok || !as.vmas.Remove(start, end) {
		return false
	}
	u.floor, u.ceiling = as.vmas.Around(lo, hi, UserBase(), UserEnd())
	u.start, u.next, u.end = lo, lo, hi
	return true
}

// BeginExit starts exit_mmap: every VMA goes, and every page and table of the user range; the
// floor and ceiling are the range's (FIRST_USER_ADDRESS, USER_PGTABLES_CEILING), so the top table
// of the user range goes too and the root's user entry is cleared.
//
//go:nosplit
func (as *AddrSpace) BeginExit(u *Unmapping) {
	*u = Unmapping{full: true}
	as.vmas.Remove(UserBase(), UserEnd()) // removing everything splits nothing: it cannot fail
	u.floor, u.ceiling = UserBase(), UserEnd()
	u.start, u.next, u.end = UserBase(), UserBase(), UserEnd()
}

// UnmapStep goes on with u until it is done (true) or the gather's batch is full (false). Either way
// the caller then flushes u.G (flush_tlb_mm_range; nothing when it is empty), frees the tables it put
// on tables and does what it does with the pages (exit_mmap frees them; munmap's caller here reuses
// them), and calls again while it returned false. A page still mapped elsewhere (shared since fork)
// goes on no list: its other mapping keeps it.
//
//go:nosplit
func (as *AddrSpace) UnmapStep(a *Allocator, u *Unmapping, pages, tables *FrameList) (done bool) {
	u.queued, u.ranged = 0, false
	u.G = Gather{}
	if u.full {
		u.G.Start, u.G.End = 0, FlushAll
	}
	if !u.zapped {
		if !as.zapStep(a, u, pages) {
			return false
		}
		u.zapped = true
	}
	w := pgFree{a: a, u: u, as: as, tables: tables}
	done = w.pgdRange(u.start, u.end, u.floor, u.ceiling)
	if u.spill != 0 {
		a.Free(u.spill)
		u.spill = 0
	}
	return done
}

// Unmap is munmap(start, end) in one go, for callers that flush once at the end: pages and tables
// both go on out (to free, or reuse, after the flush). It returns how many pages it cleared.
//
//go:nosplit
func (as *AddrSpace) Unmap(a *Allocator, start, end uintptr, out *FrameList) uint64 {
	var u Unmapping
	if !as.BeginUnmap(&u, start, end) {
		return 0
	}
	for !as.UnmapStep(a, &u, out, out) {
	}
	return u.Cleared
}

// ExitTables is exit_mmap in one go (for callers that flush once): every page and table of the user
// range goes on out, the root's user entry is cleared; the root and the struct stay until
// FreeAddrSpace (__mmdrop's mm_free_pgd). leakTables is the injected leak, as for FreeAddrSpace.
//
//go:nosplit
func (as *AddrSpace) ExitTables(a *Allocator, out *FrameList, leakTables int) {
	var u Unmapping
	as.BeginExit(&u)
	u.Leak = leakTables
	for !as.UnmapStep(a, &u, out, out) {
	}
	as.Tables = 1
}

// Zap is MADV_DONTNEED (zap_page_range): the pages of [start, end) are cleared and put on out, the
// VMAs and the page tables stay, as in Linux. It returns how many pages it cleared.
//
//go:nosplit
func (as *AddrSpace) Zap(a *Allocator, start, end uintptr, out *FrameList) uint64 {
	if !InUserRange(start, end) {
		return 0
	}
	n := ClearRange(a, as.Root, start, end, out)
	as.Pages -= n
	return n
}

// zapStep is unmap_vmas → zap_pte_range from u.next: each present page is cleared, its frame put on
// pages and its address added to the gather, until the range is done (true) or the batch is full.
//
//go:nosplit
func (as *AddrSpace) zapStep(a *Allocator, u *Unmapping, pages *FrameList) bool {
	for va := u.next; va < u.end; {
		p, step := probe(as.Root, va)
		if p != nil && *p&PT.Present != 0 {
			f := (*p & PT.AddrMask) >> PageShift
			*p = 0
			dropFrame(a, f, pages)
			as.Pages--
			u.Cleared++
			u.G.Pages++
			if u.gather(va) {
				u.next = va + PageSize
				return false
			}
		}
		next := (va + step) &^ (step - 1)
		if next <= va {
			break
		}
		va = next
	}
	u.next = u.end
	return true
}

// gather is tlb_remove_tlb_entry's (and pte_free_tlb's) __tlb_adjust_range for the page or table at
// va, and the batch's count: true when the batch is now full. exit_mmap's range is everything.
//
//go:nosplit
func (u *Unmapping) gather(va uintptr) (full bool) {
	if g := &u.G; !u.full {
		if !u.ranged || va < g.Start {
			g.Start = va
		}
		if !u.ranged || va+PageSize > g.End {
			g.End = va + PageSize
		}
		u.ranged = true
	}
	u.queued++
	return u.queued >= GatherBatch
}
