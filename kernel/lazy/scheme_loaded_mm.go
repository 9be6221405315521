package lazy

import (
	"lazymm/kernel/catalog"

	"sync/atomic"

	"lazymm/mm"
)

// loadedMM is the x86 series that tracks lazy use by the CPUs whose MMU has the mm loaded
// (cpu_tlbstate.loaded_mm, mirrored in mm_cpumask by switch_mm_irqs_off) instead of by references:
// no mm_count traffic on lazy switches, and the final __mmdrop IPIs the CPUs in mm_cpumask. A kernel
// thread's active_mm is a stale hint under this scheme, never dereferenced (the NMI path uses
// current->mm only). It relies on mm_cpumask being exact: a bit cleared before the CPU really switched
// away (inject loaded-mm-stale-mask) leaves a CPU on freed page tables.
type loadedMM struct{}

func (loadedMM) Name() string { return catalog.LoadedMM }

func (loadedMM) Config() SchemeConfig { return SchemeConfig{ActiveMM: true} }

func (loadedMM) MMPut(int, *mm.AddrSpace) {}

func (loadedMM) MMDrop(cpu int, as *mm.AddrSpace) {
	if InjectLoadedMMNoIPI {
		return
	}
	shoot(cpu, atomic.LoadUint64(&as.CPUMask), as)
}
