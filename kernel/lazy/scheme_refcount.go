package lazy

import (
	"lazymm/kernel/catalog"
	"lazymm/mm"
)

// refcount is Linux's classic lazy TLB (CONFIG_MMU_LAZY_TLB_REFCOUNT, x86 today): a kernel thread that
// borrows the previous task's mm as active_mm takes an mm_count reference (mmgrab_lazy_tlb in
// context_switch and exit_mm) and the next switch to a user task drops it (mmdrop_lazy_tlb_sched in
// finish_task_switch). The mm cannot be freed under a lazy CPU, so nobody is ever kicked; the price is
// an atomic on the shared mm_count line at every lazy switch, from whichever CPU switches.
type refcount struct{}

func (refcount) Name() string { return catalog.Refcount }

func (refcount) Config() SchemeConfig {
	return SchemeConfig{LazyRefcount: true, ActiveMM: true, ActiveIsRef: true}
}

func (refcount) MMPut(int, *mm.AddrSpace)  {}
func (refcount) MMDrop(int, *mm.AddrSpace) {}
