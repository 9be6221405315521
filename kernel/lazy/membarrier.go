package lazy

import (
	"lazymm/kernel/machine"

	"math/bits"
	"sync/atomic"

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
	t := c.Curr()
	if t.MM == 0 {
		return
	}
	n := machine.M.CPUs()
	// the sequence first: a CPU that starts using the mm after the scan below (kthread_use_mm) then
	// sees it, and its own barrier counts for it
	seq := atomic.AddUint64(&mbSeq, 1)
	var sw [mm.MaxCPUs]uint64
	var cur [mm.MaxCPUs]uintptr
	var mask uint64
	for cpu := 0; cpu < n; cpu++ {
		cur[cpu] = atomic.LoadUintptr(&rqs[cpu].curr)
		sw[cpu] = atomic.LoadUint64(&rqs[cpu].stats.Switches)
		if cpu != c.ID {
			if p := taskAt(cur[cpu]); p != nil && atomic.LoadUintptr(&p.MM) == t.MM {
				mask |= 1 << uint(cpu)
			}
		}
	}
	record(c.ID, EvMembarrier, mask, 0, 0)
	if !InjectMembarrierNoIPI && mask != 0 {
		c.r.stats.MembarrierIPIs += uint64(bits.OnesCount64(mask))
		machine.M.CrossCall(mask, machine.CallMembarrier, seq, true)
	}
	atomic.AddUint64(&c.r.stats.Barriers, 1)
	for cpu := 0; cpu < n; cpu++ {
		if cpu == c.ID || atomic.LoadUintptr(&rqs[cpu].curr) != cur[cpu] || atomic.LoadUint64(&rqs[cpu].stats.Switches) != sw[cpu] {
			continue // it switched meanwhile: the switch path is its barrier
		}
		if p := taskAt(cur[cpu]); p != nil && atomic.LoadUintptr(&p.MM) == t.MM && mbSeen[cpu].Load() < seq {
			report(chkMembarrier, 0, cpu, t.MM, t.MMCtx, int64(seq))
		}
	}
}

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

// ipiMB is ipi_mb on this CPU: a full barrier, recorded.
//
//go:nosplit
func ipiMB(cpu int, seq uint64) {
	mbRecord(cpu, seq) // a locked compare-and-swap: the full barrier
}
