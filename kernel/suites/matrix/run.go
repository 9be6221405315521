package matrix

import (
	"lazymm/kernel/catalog"

	"strings"
	"sync"

	"lazymm/kernel/ktest"
	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
	"lazymm/kernel/suites/tlb"
	"lazymm/mm"
)

// Run plays scenario sc under scheme s on every CPU and applies every detector: the engine's
// (freed-mm, lazy-freed-mm, refcount), the CR3 audit, stale tokens, poison in freed frames, and
// leaks of frames, tasks and address spaces (a refcount that never reached zero leaves its mm live).
func Run(t *ktest.T, s lazy.Scheme, sc Scenario) {
	m := machine.M
	if !m.BareMetal() {
		t.Skipf("the lazy-mm engine needs the machine: real page tables, IPIs and NMIs")
	}
	if err := m.NMIAnywhere(); sc.nmis && err != nil {
		t.Skipf("%v", err)
	}
	lazy.UseScheme(s)
	if sc.run == nil {
		tlb.MunmapShootdownTest(t, false)
		return
	}
	n := m.CPUs()
	if err := m.SetPCID(false); err != nil {
		t.Fatalf("%v", err)
	}
	b := takeBaseline(n)
	e := &env{t: t, n: n, bar: barrier{n: n}, procs: make([]*proc, n)}
	lazy.EngineOn(true)
	runOnEveryCPU(e, sc)
	lazy.EngineOn(false)
	emitTrace(t, n)
	audits := applyDetectors(e, &b)
	reportMetrics(e, &b, audits)
}

// baseline is what the detectors and metrics compare against: the state before the scenario.
type baseline struct {
	mem  machine.MemReport
	live int // address spaces
	tlb  mm.TLBStats
	ipi  machine.IPICounts
}

// takeBaseline records the state before the scenario and clears what earlier tests left in the CR3
// audit, the engine's findings, counters and trace.
func takeBaseline(n int) baseline {
	var b baseline
	b.mem = machine.M.Memory(true)
	b.live = mm.LiveAddrSpaces()
	machine.M.AuditCR3()
	lazy.TakeFindings()
	lazy.ResetEngine(n)
	lazy.ResetTrace(n)
	b.tlb = machine.TLBTotals(n)
	b.ipi = sumIPIs(n)
	return b
}

// runOnEveryCPU runs the scenario pinned on each CPU, between barriers so that every CPU starts it
// after all have made their lazy CPU, and none drains its CPU before all are done.
func runOnEveryCPU(e *env, sc Scenario) {
	var wg sync.WaitGroup
	for cpu := 0; cpu < e.n; cpu++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := machine.RunPinned(cpu, func() { runCPU(e, sc, cpu) }); err != nil {
				e.fail("%v", err)
			}
		}()
	}
	wg.Wait()
}

// runCPU is one CPU's part: the scenario, then back to its idle thread (a scenario that ends on a
// user task is a failure) and the drain of what the CPU still holds.
func runCPU(e *env, sc Scenario, cpu int) {
	c, err := lazy.NewCPU(cpu)
	if err != nil {
		e.fail("%v", err)
	}
	e.bar.wait()
	if c != nil {
		sc.run(e, c)
	}
	e.bar.wait()
	if c != nil {
		if c.Curr() != c.Idle {
			e.fail("CPU %d ended the scenario running task %d, not its idle thread", cpu, c.Curr().ID)
			c.Switch(c.Idle)
		}
		c.Drain()
	}
}

// emitTrace writes the engine's trace of the run to the console, and how much of it was lost.
func emitTrace(t *ktest.T, n int) {
	lines, lost := lazy.TraceLines(t.Name(), n)
	for _, l := range lines {
		ktest.Emit(l)
	}
	if lost > 0 {
		t.Metric("trace_events_lost", float64(lost))
	}
}

// applyDetectors applies the detectors: the scenario's own failures ("check|detail", or a plain assertion),
// the engine's findings, the CR3 audit, poison and leaks. It returns how many CR3 audits ran.
func applyDetectors(e *env, b *baseline) (audits uint64) {
	t, m := e.t, machine.M
	for _, s := range e.errs {
		check, detail, ok := strings.Cut(s, "|")
		if !ok {
			check, detail = "assert", s
		}
		t.Check(check, false, "%s", detail)
	}
	fs, lost := lazy.TakeFindings()
	for _, f := range fs {
		t.Check(f.Check, false, "%s", f.Detail)
	}
	t.Check("freed-mm", lost == 0, "%d more findings than the table holds", lost)
	audit, runs := m.AuditCR3()
	for _, a := range audit {
		t.Check(catalog.DetectCR3Audit, false, "%s", a)
	}
	after := m.Memory(true)
	t.Check(catalog.DetectPoison, after.Violations == b.mem.Violations, "%d writes into quarantined frames: %v", after.Violations-b.mem.Violations, after.First)
	t.Check(catalog.DetectLeak, mm.LiveAddrSpaces() == b.live, "address spaces: %d before the scenario, %d after (an mm whose mm_count never reached zero)", b.live, mm.LiveAddrSpaces())
	for _, k := range []string{"mm-pagetable", "object", "userdata"} {
		t.Check(catalog.DetectLeak, after.Frames[k] == b.mem.Frames[k], "%s frames: %d before the scenario, %d after", k, b.mem.Frames[k], after.Frames[k])
	}
	return runs
}

// reportMetrics gives the run's metrics: the engine's counters, the TLB's and the IPIs' since the
// baseline, the cycle figures and the CR3 audits that ran.
func reportMetrics(e *env, b *baseline, audits uint64) {
	t, n := e.t, e.n
	st := lazy.EngineStats(n)
	fl := machine.TLBTotals(n)
	fl.Sub(&b.tlb)
	ipi := sumIPIs(n)
	t.Metric("cpus", float64(n))
	t.Metric("switches", float64(st.Switches))
	t.Metric("lazy_entries", float64(st.LazyEntries))
	t.Metric("mm_count_atomics", float64(st.CountAtomics))
	t.Metric("line_transfers", float64(st.LineTransfers))
	t.Metric("shoot_ipis", float64(st.ShootSent))
	t.Metric("shoot_ipis_unneeded", float64(st.ShootUnneeded))
	t.Metric("flush_ipis", float64(fl.IPIsRecv))
	t.Metric("broadcast_flushes", float64(fl.Broadcasts))
	t.Metric("trimmed", float64(fl.Trimmed))
	t.Metric("hpte_removes", float64(fl.HPTERemoves))
	t.Metric("call_ipis", float64(ipi.CallRecv-b.ipi.CallRecv))
	t.Metric("nmis", float64(st.NMIs))
	t.Metric("nmi_derefs", float64(st.NMIDerefs))
	t.Metric("cr3_flush", float64(fl.CR3Flush))
	t.Metric("cr3_noflush", float64(fl.CR3NoFlush))
	t.Metric("full_flushes", float64(fl.FullFlush))
	t.Metric("range_flushes", float64(fl.RangeFlushes))
	t.Metric("switch_cycles_median", float64(ktest.Median(lazy.SwitchSamples(n))))
	t.Metric("exits", float64(st.Exits))
	if st.Exits > 0 {
		t.Metric("exit_cycles_mean", float64(st.ExitCycles/st.Exits))
	}
	t.Metric("audit_cycles", float64(fl.AuditCycles)) // the lab's, left out of the costs
	t.Metric("cr3_audits", float64(audits))
	t.Metric("token_reads", float64(e.reads.Load()))
	t.Metric("membarriers", float64(st.Barriers))
	t.Metric("membarrier_ipis", float64(st.MembarrierIPIs))
}

func sumIPIs(n int) machine.IPICounts {
	var s machine.IPICounts
	for c := 0; c < n; c++ {
		x := machine.M.IPICounts(c)
		s.CallRecv += x.CallRecv
	}
	return s
}
