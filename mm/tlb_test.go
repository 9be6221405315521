package mm

import (
	"math/bits"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// Host tests of the TLB-shootdown decisions (tlb.go), driven against a SIMULATED MMU.
//
// The simulated MMU below is a host-side model, not the machine: per simulated CPU a TLB that maps
// (PCID, virtual page) to a physical frame, a loaded root and a loaded PCID. A read hits the TLB if it
// can, else it walks the page tables (Translate) and caches the result, as hardware fills its TLB on
// access; nothing else drops an entry but a flushing root load, INVLPG or a flush of the PCID. So a
// missing or too-narrow flush shows up as a read of an old frame, and the negative controls below prove
// the model does show it.

type tlbKey struct {
	pcid  uint16
	vpage uintptr
}

type simCPU struct {
	tlb  map[tlbKey]uint64 // cached translations: physical frame numbers
	root uint64            // page-table base
	pcid uint16            // hardware PCID loaded with it (0 without PCIDs)
}

type simMMU struct {
	t    *testing.T
	pcid bool // PCIDs on: hardware PCID is ASID+1
	cpus []simCPU
}

// newSim boots n simulated CPUs as TLBState.Reset describes them: InitMM's root loaded in ASID 0, TLBs
// empty. setupMM has Reset mm.TLB.
func newSim(t *testing.T, n int, pcid bool) *simMMU {
	s := &simMMU{t: t, pcid: pcid, cpus: make([]simCPU, n)}
	for i := range s.cpus {
		s.cpus[i] = simCPU{tlb: map[tlbKey]uint64{}, root: InitMM.Root, pcid: s.hwPCID(0)}
	}
	return s
}

func (s *simMMU) hwPCID(asid uint16) uint16 {
	if s.pcid {
		return asid + 1
	}
	return 0
}

// load writes the page-table base: root under pcid, dropping that PCID's entries when flush is set.
func (s *simMMU) load(cpu int, root uint64, pcid uint16, flush bool) {
	c := &s.cpus[cpu]
	c.root, c.pcid = root, pcid
	if flush {
		s.dropPCID(cpu, pcid)
	}
}

func (s *simMMU) dropPCID(cpu int, pcid uint16) {
	for k := range s.cpus[cpu].tlb {
		if k.pcid == pcid {
			delete(s.cpus[cpu].tlb, k)
		}
	}
}

// invlpg drops the current PCID's entry for va.
func (s *simMMU) invlpg(cpu int, va uintptr) {
	c := &s.cpus[cpu]
	delete(c.tlb, tlbKey{c.pcid, va >> PageShift})
}

// flushASID drops every entry of the current PCID.
func (s *simMMU) flushASID(cpu int) { s.dropPCID(cpu, s.cpus[cpu].pcid) }

// read returns the frame va reaches on cpu: from the TLB, else by a walk whose result is cached.
func (s *simMMU) read(cpu int, va uintptr) (uint64, bool) {
	c := &s.cpus[cpu]
	k := tlbKey{c.pcid, va >> PageShift}
	if f, ok := c.tlb[k]; ok {
		return f, true
	}
	pa, ok := Translate(c.root, va)
	if !ok {
		return 0, false // not-present entries are not cached
	}
	c.tlb[k] = pa >> PageShift
	return pa >> PageShift, true
}

// expect checks that cpu reads frames[i] at va+i pages.
func (s *simMMU) expect(cpu int, va uintptr, frames []uint64, what string) {
	s.t.Helper()
	for i, want := range frames {
		if got, ok := s.read(cpu, va+uintptr(i)*PageSize); !ok || got != want {
			s.t.Errorf("%s: CPU %d reads frame %d (ok %v) at page %d, want %d", what, cpu, got, ok, i, want)
		}
	}
}

// switchTo is switch_mm_irqs_off on the simulated CPU: the real decision, carried out on the model.
// Without PCIDs every load flushes.
func (s *simMMU) switchTo(cpu int, as *AddrSpace, pcid, skipCatchup bool) Switch {
	sw := TLB[cpu].SwitchMM(cpu, as, pcid, skipCatchup)
	if sw.Load {
		hw := uint16(0)
		if pcid {
			hw = sw.ASID + 1
		}
		s.load(cpu, as.Root, hw, sw.Flush || !pcid)
		TLB[cpu].SwitchDone(as, sw.ASID)
	}
	return sw
}

// loadAll switches every simulated CPU to as and has it read frames at va (filling its TLB).
func (s *simMMU) loadAll(as *AddrSpace, pcid bool, va uintptr, frames []uint64) {
	s.t.Helper()
	for cpu := range s.cpus {
		s.switchTo(cpu, as, pcid, false)
		s.expect(cpu, va, frames, "before")
	}
}

// flushResult is one flush request and what each CPU it ran on decided.
type flushResult struct {
	info          FlushInfo
	targets, lazy uint64
	kinds         map[int]FlushKind
}

// request is flush_tlb_mm_range without the IPIs: bump tlb_gen, pick the targets, flush locally if
// the initiator has as loaded. deliver then plays each IPI.
func (s *simMMU) request(initiator int, as *AddrSpace, start, end uintptr, freedTables bool) *flushResult {
	r := &flushResult{kinds: map[int]FlushKind{}}
	r.info = NewFlush(as, start, end, freedTables, initiator)
	r.targets, r.lazy = IPITargets(&r.info, initiator, len(s.cpus))
	TLB[initiator].Stats.IPIsSent += uint64(bits.OnesCount64(r.targets))
	TLB[initiator].Stats.LazySkipped += uint64(bits.OnesCount64(r.lazy))
	if TLB[initiator].Loaded() == as {
		r.kinds[initiator] = s.run(initiator, &r.info)
	}
	return r
}

// deliver is the flush IPI arriving at cpu.
func (s *simMMU) deliver(cpu int, r *flushResult) FlushKind {
	TLB[cpu].Stats.IPIsRecv++
	k := s.run(cpu, &r.info)
	r.kinds[cpu] = k
	return k
}

// run is flush_tlb_func on cpu, carried out on the model.
func (s *simMMU) run(cpu int, f *FlushInfo) FlushKind {
	k := TLB[cpu].FlushFunc(f)
	s.apply(cpu, f, k)
	return k
}

// apply carries out flush_tlb_func's decision k on the model.
func (s *simMMU) apply(cpu int, f *FlushInfo, k FlushKind) {
	switch k {
	case FlushRange:
		for va := f.Start; va < f.End; va += PageSize {
			s.invlpg(cpu, va)
		}
	case FlushFull:
		s.flushASID(cpu)
	case FlushLeaveLazy:
		s.switchTo(cpu, &InitMM, s.pcid, false)
	}
}

// shootdown is a whole flush: the request and every IPI.
func (s *simMMU) shootdown(initiator int, as *AddrSpace, start, end uintptr, freedTables bool) *flushResult {
	r := s.request(initiator, as, start, end, freedTables)
	for m := r.targets; m != 0; m &= m - 1 {
		s.deliver(bits.TrailingZeros64(m), r)
	}
	return r
}

func (s *simMMU) flush(initiator int, as *AddrSpace, start, end uintptr) *flushResult {
	return s.shootdown(initiator, as, start, end, false)
}

// forPCID runs f with PCIDs on and off.
func forPCID(t *testing.T, f func(t *testing.T, pcid bool)) {
	for _, pcid := range []bool{true, false} {
		name := "pcid"
		if !pcid {
			name = "nopcid"
		}
		t.Run(name, func(t *testing.T) { f(t, pcid) })
	}
}

func cpuBits(cpus ...int) uint64 {
	var m uint64
	for _, c := range cpus {
		m |= 1 << uint(c)
	}
	return m
}

// unmapFree unmaps n pages from va, hands the frames to done (which flushes) and frees them after.
func unmapFlushFree(t *testing.T, a *Allocator, as *AddrSpace, va uintptr, n int, flush func()) {
	t.Helper()
	out := new(FrameList)
	if got := as.Unmap(a, va, va+uintptr(n)*PageSize, out); got != uint64(n) {
		t.Fatalf("Unmap cleared %d pages, want %d", got, n)
	}
	flush()
	out.FreeAll(a)
}

func differ(t *testing.T, old, nw []uint64) {
	t.Helper()
	for i := range old {
		if old[i] == nw[i] {
			t.Fatalf("page %d remapped to its old frame %d: the test cannot tell them apart", i, old[i])
		}
	}
}

// (a) Four CPUs read eight pages; CPU 0 unmaps them, flushes and maps the same pages to new frames:
// every CPU reads the new frames. Before the flush the model still serves the old ones.
func TestShootdownRemap(t *testing.T) {
	forPCID(t, func(t *testing.T, pcid bool) {
		a := setupMM(t, 512)
		s := newSim(t, 4, pcid)
		as := newAS(t, a)
		va := UserBase() + 16*PageSize
		old := mapFresh(t, a, as, va, 8, true)
		s.loadAll(as, pcid, va, old)
		if as.CPUMask != cpuBits(0, 1, 2, 3) {
			t.Fatalf("CPUMask %#b, want CPUs 0-3", as.CPUMask)
		}
		var r *flushResult
		unmapFlushFree(t, a, as, va, 8, func() {
			for cpu := 0; cpu < 4; cpu++ {
				s.expect(cpu, va, old, "unmapped, not flushed yet (the model caches)")
			}
			r = s.flush(0, as, va, va+8*PageSize)
		})
		if r.targets != cpuBits(1, 2, 3) || r.lazy != 0 {
			t.Errorf("targets %#b lazy %#b, want CPUs 1-3 and none", r.targets, r.lazy)
		}
		for cpu := 0; cpu < 4; cpu++ {
			if r.kinds[cpu] != FlushRange || TLB[cpu].Stats.RangeFlushes != 1 || TLB[cpu].Stats.PagesFlushed != 8 {
				t.Errorf("CPU %d: %v, stats %+v, want one 8-page range flush", cpu, r.kinds[cpu], TLB[cpu].Stats)
			}
		}
		nw := mapFresh(t, a, as, va, 8, true)
		differ(t, old, nw)
		for cpu := 0; cpu < 4; cpu++ {
			s.expect(cpu, va, nw, "after the shootdown")
		}
	})
}

// (b) Lazy CPUs get no IPI; when they come back to the mm they catch up by tlb_gen. With
// skip-lazy-catchup injected the model serves the old frame: it can fail.
func TestLazyCatchup(t *testing.T) {
	cases := []struct {
		name          string
		flushMeantime bool
		skipCatchup   bool
		wantLoad      bool // the return to the mm writes the base register (and flushes)
		wantNew       bool // the lazy CPUs read the new frames after coming back
	}{
		{"catch-up", true, false, true, true},
		{"skip-catchup (negative control)", true, true, false, false},
		{"no flush meanwhile: nothing to catch up", false, false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forPCID(t, func(t *testing.T, pcid bool) {
				a := setupMM(t, 512)
				s := newSim(t, 4, pcid)
				as := newAS(t, a)
				va := UserBase()
				old := mapFresh(t, a, as, va, 8, true)
				s.loadAll(as, pcid, va, old)
				TLB[2].EnterLazy()
				TLB[3].EnterLazy()
				nw := old
				if c.flushMeantime {
					unmapFlushFree(t, a, as, va, 8, func() {
						r := s.flush(0, as, va, va+8*PageSize)
						if r.targets != cpuBits(1) || r.lazy != cpuBits(2, 3) {
							t.Errorf("targets %#b lazy %#b, want CPU 1 and CPUs 2, 3", r.targets, r.lazy)
						}
						if _, ok := r.kinds[2]; ok {
							t.Error("a lazy CPU ran the flush")
						}
					})
					if TLB[0].Stats.LazySkipped != 2 || TLB[2].Stats.IPIsRecv != 0 || TLB[3].Stats.IPIsRecv != 0 {
						t.Errorf("lazy skipped %d, lazy CPUs received %d %d IPIs",
							TLB[0].Stats.LazySkipped, TLB[2].Stats.IPIsRecv, TLB[3].Stats.IPIsRecv)
					}
					nw = mapFresh(t, a, as, va, 8, true)
					differ(t, old, nw)
					s.expect(1, va, nw, "IPI'd CPU")
					for _, cpu := range []int{2, 3} {
						s.expect(cpu, va, old, "still lazy (stale, as on hardware)")
					}
				}
				for _, cpu := range []int{2, 3} {
					sw := s.switchTo(cpu, as, pcid, c.skipCatchup)
					if sw.Load != c.wantLoad || sw.Load && !sw.Flush {
						t.Errorf("CPU %d back from lazy: %+v, want load %v with a flush", cpu, sw, c.wantLoad)
					}
					if TLB[cpu].Lazy != 0 || TLB[cpu].Loaded() != as {
						t.Errorf("CPU %d: lazy %d loaded %p", cpu, TLB[cpu].Lazy, TLB[cpu].Loaded())
					}
					if got, want := TLB[cpu].Stats.LazyCatchups, b2u(c.wantLoad); got != want {
						t.Errorf("CPU %d: LazyCatchups %d, want %d", cpu, got, want)
					}
					want := old
					if c.flushMeantime && c.wantNew {
						want = nw
					}
					s.expect(cpu, va, want, "back from lazy")
				}
			})
		})
	}
}

// (c) Negative control: without the IPIs a CPU that is not lazy keeps reading the old frames; the
// initiator, which flushed locally, reads the new ones.
func TestSkippedIPIsLeaveStaleTLB(t *testing.T) {
	forPCID(t, func(t *testing.T, pcid bool) {
		a := setupMM(t, 512)
		s := newSim(t, 4, pcid)
		as := newAS(t, a)
		va := UserBase()
		old := mapFresh(t, a, as, va, 8, true)
		s.loadAll(as, pcid, va, old)
		unmapFlushFree(t, a, as, va, 8, func() {
			r := s.request(0, as, va, va+8*PageSize, false) // no deliver: the IPIs are lost
			if r.targets != cpuBits(1, 2, 3) {
				t.Errorf("targets %#b", r.targets)
			}
		})
		nw := mapFresh(t, a, as, va, 8, true)
		differ(t, old, nw)
		s.expect(0, va, nw, "initiator")
		for cpu := 1; cpu < 4; cpu++ {
			s.expect(cpu, va, old, "IPI skipped: stale")
			// switching to the mm it already runs does not help a CPU that was not lazy
			if sw := s.switchTo(cpu, as, pcid, false); sw.Load {
				t.Errorf("CPU %d: a switch to the loaded mm loads: %+v", cpu, sw)
			}
			s.expect(cpu, va, old, "IPI skipped, same-mm switch: stale")
		}
	})
}

// (d) One CPU cycles through seven mms, more than NumASIDs, while CPU 0 remaps pages of mms it does
// not have loaded (so it gets no IPI): it must never read a stale frame. With PCIDs some switches keep
// the ASID's entries (CR3NoFlush); without, none do.
func TestASIDReuse(t *testing.T) {
	const nmm, steps = 7, 400
	forPCID(t, func(t *testing.T, pcid bool) {
		a := setupMM(t, 2048)
		s := newSim(t, 2, pcid)
		va := UserBase() + 3*PageSize // the same virtual pages in every mm, different frames
		var mms [nmm]*AddrSpace
		var cur [nmm][]uint64
		for i := range mms {
			mms[i] = newAS(t, a)
			cur[i] = mapFresh(t, a, mms[i], va, 2, true)
		}
		remap := func(j int) *flushResult {
			var r *flushResult
			unmapFlushFree(t, a, mms[j], va, 2, func() { r = s.flush(0, mms[j], va, va+2*PageSize) })
			cur[j] = mapFresh(t, a, mms[j], va, 2, true)
			return r
		}

		// the explicit case: A loaded, switch to B, A flushed meanwhile, back to A
		A, B := mms[0], mms[1]
		s.switchTo(1, A, pcid, false)
		s.expect(1, va, cur[0], "A")
		s.switchTo(1, B, pcid, false)
		s.expect(1, va, cur[1], "B")
		if r := remap(0); r.targets != 0 {
			t.Errorf("flush of A, not loaded on CPU 1, targets %#b", r.targets)
		}
		if sw := s.switchTo(1, A, pcid, false); !sw.Load || !sw.Flush {
			t.Errorf("back to A after its flush: %+v, want a flushing load", sw)
		}
		s.expect(1, va, cur[0], "A after its flush")
		if sw := s.switchTo(1, B, pcid, false); !sw.Load || sw.Flush == pcid {
			t.Errorf("back to B, not flushed: %+v, want a load that flushes only without PCIDs", sw)
		}
		s.expect(1, va, cur[1], "B again")

		rng := rand.New(rand.NewPCG(1, uint64(len(mms))))
		loaded := 1
		for step := 0; step < steps; step++ {
			i := rng.IntN(nmm)
			s.switchTo(1, mms[i], pcid, false)
			loaded = i
			s.expect(1, va, cur[i], "after a switch")
			if j := rng.IntN(nmm); rng.IntN(3) != 0 {
				r := remap(j)
				want := uint64(0)
				if j == loaded {
					want = cpuBits(1)
				}
				if r.targets != want {
					t.Fatalf("step %d: flush of mm %d (mm %d loaded) targets %#b, want %#b", step, j, loaded, r.targets, want)
				}
				s.expect(1, va, cur[loaded], "after a remap")
			}
			seen := map[uint64]bool{}
			for _, c := range TLB[1].Ctxs {
				if c.CtxID != 0 && seen[c.CtxID] {
					t.Fatalf("step %d: ctx %d in two ASID slots: %+v", step, c.CtxID, TLB[1].Ctxs)
				}
				seen[c.CtxID] = true
			}
		}
		st := TLB[1].Stats
		if pcid && st.CR3NoFlush == 0 || !pcid && st.CR3NoFlush != 0 {
			t.Errorf("CR3NoFlush %d with pcid %v (CR3Flush %d)", st.CR3NoFlush, pcid, st.CR3Flush)
		}
		t.Logf("CPU 1: %d flushing loads, %d keeping loads", st.CR3Flush, st.CR3NoFlush)
	})
}

// (e) A 1-page flush is a range flush; a 64-page one (> FlushCeiling) a full flush; a CPU that missed
// one of two back-to-back flushes flushes fully (a range flush of the other request would leave the
// first request's page stale in the model).
func TestRangeVersusFullFlush(t *testing.T) {
	forPCID(t, func(t *testing.T, pcid bool) {
		setup := func(t *testing.T) (*Allocator, *simMMU, *AddrSpace, uintptr, []uint64) {
			a := setupMM(t, 1024)
			s := newSim(t, 2, pcid)
			as := newAS(t, a)
			va := UserBase() + 1<<20
			frames := mapFresh(t, a, as, va, 64, true)
			for cpu := 0; cpu < 2; cpu++ {
				s.switchTo(cpu, as, pcid, false)
				s.expect(cpu, va, frames, "before")
			}
			return a, s, as, va, frames
		}
		t.Run("1 page: range", func(t *testing.T) {
			a, s, as, va, frames := setup(t)
			p := va + 5*PageSize
			var r *flushResult
			unmapFlushFree(t, a, as, p, 1, func() { r = s.flush(0, as, p, p+PageSize) })
			if r.info.End == FlushAll || r.kinds[1] != FlushRange {
				t.Errorf("request %+v, CPU 1 did %v, want a range flush", r.info, r.kinds[1])
			}
			if st := TLB[1].Stats; st.RangeFlushes != 1 || st.PagesFlushed != 1 || st.FullFlush != 0 {
				t.Errorf("CPU 1 stats %+v", st)
			}
			frames[5] = mapFresh(t, a, as, p, 1, true)[0]
			for cpu := 0; cpu < 2; cpu++ {
				s.expect(cpu, va, frames, "after")
			}
		})
		t.Run("64 pages: full", func(t *testing.T) {
			a, s, as, va, frames := setup(t)
			var r *flushResult
			unmapFlushFree(t, a, as, va, 64, func() { r = s.flush(0, as, va, va+64*PageSize) })
			if r.info.End != FlushAll || r.kinds[1] != FlushFull || r.kinds[0] != FlushFull {
				t.Errorf("request %+v, CPUs did %v, want full flushes", r.info, r.kinds)
			}
			if st := TLB[1].Stats; st.RangeFlushes != 0 || st.FullFlush != 1 {
				t.Errorf("CPU 1 stats %+v", st)
			}
			nw := mapFresh(t, a, as, va, 64, true)
			differ(t, frames, nw)
			for cpu := 0; cpu < 2; cpu++ {
				s.expect(cpu, va, nw, "after")
			}
		})
		for _, order := range []struct {
			name      string
			first     int // which request reaches CPU 1 first
			wantFirst FlushKind
			second    int // -1: the other never arrives
		}{
			{"second arrives first, first late", 1, FlushFull, 0},
			{"first arrives after both were made", 0, FlushFull, 1},
			{"first lost", 1, FlushFull, -1},
		} {
			t.Run("missed one: "+order.name, func(t *testing.T) {
				a, s, as, va, frames := setup(t)
				var reqs [2]*flushResult
				for i, pg := range []int{3, 40} { // two pages, two requests, IPIs held back
					p := va + uintptr(pg)*PageSize
					unmapFlushFree(t, a, as, p, 1, func() { reqs[i] = s.request(0, as, p, p+PageSize, false) })
					frames[pg] = mapFresh(t, a, as, p, 1, true)[0]
				}
				if k := s.deliver(1, reqs[order.first]); k != order.wantFirst {
					t.Errorf("first delivery: %v, want %v", k, order.wantFirst)
				}
				if order.second >= 0 {
					if k := s.deliver(1, reqs[order.second]); k != FlushNone {
						t.Errorf("second delivery: %v, want none (covered)", k)
					}
				}
				if st := TLB[1].Stats; st.FullFlush != 1 || st.RangeFlushes != 0 {
					t.Errorf("CPU 1 stats %+v, want one full flush", st)
				}
				if TLB[1].Ctxs[TLB[1].LoadedASID].TLBGen != as.TLBGen {
					t.Errorf("CPU 1 at tlb_gen %d, mm at %d", TLB[1].Ctxs[TLB[1].LoadedASID].TLBGen, as.TLBGen)
				}
				for cpu := 0; cpu < 2; cpu++ {
					s.expect(cpu, va, frames, "after")
				}
			})
		}
	})
}

// (f) A flush of freed page tables interrupts lazy CPUs too, and they leave for InitMM; without it
// (the negative control) a lazy CPU keeps the root of a space that is then freed, which the
// freed-page-table detector (LiveRoot) catches.
func TestFreedTablesLeaveLazy(t *testing.T) {
	for _, freed := range []bool{true, false} {
		name := "freed tables"
		if !freed {
			name = "not flagged (negative control)"
		}
		t.Run(name, func(t *testing.T) {
			forPCID(t, func(t *testing.T, pcid bool) {
				a := setupMM(t, 512)
				s := newSim(t, 4, pcid)
				as := newAS(t, a)
				va := UserBase()
				frames := mapFresh(t, a, as, va, 4, true)
				s.loadAll(as, pcid, va, frames)
				TLB[2].EnterLazy()
				var r *flushResult
				unmapFlushFree(t, a, as, va, 4, func() { r = s.shootdown(0, as, va, va+4*PageSize, freed) })
				if freed {
					if r.targets != cpuBits(1, 2, 3) || r.lazy != 0 || r.kinds[2] != FlushLeaveLazy {
						t.Errorf("targets %#b lazy %#b, CPU 2 did %v: want CPUs 1-3, none, leave-lazy",
							r.targets, r.lazy, r.kinds[2])
					}
					if TLB[2].Loaded() != &InitMM || s.cpus[2].root != InitMM.Root || TLB[2].Lazy != 0 ||
						TLB[2].Stats.LeftLazy != 1 || as.CPUMask&cpuBits(2) != 0 {
						t.Errorf("CPU 2 after leave-lazy: loaded %p root %#x lazy %d stats %+v mask %#b",
							TLB[2].Loaded(), s.cpus[2].root, TLB[2].Lazy, TLB[2].Stats, as.CPUMask)
					}
					if _, ok := s.read(2, va); ok {
						t.Error("CPU 2 on InitMM reads a user page")
					}
				} else if r.targets != cpuBits(1, 3) || r.lazy != cpuBits(2) || TLB[2].Loaded() != as {
					t.Errorf("targets %#b lazy %#b, CPU 2 loaded %p", r.targets, r.lazy, TLB[2].Loaded())
				}
				for _, cpu := range []int{1, 3} {
					if r.kinds[cpu] != FlushRange {
						t.Errorf("CPU %d did %v, want a range flush", cpu, r.kinds[cpu])
					}
				}
				// the mm exits: the CPUs running it switch away, then it is freed
				for _, cpu := range []int{0, 1, 3} {
					s.switchTo(cpu, &InitMM, pcid, false)
				}
				if freed && as.CPUMask != 0 {
					t.Errorf("CPUMask %#b after every CPU left", as.CPUMask)
				}
				FreeAddrSpace(a, as, new(FrameList), 0)
				for cpu := range s.cpus {
					_, ok := LiveRoot(s.cpus[cpu].root)
					if want := freed || cpu != 2; ok != want {
						t.Errorf("CPU %d: root %#x live %v, want %v", cpu, s.cpus[cpu].root, ok, want)
					}
				}
			})
		})
	}
}

func TestChooseASID(t *testing.T) {
	const gen = 5
	next := &AddrSpace{CtxID: 42}
	held := func(slot int, g uint64) [NumASIDs]ASIDSlot {
		var c [NumASIDs]ASIDSlot
		c[0] = ASIDSlot{CtxID: 1}
		c[slot] = ASIDSlot{CtxID: next.CtxID, TLBGen: g}
		return c
	}
	others := [NumASIDs]ASIDSlot{{1, 0}, {7, 3}, {8, 9}, {9, 5}, {10, 5}, {11, 5}}
	cases := []struct {
		name      string
		pcid      bool
		ctxs      [NumASIDs]ASIDSlot
		nextASID  uint16
		wantASID  uint16
		wantFlush bool
		wantNext  uint16
	}{
		{"found, current", true, held(3, gen), 1, 3, false, 1},
		{"found, ahead", true, held(3, gen+1), 1, 3, false, 1},
		{"found, behind", true, held(3, gen-1), 1, 3, true, 1},
		{"found in slot 0", true, held(0, gen), 4, 0, false, 4},
		{"found in the last slot", true, held(NumASIDs-1, gen-1), 2, NumASIDs - 1, true, 2},
		{"new: round-robin from 1", true, others, 1, 1, true, 2},
		{"new: round-robin from 3", true, others, 3, 3, true, 4},
		{"new: next is past the last: wrap to 0", true, others, NumASIDs, 0, true, 1},
		{"new: next is the last slot", true, others, NumASIDs - 1, NumASIDs - 1, true, NumASIDs},
		{"no pcid, found current", false, held(3, gen), 2, 0, true, 2},
		{"no pcid, new", false, others, 4, 0, true, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := TLBState{Ctxs: c.ctxs, NextASID: c.nextASID}
			asid, flush := s.chooseASID(next, gen, c.pcid)
			if asid != c.wantASID || flush != c.wantFlush || s.NextASID != c.wantNext {
				t.Errorf("chooseASID = %d %v next %d, want %d %v next %d", asid, flush, s.NextASID, c.wantASID, c.wantFlush, c.wantNext)
			}
			if s.Ctxs != c.ctxs {
				t.Errorf("chooseASID changed the slots: %+v", s.Ctxs)
			}
		})
	}
}

// New contexts get slots 1, 2, ..., NumASIDs-1, then 0, 1, ... (Reset leaves slot 0 to InitMM and
// NextASID at 1).
func TestChooseASIDRoundRobin(t *testing.T) {
	var s TLBState
	s.NextASID = 1
	var got []uint16
	for i := 0; i < 2*NumASIDs; i++ {
		asid, flush := s.chooseASID(&AddrSpace{CtxID: uint64(100 + i)}, 0, true)
		if !flush {
			t.Errorf("new context %d not flushed", i)
		}
		s.Ctxs[asid] = ASIDSlot{CtxID: uint64(100 + i)}
		got = append(got, asid)
	}
	for i, a := range got {
		if want := uint16((i + 1) % NumASIDs); a != want {
			t.Fatalf("ASIDs handed out %v, want 1..%d then 0, 1, ...", got, NumASIDs-1)
		}
	}
}

func TestNewFlush(t *testing.T) {
	a := setupMM(t, 64)
	as := newAS(t, a)
	va := UserBase() + 1<<30
	cases := []struct {
		name      string
		end       uintptr
		full      bool
		wantPages uint64
	}{
		{"1 page", va + PageSize, false, 1},
		{"ceiling", va + FlushCeiling*PageSize, false, FlushCeiling},
		{"ceiling+1", va + (FlushCeiling+1)*PageSize, true, 0},
		{"64 pages", va + 64*PageSize, true, 0},
		{"FlushAll", FlushAll, true, 0},
	}
	for i, c := range cases {
		f := NewFlush(as, va, c.end, i%2 == 0, 3)
		if c.full && (f.Start != 0 || f.End != FlushAll) || !c.full && (f.Start != va || f.End != c.end) {
			t.Errorf("%s: [%#x, %#x), full %v", c.name, f.Start, f.End, c.full)
		}
		if f.Pages() != c.wantPages || f.NewGen != uint64(i+1) || as.TLBGen != uint64(i+1) {
			t.Errorf("%s: pages %d gen %d (mm %d), want %d %d", c.name, f.Pages(), f.NewGen, as.TLBGen, c.wantPages, i+1)
		}
		if f.MM != uintptr(unsafe.Pointer(as)) || f.Initiator != 3 || f.FreedTables != (i%2 == 0) {
			t.Errorf("%s: %+v", c.name, f)
		}
	}
}

func TestIPITargets(t *testing.T) {
	cases := []struct {
		name                  string
		mask, lazyCPUs        uint64
		self, online          int
		freed                 bool
		wantTargets, wantLazy uint64
	}{
		{"all but self", 0b1111, 0, 0, 4, false, 0b1110, 0},
		{"self not in the mask", 0b0110, 0, 0, 4, false, 0b0110, 0},
		{"self in the middle", 0b1111, 0, 2, 4, false, 0b1011, 0},
		{"lazy skipped", 0b1111, 0b0100, 0, 4, false, 0b1010, 0b0100},
		{"lazy self", 0b1111, 0b0001, 0, 4, false, 0b1110, 0},
		{"lazy outside the mask", 0b0011, 0b0100, 0, 4, false, 0b0010, 0},
		{"freed tables: lazy too", 0b1111, 0b0100, 0, 4, true, 0b1110, 0},
		{"offline CPUs", 0b11111, 0b10000, 0, 3, false, 0b0110, 0},
		{"64 online", 1<<63 | 1, 0, 0, 64, false, 1 << 63, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := setupMM(t, 64)
			as := newAS(t, a)
			as.CPUMask = c.mask
			for cpu := 0; cpu < MaxCPUs; cpu++ {
				TLB[cpu].Lazy = uint32(c.lazyCPUs >> uint(cpu) & 1)
			}
			f := NewFlush(as, UserBase(), UserBase()+PageSize, c.freed, c.self)
			targets, lazy := IPITargets(&f, c.self, c.online)
			if targets != c.wantTargets || lazy != c.wantLazy {
				t.Errorf("targets %#b lazy %#b, want %#b %#b", targets, lazy, c.wantTargets, c.wantLazy)
			}
		})
	}
}

// The initiator's own flush follows flush_tlb_mm_range (6.1): with others in the mask, as one of
// them (skipped when lazy, unless tables were freed); alone, when it has the mm loaded.
func TestSelfFlush(t *testing.T) {
	cases := []struct {
		name                string
		mask                uint64
		loaded, lazy, freed bool
		want                bool
	}{
		{"running, others in the mask", 0b0011, true, false, false, true},
		{"lazy, others in the mask", 0b0011, true, true, false, false},
		{"lazy, others in the mask, tables freed", 0b0011, true, true, true, true},
		{"lazy, alone", 0b0001, true, true, false, true},
		{"running, alone", 0b0001, true, false, false, true},
		{"not in the mask, others in it", 0b0010, false, false, false, false},
		{"not loaded, alone", 0b0000, false, false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := setupMM(t, 64)
			as := newAS(t, a)
			as.CPUMask = c.mask
			TLB[0].LoadedMM = uintptr(unsafe.Pointer(&InitMM))
			if c.loaded {
				TLB[0].LoadedMM = uintptr(unsafe.Pointer(as))
			}
			TLB[0].Lazy = 0
			if c.lazy {
				TLB[0].Lazy = 1
			}
			f := NewFlush(as, UserBase(), UserBase()+PageSize, c.freed, 0)
			if got := SelfFlush(&f, 0); got != c.want {
				t.Errorf("SelfFlush = %v, want %v", got, c.want)
			}
		})
	}
}

func TestFlushFunc(t *testing.T) {
	const asid = 2
	cases := []struct {
		name         string
		loaded       string // "mm", "other", "init", "switching"
		lazy         bool
		local, mmGen uint64
		newGen       uint64
		full, anyMM  bool
		want         FlushKind
		wantLocal    uint64
	}{
		{"switching", "switching", false, 4, 5, 5, false, false, FlushNone, 4},
		{"InitMM loaded", "init", false, 4, 5, 5, false, false, FlushNone, 4},
		{"another mm loaded", "other", false, 4, 5, 5, false, false, FlushNone, 4},
		{"lazy", "mm", true, 4, 5, 5, false, false, FlushLeaveLazy, 4},
		{"up to date", "mm", false, 5, 5, 5, false, false, FlushNone, 5},
		{"covered by an earlier flush", "mm", false, 4, 5, 3, false, false, FlushNone, 4},
		{"the one missing request: range", "mm", false, 4, 5, 5, false, false, FlushRange, 5},
		{"the one missing request, full", "mm", false, 4, 5, 5, true, false, FlushFull, 5},
		{"two missed, newest arrives", "mm", false, 3, 5, 5, false, false, FlushFull, 5},
		{"two missed, older arrives", "mm", false, 3, 5, 4, false, false, FlushFull, 5},
		{"no mm, no gen", "mm", false, 4, 5, 0, false, true, FlushFull, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := setupMM(t, 64)
			as, other := newAS(t, a), newAS(t, a)
			s := &TLB[1]
			s.LoadedASID = asid
			s.Ctxs[asid] = ASIDSlot{CtxID: as.CtxID, TLBGen: c.local}
			switch c.loaded {
			case "mm":
				s.LoadedMM = uintptr(unsafe.Pointer(as))
			case "other":
				s.LoadedMM = uintptr(unsafe.Pointer(other))
			case "init":
				s.LoadedMM = uintptr(unsafe.Pointer(&InitMM))
			case "switching":
				s.LoadedMM = Switching
			}
			if c.lazy {
				s.Lazy = 1
			}
			as.TLBGen = c.mmGen
			f := FlushInfo{MM: uintptr(unsafe.Pointer(as)), Start: UserBase(), End: UserBase() + 2*PageSize, NewGen: c.newGen}
			if c.full {
				f.Start, f.End = 0, FlushAll
			}
			if c.anyMM {
				f.MM = 0
			}
			if got := s.FlushFunc(&f); got != c.want {
				t.Errorf("FlushFunc = %v, want %v", got, c.want)
			}
			if s.Ctxs[asid].TLBGen != c.wantLocal {
				t.Errorf("slot tlb_gen %d, want %d", s.Ctxs[asid].TLBGen, c.wantLocal)
			}
			st := s.Stats
			if st.RangeFlushes != b2u(c.want == FlushRange) || st.FullFlush != b2u(c.want == FlushFull) ||
				st.LeftLazy != b2u(c.want == FlushLeaveLazy) || st.PagesFlushed != 2*b2u(c.want == FlushRange) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func TestGatherAdd(t *testing.T) {
	type add struct {
		start, end uintptr
		n          uint64
	}
	cases := []struct {
		name       string
		adds       []add
		freed      bool
		start, end uintptr
		pages      uint64
		empty      bool
	}{
		{"nothing", nil, false, 0, 0, 0, true},
		{"only unchanged ranges", []add{{0x1000, 0x3000, 0}, {0x8000, 0x9000, 0}}, false, 0, 0, 0, true},
		{"freed tables only", nil, true, 0, 0, 0, false},
		{"one range", []add{{0x4000, 0x6000, 2}}, false, 0x4000, 0x6000, 2, false},
		{"unchanged first does not widen", []add{{0x1000, 0x2000, 0}, {0x4000, 0x6000, 2}}, false, 0x4000, 0x6000, 2, false},
		{"ascending", []add{{0x1000, 0x2000, 1}, {0x8000, 0xa000, 2}}, false, 0x1000, 0xa000, 3, false},
		{"descending", []add{{0x8000, 0xa000, 2}, {0x1000, 0x2000, 1}}, false, 0x1000, 0xa000, 3, false},
		{"nested", []add{{0x1000, 0x9000, 3}, {0x3000, 0x4000, 1}}, false, 0x1000, 0x9000, 4, false},
		{"overlapping", []add{{0x3000, 0x6000, 3}, {0x1000, 0x4000, 2}, {0x5000, 0x7000, 1}}, false, 0x1000, 0x7000, 6, false},
	}
	for _, c := range cases {
		g := Gather{FreedTables: c.freed}
		for _, a := range c.adds {
			g.Add(a.start, a.end, a.n)
		}
		if g.Empty() != c.empty || g.Pages != c.pages || !c.empty && c.pages > 0 && (g.Start != c.start || g.End != c.end) {
			t.Errorf("%s: %+v empty %v, want [%#x, %#x) %d pages empty %v", c.name, g, g.Empty(), c.start, c.end, c.pages, c.empty)
		}
	}
}
