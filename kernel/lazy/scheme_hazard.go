package lazy

import (
	"lazymm/kernel/catalog"

	"lazymm/kernel/machine"

	"sync/atomic"

	"lazymm/mm"
)

// hazard is Mathieu Desnoyers' 2024 RFC for lazy mms, built on his hazard-pointer proposal: a CPU
// going lazy publishes the mm in its per-CPU slot (enter_lazy_tlb) and clears it when it switches to
// a user task; the final __mmdrop scans every slot and IPIs only the CPUs whose slot holds the mm.
// It is not Andy Lutomirski's 2022 "lightweight hazard pointers" (hazard-ref), which scan the same
// slots at __mmput and turn each one holding the mm into an mm_count reference with cmpxchg, sending
// no IPIs. Publishing happens while the CPU still holds an mm_users reference (the previous task is a
// user of the mm, or exit_mm's task is), and the scan happens after mm_count reached zero, so
// sequentially consistent atomics on both sides cannot miss each other.
type hazard struct{}

func (hazard) Name() string { return catalog.Hazard }

func (hazard) Config() SchemeConfig {
	return SchemeConfig{ActiveMM: true, ActiveIsRef: true, Hazard: true}
}

func (hazard) MMPut(int, *mm.AddrSpace) {}

func (hazard) MMDrop(cpu int, as *mm.AddrSpace) {
	if InjectHazardNoScan {
		return
	}
	var mask uint64
	h := as.Handle()
	for c := 0; c < machine.M.CPUs(); c++ {
		if atomic.LoadUintptr(&rqs[c].hazard) == h {
			mask |= 1 << uint(c)
		}
	}
	shoot(cpu, mask, as)
}
