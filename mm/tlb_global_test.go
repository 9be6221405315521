package mm

import (
	"math/bits"
	"testing"
)

// Global ASIDs and INVLPGB (tlb_global.go) on the simulated MMU: a host test of the decisions; no CPU
// QEMU's TCG emulates has INVLPGB, so the kernel never runs them.

// withBroadcast runs f under mainline's rules with INVLPGB, and puts everything back after.
func withBroadcast(t *testing.T, f func(t *testing.T)) {
	X86Mainline, BroadcastTLB = true, true
	ResetGlobalASIDs()
	defer func() { X86Mainline, BroadcastTLB = false, false; ResetGlobalASIDs() }()
	f(t)
}

// invlpgb is INVLPGB on the simulated machine: every CPU drops asid's entries in [start, end).
func (s *simMMU) invlpgb(asid uint16, start, end uintptr) {
	hw := s.hwPCID(asid)
	for cpu := range s.cpus {
		for k := range s.cpus[cpu].tlb {
			if k.pcid == hw && (end == FlushAll || k.vpage >= start>>PageShift && k.vpage < end>>PageShift) {
				delete(s.cpus[cpu].tlb, k)
			}
		}
	}
}

// mainlineFlush is mainline's flush_tlb_mm_range on the model: a broadcast for an mm with a global
// ASID (unless skip, the negative control), then finish_asid_transition's IPIs to stragglers; else the
// IPIs of flush_tlb_multi and consider_global_asid.
func (s *simMMU) mainlineFlush(initiator int, as *AddrSpace, va uintptr, skip bool) *flushResult {
	r := &flushResult{kinds: map[int]FlushKind{}}
	r.info = NewFlush(as, va, va+PageSize, false, initiator)
	bcast := r.info.Broadcast()
	if bcast {
		if !skip {
			s.invlpgb(as.GlobalASID(), r.info.Start, r.info.End)
		}
		if FinishASIDTransition(as) == 0 {
			return r
		}
		r.info.Trim = true
	}
	r.targets, r.lazy = IPITargets(&r.info, initiator, len(s.cpus))
	if SelfFlush(&r.info, initiator) {
		r.kinds[initiator] = s.run(initiator, &r.info)
	}
	for m := r.targets; m != 0; m &= m - 1 {
		s.deliver(bits.TrailingZeros64(m), r)
	}
	if !bcast {
		ConsiderGlobalASID(as, true)
	}
	return r
}

// A process on five CPUs gets a global ASID; while it moves over its flushes still IPI the mask; once
// every CPU runs it under the global ASID, flushes send no IPIs and leave no stale entry, lazy CPUs
// included, which need no tlb_gen catch-up.
func TestGlobalASIDBroadcast(t *testing.T) {
	withBroadcast(t, func(t *testing.T) {
		a := setupMM(t, 512)
		s := newSim(t, 5, true)
		as := newAS(t, a)
		va := UserBase()
		s.loadAll(as, true, va, mapFresh(t, a, as, va, 1, true))
		remapFlush := func(skip bool) (*flushResult, []uint64) {
			var r *flushResult
			unmapFlushFree(t, a, as, va, 1, func() { r = s.mainlineFlush(0, as, va, skip) })
			return r, mapFresh(t, a, as, va, 1, true)
		}
		if r, _ := remapFlush(false); r.targets != cpuBits(1, 2, 3, 4) || as.GlobalASID() == 0 || !as.InASIDTransition() {
			t.Fatalf("targets %#b, global ASID %d, transition %v: want IPIs, then a global ASID", r.targets, as.GlobalASID(), as.InASIDTransition())
		}
		r, nw := remapFlush(false)
		if r.targets != cpuBits(1, 2, 3, 4) || !r.info.Trim {
			t.Errorf("in transition: targets %#b trim %v, want every other CPU, trimming", r.targets, r.info.Trim)
		}
		for cpu := range s.cpus {
			if sw := s.switchTo(cpu, as, true, false); !sw.Load || sw.Flush || sw.ASID != as.GlobalASID() {
				t.Errorf("CPU %d reload: %+v, want the global ASID %d without a flush", cpu, sw, as.GlobalASID())
			}
			s.expect(cpu, va, nw, "under the global ASID")
		}
		TLB[4].EnterLazy()
		sent := TLB[0].Stats.IPIsSent
		r, nw = remapFlush(false)
		if r.targets != 0 || TLB[0].Stats.IPIsSent != sent || as.InASIDTransition() {
			t.Errorf("broadcast: targets %#b, IPIs %d more, transition %v: want none", r.targets, TLB[0].Stats.IPIsSent-sent, as.InASIDTransition())
		}
		if sw := s.switchTo(4, as, true, false); sw.Load || TLB[4].Stats.LazyCatchups != 0 {
			t.Errorf("lazy CPU back: %+v, catch-ups %d: a global ASID needs none", sw, TLB[4].Stats.LazyCatchups)
		}
		for cpu := range s.cpus {
			s.expect(cpu, va, nw, "after the broadcast")
		}
		_, nw = remapFlush(true) // the negative control: no INVLPGB, and nothing else flushes
		if got, _ := s.read(1, va); got == nw[0] {
			t.Error("without the broadcast CPU 1 still reads the new frame: the model cannot fail")
		}
	})
}

// A global ASID goes back to the space at destroy_context, reusable only after the wrap-around flush.
func TestGlobalASIDFree(t *testing.T) {
	withBroadcast(t, func(t *testing.T) {
		a := setupMM(t, 64)
		as := newAS(t, a)
		avail := globalASIDs.available
		useGlobalASID(as)
		g := as.GlobalASID()
		if g < NumASIDs || globalASIDs.available != avail-1 {
			t.Fatalf("global ASID %d, available %d (was %d)", g, globalASIDs.available, avail)
		}
		Retire(as)
		if as.GlobalASID() != 0 || globalASIDs.available != avail || globalASIDs.freed[g/64]&(1<<(g%64)) == 0 {
			t.Errorf("after destroy: ASID %d, available %d, freed bit %v", as.GlobalASID(), globalASIDs.available, globalASIDs.freed[g/64]&(1<<(g%64)) != 0)
		}
		globalASIDs.last = MaxASIDs - 1
		if asid, flushAll := allocGlobalASID(); !flushAll || asid != NumASIDs {
			t.Errorf("at the end of the space: ASID %d, flush %v; want the first global ASID after a flush of all", asid, flushAll)
		}
	})
}
