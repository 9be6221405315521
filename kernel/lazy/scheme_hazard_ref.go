package lazy

import (
	"math/bits"
	"sync/atomic"

	"lazymm/kernel/catalog"
	"lazymm/mm"
)

// hazardRef is Andy Lutomirski's lightweight hazard pointers for lazy mms: "[PATCH 16/23] sched: Use
// lightweight hazard pointers to grab lazy mms" of "mm, sched: Rework lazy mm handling" (LKML, 8
// January 2022; not merged). Each CPU's run queue has two words:
//   - lazy_mm, a hazard pointer (rq.hazard, the slot Desnoyers' hazard uses too): published on going
//     lazy (context_switch, exit_mm) and cleared on switching to a user mm, with no mm_count atomic;
//   - drop_mm (rq.dropMM): an mm_count reference the CPU owns, to mmdrop once it is done with its mm.
//
// The scan is mm_unlazy_mm_count, in __mmput after exit_mmap and before the users' mmdrop: with
// mm_users at zero no CPU can publish the mm again, so each slot still naming it is turned into an
// mm_count reference handed to that CPU (__try_mm_drop_rq_ref). No IPIs: the mm lives until each such
// CPU has switched away and dropped it (mmdrop_lazy, after every context switch).
//
// A CPU may unlazy while the scanner converts its slot; cmpxchg on drop_mm settles it on both sides.
// The owner takes drop_mm to NULL by cmpxchg, and only once lazy_mm no longer names that mm. The
// scanner fills an empty drop_mm by cmpxchg; finding an older mm there, it loads lazy_mm again, after
// drop_mm (the scan's first load may predate the CPU's going lazy on the older mm, which the swap
// would then drop in use: the patch's comment): if the CPU no longer names this mm it drops its own
// reference, else it swaps it in by cmpxchg and drops the older one, which the CPU is done with. A
// lost cmpxchg (the owner took the older one meanwhile) retries.
//
// Where the port differs:
//   - Linux leaves a reference given to a CPU that just stopped naming the mm for that CPU's next
//     switch; the lab's CPUs stop switching when a scenario ends, whose leak check would count it, so
//     after each fill the scanner loads lazy_mm again and, if the CPU has moved on, takes the
//     reference back by the owner's own cmpxchg: exactly one of them drops it;
//   - drop_mm also carries the ctx_id the freed-mm check compares, in the same word (packRef);
//   - the patch's arch hook (for_each_possible_lazymm_cpu) is taken as every online CPU, or
//     mm_cpumask where the arch keeps it a superset of lazy CPUs (mm.MaskHoldsLazy), as patch 22 did
//     on x86 once patch 21 made flush IPIs unlazy; patch 21 is loaded-mm's (FlushUnlazy), not this
//     scheme's, so an exit flush that moves a lazy CPU's root to init_mm leaves its slot to the scan;
//   - unlazy_mm_irqs_off's mmdrop_lazy from interrupt context (use_temporary_mm) waits for the CPU's
//     next switch: __mmdrop here takes locks and sends cross-calls.
type hazardRef struct{}

func (hazardRef) Name() string { return catalog.HazardRef }

func (hazardRef) Config() SchemeConfig {
	return SchemeConfig{ActiveMM: true, ActiveIsRef: true, Hazard: true}
}

func (hazardRef) MMPut(int, *mm.AddrSpace)  {}
func (hazardRef) MMDrop(int, *mm.AddrSpace) {}

// MMPutExited is mm_unlazy_mm_count: every slot naming as becomes an mm_count reference its CPU owns.
// The caller holds the users' mm_count reference, so as cannot go meanwhile.
func (hazardRef) MMPutExited(cpu int, as *mm.AddrSpace) {
	if InjectHazardRefNoConvert {
		return
	}
	h, ctx := as.Handle(), as.CtxID
	mask := onlineMask()
	if mm.MaskHoldsLazy() {
		mask &= atomic.LoadUint64(&as.CPUMask)
	}
	spare := int64(0)
	for m := mask; m != 0; m &= m - 1 {
		r := &rqs[bits.TrailingZeros64(m)]
		if atomic.LoadUintptr(&r.hazard) != h {
			continue
		}
		if spare == 0 { // one atomic for them all; the unused ones go back below
			spare = int64(bits.OnesCount64(mask))
			addRef(cpu, h, ctx, atGrab, false, spare)
		}
		spare--
		for !giveRef(cpu, r, h, ctx) {
		}
	}
	if spare != 0 {
		addRef(cpu, h, ctx, atDrop, false, -spare)
	}
}

// giveRef is __try_mm_drop_rq_ref: one mm_count reference on h goes to r's CPU, or is dropped if that
// CPU no longer names h. False: a cmpxchg lost to the owner; try again.
func giveRef(cpu int, r *runq, h uintptr, ctx uint64) bool {
	old, ref := atomic.LoadUint64(&r.dropMM), packRef(h, ctx)
	if old != 0 && atomic.LoadUintptr(&r.hazard) != h { // lazy_mm loaded after drop_mm
		mmdrop(cpu, h, ctx, atDrop) // the CPU stopped using h: nothing to give
		return true
	}
	if !atomic.CompareAndSwapUint64(&r.dropMM, old, ref) {
		return false
	}
	if old != 0 { // the CPU names h now: it is done with the older mm
		oh, octx := unpackRef(old)
		mmdrop(cpu, oh, octx, atDrop)
	}
	if atomic.LoadUintptr(&r.hazard) != h && atomic.CompareAndSwapUint64(&r.dropMM, ref, 0) {
		mmdrop(cpu, h, ctx, atDrop) // it moved on meanwhile, and its mmdrop_lazy may have run: take it back
	}
	return true
}

// mmdropLazy is mmdrop_lazy, after every context switch: drop_mm's reference is dropped once this
// CPU's lazy_mm no longer names that mm (hazard-ref-drop-in-use drops it anyway), by cmpxchg against
// a scanner swapping in a newer one.
func mmdropLazy(cpu int, r *runq) {
	for {
		ref := atomic.LoadUint64(&r.dropMM)
		h, ctx := unpackRef(ref)
		if ref == 0 || h == atomic.LoadUintptr(&r.hazard) && !InjectHazardRefDropInUse {
			return
		}
		if atomic.CompareAndSwapUint64(&r.dropMM, ref, 0) {
			mmdrop(cpu, h, ctx, atFinish)
			return
		}
	}
}

// refFrameBits: a drop_mm word is the mm's ctx_id above the frame number of its struct (an mm's
// struct starts its frame): one word, as Linux's pointer, that the freed-mm check can still compare.
const refFrameBits = 36

func packRef(h uintptr, ctx uint64) uint64 {
	return ctx<<refFrameBits | uint64(h-uintptr(mm.DirectMap))>>mm.PageShift
}

func unpackRef(w uint64) (uintptr, uint64) {
	if w == 0 {
		return 0, 0
	}
	return uintptr(mm.Phys((w & (1<<refFrameBits - 1)) << mm.PageShift)), w >> refFrameBits
}
