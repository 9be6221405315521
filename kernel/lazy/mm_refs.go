package lazy

import (
	"lazymm/kernel/machine"

	"sync/atomic"

	"lazymm/mm"
)

// mm_users and mm_count, as kernel/fork.c has them: mmget/mmput count the users of the address space
// (threads, kthread_use_mm), the last mmput tears the mappings down (__mmput: exit_mmap) and drops the
// users' collective mm_count reference; mmgrab/mmdrop count references to the struct, and the last
// mmdrop frees it (__mmdrop: the scheme's cleanup, then mm_free_pgd and free_mm). Every operation
// checks the mm first (freed-mm) and the count after (refcount), and counts the atomic and whether
// it moved the cache line.

// countAtomic accounts one atomic on as's counters by cpu.
//
//go:nosplit
func countAtomic(cpu int, as *mm.AddrSpace) {
	r := &rqs[cpu]
	r.stats.CountAtomics++
	if atomic.SwapInt64(&as.Writer, int64(cpu)+1) != int64(cpu)+1 {
		r.stats.LineTransfers++
	}
}

// addRef is every refcount operation's common part: the mm checked (freed-mm), delta added to
// mm_users (users) or mm_count, the atomic accounted, and a count that fell below zero or rose from
// zero reported (refcount). ok is false when the mm was not valid or the count went wrong.
//
//go:nosplit
func addRef(cpu int, h uintptr, ctx uint64, where uint8, users bool, delta int64) (n int64, ok bool) {
	if !checkMM(cpu, h, ctx, where) {
		return 0, false
	}
	as := mm.At(h)
	countAtomic(cpu, as)
	p := &as.Count
	if users {
		p = &as.Users
	}
	if n = atomic.AddInt64(p, delta); n < 0 || delta > 0 && n <= 1 {
		report(chkRefcount, where, cpu, h, ctx, n)
		return n, false
	}
	return n, true
}

// mmgrab takes an mm_count reference.
//
//go:nosplit
func mmgrab(cpu int, h uintptr, ctx uint64, where uint8) { addRef(cpu, h, ctx, where, false, 1) }

// mmdrop drops an mm_count reference; the last one frees the mm (thread context, interrupts on).
func mmdrop(cpu int, h uintptr, ctx uint64, where uint8) {
	if n, ok := addRef(cpu, h, ctx, where, false, -1); ok && n == 0 {
		mmdropFinal(cpu, mm.At(h))
	}
}

// mmdropFinal is __mmdrop: the scheme moves lazy users off (cleanup_lazy_tlbs), the arch audits every
// CPU's CR3 and frees the root and the struct, then every CPU checks it holds nothing of the mm.
func mmdropFinal(cpu int, as *mm.AddrSpace) {
	h := as.Handle()
	record(cpu, EvFree, as.CtxID, 0, 0)
	scheme.MMDrop(cpu, as)
	machine.M.FreePGD(as)
	t0 := machine.M.Cycles()
	machine.M.CrossCall(onlineMask(), machine.CallAuditLazy, uint64(h), true)
	mm.TLB[cpu].Stats.AuditCycles += machine.M.Cycles() - t0 // beside the arch's CR3 audit's
}

// auditCycles is what cpu has spent so far in the lab's audits (the arch's CR3 audit and the lazy
// audit): Linux has neither, so the exit cost leaves them out.
func auditCycles(cpu int) uint64 { return mm.TLB[cpu].Stats.AuditCycles }

// mmget takes an mm_users reference (a new thread, kthread_use_mm's caller).
func mmget(cpu int, h uintptr, ctx uint64) { addRef(cpu, h, ctx, atGet, true, 1) }

// mmgetNotZero is mmget_not_zero: a reference only while the mm still has users.
func mmgetNotZero(cpu int, h uintptr, ctx uint64) bool {
	if !checkMM(cpu, h, ctx, atGet) {
		return false
	}
	as := mm.At(h)
	for {
		n := atomic.LoadInt64(&as.Users)
		if n <= 0 {
			return false
		}
		if atomic.CompareAndSwapInt64(&as.Users, n, n+1) {
			countAtomic(cpu, as)
			return true
		}
	}
}

// mmput drops an mm_users reference; the last one runs __mmput: the scheme's hook, exit_mmap, then
// the users' mm_count reference goes.
func mmput(cpu int, h uintptr, ctx uint64) {
	if n, ok := addRef(cpu, h, ctx, atPut, true, -1); ok && n == 0 {
		as := mm.At(h)
		if !InjectMMPutUnlazyLate {
			scheme.MMPut(cpu, as)
		}
		machine.M.ExitMMap(as, cfg.ExitUnlazy)
		if InjectMMPutUnlazyLate { // mmput-unlazy-late: the kick after exit_mmap's flush
			scheme.MMPut(cpu, as)
		}
		if s, ok := scheme.(mmputExited); ok {
			s.MMPutExited(cpu, as)
		}
		mmdrop(cpu, h, ctx, atDrop)
	}
}
