package lazy

import (
	"lazymm/kernel/catalog"
	"lazymm/mm"
)

// shootdownAll is MMU_LAZY_TLB_SHOOTDOWN (shootdown: Nicholas Piggin's cleanup_lazy_tlbs and
// do_shoot_lazy_tlb, kernel/fork.c, Linux 6.2) with the IPIs aimed at every online CPU, whatever the
// arch does with mm_cpumask: the set Andy Lutomirski's 2022 series walks when the arch offers nothing
// better (for_each_possible_lazymm_cpu defaults to for_each_online_cpu, "[PATCH 16/23] sched: Use
// lightweight hazard pointers to grab lazy mms"). Nothing merged does this; it is sound in every mode,
// at the price of an IPI to each CPU per freed mm, counted as unneeded where it finds nothing. As
// on_each_cpu does, the freeing CPU makes its own call, directly (shoot): it is lazy on the mm since
// exit_mm when the last mmdrop is its own, and smp_call_function_many, which leaves it out, is the
// injected shootdown-all-not-self.
type shootdownAll struct{}

func (shootdownAll) Name() string { return catalog.ShootdownAll }

func (shootdownAll) Config() SchemeConfig { return SchemeConfig{ActiveMM: true, ActiveIsRef: true} }

func (shootdownAll) MMPut(int, *mm.AddrSpace) {}

func (shootdownAll) MMDrop(cpu int, as *mm.AddrSpace) {
	mask := onlineMask()
	if InjectShootAllNotSelf { // smp_call_function_many: every CPU but this one
		mask &^= 1 << uint(cpu)
	}
	shoot(cpu, mask, as)
}
