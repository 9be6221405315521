package mm

import "sync/atomic"

// cpusOffline is the complement of Linux's cpu_online_mask among the CPUs that came up: the CPUs the
// cpu-hotplug scenario has taken down. Cross-calls (and so flushes, the schemes' IPIs and the audits)
// leave them out, as smp_call_function_many_cond ANDs its mask with cpu_online_mask.
var cpusOffline uint64

// OfflineMask returns the CPUs that are offline.
//
//go:nosplit
func OfflineMask() uint64 { return atomic.LoadUint64(&cpusOffline) }

// SetOnline puts cpu into the online mask or takes it out (set_cpu_online).
//
//go:nosplit
func SetOnline(cpu int, online bool) {
	bit := uint64(1) << uint(cpu)
	if online {
		atomic.AndUint64(&cpusOffline, ^bit)
	} else {
		atomic.OrUint64(&cpusOffline, bit)
	}
}
