package lazy

import (
	"lazymm/kernel/catalog"

	"sync/atomic"

	"lazymm/mm"
)

// loadedMM is the x86 series that tracks lazy use by the CPUs whose MMU has the mm loaded
// (cpu_tlbstate.loaded_mm, mirrored in mm_cpumask by switch_mm_irqs_off) instead of by references:
// no mm_count traffic on lazy switches, and the final __mmdrop IPIs the CPUs in mm_cpumask.
//
// With it comes the step of Andy Lutomirski's 2022 series ("[PATCH 21/23] x86/mm: Use
// unlazy_mm_irqs_off() in TLB flush IPIs", after 12/23 and 20/23 added unlazy_mm_irqs_off and made
// leave_mm use it) that makes a flush IPI unlazy the scheduler too: flush_tlb_func's lazy case, which
// switched to init_mm behind the scheduler's back (and, before mainline's lazily trimmed mask, took
// the CPU out of mm_cpumask), now also ends the lazy use: active_mm = &init_mm (FlushUnlazy, the
// arch calling ShootLazy). mm_cpumask then stays a superset of the CPUs whose active_mm names the mm,
// so __mmdrop's IPIs reach them all and active_mm is a reference the detectors check (ActiveIsRef).
// Without the step (loaded-mm-keep-active) a lazy CPU the exit flush took out of the mask keeps
// naming the freed mm: caught where the flush clears the bit (Linux 6.1 x86, hash, radix-exitleave).
//
// Where the port differs: unlazy_mm_irqs_off's mmdrop of the lazy reference is not needed here (no
// reference is counted), and use_temporary_mm's unlazy (20/23) is the core's textPoke, under every
// scheme that counts no lazy reference. The patches are x86's; the port applies the same rule to the
// POWER modes whose flushes move lazy CPUs (hash, radix-exitleave). A stale bit of its own making
// (loaded-mm-stale-mask) still leaves a CPU on freed page tables.
type loadedMM struct{}

func (loadedMM) Name() string { return catalog.LoadedMM }

func (loadedMM) Config() SchemeConfig {
	return SchemeConfig{ActiveMM: true, ActiveIsRef: true, FlushUnlazy: !InjectLoadedMMKeepActive}
}

func (loadedMM) MMPut(int, *mm.AddrSpace) {}

func (loadedMM) MMDrop(cpu int, as *mm.AddrSpace) {
	if InjectLoadedMMNoIPI {
		return
	}
	shoot(cpu, atomic.LoadUint64(&as.CPUMask), as)
}
