package lazy

import (
	"lazymm/kernel/catalog"

	"sync/atomic"

	"lazymm/mm"
)

// exitFlushUnlazy is powerpc radix's exit_flush_lazy_tlbs: the final TLB flush of exit_mmap (freed
// tables, so lazy CPUs are interrupted too) also switches lazy CPUs away from the mm for good
// (do_exit_flush_lazy_tlb: active_mm = init_mm), so the shootdown of the final __mmdrop, still sent to
// mm_cpumask as a backstop, finds nothing to do.
type exitFlushUnlazy struct{}

func (exitFlushUnlazy) Name() string { return catalog.ExitFlushUnlazy }

func (exitFlushUnlazy) Config() SchemeConfig {
	return SchemeConfig{ActiveMM: true, ActiveIsRef: true, ExitUnlazy: !InjectExitFlushNoUnlazy}
}

func (exitFlushUnlazy) MMPut(int, *mm.AddrSpace) {}

func (exitFlushUnlazy) MMDrop(cpu int, as *mm.AddrSpace) {
	if InjectExitFlushNoBackstop {
		return
	}
	shoot(cpu, atomic.LoadUint64(&as.CPUMask), as)
}
