// Package smptest is the SMP suite: every CPU runs Go code, IPIs and NMIs arrive with exact counts,
// cross-calls run once per CPU, pinned loops stay put, and the GC works under load on all CPUs. It
// needs the bare-metal machine (the hosted one has no IPIs), so it only runs there.
package smp

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"lazymm/kernel/ktest"
	"lazymm/kernel/machine"
	"lazymm/mm"
)

// Waits on other CPUs are bounded in seconds (hostWait), as Linux bounds them, and return as soon as
// what they wait for happened: a virtual CPU is a host thread that an oversubscribed host may not run
// for a long while, which is the host's lateness, not the kernel's. How long they took is reported.
const hostWait = 10 * time.Second

// Tests returns the suite; expectOnline is "pass" unless a CPU is deliberately left down.
func Tests() []ktest.Test {
	return []ktest.Test{
		{Name: "smp/online", Run: Online},
		{Name: "smp/concurrent", Run: concurrent},
		{Name: "smp/ipi-pingpong", Run: pingPong},
		{Name: "smp/ipi-broadcast", Run: broadcast},
		{Name: "smp/nmi", Run: nmi},
		{Name: "smp/crosscall", Run: crossCall},
		{Name: "smp/pinned", Run: pinned},
		{Name: "smp/shootdown", Run: Shootdown},
		{Name: "smp/clock", Run: clock},
		{Name: "smp/gc-load", Run: gcLoad},
	}
}

var m = func() machine.Machine { return machine.M }

// Online: every CPU the firmware lists is online; a missing one is named.
func Online(t *ktest.T) {
	fw, online := m().FirmwareCPUs(), m().CPUs()
	for cpu := 0; cpu < fw; cpu++ {
		t.Check("cpu-online", m().CPUOnline(cpu), "CPU %d (APIC ID %d) listed by the firmware (%s) did not come online", cpu, m().APICID(cpu), m().CPUSource())
	}
	t.Metric("firmware_cpus", float64(fw))
	t.Metric("from_mp_table", map[bool]float64{true: 1}[m().CPUSource() == "mp-table"])
	t.Metric("cpus_online", float64(online))
	if runtime.GOMAXPROCS(0) != online {
		t.Errorf("GOMAXPROCS is %d with %d CPUs online", runtime.GOMAXPROCS(0), online)
	}
}

// concurrent: as many spinning goroutines as CPUs; every CPU's counter must advance.
func concurrent(t *ktest.T) {
	n := m().CPUs()
	counts := make([]atomic.Uint64, n)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				counts[m().CPU()].Add(1)
			}
		}()
	}
	start := time.Now()
	deadline := start.Add(hostWait)
	for time.Now().Before(deadline) {
		all := true
		for i := range counts {
			all = all && counts[i].Load() > 0
		}
		if all {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Metric("all_ran_ms", ktest.Ms(time.Since(start)))
	stop.Store(true)
	wg.Wait()
	for i := range counts {
		t.Check("cpu-ran", counts[i].Load() > 0, "CPU %d never ran one of %d spinning goroutines in %v", i, n, hostWait)
		t.Metric(fmt.Sprintf("cpu%d_iterations", i), float64(counts[i].Load()))
	}
}

// pingPong: IPIs bounce between every ordered pair of CPUs with exact sent/received counts.
func pingPong(t *ktest.T) {
	n := m().CPUs()
	if n < 2 {
		t.Metric("pairs", 0)
		return
	}
	const rounds = 8
	var all []uint64
	for from := 0; from < n; from++ {
		for to := 0; to < n; to++ {
			if from == to {
				continue
			}
			b0, b1 := m().IPICounts(from), m().IPICounts(to)
			var rtt []uint64
			var err error
			if perr := machine.RunPinned(from, func() { rtt, err = m().PingPong(to, rounds) }); perr != nil {
				t.Fatalf("pinning to cpu %d: %v", from, perr)
			}
			if err != nil {
				t.Errorf("ping-pong cpu %d -> cpu %d: %v", from, to, err)
				continue
			}
			a0, a1 := m().IPICounts(from), m().IPICounts(to)
			t.Check("ipi-count", a0.TestSent-b0.TestSent == rounds && a1.TestRecv-b1.TestRecv == rounds &&
				a1.TestSent-b1.TestSent == rounds && a0.TestRecv-b0.TestRecv == rounds,
				"cpu %d <-> cpu %d, %d rounds: sent %d/%d, received %d/%d", from, to, rounds,
				a0.TestSent-b0.TestSent, a1.TestSent-b1.TestSent, a0.TestRecv-b0.TestRecv, a1.TestRecv-b1.TestRecv)
			all = append(all, rtt...)
		}
	}
	med := ktest.Median(all)
	t.Metric("rtt_cycles_median", float64(med))
	t.Metric("rtt_ns_median", float64(med)*1e9/float64(m().TSCHz()))
	t.Metric("round_trips", float64(len(all)))
}

// broadcast: an IPI to a set of CPUs and an all-but-self broadcast reach exactly their targets.
func broadcast(t *ktest.T) {
	n := m().CPUs()
	recv := func() []uint64 {
		r := make([]uint64, n)
		for i := range r {
			r[i] = m().IPICounts(i).TestRecv
		}
		return r
	}
	var slowest time.Duration
	expect := func(what string, before []uint64, want func(cpu int) uint64) {
		start := time.Now()
		deadline := start.Add(hostWait)
		for {
			after, done := recv(), true
			for i := range after {
				done = done && after[i]-before[i] >= want(i)
			}
			if done || time.Now().After(deadline) {
				slowest = max(slowest, time.Since(start))
				time.Sleep(5 * time.Millisecond) // let any extra IPI land, to catch duplicates too
				after = recv()
				for i := range after {
					t.Check("ipi-count", after[i]-before[i] == want(i), "%s: CPU %d received %d test IPIs, want %d", what, i, after[i]-before[i], want(i))
				}
				return
			}
			runtime.Gosched()
		}
	}
	err := machine.RunPinned(0, func() {
		before := recv()
		m().SendTestIPIAllButSelf()
		expect("all-but-self from CPU 0", before, func(cpu int) uint64 {
			if cpu == 0 {
				return 0
			}
			return 1
		})
		odd := uint64(0)
		for i := 1; i < n; i += 2 {
			odd |= 1 << i
		}
		before = recv()
		m().SendTestIPIMask(odd)
		expect("mask of the odd CPUs", before, func(cpu int) uint64 { return uint64(cpu % 2) })
	})
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Metric("delivery_max_ms", ktest.Ms(slowest))
}

// nmi: an NMI sent to each CPU is taken exactly once.
func nmi(t *ktest.T) {
	var slowest uint64
	for cpu := 0; cpu < m().CPUs(); cpu++ {
		before := m().IPICounts(cpu).NMIRecv
		m().SendNMI(cpu)
		// a spin without system calls: on POWER with nmi=reset a system reset that lands on a CPU
		// taking an sc cannot return (docs/PPC64.md), and this loop's yields would be most of them
		t0, hz := m().Cycles(), m().TSCHz()
		for m().IPICounts(cpu).NMIRecv == before && m().Cycles()-t0 < uint64(hostWait/time.Second)*hz {
		}
		slowest = max(slowest, m().Cycles()-t0)
		got := m().IPICounts(cpu).NMIRecv - before
		t.Check("nmi", got == 1, "CPU %d took %d NMIs for 1 sent", cpu, got)
	}
	t.Metric("delivery_max_ms", float64(slowest)*1e3/float64(m().TSCHz()))
}

// crossCall: a waiting cross-call to all CPUs returns after each ran it exactly once; its latency.
func crossCall(t *ktest.T) {
	n := m().CPUs()
	all := uint64(1)<<n - 1
	var lat []uint64
	for round := 0; round < 20; round++ {
		var before [64]uint64
		for i := 0; i < n; i++ {
			before[i] = atomic.LoadUint64(&machine.CrossCallRuns[i])
		}
		t0 := m().Cycles()
		m().CrossCall(all, machine.CallCount, 0, true)
		lat = append(lat, m().Cycles()-t0)
		for i := 0; i < n; i++ {
			got := atomic.LoadUint64(&machine.CrossCallRuns[i]) - before[i]
			t.Check("crosscall", got == 1, "round %d: CPU %d ran the cross-call %d times", round, i, got)
		}
	}
	med := ktest.Median(lat)
	t.Metric("all_cpus_cycles_median", float64(med))
	t.Metric("all_cpus_ns_median", float64(med)*1e9/float64(m().TSCHz()))
}

// pinned: a pinned loop never runs on another CPU, even when it yields and sleeps.
func pinned(t *ktest.T) {
	for cpu := 0; cpu < m().CPUs(); cpu++ {
		var moved, iters int
		err := machine.RunPinned(cpu, func() {
			end := time.Now().Add(20 * time.Millisecond)
			for time.Now().Before(end) {
				if m().CPU() != cpu {
					moved++
				}
				iters++
				if iters%64 == 0 {
					runtime.Gosched()
				}
				if iters%1024 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
		if err != nil {
			t.Fatalf("%v", err)
		}
		t.Check("pinned", moved == 0, "the loop pinned to CPU %d ran %d of %d iterations elsewhere", cpu, moved, iters)
	}
}

// Shootdown: after MADV_DONTNEED on one CPU, another CPU that had the pages in its TLB must read
// zeroes (the refault), not the old frame through a stale translation. Under TCG a missing
// shootdown is visible this way because each vCPU keeps its soft TLB until it is flushed.
func Shootdown(t *ktest.T) {
	n := m().CPUs()
	if n < 2 {
		t.Metric("pages", 0)
		return
	}
	const pages = 64
	mem, err := syscall.Mmap(-1, 0, pages*4096, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	defer syscall.Munmap(mem)
	var stale atomic.Int64
	for round := 0; round < 4; round++ {
		reader := 1 + round%(n-1)
		// The reader fills the pages (caching their translations), then spins, so that nothing else
		// runs on its CPU to evict them, while CPU 0 drops the pages; then it must see the refault's
		// zeroes. A whole word is read: a stale translation reads the old value, or the freed frame's
		// poison (whose low byte is 0), or whatever reused the frame.
		var filled, dropped atomic.Bool
		errc := make(chan error, 2)
		go func() {
			errc <- machine.RunPinned(reader, func() {
				for p := 0; p < pages; p++ {
					word(mem, p).Store(uint64(round + 1))
				}
				filled.Store(true)
				for !dropped.Load() {
					mm.Relax() // PAUSE evicts no translation; under one-threaded TCG it yields the host core
				}
				for p := 0; p < pages; p++ {
					if word(mem, p).Load() != 0 {
						stale.Add(1)
					}
				}
			})
		}()
		go func() {
			errc <- machine.RunPinned(0, func() {
				for !filled.Load() {
					mm.Relax()
				}
				if err := syscall.Madvise(mem, syscall.MADV_DONTNEED); err != nil {
					t.Errorf("madvise: %v", err)
				}
				dropped.Store(true)
			})
		}()
		for k := 0; k < 2; k++ {
			if err := <-errc; err != nil {
				t.Fatalf("%v", err)
			}
		}
	}
	t.Check("stale-tlb", stale.Load() == 0, "%d of %d page reads after MADV_DONTNEED on CPU 0 saw the old data through a stale translation", stale.Load(), 4*pages)
	t.Metric("pages", 4*pages)
}

// word is the first word of page p of mem, accessed with real loads and stores.
func word(mem []byte, p int) *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&mem[p*4096])) }

// clock: the monotonic clock read on one CPU after another (ordered by the hand-over) never goes
// back: the TSCs the clock is computed from agree across CPUs. Only going back fails; how far it
// went forward across a hand-over (the host's lateness in running the next CPU, mostly) is a metric.
func clock(t *ktest.T) {
	n := m().CPUs()
	var last time.Time
	var worst, handover time.Duration
	for round := 0; round < 20; round++ {
		for cpu := 0; cpu < n; cpu++ {
			var now time.Time
			if err := machine.RunPinned(cpu, func() { now = time.Now() }); err != nil {
				t.Fatalf("%v", err)
			}
			if d := last.Sub(now); !last.IsZero() && d > worst {
				worst = d
			}
			if d := now.Sub(last); !last.IsZero() && d > handover {
				handover = d
			}
			last = now
		}
	}
	t.Metric("handover_max_ms", ktest.Ms(handover))
	t.Check("clock", worst <= 0, "the monotonic clock went back by %v between CPUs", worst)
}

// gcLoad: allocation and collection on every CPU at once, with live data checked after.
func gcLoad(t *ktest.T) {
	n := m().CPUs()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			keep := make(map[int][]int)
			for i := 0; i < 2000; i++ {
				keep[i%200] = make([]int, 64+i%64)
				keep[i%200][0] = i
				if i%500 == 0 {
					runtime.GC()
				}
			}
			for k, v := range keep {
				if v[0]%200 != k {
					errs <- fmt.Errorf("goroutine %d: keep[%d][0] = %d", g, k, v[0])
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("%v", err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Metric("num_gc", float64(ms.NumGC))
}
