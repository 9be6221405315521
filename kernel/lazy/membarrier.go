package lazy

import (
	"lazymm/kernel/machine"

	"math/bits"
	"sync/atomic"
	"unsafe"

	"lazymm/mm"
)

// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), as kernel/sched/membarrier.c: every other CPU whose
// current task runs the mm (cpu_rq(cpu)->curr->mm) gets an IPI that executes a full barrier
// (ipi_mb). A CPU that is not running the mm is skipped: the switch path orders its next user access
// after the caller's (membarrier_switch_mm, and the barrier in switch_mm). Lazy CPUs run kernel
// threads, whose mm is NULL, and are skipped too.

var (
	mbSeq  uint64                    // the current membarrier's sequence number
	mbSeen [mm.MaxCPUs]atomic.Uint64 // the last sequence each CPU executed the barrier for

	// InjectMembarrierNoIPI is an injected bug: the expedited membarrier sends no IPIs.
	InjectMembarrierNoIPI bool
)

// Membarrier runs an expedited private membarrier for the mm of the current task on c, and then the
// detector: every CPU that ran a task of the mm through the whole call (same task, no switch) must
// have executed the barrier.
func (c *CPU) Membarrier() {
	if t := c.Curr(); t.MM != 0 {
		var cur [mm.MaxCPUs]uintptr
		var sw [mm.MaxCPUs]uint64
		c.membarrierAudit(t, c.membarrierPrivateExpedited(t.MM, &cur, &sw), &cur, &sw)
	}
}

// MembarrierSB is the slow side of the store-buffering test around an expedited membarrier: it
// stores 1 to *y (a plain store, as user code), runs membarrier_private_expedited (or, with control,
// nothing at all: the bare pattern, whose forbidden outcome shows the machine reorders), and returns
// the plain load of *x. Then it runs the bookkeeping detector, after the load.
func (c *CPU) MembarrierSB(y, x *uint64, control bool) uint64 {
	t := c.Curr()
	if t.MM == 0 {
		return 1
	}
	if control {
		return sbStoreLoad(y, x)
	}
	var cur [mm.MaxCPUs]uintptr
	var sw [mm.MaxCPUs]uint64
	*y = 1
	seq := c.membarrierPrivateExpedited(t.MM, &cur, &sw)
	r2 := *x
	c.membarrierAudit(t, seq, &cur, &sw)
	return r2
}

// membarrierPrivateExpedited is membarrier_private_expedited: smp_mb() (system call entry is not a
// full barrier), the scan of every other CPU's rq->curr->mm, smp_call_function_many(ipi_mb, wait),
// smp_mb() (nor is the exit). It notes what each CPU ran when scanned, for the audit.
func (c *CPU) membarrierPrivateExpedited(h uintptr, cur *[mm.MaxCPUs]uintptr, sw *[mm.MaxCPUs]uint64) uint64 {
	n := machine.M.CPUs()
	// the sequence first: a CPU that starts using the mm after the scan below (kthread_use_mm) then
	// sees it, and its own barrier counts for it
	seq := atomic.AddUint64(&mbSeq, 1)
	smpMB(c.ID)
	var mask uint64
	for cpu := 0; cpu < n; cpu++ {
		cur[cpu] = atomic.LoadUintptr(&rqs[cpu].curr)
		sw[cpu] = atomic.LoadUint64(&rqs[cpu].stats.Switches)
		if p := taskAt(cur[cpu]); p == nil || atomic.LoadUintptr(&p.MM) != h {
			// not running the mm at the scan: owed no barrier (a kthread_use_mm after the scan
			// orders itself, and the audit may see its mm before its barrier is recorded)
			cur[cpu] = 0
		} else if cpu != c.ID {
			mask |= 1 << uint(cpu)
		}
	}
	if !InjectMembarrierNoIPI && mask != 0 {
		c.r.stats.MembarrierIPIs += uint64(bits.OnesCount64(mask))
		machine.M.CrossCall(mask, machine.CallMembarrier, seq, true)
	}
	smpMB(c.ID)
	record(c.ID, EvMembarrier, mask, 0, 0)
	return seq
}

// membarrierAudit is the bookkeeping detector: every CPU that ran the mm through the whole call (the
// same task at the scan, running the mm there, and no switch since) must have recorded the barrier.
func (c *CPU) membarrierAudit(t *Task, seq uint64, cur *[mm.MaxCPUs]uintptr, sw *[mm.MaxCPUs]uint64) {
	atomic.AddUint64(&c.r.stats.Barriers, 1)
	for cpu := 0; cpu < machine.M.CPUs(); cpu++ {
		if cpu == c.ID || atomic.LoadUintptr(&rqs[cpu].curr) != cur[cpu] || atomic.LoadUint64(&rqs[cpu].stats.Switches) != sw[cpu] {
			continue // it switched meanwhile: the switch path is its barrier
		}
		if p := taskAt(cur[cpu]); p != nil && atomic.LoadUintptr(&p.MM) == t.MM && mbSeen[cpu].Load() < seq {
			report(chkMembarrier, 0, cpu, t.MM, t.MMCtx, int64(seq))
		}
	}
}

// smpMB is smp_mb() on this CPU: a store and a load of the CPU's own slot, both seq-cst (amd64: XCHG,
// a locked instruction; ppc64: each has its hwsync), so no later load passes an earlier store.
//
//go:nosplit
func smpMB(cpu int) {
	s := &mbSlot[cpu&(mm.MaxCPUs-1)]
	atomic.StoreUint64(&s.v, 1)
	_ = atomic.LoadUint64(&s.v)
}

var mbSlot [mm.MaxCPUs]struct {
	v uint64
	_ [56]byte
}

// sbStoreLoad is one side of the bare store-buffering pattern, as user code with no barrier: *st = 1,
// then a plain load of *ld, no call in between (MOV, MOV; std, ld).
//
//go:noinline
//go:nosplit
func sbStoreLoad(st, ld *uint64) uint64 {
	*st = 1
	return *ld
}

// SBFast is the fast side of the store-buffering test, as user code that relies on membarrier: x = 1;
// r1 = y, with no smp_mb.
func SBFast(x, y *uint64) uint64 { return sbStoreLoad(x, y) }

// mbUseMM is the full barrier kthread_use_mm executes after storing tsk->mm (membarrier_update_current_mm
// and its smp_mb): a membarrier whose scan missed the new mm is covered by it.
//
//go:nosplit
func mbUseMM(cpu int) {
	mbRecord(cpu, atomic.LoadUint64(&mbSeq))
}

// mbRecord notes that cpu executed a full barrier covering membarriers up to seq. Concurrent
// membarriers' IPIs may arrive out of order: the record only grows.
//
//go:nosplit
func mbRecord(cpu int, seq uint64) {
	for {
		old := mbSeen[cpu].Load()
		if old >= seq || mbSeen[cpu].CompareAndSwap(old, seq) {
			return
		}
	}
}

// ipiMB is ipi_mb on this CPU: smp_mb(), recorded. The injected membarrier-no-ipi-mb records it
// with a plain store and executes no barrier (the interrupt's entry and return are left: on x86, IRET
// serializes).
//
//go:nosplit
func ipiMB(cpu int, seq uint64) {
	if InjectMembarrierNoIPIMB {
		*(*uint64)(unsafe.Pointer(&mbSeen[cpu])) = seq
		return
	}
	smpMB(cpu)
	mbRecord(cpu, seq)
}

var (
	// InjectMembarrierNoIPIMB is an injected bug: ipi_mb executes no smp_mb().
	InjectMembarrierNoIPIMB bool
	// InjectMembarrierCurrPlain is an injected bug: context_switch stores rq->curr with no full
	// barrier after it (a plain store; contextSwitch).
	InjectMembarrierCurrPlain bool
	// InjectMembarrierLazyNoMB is an injected bug: on the kernel thread -> user path, mmdrop_lazy_tlb
	// of a scheme that does not refcount lazy users executes no smp_mb() (finishTaskSwitch).
	InjectMembarrierLazyNoMB bool
)
