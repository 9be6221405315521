package kernel

import (
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

// mmgrab takes an mm_count reference.
//
//go:nosplit
func mmgrab(cpu int, h uintptr, ctx uint64, where uint8) {
	if !checkMM(cpu, h, ctx, where) {
		return
	}
	as := mm.At(h)
	countAtomic(cpu, as)
	if n := atomic.AddInt64(&as.Count, 1); n <= 1 {
		report(chkRefcount, where, cpu, h, ctx, n)
	}
}

// mmdrop drops an mm_count reference; the last one frees the mm (thread context, interrupts on).
func mmdrop(cpu int, h uintptr, ctx uint64, where uint8) {
	if !checkMM(cpu, h, ctx, where) {
		return
	}
	as := mm.At(h)
	countAtomic(cpu, as)
	n := atomic.AddInt64(&as.Count, -1)
	if n < 0 {
		report(chkRefcount, where, cpu, h, ctx, n)
		return
	}
	if n == 0 {
		mmdropFinal(cpu, as)
	}
}

// mmdropFinal is __mmdrop: the scheme moves lazy users off (cleanup_lazy_tlbs), the arch audits every
// CPU's CR3 and frees the root and the struct, then every CPU checks it holds nothing of the mm.
func mmdropFinal(cpu int, as *mm.AddrSpace) {
	h := as.Handle()
	record(cpu, EvFree, as.CtxID, 0, 0)
	scheme.MMDrop(cpu, as)
	M.FreePGD(as)
	M.CrossCall(onlineMask(), CallAuditLazy, uint64(h), true)
}

// mmget takes an mm_users reference (a new thread, kthread_use_mm's caller).
func mmget(cpu int, h uintptr, ctx uint64) {
	if !checkMM(cpu, h, ctx, atGet) {
		return
	}
	as := mm.At(h)
	countAtomic(cpu, as)
	if n := atomic.AddInt64(&as.Users, 1); n <= 1 {
		report(chkRefcount, atGet, cpu, h, ctx, n)
	}
}

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

// mmput drops an mm_users reference; the last one runs __mmput.
func mmput(cpu int, h uintptr, ctx uint64) {
	if !checkMM(cpu, h, ctx, atPut) {
		return
	}
	as := mm.At(h)
	countAtomic(cpu, as)
	n := atomic.AddInt64(&as.Users, -1)
	if n < 0 {
		report(chkRefcount, atPut, cpu, h, ctx, n)
		return
	}
	if n == 0 {
		// __mmput: the scheme's hook, exit_mmap, then the users' mm_count reference goes
		scheme.MMPut(cpu, as)
		M.ExitMMap(as, cfg.ExitUnlazy)
		mmdrop(cpu, h, ctx, atDrop)
	}
}
