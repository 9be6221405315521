package mm

import (
	"math/bits"
	"testing"
)

// Host tests of powerpc's mm_cpumask rules (PowerCPUMask), driven against the SIMULATED MMU of
// tlb_test.go with POWER radix's tagging: entries are tagged by PID (2 + the address space's slot,
// 1 for InitMM) and survive PID switches, as on the hardware (QEMU's TCG drops its whole TLB on a PIDR
// write, so only this model can show what a missing flush of a PID a CPU left does).

func pidOf(as *AddrSpace) uint16 {
	if as == &InitMM {
		return 1
	}
	return uint16(as.Slot() + 2)
}

// powerSim is the simulated MMU under PowerCPUMask; trimNoFlush is a negative control: a CPU leaves
// the mask without flushing the PID (exit_lazy_flush_tlb without always_flush).
type powerSim struct {
	*simMMU
	trimNoFlush bool
}

func newPowerSim(t *testing.T, n int) *powerSim {
	PowerCPUMask = true
	t.Cleanup(func() { PowerCPUMask = false })
	s := &powerSim{simMMU: newSim(t, n, true)}
	for i := range s.cpus {
		s.cpus[i].pcid = pidOf(&InitMM)
	}
	return s
}

func (s *powerSim) switchTo(cpu int, as *AddrSpace) Switch {
	sw := TLB[cpu].SwitchMM(cpu, as, false, false)
	if sw.Load {
		s.load(cpu, as.Root, pidOf(as), sw.Flush)
		TLB[cpu].SwitchDone(as, 0)
	}
	return sw
}

// flush is flush_tlb_mm_range under PowerCPUMask: every CPU of the mask but the initiator gets the IPI
// (unless skip), the initiator flushes if it runs the mm or its bit is set.
func (s *powerSim) flush(initiator int, as *AddrSpace, start, end uintptr, trim bool, skip uint64) (targets uint64, kinds map[int]FlushKind) {
	f := NewFlush(as, start, end, false, initiator)
	f.Trim = trim
	targets, lazy := IPITargets(&f, initiator, len(s.cpus))
	if lazy != 0 {
		s.t.Errorf("lazy %#b: PowerCPUMask skips no lazy CPU", lazy)
	}
	kinds = map[int]FlushKind{}
	for m := targets &^ skip; m != 0; m &= m - 1 {
		cpu := bits.TrailingZeros64(m)
		kinds[cpu] = s.run(cpu, &f)
	}
	if TLB[initiator].Loaded() == as || as.CPUMask&(1<<uint(initiator)) != 0 {
		kinds[initiator] = s.run(initiator, &f)
	}
	return targets, kinds
}

func (s *powerSim) run(cpu int, f *FlushInfo) FlushKind {
	k := TLB[cpu].FlushFunc(f)
	if k != FlushOther {
		s.apply(cpu, f, k)
		return k
	}
	as := asAt(f.MM)
	if f.Trim {
		TLB[cpu].Trim(cpu, as)
	}
	if !f.Trim || !s.trimNoFlush {
		s.dropPCID(cpu, pidOf(as))
	}
	return k
}

// powerStart maps 4 fresh pages of a new address space and has every CPU run it and read them.
func powerStart(t *testing.T, s *powerSim, a *Allocator) (as *AddrSpace, va uintptr, old []uint64) {
	as = newAS(t, a)
	va = UserBase()
	old = mapFresh(t, a, as, va, 4, true)
	for cpu := range s.cpus {
		s.switchTo(cpu, as)
		s.expect(cpu, va, old, "before")
	}
	return as, va, old
}

// A CPU that leaves the mm keeps its bit and its entries; the next flush still reaches it (FlushOther:
// its PID flushed though not loaded), lazy CPUs get a range flush, and nobody flushes on the way back.
// Skipping the IPI to the CPU that left (negative control) leaves it reading the old frame on its return,
// which no load flush hides.
func TestPowerMaskKeptOnSwitch(t *testing.T) {
	for _, skipLeft := range []bool{false, true} {
		name := "flush reaches the CPU that left"
		if skipLeft {
			name = "no IPI to the CPU that left (negative control)"
		}
		t.Run(name, func(t *testing.T) {
			a := setupMM(t, 512)
			s := newPowerSim(t, 4)
			as, va, old := powerStart(t, s, a)
			s.switchTo(3, &InitMM) // a task of another process (here the kernel's)
			TLB[2].EnterLazy()
			if as.CPUMask != cpuBits(0, 1, 2, 3) {
				t.Fatalf("CPUMask %#b: a switch away must keep the bit", as.CPUMask)
			}
			skip := uint64(0)
			if skipLeft {
				skip = cpuBits(3)
			}
			var targets uint64
			var kinds map[int]FlushKind
			unmapFlushFree(t, a, as, va, 4, func() {
				targets, kinds = s.flush(0, as, va, va+4*PageSize, false, skip)
			})
			if targets != cpuBits(1, 2, 3) {
				t.Errorf("targets %#b, want CPUs 1-3 (lazy and left included)", targets)
			}
			if !skipLeft && (kinds[1] != FlushRange || kinds[2] != FlushRange || kinds[3] != FlushOther) {
				t.Errorf("kinds %v: want range flushes on 1, 2 and the PID flush on 3", kinds)
			}
			nw := mapFresh(t, a, as, va, 4, true)
			differ(t, old, nw)
			for cpu := 1; cpu < 4; cpu++ {
				if sw := s.switchTo(cpu, as); sw.Flush {
					t.Errorf("CPU %d: the way back flushed (%+v)", cpu, sw)
				}
			}
			s.expect(1, va, nw, "running")
			s.expect(2, va, nw, "back from lazy")
			want := nw
			if skipLeft {
				want = old // stale: what the test must be able to see
			}
			s.expect(3, va, want, "back after leaving")
		})
	}
}

// A trimming flush takes the CPUs that do not run the mm off its mask, each flushing the PID it kept;
// the next flush no longer interrupts them, and their way back (bit set again, no flush) reads the
// new frames. With the trim's flush left out (negative control), the CPU reads what it cached before.
func TestPowerTrim(t *testing.T) {
	for _, noFlush := range []bool{false, true} {
		name := "trim flushes the PID"
		if noFlush {
			name = "trim without the flush (negative control)"
		}
		t.Run(name, func(t *testing.T) {
			a := setupMM(t, 512)
			s := newPowerSim(t, 4)
			s.trimNoFlush = noFlush
			as, va, old := powerStart(t, s, a)
			s.switchTo(2, &InitMM)
			s.switchTo(3, &InitMM)
			_, kinds := s.flush(0, as, va, va+PageSize, true, 0) // nothing changed yet: a pure trim
			if kinds[2] != FlushOther || kinds[3] != FlushOther {
				t.Errorf("kinds %v: want PID flushes on CPUs 2 and 3", kinds)
			}
			if as.CPUMask != cpuBits(0, 1) || TLB[2].Stats.Trimmed != 1 || TLB[3].Stats.Trimmed != 1 {
				t.Fatalf("CPUMask %#b, trimmed %d %d: want CPUs 0, 1 left, 2 and 3 trimmed once",
					as.CPUMask, TLB[2].Stats.Trimmed, TLB[3].Stats.Trimmed)
			}
			var targets uint64
			unmapFlushFree(t, a, as, va, 4, func() {
				targets, _ = s.flush(0, as, va, va+4*PageSize, false, 0)
			})
			if targets != cpuBits(1) {
				t.Errorf("targets %#b after the trim, want CPU 1", targets)
			}
			nw := mapFresh(t, a, as, va, 4, true)
			differ(t, old, nw)
			want := nw
			if noFlush {
				want = old
			}
			for _, cpu := range []int{2, 3} {
				s.switchTo(cpu, as)
				if as.CPUMask&(1<<uint(cpu)) == 0 {
					t.Errorf("CPU %d back on the mm without its bit", cpu)
				}
				s.expect(cpu, va, want, "back after the trim")
			}
		})
	}
}
