package paging

import "lazymm/mm"

// munmap and exit_mmap through the gather (mm/unmap.go decides what goes): each step's flush, then
// what the step freed.

var (
	// zappedTables holds the page-table frames a teardown step unlinked, until its flush is done.
	zappedTables mm.FrameList
	// unmapping is the teardown in progress (one at a time, under the lock; not on the stack, which
	// the flushes' nosplit chains need)
	unmapping mm.Unmapping

	// UnmapFreeNoFlush is an injected bug (inject=unmap-free-no-flush): munmap frees page tables but
	// its flush does not say so (freed_tables left clear), so on x86 it skips lazy CPUs, whose
	// translations made through the freed tables survive.
	UnmapFreeNoFlush bool
)

// teardown runs u to its end. After each step it flushes what the step changed (the gather's
// tlb_flush_mmu_tlbonly: more than once when the batch fills), then frees the tables the step
// unlinked (tlb_flush_mmu_free); exit_mmap frees the pages too, munmap leaves them on zapped for
// its caller. Every flush of an exit carries exitUnlazy (powerpc's radix__tlb_flush runs
// exit_flush_lazy_tlbs on each fullmm flush); skip-exit-flush skips them all. Lock held.
//
//go:nosplit
func teardown(as *mm.AddrSpace, u *mm.Unmapping, exit bool) {
	for {
		done := as.UnmapStep(&mm.Frames, u, &zapped, &zappedTables)
		switch {
		case exit && !u.G.Empty():
			u.G.Unlazy = exitUnlazy
		case !exit && UnmapFreeNoFlush:
			u.G.FreedTables = false
		}
		if !exit || !SkipExitFlush {
			flushMMRange(as, &u.G)
		}
		zappedTables.FreeAll(&mm.Frames)
		if exit {
			zapped.FreeAll(&mm.Frames)
		}
		if done {
			return
		}
	}
}
