package paging

import (
	"errors"

	"lazymm/kernel/lazy"
	"lazymm/kernel/shim"
	"lazymm/mm"
)

// fork's address-space copy and the copy-on-write fault (mm/fork.go decides; here the flushes).

var (
	errFork = errors.New("fork: out of frames, address spaces or share-table slots")

	// cowGather is the copy's flush (one at a time, under the lock: not on the stack, which the
	// flush's nosplit chain needs)
	cowGather mm.Gather
)

// ForkMM is copy_mm's dup_mm → dup_mmap (kernel/fork.c, 6.1) under as's lock: a new address space
// with as's VMAs and pages, every page shared and write-protected in both, then flush_tlb_mm(oldmm).
// x86's flush_tlb_mm is flush_tlb_mm_range(mm, 0, TLB_FLUSH_ALL, 0, freed_tables=true): it interrupts
// lazy CPUs too, which leave for init_mm; powerpc's flushes the PID on every CPU of mm_cpumask, lazy
// ones included, which stay. On failure the partial copy is torn down (mmput of the new mm).
func (Core) ForkMM(as *mm.AddrSpace) (*mm.AddrSpace, error) {
	fl := Lock()
	child, ok := mm.NewAddrSpace(&mm.Frames)
	copied := ok
	if ok {
		_, copied = as.Fork(&mm.Frames, child)
		if !lazy.InjectForkNoFlush {
			flushMMRange(as, &mm.Gather{Start: 0, End: mm.FlushAll, Pages: 1, FreedTables: !mm.PowerCPUMask})
		}
	}
	Unlock(fl)
	switch {
	case !ok:
		return nil, errFork
	case !copied:
		Core{}.ExitMMap(child, false)
		freePGD(child)
		return nil, errFork
	}
	return child, nil
}

// WriteFault is handle_mm_fault for a write to va that faulted on a present page (x86's #PF with P
// and W set, POWER's storage interrupt for a protection fault on a store), on the mm this CPU runs:
// do_wp_page under the mm's lock. The arch's fault handler hands such a fault back to the writer
// (machine.Paging.UserStore, an exception-table fixup, as copy_to_user's), which calls this in thread
// context and retries: Linux runs it in the fault handler, but the flush of a copy needs more stack
// than the trap path's nosplit budget has. False: the fault is real (SIGSEGV; here the caller fails).
func (Core) WriteFault(va uintptr) bool {
	fl := Lock()
	as := mm.TLB[shim.CPUID()].Loaded()
	ok := as != nil && as != &mm.InitMM && mm.InUserRange(va, va+1) && doWPPage(as, va&^(mm.PageSize-1))
	Unlock(fl)
	return ok
}

// doWPPage is do_wp_page: false for a write the VMA does not allow (the fault is real: SIGSEGV, here
// the crash dump). A page this mapping has alone is made writable (wp_page_reuse), with no flush:
// the faulting CPU only drops its own read-only translation (x86's fault does that itself; POWER's
// tlbiel, or hash's HPTE), as flush_tlb_fix_spurious_fault does for a spurious fault.
//
//go:nosplit
func doWPPage(as *mm.AddrSpace, va uintptr) bool {
	p, kind := as.WriteFault(va)
	switch kind {
	case mm.WPNone:
		return false
	case mm.WPSpurious, mm.WPReused:
		if Broadcast {
			archFlushBroadcast(as, va, va+mm.PageSize) // hash: the HPTE, which is the MMU's translation
		} else {
			archFlushPage(va)
		}
		return true
	}
	return wpPageCopy(as, va, p)
}

// wpPageCopy is wp_page_copy: a new page with the old one's contents, ptep_clear_flush (the entry
// cleared, then flush_tlb_page: flush_tlb_mm_range of one page, freed_tables false, so on x86 lazy
// CPUs are skipped and catch up by tlb_gen), then the new entry, writable; the old page loses this
// mapping (page_remove_rmap). Out of frames, the fault is real.
//
//go:nosplit
func wpPageCopy(as *mm.AddrSpace, va uintptr, p *uint64) bool {
	to, ok := mm.Frames.Alloc(mm.UserData)
	if !ok {
		return false
	}
	old := mm.CopyOut(p, to)
	if !lazy.InjectCOWNoFlush {
		cowGather = mm.Gather{Start: va, End: va + mm.PageSize, Pages: 1}
		flushMMRange(as, &cowGather)
	}
	if mm.CopyIn(p, to, old) {
		mm.Frames.Free(old)
	}
	return true
}
