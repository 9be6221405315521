package mm

import (
	"math/bits"
	"sync/atomic"
)

// Global ASIDs and broadcast flushes: mainline x86's AMD INVLPGB support (Rik van Riel's "AMD
// broadcast TLB invalidation", 6.15; arch/x86/mm/tlb.c). A process active on more than three CPUs at
// once gets one ASID on every CPU (a global ASID, above the per-CPU dynamic slots), and its flushes
// then go by INVLPGB, which the hardware carries to every CPU's TLB: no IPIs, and no tlb_gen catch-up,
// since a global ASID is never out of date. While the process moves over (asid_transition), its
// flushes still IPI the whole mask, until every CPU running it has reloaded under the global ASID.
//
// The lab's kernel leaves BroadcastTLB off: the CPUs QEMU's TCG emulates have no INVLPGB, as they
// have no PCID. The decisions are host-tested on the simulated MMU (tlb_global_test.go), whose
// INVLPGB drops a PCID's entries on every simulated CPU.

// BroadcastTLB is X86_FEATURE_INVLPGB with X86Mainline.
var BroadcastTLB bool

// MaxASIDs is MAX_ASID_AVAILABLE: the ASIDs a PCID can name (2048 with PTI's user PCIDs); the global
// ones are [NumASIDs, MaxASIDs).
const MaxASIDs = 2048

// GlobalThreshold is mm_active_cpus_exceeds' threshold in consider_global_asid: "active on 4 or more
// CPUs simultaneously".
const GlobalThreshold = 3

// globalASIDs is the global ASID space (global_asid_used, global_asid_freed, last_global_asid,
// global_asid_available), under its lock.
var globalASIDs struct {
	lock        uint32
	used, freed [MaxASIDs / 64]uint64
	last        uint16
	available   int
}

func init() { ResetGlobalASIDs() }

// ResetGlobalASIDs puts the space back to boot: every global ASID free.
func ResetGlobalASIDs() {
	g := &globalASIDs
	g.used, g.freed = [MaxASIDs / 64]uint64{}, [MaxASIDs / 64]uint64{}
	g.last, g.available = MaxASIDs, MaxASIDs-NumASIDs-1
}

// IsGlobalASID is is_global_asid.
//
//go:nosplit
func IsGlobalASID(asid uint16) bool { return asid >= NumASIDs }

// GlobalASID is mm_global_asid: as's global ASID, 0 when it has none (or the CPU has no INVLPGB).
//
//go:nosplit
func (as *AddrSpace) GlobalASID() uint16 {
	if !BroadcastTLB {
		return 0
	}
	return uint16(atomic.LoadUint32(&as.globalASID))
}

// InASIDTransition is mm_in_asid_transition.
//
//go:nosplit
func (as *AddrSpace) InASIDTransition() bool {
	return BroadcastTLB && atomic.LoadUint32(&as.asidTransition) != 0
}

// needsGlobalReload is mm_needs_global_asid: next has a global ASID this CPU has not loaded yet.
//
//go:nosplit
func needsGlobalReload(next *AddrSpace, asid uint16) bool {
	g := next.GlobalASID()
	return g != 0 && asid != g
}

// ConsiderGlobalASID is consider_global_asid, after a flush that IPI'd the mask: due is Linux's "every
// once in a while" ((current->pid & 0x1f) == (jiffies & 0x1f)); the process gets a global ASID when it
// runs, not lazily, on more than GlobalThreshold CPUs.
func ConsiderGlobalASID(as *AddrSpace, due bool) {
	if !BroadcastTLB || !due || as == &InitMM || !activeCPUsExceed(as, GlobalThreshold) {
		return
	}
	useGlobalASID(as)
}

// activeCPUsExceed is mm_active_cpus_exceeds: more than threshold CPUs of the mask run as, not lazily.
func activeCPUsExceed(as *AddrSpace, threshold int) bool {
	mask := atomic.LoadUint64(&as.CPUMask)
	if bits.OnesCount64(mask) <= threshold {
		return false
	}
	n := 0
	for m := mask; m != 0; m &= m - 1 {
		s := &TLB[bits.TrailingZeros64(m)]
		if s.Loaded() == as && atomic.LoadUint32(&s.Lazy) == 0 {
			n++
		}
	}
	return n > threshold
}

// useGlobalASID is use_global_asid: allocate, then publish with asid_transition set first
// (assign_mm_global_asid), so a flush that sees the ASID sees the transition too.
func useGlobalASID(as *AddrSpace) (flushAll bool) {
	acquire(&globalASIDs.lock)
	defer release(&globalASIDs.lock)
	if as.GlobalASID() != 0 || globalASIDs.available == 0 {
		return false
	}
	asid, flushAll := allocGlobalASID()
	if asid == 0 {
		return flushAll
	}
	atomic.StoreUint32(&as.asidTransition, 1)
	atomic.StoreUint32(&as.globalASID, uint32(asid))
	return flushAll
}

// allocGlobalASID is allocate_global_asid: the next free ASID after the last; at the end of the
// space, reset_global_asid_space makes the freed ones usable again, after a flush of every
// non-global entry on every CPU (invlpgb_flush_all_nonglobals: flushAll).
func allocGlobalASID() (asid uint16, flushAll bool) {
	g := &globalASIDs
	if g.last >= MaxASIDs-1 {
		for i := range g.used {
			g.used[i] &^= g.freed[i]
		}
		g.freed, g.last, flushAll = [MaxASIDs / 64]uint64{}, NumASIDs, true
	}
	for a := g.last; a < MaxASIDs; a++ {
		if g.used[a/64]&(1<<(a%64)) == 0 {
			g.used[a/64] |= 1 << (a % 64)
			g.last, g.available = a, g.available-1
			return a, flushAll
		}
	}
	return 0, flushAll
}

// FreeGlobalASID is mm_free_global_asid, at destroy_context: the ASID is reusable only after the
// flush at wrap-around.
func FreeGlobalASID(as *AddrSpace) {
	a := uint16(atomic.LoadUint32(&as.globalASID))
	if a == 0 {
		return
	}
	acquire(&globalASIDs.lock)
	globalASIDs.freed[a/64] |= 1 << (a % 64)
	globalASIDs.available++
	release(&globalASIDs.lock)
	atomic.StoreUint32(&as.globalASID, 0)
}

// Broadcast is flush_tlb_mm_range's first choice: an mm with a global ASID is flushed by
// broadcast_tlb_flush (INVLPGB on its ASID reaches every CPU at once), then FinishASIDTransition.
//
//go:nosplit
func (f *FlushInfo) Broadcast() bool { return asAt(f.MM).GlobalASID() != 0 }

// FinishASIDTransition is finish_asid_transition, after a broadcast flush: if a CPU running as still
// uses a dynamic ASID, the flush must also IPI the mask (with trim_cpumask set), which makes the
// stragglers reload; once none does, the transition is over. It returns the CPUs to interrupt.
//
//go:nosplit
func FinishASIDTransition(as *AddrSpace) (ipi uint64) {
	if !as.InASIDTransition() {
		return 0
	}
	g, mask := as.GlobalASID(), atomic.LoadUint64(&as.CPUMask)
	for m := mask; m != 0; m &= m - 1 {
		s := &TLB[bits.TrailingZeros64(m)]
		for atomic.LoadUintptr(&s.LoadedMM) == Switching { // wait out a switch in progress
			Relax()
		}
		if s.Loaded() == as && s.LoadedASID != g {
			return mask
		}
	}
	atomic.StoreUint32(&as.asidTransition, 0)
	return 0
}
