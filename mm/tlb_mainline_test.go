package mm

import (
	"math/bits"
	"testing"
)

// Mainline's x86 rules (X86Mainline) on the simulated MMU: a host test of the arch-neutral decisions,
// not of the hardware (the kernel runs them under QEMU: runner -tlb mainline).

// mainline runs f with X86Mainline on, and puts 6.1's rules back after.
func mainline(t *testing.T, f func(t *testing.T)) {
	X86Mainline = true
	defer func() { X86Mainline = false }()
	f(t)
}

// trimFlush is flush_tlb_mm_range with should_trim_cpumask's answer given: the request, then every
// IPI it sends.
func (s *simMMU) trimFlush(initiator int, as *AddrSpace, va uintptr, trim bool) *flushResult {
	r := &flushResult{kinds: map[int]FlushKind{}}
	r.info = NewFlush(as, va, va+PageSize, false, initiator)
	r.info.Trim = trim
	r.targets, r.lazy = IPITargets(&r.info, initiator, len(s.cpus))
	if SelfFlush(&r.info, initiator) {
		r.kinds[initiator] = s.run(initiator, &r.info)
	}
	for m := r.targets; m != 0; m &= m - 1 {
		s.deliver(bits.TrailingZeros64(m), r)
	}
	return r
}

// A CPU that switched to another mm keeps its bit; flushes skip it until one trims, which clears the
// bit; coming back, it catches up by tlb_gen (with PCIDs its old entries are still in its ASID slot).
func TestMainlineMaskTrimmedLazily(t *testing.T) {
	mainline(t, func(t *testing.T) {
		forPCID(t, func(t *testing.T, pcid bool) {
			a := setupMM(t, 512)
			s := newSim(t, 3, pcid)
			as, other := newAS(t, a), newAS(t, a)
			va := UserBase()
			old := mapFresh(t, a, as, va, 1, true)
			s.loadAll(as, pcid, va, old)
			s.switchTo(2, other, pcid, false)
			if as.CPUMask != cpuBits(0, 1, 2) || other.CPUMask != cpuBits(2) {
				t.Fatalf("masks %#b %#b: the switch must keep CPU 2's bit of the old mm", as.CPUMask, other.CPUMask)
			}
			var r *flushResult
			unmapFlushFree(t, a, as, va, 1, func() { r = s.trimFlush(0, as, va, false) })
			if r.targets != cpuBits(1) || as.CPUMask&cpuBits(2) == 0 {
				t.Errorf("targets %#b mask %#b: want CPU 1 only, CPU 2 still in the mask", r.targets, as.CPUMask)
			}
			nw := mapFresh(t, a, as, va, 1, true)
			r = s.trimFlush(0, as, va, true)
			if r.targets != cpuBits(1, 2) || r.kinds[2] != FlushNone || as.CPUMask != cpuBits(0, 1) || TLB[2].Stats.Trimmed != 1 {
				t.Errorf("trim: targets %#b, CPU 2 did %v, mask %#b, trimmed %d", r.targets, r.kinds[2], as.CPUMask, TLB[2].Stats.Trimmed)
			}
			s.switchTo(2, as, pcid, false)
			s.expect(2, va, nw, "back on the mm after flushes that skipped it")
		})
	})
}

// A lazy CPU that a freed-tables flush sends to init_mm keeps its bit: the mask still holds every CPU
// that uses the mm lazily, which MMU_LAZY_TLB_SHOOTDOWN's cleanup needs (MaskHoldsLazy). Under 6.1's
// rules the same flush clears the bit.
func TestMainlineLeaverKeepsBit(t *testing.T) {
	for _, ml := range []bool{true, false} {
		X86Mainline = ml
		a := setupMM(t, 512)
		s := newSim(t, 3, false)
		as := newAS(t, a)
		va := UserBase()
		frames := mapFresh(t, a, as, va, 1, true)
		s.loadAll(as, false, va, frames)
		TLB[2].EnterLazy()
		r := s.shootdown(0, as, va, va+PageSize, true)
		if r.kinds[2] != FlushLeaveLazy || TLB[2].Loaded() != &InitMM {
			t.Errorf("mainline %v: CPU 2 did %v, loaded %p: want it sent to init_mm", ml, r.kinds[2], TLB[2].Loaded())
		}
		if kept := as.CPUMask&cpuBits(2) != 0; kept != ml || MaskHoldsLazy() != ml {
			t.Errorf("mainline %v: CPU 2's bit kept %v, MaskHoldsLazy %v", ml, kept, MaskHoldsLazy())
		}
	}
	X86Mainline = false
}

// should_flush_tlb sends to a CPU in the middle of a switch, whichever mm it is switching to.
func TestMainlineSwitchingGetsIPI(t *testing.T) {
	mainline(t, func(t *testing.T) {
		a := setupMM(t, 512)
		s := newSim(t, 2, false)
		as := newAS(t, a)
		s.loadAll(as, false, UserBase(), mapFresh(t, a, as, UserBase(), 1, true))
		TLB[1].LoadedMM = Switching
		f := NewFlush(as, UserBase(), UserBase()+PageSize, false, 0)
		if targets, _ := IPITargets(&f, 0, 2); targets != cpuBits(1) {
			t.Errorf("targets %#b, want the switching CPU 1", targets)
		}
		TLB[1].LoadedMM = uintptr(0)
	})
}
