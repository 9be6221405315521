package lazy

import (
	"sync/atomic"

	"lazymm/mm"
)

// PREEMPT_RT's mmdrop_sched (include/linux/sched/mm.h, Linux 6.1): finish_task_switch's final mmdrop
// does not run __mmdrop there, with preemption still off (on RT it takes sleeping locks), but queues
// it with call_rcu; __mmdrop_delayed runs it after a grace period. mmdrop_lazy_tlb_sched (6.2) calls
// it only where lazy references are counted (MMU_LAZY_TLB_REFCOUNT); elsewhere the lazy drop is
// smp_mb() and nothing is deferred. Where the lab differs: call_rcu is a per-CPU list of (mm,
// ctx_id), kept beside the mm rather than linked through mm->delayed_drop, and its callbacks run in
// the CPU's own thread context when the scenario calls RCUCallbacks after a grace period.

// InjectRTDrainTwice is an injected bug: rcu_do_batch does not cut the callbacks it ran from the
// list, so the next batch runs them again.
var InjectRTDrainTwice bool

var preemptRT uint32

// rcuCB is one queued __mmdrop_delayed.
type rcuCB struct {
	h   uintptr
	ctx uint64
}

// rcuList is one CPU's callbacks not yet run; only that CPU touches it.
type rcuList struct {
	cbs [16]rcuCB
	n   int
}

var rcuLists [mm.MaxCPUs]rcuList

// SetPreemptRT selects PREEMPT_RT's mmdrop_sched for the switches that follow (the rt-delayed-mmdrop
// scenario); every CPU must have run its callbacks before it is turned off.
func SetPreemptRT(on bool) {
	v := uint32(0)
	if on {
		v = 1
	}
	atomic.StoreUint32(&preemptRT, v)
}

// dropLazySched is mmdrop_lazy_tlb_sched, finish_task_switch's drop of rq->prev_mm.
func dropLazySched(cpu int, h uintptr, ctx uint64) {
	if cfg.LazyRefcount && h != 0 && h != initH && atomic.LoadUint32(&preemptRT) != 0 {
		mmdropSched(cpu, h, ctx)
		return
	}
	dropLazy(cpu, h, ctx, atFinish)
}

// mmdropSched is RT's mmdrop_sched: the count is dropped here, the final __mmdrop is call_rcu's.
func mmdropSched(cpu int, h uintptr, ctx uint64) {
	n, ok := addRef(cpu, h, ctx, atFinish, false, -1)
	if !ok || n != 0 {
		return
	}
	if l := &rcuLists[cpu]; l.n < len(l.cbs) {
		l.cbs[l.n] = rcuCB{h, ctx}
		l.n++
		return
	}
	mmdropFinal(cpu, mm.At(h)) // the list is full (no scenario queues so many): not deferred
}

// RCUPending returns how many __mmdrop_delayed callbacks wait on this CPU, and whether each one's mm
// is still allocated, its count zero (the deferral keeps it until the callback).
func (c *CPU) RCUPending() (n int, allocated bool) {
	l := &rcuLists[c.ID]
	allocated = true
	for _, cb := range l.cbs[:l.n] {
		as := mm.At(cb.h)
		allocated = allocated && as.Valid(cb.ctx) && atomic.LoadInt64(&as.Count) == 0
	}
	return l.n, allocated
}

// RCUCallbacks is rcu_do_batch on this CPU, in thread context after a grace period: each queued mm
// gets its __mmdrop_delayed (container_of, then __mmdrop: the scheme's cleanup, the root and the
// struct freed and poisoned). It returns how many ran.
func (c *CPU) RCUCallbacks() int {
	l := &rcuLists[c.ID]
	n := l.n
	for i := 0; i < n; i++ {
		cb := l.cbs[i]
		if checkMM(c.ID, cb.h, cb.ctx, atDrop) {
			mmdropFinal(c.ID, mm.At(cb.h))
		}
	}
	if !InjectRTDrainTwice {
		l.n = 0
	}
	return n
}

// MMFreed says whether the mm h, of ctx_id ctx, is gone: its struct freed (poisoned) or reused.
func MMFreed(h uintptr, ctx uint64) bool { return !mm.At(h).Valid(ctx) }

// DefersMMDrop says whether the scheme's finish_task_switch can defer an mm's final drop under
// PREEMPT_RT: only where lazy references are counted.
func DefersMMDrop() bool { return cfg.LazyRefcount }
