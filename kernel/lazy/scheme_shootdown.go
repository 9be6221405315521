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
// cleanup_lazy_tlbs IPIs mm_cpumask, which the arch must keep a superset of lazy users. Where lazy
// CPUs keep the root through exit_mmap (mm.LazyKeepsRoot: powerpc radix) it is one, and this port
// IPIs the mask, as Linux does; so under mainline x86, whose switch no longer clears prev's bit. Where
// the exit flush moves a lazy CPU's root to init_mm and clears its mask bit while its kernel thread's
// active_mm still names the mm (Linux 6.1's x86 rules, and the hash and radix-exitleave modes here),
// the mask is not a superset: there the port IPIs every online CPU, as shootdown-all does everywhere
// (the default of Lutomirski's 2022 series rather than anything merged), and the IPIs that find
// nothing are counted as unneeded. shootdown-cpumask trusts the mask where it is no superset.
type shootdown struct{}

func (shootdown) Name() string { return catalog.Shootdown }

func (shootdown) Config() SchemeConfig { return SchemeConfig{ActiveMM: true, ActiveIsRef: true} }

func (shootdown) MMPut(int, *mm.AddrSpace) {}

func (shootdown) MMDrop(cpu int, as *mm.AddrSpace) {
	if InjectShootdownNoIPI {
		return
	}
	if mm.MaskHoldsLazy() || InjectShootdownCPUMask {
		shoot(cpu, atomic.LoadUint64(&as.CPUMask), as)
		return
	}
	shoot(cpu, onlineMask(), as)
}
