// Package tlb drives real address spaces through the real TLB-shootdown protocol and checks them
// with the detectors of docs/MM.md: stale TLB tokens, the CR3 audit, poison in freed frames, leaks.
package tlb

import (
	"lazymm/kernel/catalog"

	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"lazymm/kernel/ktest"
	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
	"lazymm/mm"
)

// Tests returns the scenario once per TLB mode: without PCIDs, then with them (skipped, and saying so,
// where the CPU has none, as under QEMU's TCG).
func Tests() []ktest.Test {
	return []ktest.Test{
		{Name: "mm/" + catalog.MunmapShootdown + "/nopcid", Scenario: catalog.MunmapShootdown, Run: func(t *ktest.T) { MunmapShootdownTest(t, false) }},
		{Name: "mm/" + catalog.MunmapShootdown + "/pcid", Scenario: catalog.MunmapShootdown, Run: func(t *ktest.T) { MunmapShootdownTest(t, true) }},
	}
}

func m() machine.Machine { return machine.M }

// A token fills the head of each test page: which frame it is, its generation, the virtual address it
// was mapped at. A read through a virtual address must find the token of the frame mapped there now.
type token struct{ magic, frame, gen, va uint64 }

const tokenMagic = 0x6e656b6f742d6d6d // "mm-token"

//go:nocheckptr
func at(va uintptr) *token { return (*token)(unsafe.Add(nil, va)) }

func writeToken(frame, gen uint64, va uintptr) {
	p := (*token)(mm.Phys(frame << mm.PageShift))
	atomic.StoreUint64(&p.frame, frame)
	atomic.StoreUint64(&p.gen, gen)
	atomic.StoreUint64(&p.va, uint64(va))
	atomic.StoreUint64(&p.magic, tokenMagic)
}

// read loads a token through the MMU (atomic loads: each is a real memory access).
func read(va uintptr) token {
	p := at(va)
	return token{atomic.LoadUint64(&p.magic), atomic.LoadUint64(&p.frame), atomic.LoadUint64(&p.gen), atomic.LoadUint64(&p.va)}
}

// barrier is a spinning rendezvous of the pinned loops (one per CPU; they must not sleep between
// phases, or the TLB state under test would depend on the scheduler).
type barrier struct {
	n            int32
	count, phase int32
}

func (b *barrier) wait() {
	ph := atomic.LoadInt32(&b.phase)
	if atomic.AddInt32(&b.count, 1) == b.n {
		atomic.StoreInt32(&b.count, 0)
		atomic.AddInt32(&b.phase, 1)
		return
	}
	for i := 0; atomic.LoadInt32(&b.phase) == ph; i++ {
		mm.Relax() // PAUSE: under single-threaded TCG it also hands the host core to the next vCPU
		if i%1024 == 1023 {
			runtime.Gosched() // let a stop-the-world in
		}
	}
}

// staleRead is one detector finding.
type staleRead struct {
	cpu      int
	va       uintptr
	got      token
	want     token
	lazy     bool
	pages    int
	round    int
	initiate int
	probe    bool // read while still lazy, after a munmap that freed page tables (probeLazy)
}

func (s staleRead) String() string {
	kind := "an old token"
	switch {
	case s.got.magic != tokenMagic:
		kind = fmt.Sprintf("no token (%#x: a freed or foreign frame)", s.got.magic)
	case s.got.va != uint64(s.va):
		kind = fmt.Sprintf("the token of a frame since reused at %#x", s.got.va)
	}
	lazy := "not lazy"
	switch {
	case s.probe:
		lazy = "lazy, still, after the munmap freed its page tables"
	case s.lazy:
		lazy = "lazy during the flush"
	}
	return fmt.Sprintf("CPU %d (%s) read %s through %#x after a %d-page unmap by CPU %d in round %d: frame %#x gen %d, want frame %#x gen %d",
		s.cpu, lazy, kind, s.va, s.pages, s.initiate, s.round, s.got.frame, s.got.gen, s.want.frame, s.want.gen)
}

// MunmapShootdownTest is scenario munmap-shootdown: the threads of one address space, pinned one per
// CPU, read its pages (filling their TLBs); some CPUs go lazy (a kernel thread borrows the mm); CPU 0
// unmaps 1 or 64 pages (flush_tlb_mm_range: IPIs to the CPUs of mm_cpumask that are not lazy), maps
// the same addresses to other frames (frames freed in earlier rounds, reused with new tokens); the
// lazy CPUs come back (the tlb_gen catch-up) and every CPU re-reads every page. At the end the mm is
// freed under lazy CPUs and every detector must be clean.
func MunmapShootdownTest(t *ktest.T, pcid bool) {
	mc := m()
	usePCID(t, mc, pcid)
	defer mc.SetPCID(false)
	n := mc.CPUs()
	rounds := 16
	if n > 4 { // with more virtual CPUs than a host has cores, every round costs much more
		rounds = 8
	}

	before := mc.Memory(true)
	liveBefore := mm.LiveAddrSpaces()
	mc.AuditCR3() // forget what earlier tests left in the audit records
	stats0 := machine.TLBTotals(n)

	r := newShootdown(t, mc, n, rounds)
	var wg sync.WaitGroup
	for cpu := 0; cpu < n; cpu++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := machine.RunPinned(cpu, func() { r.loop(cpu) }); err != nil {
				t.Errorf("%v", err)
			}
		}()
	}
	wg.Wait()
	mc.FreeFrames(r.pool)
	if len(r.unreached) > 0 {
		r.probeVerdict()
		return
	}

	r.check(before, liveBefore)
	r.metrics(&stats0)
}

// usePCID sets the TLB mode the test runs in, skipping the test where PCIDs are wanted and missing.
func usePCID(t *ktest.T, mc machine.Machine, pcid bool) {
	supported, _ := mc.PCID()
	if pcid && !supported {
		if slices.Contains(strings.Fields(mc.Cmdline()), "nopcid") {
			t.Skipf("PCIDs turned off by nopcid on the command line")
		}
		t.Skipf("%v", mc.SetPCID(true)) // the arch says why there are none
	}
	if err := mc.SetPCID(pcid); err != nil {
		t.Fatalf("set PCID mode: %v", err)
	}
}

const pages, spare = 64, 64 // the pages mapped, and the frames beyond them that the remaps reuse

// shootdown is one run of the scenario: the address space, what each page must read, and what the
// pinned loops found (under mu, as every CPU reports).
type shootdown struct {
	t          *ktest.T
	mc         machine.Machine
	n, rounds  int
	as         *mm.AddrSpace
	want       [pages]token // what each page must read now
	pool       []uint64     // free frames, oldest first: CPU 0 remaps with them and queues the unmapped
	b          *barrier
	recvBefore [mm.MaxCPUs]uint64 // each CPU's flush IPIs received before the round's unmap
	// freedTables is how many page tables the round's unmap freed (read after the barrier that
	// follows it); tablesFreed sums them
	freedTables, tablesFreed uint64

	mu       sync.Mutex
	stale    []staleRead
	probed   []staleRead // probeLazy's findings, apart: they come first in a round
	nstale   int
	cycles   map[int][]uint64 // unmap size -> TSC cycles of each shootdown
	ipiWrong []string
	audits   uint64 // CR3 audits run, from check
	// broadcasts says the machine flushes by hardware broadcast (the probe ran); unreached are the
	// CPUs the probe's broadcast did not reach (probe.go)
	broadcasts bool
	unreached  []int
}

// newShootdown makes the address space, with one user per CPU, and maps its pages with tokens of
// generation 1.
func newShootdown(t *ktest.T, mc machine.Machine, n, rounds int) *shootdown {
	as, err := mc.NewMM()
	if err != nil {
		t.Fatalf("%v", err)
	}
	// one thread per CPU: mm_users is n (powerpc trims mm_cpumask at every flush of a single user's mm)
	atomic.AddInt64(&as.Users, int64(n-1))
	pool, err := mc.AllocFrames(pages+spare, mm.UserData)
	if err != nil {
		t.Fatalf("%v", err)
	}
	r := &shootdown{t: t, mc: mc, n: n, rounds: rounds, as: as, pool: pool, b: &barrier{n: int32(n)},
		cycles: map[int][]uint64{}}
	for i := 0; i < pages; i++ {
		f := r.take()
		writeToken(f, 1, va(i))
		r.want[i] = token{tokenMagic, f, 1, uint64(va(i))}
		if err := mc.Map(as, va(i), f, true); err != nil {
			t.Fatalf("%v", err)
		}
	}
	return r
}

// va is the address of test page i.
func va(i int) uintptr { return mm.UserBase() + uintptr(i)*mm.PageSize }

// take removes the oldest free frame from the pool.
func (r *shootdown) take() uint64 {
	f := r.pool[0]
	r.pool = r.pool[1:]
	return f
}

// lazyIn says whether cpu goes lazy in round: every other CPU but 0, the two sets alternating every
// two rounds, so that each is lazy through a 1-page unmap (no table freed: x86 skips lazy CPUs) and
// a 64-page one (the mapping's last VMA goes, and its tables: lazy CPUs are interrupted too), at any
// CPU count.
func lazyIn(cpu, round int) bool { return cpu != 0 && (cpu+round/2)%2 == 1 }

// loop is one CPU's part, pinned: the broadcast probe, every round unless it failed, then the exit
// that frees the mm.
func (r *shootdown) loop(cpu int) {
	r.mc.SwitchMM(r.as)
	if r.probeBroadcast(cpu) {
		for round := 0; round < r.rounds; round++ {
			r.round(cpu, round)
		}
	}
	r.exit(cpu)
}

// unmapSize is how many pages CPU 0 unmaps in round: every page in odd rounds (the mapping's last
// VMA goes, and its tables); half of them every fourth round, a range flush still (under
// mm.FlushCeiling) that frees no table, so a lazy CPU skipped by it holds 32 translations the
// catch-up must drop, many enough to survive QEMU's own TLB evictions under multi-threaded TCG; else one.
func unmapSize(round int) int {
	switch {
	case round%2 == 1:
		return pages
	case round%4 == 0:
		return pages / 2
	}
	return 1
}

// round is one CPU's part in one round: fill the TLB, maybe go lazy, let CPU 0 unmap and remap, come
// back and re-read every page. The barriers keep every CPU in the same phase.
func (r *shootdown) round(cpu, round int) {
	k := unmapSize(round)
	for i := 0; i < pages; i++ { // fill this CPU's TLB with every page
		if got := read(va(i)); got != r.want[i] && round == 0 {
			r.t.Check(catalog.DetectTokens, false, "CPU %d: page %#x holds %+v before any unmap, want %+v", cpu, va(i), got, r.want[i])
		}
	}
	r.recvBefore[cpu] = r.mc.TLBStats(cpu).IPIsRecv
	r.b.wait()
	lazy := lazyIn(cpu, round)
	if lazy {
		r.mc.EnterLazy() // a kernel thread runs here now, on the borrowed mm
	}
	r.b.wait()
	if cpu == 0 {
		r.unmap(round, k)
		r.remap(k)
	}
	r.b.wait()
	if lazy && r.freedTables > 0 {
		r.probeLazy(cpu, round, k)
	}
	if lazy {
		r.mc.SwitchMM(r.as) // back from the kernel thread: the tlb_gen catch-up
	}
	for i := 0; i < pages; i++ {
		if got := read(va(i)); got != r.want[i] {
			r.mu.Lock()
			if r.nstale++; len(r.stale) < 4 {
				r.stale = append(r.stale, staleRead{cpu, va(i), got, r.want[i], lazy, k, round, 0, false})
			}
			r.mu.Unlock()
		}
	}
	r.b.wait()
}

// unmap is CPU 0's shootdown of the first k pages: it times the unmap, checks the flush IPIs the
// other CPUs received against the ones the arch must send, and queues the freed frames for reuse.
func (r *shootdown) unmap(round, k int) {
	expect, who := r.expectedIPIs(round)
	st0 := r.mc.TLBStats(0)
	tables := r.as.Tables
	t0 := r.mc.Cycles()
	freed := r.mc.Unmap(r.as, va(0), va(k))
	dt := r.mc.Cycles() - t0
	r.freedTables = tables - r.as.Tables
	r.tablesFreed += r.freedTables
	got := uint64(0)
	for c := 1; c < r.n; c++ {
		got += r.mc.TLBStats(c).IPIsRecv - r.recvBefore[c]
	}
	if r.freedTables > 0 && !mm.PowerCPUMask {
		expect, who = r.n-1, "every CPU of mm_cpumask but CPU 0, lazy ones too: page tables were freed"
	}
	if st1 := r.mc.TLBStats(0); st1.Broadcasts != st0.Broadcasts {
		// the hardware flushed every CPU (POWER's tlbie mode): IPIs only to trim the mask, or to send
		// lazy CPUs off an mm whose tables were freed where they do not keep the root (hash)
		expect = int(st1.TrimIPIs - st0.TrimIPIs)
		who = "the IPIs that trim mm_cpumask"
		if expect == 0 && r.freedTables > 0 && !mm.LazyKeepsRoot {
			expect, who = r.lazyCount(round), "the lazy CPUs: page tables were freed"
		}
	}
	r.mu.Lock()
	r.cycles[k] = append(r.cycles[k], dt)
	if got != uint64(expect) {
		r.ipiWrong = append(r.ipiWrong, fmt.Sprintf("round %d: %d flush IPIs received, want %d (%s)", round, got, expect, who))
	}
	r.mu.Unlock()
	r.pool = append(r.pool, freed...)
}

// expectedIPIs is how many flush IPIs an unmap by CPU 0 in round must send, and to whom: x86 skips
// the lazy CPUs; powerpc sends to every CPU of mm_cpumask, lazy or not, running the mm or not.
func (r *shootdown) expectedIPIs(round int) (int, string) {
	if mm.PowerCPUMask {
		return bits.OnesCount64(atomic.LoadUint64(&r.as.CPUMask) &^ 1), "the CPUs of mm_cpumask but CPU 0"
	}
	return r.n - 1 - r.lazyCount(round), fmt.Sprintf("CPUs 1..%d running the mm, not lazy", r.n-1)
}

// lazyCount is how many CPUs are lazy in round.
func (r *shootdown) lazyCount(round int) int {
	n := 0
	for c := 1; c < r.n; c++ {
		if lazyIn(c, round) {
			n++
		}
	}
	return n
}

// probeLazy stands for what a lazy CPU may do after a munmap freed page tables under it: a
// speculative access, whose walk may use translations cached from the freed tables (why x86
// interrupts lazy CPUs when tables are freed: they leave for init_mm). It reads through the MMU every
// page its loaded root maps now (remapped by CPU 0 meanwhile; walked first, as a kernel thread takes
// no fault): a token other than the page's current one came through a translation older than the
// free.
func (r *shootdown) probeLazy(cpu, round, k int) {
	for i := 0; i < pages; i++ {
		if present, _ := lazy.WalkLoaded(va(i)); !present {
			continue
		}
		if got := read(va(i)); got != r.want[i] {
			r.mu.Lock()
			if r.nstale++; len(r.probed) < 4 {
				r.probed = append(r.probed, staleRead{cpu, va(i), got, r.want[i], true, k, round, 0, true})
			}
			r.mu.Unlock()
		}
	}
}

// remap is CPU 0's reuse after an unmap: the oldest free frames get the first k addresses, with the
// next generation's tokens (the unmapped frames wait at the end of the pool).
func (r *shootdown) remap(k int) {
	for i := 0; i < k; i++ {
		f := r.take()
		g := r.want[i].gen + 1
		writeToken(f, g, va(i))
		r.want[i] = token{tokenMagic, f, g, uint64(va(i))}
		if err := r.mc.Map(r.as, va(i), f, true); err != nil {
			r.t.Errorf("%v", err)
		}
	}
}

// exit: every CPU but 0 goes lazy on the mm, CPU 0 to InitMM, then CPU 0 frees the mm: the
// freed-tables flush must move the lazy CPUs off it before its root is freed.
func (r *shootdown) exit(cpu int) {
	if cpu != 0 {
		r.mc.EnterLazy()
	} else {
		r.mc.SwitchMM(nil)
	}
	r.b.wait()
	if cpu == 0 {
		atomic.AddInt64(&r.as.Users, -int64(r.n-1)) // the other threads have exited
		r.mc.FreeMM(r.as)                           // exit_mmap frees the mapped pages and the tables
	}
	r.b.wait()
	r.mc.SwitchMM(nil) // the kernel thread is done; a CPU not moved off the mm leaves it here
}

// check applies the detectors once every loop is done: stale reads, flush IPI counts, the CR3 audit,
// poison in quarantined frames and leaks against what was there before the test.
func (r *shootdown) check(before machine.MemReport, liveBefore int) {
	t, mc := r.t, r.mc
	for _, s := range append(r.stale, r.probed...) {
		t.Check(catalog.DetectStaleTLB, false, "%v", s)
	}
	t.Check(catalog.DetectStaleTLB, r.nstale == 0, "%d stale reads in all (of %d)", r.nstale, r.rounds*r.n*pages)
	for _, s := range r.ipiWrong {
		t.Check(catalog.DetectIPICount, false, "%s", s)
	}
	findings, runs := mc.AuditCR3()
	r.audits = runs
	for _, f := range findings {
		t.Check(catalog.DetectCR3Audit, false, "%s", f)
	}
	after := mc.Memory(true)
	t.Check(catalog.DetectPoison, after.Violations == before.Violations, "%d writes into quarantined frames: %v", after.Violations-before.Violations, after.First)
	for _, k := range []string{"mm-pagetable", "object", "userdata"} {
		t.Check(catalog.DetectLeak, after.Frames[k] == before.Frames[k], "%s frames: %d before the test, %d after", k, before.Frames[k], after.Frames[k])
	}
	t.Check(catalog.DetectLeak, mm.LiveAddrSpaces() == liveBefore, "address spaces: %d before the test, %d after", liveBefore, mm.LiveAddrSpaces())
}

// metrics reports the TLB counters since stats0 and the median shootdown times.
func (r *shootdown) metrics(stats0 *mm.TLBStats) {
	t, mc := r.t, r.mc
	st := machine.TLBTotals(r.n)
	st.Sub(stats0)
	t.Metric("cpus", float64(r.n))
	t.Metric("flush_ipis", float64(st.IPIsRecv)) // named as the lazy-mm scenarios name theirs
	t.Metric("broadcast_flushes", float64(st.Broadcasts))
	if r.broadcasts {
		t.Metric("broadcast_probe_cpus", float64(r.n)) // the probe ran and reached every CPU
	}
	t.Metric("hpte_removes", float64(st.HPTERemoves))
	t.Metric("lazy_skipped", float64(st.LazySkipped))
	t.Metric("range_flushes", float64(st.RangeFlushes))
	t.Metric("full_flushes", float64(st.FullFlush))
	t.Metric("pages_range_flushed", float64(st.PagesFlushed))
	t.Metric("cr3_flush", float64(st.CR3Flush))
	t.Metric("cr3_noflush", float64(st.CR3NoFlush))
	t.Metric("lazy_catchups", float64(st.LazyCatchups))
	t.Metric("left_lazy", float64(st.LeftLazy))
	t.Metric("trimmed", float64(st.Trimmed))
	t.Metric("cr3_audits", float64(r.audits))
	t.Metric("tables_freed", float64(r.tablesFreed)) // by the rounds' munmaps
	ns := func(c uint64) float64 { return float64(c) * 1e9 / float64(mc.TSCHz()) }
	t.Metric("shootdown_1p_cycles", float64(ktest.Median(r.cycles[1])))
	t.Metric("shootdown_64p_cycles", float64(ktest.Median(r.cycles[pages])))
	t.Metric("shootdown_1p_us", ns(ktest.Median(r.cycles[1]))/1e3)
	t.Metric("shootdown_64p_us", ns(ktest.Median(r.cycles[pages]))/1e3)
}
