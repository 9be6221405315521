package lazy

import (
	"sync/atomic"

	"lazymm/kernel/catalog"
	"lazymm/mm"
)

// shootdown is CONFIG_MMU_LAZY_TLB_SHOOTDOWN (powerpc, Linux 6.2): lazy users hold no reference; the
// final __mmdrop calls cleanup_lazy_tlbs, whose IPIs (do_shoot_lazy_tlb) move every CPU still using the
// mm lazily to init_mm before the mm is freed.
//
// Where it differs: powerpc sends them to mm_cpumask, which it keeps as a superset of lazy users. On
// x86 a flush of freed tables moves a lazy CPU's CR3 to init_mm and clears its mm_cpumask bit while
// its kernel thread's active_mm still names the mm, so the mask is not a superset here. This port
// therefore IPIs every online CPU, Linux's fallback, and the IPIs that find nothing are counted as
// unneeded.
type shootdown struct{}

func (shootdown) Name() string { return catalog.Shootdown }

func (shootdown) Config() SchemeConfig { return SchemeConfig{ActiveMM: true, ActiveIsRef: true} }

func (shootdown) MMPut(int, *mm.AddrSpace) {}

func (shootdown) MMDrop(cpu int, as *mm.AddrSpace) {
	if InjectShootdownNoIPI {
		return
	}
	if InjectShootdownCPUMask { // powerpc's target: on x86 the mask is no superset of lazy users
		shoot(cpu, atomic.LoadUint64(&as.CPUMask), as)
		return
	}
	shoot(cpu, onlineMask(), as)
}
