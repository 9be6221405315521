package shim

import (
	"sync/atomic"

	"lazymm/mm"
)

// Waiting that gives the CPU back. Every wait for another CPU in the shim (the kernel lock, the
// cross-call lock and acknowledgements) polls its own cross-call slot, spins a while with the pause
// hint (mm.Relax), then announces itself in haltWaiters and halts until an interrupt (archIdle: HLT, H_CEDE),
// with the flag CPU.Waiting telling the trap handler that the interrupt must neither schedule nor take
// the kernel lock. Whoever ends a wait (a cross-call done, a lock released) sends the announced CPUs a
// wake-up IPI. Under QEMU a halted vCPU costs the host nothing, where a spinning one keeps a host core
// from the vCPU it waits for.
//
// No wake-up is lost: the waiter stores its bit, then reads its condition; the waker stores the
// condition, then swaps the mask; both atomics are sequentially consistent, so one sees the other. A
// wake-up for another condition only makes a waiter look again, and the tick bounds any wait.

// spinBudget is how many pause-hinted polls a wait makes before it halts: about what an IPI's round
// trip costs under QEMU's TCG, so short waits never pay for the halt and its wake-up IPI.
const spinBudget = 256

var haltWaiters uint64 // CPUs halted in a wait, to be woken when it may have ended

// spinWait is one wait's state, on the waiter's stack.
type spinWait struct {
	spins     int32
	announced bool
}

// pause is one round of a wait whose condition the caller has just found false (and whose own
// cross-call slot it has polled): the pause hint; past the budget, announce (the caller reads its
// condition again) and, on the next round, halt until an interrupt. Interrupts are off on entry and
// on return. It calls no deeper than archIdle: the waits are on trap paths, under the nosplit limit.
//
//go:nosplit
func (w *spinWait) pause(c *CPU) {
	switch {
	case w.spins < spinBudget:
		w.spins++
		mm.Relax()
	case !archMayHalt(): // an interrupt handler's own stack: a nested one would restart it
		mm.Relax()
	case !w.announced:
		atomic.OrUint64(&haltWaiters, 1<<uint(c.ID))
		w.announced = true
	default:
		c.Waiting = true
		archIdle()
		c.Waiting = false
		w.leave(c) // woken: look again, and announce again before the next halt
	}
}

// done ends the wait: this CPU leaves haltWaiters, and the next wait starts with a full budget.
//
//go:nosplit
func (w *spinWait) done(c *CPU) {
	w.leave(c)
	w.spins = 0
}

//go:nosplit
func (w *spinWait) leave(c *CPU) {
	if w.announced {
		atomic.AndUint64(&haltWaiters, ^(uint64(1) << uint(c.ID)))
		w.announced = false
	}
}

// wakeWaiters sends a wake-up IPI to every CPU halted in a wait, after the caller changed what they
// may wait for. Interrupts are off (it is called where they are): it sends directly, as SendIPI does
// without its save and restore, to stay shallow on the trap paths.
//
//go:nosplit
func wakeWaiters() {
	if atomic.LoadUint64(&haltWaiters) == 0 {
		return
	}
	me := archCPUID()
	w := atomic.SwapUint64(&haltWaiters, 0) &^ (uint64(1) << uint(me))
	for i := 0; w != 0; i++ {
		if w&(1<<uint(i)) != 0 {
			w &^= 1 << uint(i)
			atomic.AddUint64(&ipiSent[IPIResched][me], 1)
			archSendIPI(i, IPIResched)
		}
	}
}

// Waiting says this CPU is halted in a wait: the interrupt that woke it only ends the halt.
//
//go:nosplit
func Waiting() bool { return thisCPU().Waiting }
