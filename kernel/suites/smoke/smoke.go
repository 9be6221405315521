// Package smoke is the hosted runtime's smoke suite: if the kernel serves the runtime's system calls
// correctly, goroutines, the allocator, the GC, timers, panics and the standard library all work.
package smoke

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"lazymm/kernel/ktest"
	"lazymm/kernel/machine"
)

// Tests returns the suite in the order it runs.
func Tests() []ktest.Test {
	return []ktest.Test{
		{Name: "smoke/goroutines", Run: goroutines},
		{Name: "smoke/preempt", Run: Preempt},
		{Name: "smoke/alloc", Run: alloc},
		{Name: "smoke/gc", Run: gc},
		{Name: "smoke/timers", Run: timers},
		{Name: "smoke/panic", Run: panics},
		{Name: "smoke/stdlib", Run: stdlib},
		{Name: "smoke/poison", Run: Poison},
	}
}

// goroutines: 1000 goroutines in a ring, each adding its index to a token, plus a WaitGroup fan-in.
func goroutines(t *ktest.T) {
	const n = 1000
	first := make(chan int)
	in := first
	for i := 0; i < n; i++ {
		out := make(chan int)
		go func(i int, in <-chan int, out chan<- int) { out <- <-in + i }(i, in, out)
		in = out
	}
	first <- 0
	if got, want := <-in, n*(n-1)/2; got != want {
		t.Errorf("ring sum = %d, want %d", got, want)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			mu.Lock()
			total += i
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if total != n*(n-1)/2 {
		t.Errorf("WaitGroup sum = %d, want %d", total, n*(n-1)/2)
	}
	t.Metric("goroutines", 2*n)
}

// alloc: a map and slices growing to tens of MiB, contents verified.
func alloc(t *ktest.T) {
	m := make(map[int]string)
	for i := 0; i < 200_000; i++ {
		m[i] = strconv.Itoa(i)
	}
	for i := 0; i < 200_000; i += 997 {
		if m[i] != strconv.Itoa(i) {
			t.Fatalf("m[%d] = %q", i, m[i])
		}
	}
	type rec struct{ a, b, c, d int64 }
	var s []rec
	for i := 0; i < 1<<20; i++ { // 32 MiB of records, grown by append
		s = append(s, rec{int64(i), int64(i) * 2, int64(i) * 3, -int64(i)})
	}
	for i := 0; i < len(s); i += 4099 {
		if r := s[i]; r.b != 2*r.a || r.d != -r.a || r.a != int64(i) {
			t.Fatalf("s[%d] = %+v", i, r)
		}
	}
	t.Metric("map_entries", float64(len(m)))
	t.Metric("slice_mb", float64(len(s)*32>>20))
}

type node struct {
	next *node
	val  int
	pad  [64]byte
}

// gc: live linked data and maps survive several collections while garbage is produced.
func gc(t *ktest.T) {
	var head *node
	for i := 0; i < 100_000; i++ {
		head = &node{next: head, val: i}
	}
	keep := map[string]*node{}
	for i := 0; i < 1000; i++ {
		keep[strconv.Itoa(i)] = &node{val: i}
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for round := 0; round < 4; round++ {
		for i := 0; i < 2000; i++ {
			_ = make([]byte, 4096) // garbage
		}
		runtime.GC()
		n, want := 0, 99_999
		for p := head; p != nil; p = p.next {
			if p.val != want {
				t.Fatalf("round %d: list value %d, want %d", round, p.val, want)
			}
			want--
			n++
		}
		if n != 100_000 {
			t.Fatalf("round %d: list length %d", round, n)
		}
		for k, v := range keep {
			if strconv.Itoa(v.val) != k {
				t.Fatalf("round %d: keep[%s] = %d", round, k, v.val)
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.NumGC-before.NumGC < 4 {
		t.Errorf("NumGC advanced by %d, want >= 4", ms.NumGC-before.NumGC)
	}
	t.Metric("num_gc", float64(ms.NumGC))
	t.Metric("heap_alloc_mb", float64(ms.HeapAlloc>>20))
	t.Metric("heap_sys_mb", float64(ms.HeapSys>>20))
}

// timers: sleeps, timers and tickers never end early, fire, and fire in order; the clocks agree.
// Only what the kernel can get wrong fails: a sleep or a timer that ends early, a timer that never
// fires (within seconds), timers out of order, the two clocks apart. How late they came is the
// host's as much as the kernel's (a virtual CPU the host does not run wakes late, and boots run in
// parallel on few host cores), so it is reported, beside what a probe saw the host take meanwhile
// (host_steal_ms, host_gap_max_ms: ktest.Steal), not judged.
func timers(t *ktest.T) {
	probe := ktest.StartSteal()
	defer probe.Metrics(t)

	start := time.Now()
	time.Sleep(50 * time.Millisecond)
	slept := time.Since(start)
	t.Metric("sleep_ms", ktest.Ms(slept))
	t.Metric("sleep_late_ms", ktest.Ms(max(slept-50*time.Millisecond, 0)))
	t.Check("sleep", slept >= 50*time.Millisecond, "50 ms sleep ended early, after %v", slept)
	t.Metric("sleep_100us_ms", ktest.Ms(shortSleep()))

	// the runtime's clock (vDSO on bare metal) and the clock_gettime system call must agree: the
	// system call's time lies between two reads of the runtime's, give or take the 50 ms allowed
	// (however long the host held the CPU between them)
	var ts syscall.Timespec
	before := time.Now()
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 0, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		t.Errorf("clock_gettime(REALTIME): %v", e)
	}
	after := time.Now()
	sys := time.Unix(ts.Unix())
	skew := max(before.Sub(sys), sys.Sub(after), 0) // outside [before, after]
	t.Metric("clock_skew_ms", ktest.Ms(skew))
	t.Metric("clock_bracket_ms", ktest.Ms(after.Sub(before)))
	t.Check("clock", skew < 50*time.Millisecond, "clock_gettime %v is not within 50 ms of time.Now's %v .. %v", sys, before, after)
	t.Check("clock", after.Year() >= 2024, "wall clock reads %v", after)

	// timers fire in deadline order: the time each timer's channel carries is when the runtime fired it,
	// independent of when a goroutine got to read it
	base := time.Now()
	var timers [3]*time.Timer
	for i, d := range []time.Duration{30, 10, 20} {
		timers[i] = time.NewTimer(d * time.Millisecond)
	}
	var fired [3]time.Time
	for i, tm := range timers {
		select {
		case fired[i] = <-tm.C:
		case <-time.After(10 * time.Second): // seconds, as the kernel's other waits on the host
			t.Fatalf("timer %d never fired (waited 10 s)", i)
		}
	}
	// The order is checked when each timer came within the 10 ms that separate them: a runtime
	// stamps a timer's time as it sends, so a virtual CPU the host descheduled for longer (boots run
	// in parallel on few host cores) reports it late, and out of order, through no fault of the kernel.
	late := time.Duration(0)
	for i, d := range []time.Duration{30, 10, 20} {
		late = max(late, fired[i].Sub(base)-d*time.Millisecond)
	}
	t.Metric("timers_late_ms", ktest.Ms(late))
	if late < 10*time.Millisecond && !(fired[1].Before(fired[2]) && fired[2].Before(fired[0])) {
		t.Errorf("timers of 10, 20, 30 ms fired at %v, %v, %v", fired[1].Sub(base), fired[2].Sub(base), fired[0].Sub(base))
	}
	for i, d := range []time.Duration{30, 10, 20} {
		if fired[i].Sub(base) < d*time.Millisecond {
			t.Errorf("timer of %v fired early, at %v", d*time.Millisecond, fired[i].Sub(base))
		}
	}
	// a ticker delivers ticks no faster than its period (its tick values are not checked: each is
	// stamped when the runtime gets to it, which under a loaded emulator may lag by more than a period)
	tickStart := time.Now() // before the ticker: read after it, a host stall between the two shortens d
	tk := time.NewTicker(5 * time.Millisecond)
	for i := 0; i < 5; i++ {
		<-tk.C
	}
	d := time.Since(tickStart)
	if d < 20*time.Millisecond {
		t.Errorf("5 ticks of a 5 ms ticker came within %v", d)
	}
	t.Metric("ticker_late_ms", ktest.Ms(max(d-25*time.Millisecond, 0)))
	tk.Stop()
}

// panics: explicit panics and runtime errors are recovered with the right values.
func panics(t *ktest.T) {
	catch := func(f func()) (r any) {
		defer func() { r = recover() }()
		f()
		return nil
	}
	if r := catch(func() { panic("boom") }); r != "boom" {
		t.Errorf("recovered %v, want boom", r)
	}
	idx := 5
	r := catch(func() { _ = []int{1, 2, 3}[idx] })
	if err, ok := r.(runtime.Error); !ok || !strings.Contains(err.Error(), "index out of range") {
		t.Errorf("index panic recovered %v", r)
	}
	var m map[string]int
	r = catch(func() { m["x"] = 1 })
	if err, ok := r.(error); !ok || !strings.Contains(err.Error(), "nil map") {
		t.Errorf("nil map panic recovered %v", r)
	}
	var np *node
	r = catch(func() { _ = np.val }) // a fault on the nil page, delivered as SIGSEGV
	if err, ok := r.(runtime.Error); !ok || !strings.Contains(err.Error(), "nil pointer dereference") {
		t.Errorf("nil dereference recovered %v", r)
	}
	sentinel := errors.New("sentinel")
	if r := catch(func() { panic(fmt.Errorf("wrapped: %w", sentinel)) }); !errors.Is(r.(error), sentinel) {
		t.Errorf("wrapped error lost: %v", r)
	}
}

var stopSpin atomic.Uint32

// Preempt: a goroutine spinning without function calls must not stop the rest of the program or the
// GC: only asynchronous preemption (SIGURG through tgkill, delivered on the signal stack) can stop it.
func Preempt(t *ktest.T) {
	stopSpin.Store(0)
	prev := runtime.GOMAXPROCS(1) // the spinner and this test share one P
	defer runtime.GOMAXPROCS(prev)
	started := make(chan struct{})
	var spins uint64
	go func() {
		close(started)
		for stopSpin.Load() == 0 {
			spins++
		}
	}()
	<-started
	start := time.Now()
	time.Sleep(20 * time.Millisecond) // this goroutine can only wake if the spinner is preempted
	runtime.GC()                      // stop-the-world needs it preempted again
	stopSpin.Store(1)
	t.Metric("preempt_ms", float64(time.Since(start).Microseconds())/1000)
}

// Poison: memory the kernel frees (munmap here, and everything the runtime released so far) is
// poisoned and quarantined; releasing the whole quarantine finds no frame written to after its free.
func Poison(t *ktest.T) {
	mem, err := syscall.Mmap(-1, 0, 16*4096, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	for i := range mem {
		mem[i] = byte(i)
	}
	if err := syscall.Munmap(mem); err != nil {
		t.Fatalf("munmap: %v", err)
	}
	r := machine.M.Memory(true)
	t.Check("poison", r.Violations == 0, "%d freed frames were written to while quarantined: %v", r.Violations, r.First)
	for kind, n := range r.Frames {
		t.Metric("frames_"+kind, float64(n))
	}
}

// stdlib: formatting, parsing, sorting, hashing.
func stdlib(t *ktest.T) {
	if s := fmt.Sprintf("%05d|%x|%q|%.2f", 42, 255, "a\"b", 3.14159); s != `00042|ff|"a\"b"|3.14` {
		t.Errorf("Sprintf = %s", s)
	}
	for _, v := range []int64{0, -1, 1 << 62, -1 << 63} {
		if got, err := strconv.ParseInt(strconv.FormatInt(v, 36), 36, 64); err != nil || got != v {
			t.Errorf("strconv round trip of %d: %d, %v", v, got, err)
		}
	}
	if f, err := strconv.ParseFloat("6.02214076e23", 64); err != nil || f != 6.02214076e23 {
		t.Errorf("ParseFloat = %v, %v", f, err)
	}
	xs := make([]int, 100_000)
	seed := uint32(1)
	for i := range xs {
		seed = seed*1664525 + 1013904223
		xs[i] = int(seed >> 8)
	}
	ys := slices.Clone(xs)
	sort.Ints(xs)
	slices.Sort(ys)
	if !sort.IntsAreSorted(xs) || !slices.Equal(xs, ys) {
		t.Errorf("sorting disagrees")
	}
	var b strings.Builder
	for i := 0; i < 1000; i++ {
		b.WriteString("ab")
	}
	if b.Len() != 2000 {
		t.Errorf("Builder length %d", b.Len())
	}
	// a checksum rather than crypto/sha256: the crypto packages bring a 32 MiB zeroed array into the
	// kernel image, which the boot loader would clear at every boot
	if got := crc32.ChecksumIEEE([]byte("abc")); got != 0x352441c2 {
		t.Errorf("crc32(abc) = %#x", got)
	}
	if got := hex.EncodeToString([]byte("lazymm")); got != "6c617a796d6d" {
		t.Errorf("hex = %s", got)
	}
}

// shortSleep is the median of 21 sleeps of 100 µs, each measured whole: shorter than a tick, it ends
// at the next tick that sees it due (any CPU's), so it shows the tick's granularity.
func shortSleep() time.Duration {
	d := make([]time.Duration, 21)
	for i := range d {
		start := time.Now()
		time.Sleep(100 * time.Microsecond)
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return d[len(d)/2]
}
