package shim

import (
	"sync/atomic"

	"lazymm/mm"
)

// CPUDying is the outgoing CPU's last step before it parks, interrupts off: it leaves the online
// mask (__cpu_disable's set_cpu_online), waits out a cross-call sender that read the mask before
// (PostCall reads it under the call lock), and runs what such a sender posted here
// (flush_smp_call_function_queue, CPUHP_AP_SMPCFD_DYING). From then on no cross-call targets it.
//
//go:nosplit
func CPUDying(cpu int) {
	mm.SetOnline(cpu, false)
	c := thisCPU()
	var w spinWait
	for !atomic.CompareAndSwapUint32(&callLock, 0, 1) {
		runCrossCall(c)
		w.pause(c)
	}
	w.done(c)
	atomic.StoreUint32(&callLock, 0)
	runCrossCall(c)
}
