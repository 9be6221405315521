package lazy

import (
	"lazymm/kernel/catalog"

	"lazymm/kernel/machine"

	"sync/atomic"

	"lazymm/mm"
)

// noActiveMM is the wish to have no ->active_mm at all: a kernel thread has no mm, borrowed or not;
// only the arch knows what its MMU has loaded (cpu_tlbstate.loaded_mm). The final __mmdrop IPIs the
// CPUs whose loaded mm it is, found by reading each CPU's TLB state rather than a mask. No mm_count
// traffic on lazy switches, and nothing for a stale active_mm to point at.
type noActiveMM struct{}

func (noActiveMM) Name() string { return catalog.NoActiveMM }

func (noActiveMM) Config() SchemeConfig { return SchemeConfig{} }

func (noActiveMM) MMPut(int, *mm.AddrSpace) {}

func (noActiveMM) MMDrop(cpu int, as *mm.AddrSpace) {
	if InjectNoActiveMMNoScan {
		return
	}
	var mask uint64
	h := as.Handle()
	for c := 0; c < machine.M.CPUs(); c++ {
		if atomic.LoadUintptr(&mm.TLB[c].LoadedMM) == h {
			mask |= 1 << uint(c)
		}
	}
	shoot(cpu, mask, as)
}
