// Package ktest is the in-kernel test framework: it runs tests and prints their results in the console
// protocol of docs/PROTOCOL.md (tag LZ1). Each line goes out in one write, so goroutines never
// interleave partial lines.
package ktest

import (
	"lazymm/kernel/protocol"

	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Out receives protocol lines (stdout: the serial console on bare metal).
var Out = os.Stdout

// CPU reports the CPU a failure was seen on; the SMP layer replaces it.
var CPU = func() int { return 0 }

// Test is one entry of a suite. Expect is "pass" or "fail" (injected bugs must be caught).
type Test struct {
	Name, Scheme, Scenario, Inject string
	Expect                         string
	// Catch names the detector (a check) that must report an injected bug: an expected failure
	// reported only by other checks is caught by luck, and does not count.
	Catch string
	Run   func(*T)
}

// T is the handle a running test reports through.
type T struct {
	name    string
	mu      sync.Mutex
	failed  bool
	checks  map[string]bool // checks that failed
	skipped string          // why the test did not run, when it did not
}

func emit(s string) { Out.WriteString(s) }

// Emit writes protocol lines made elsewhere (a trace dump), each complete with its newline.
func Emit(s string) { emit(s) }

// Name returns the running test's name.
func (t *T) Name() string { return t.name }

func (t *T) fail(check string, skip int, format string, args ...any) {
	loc := "?"
	if _, file, line, ok := runtime.Caller(skip + 1); ok {
		loc = filepath.Base(file) + ":" + strconv.Itoa(line)
	}
	t.mu.Lock()
	t.failed = true
	if t.checks == nil {
		t.checks = map[string]bool{}
	}
	t.checks[check] = true
	t.mu.Unlock()
	emit(protocol.Format("fail", "name", t.name, "check", check, "cpu", strconv.Itoa(CPU()), "loc", loc,
		"detail", fmt.Sprintf(format, args...)))
}

// Errorf records a failed assertion and lets the test go on.
func (t *T) Errorf(format string, args ...any) { t.fail("assert", 1, format, args...) }

// Fatalf records a failed assertion and ends the test.
func (t *T) Fatalf(format string, args ...any) {
	t.fail("assert", 1, format, args...)
	runtime.Goexit()
}

// Check records a failure of the named detector when ok is false.
func (t *T) Check(check string, ok bool, format string, args ...any) bool {
	if !ok {
		t.fail(check, 1, format, args...)
	}
	return ok
}

// Skipf ends a test that cannot run here (the machine lacks what it needs), saying why: its outcome is
// skip, which the runner reports apart from passes.
func (t *T) Skipf(format string, args ...any) {
	t.mu.Lock()
	t.skipped = fmt.Sprintf(format, args...)
	t.mu.Unlock()
	runtime.Goexit()
}

// Median returns the median of v (0 for none), leaving v as it is.
func Median(v []uint64) uint64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]uint64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// Metric reports one figure of the test.
func (t *T) Metric(key string, v float64) {
	emit(protocol.Format("metric", "name", t.name, key, protocol.Number(v)))
}

// Failed reports whether the test has failed so far.
func (t *T) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// CmdlineGiven, when set (by the arch), says how long the command line the machine was given is:
// more than Boot's cmdline when the kernel could not keep all of it.
var CmdlineGiven func() int

// BootLineMax is the longest boot line that carries the command line itself (cmdline=): three
// quarters of the protocol's 4096-byte line, so that a line near the limit is never the one the
// console or the runner cuts. A longer command line is only echoed by its length and CRC.
const BootLineMax = 3072

// Boot prints the boot line: the machine, and the command line the kernel received (cmdline_len,
// cmdline_crc32, and cmdline itself when it fits), so the runner can check it arrived whole. A line
// the kernel could not keep whole is a failure (check cmdline) of the run, right after.
func Boot(arch string, cpus, memMB int, goVersion, cmdline string) {
	given := len(cmdline)
	if CmdlineGiven != nil {
		given = max(given, CmdlineGiven())
	}
	kv := []string{"arch", arch, "cpus", strconv.Itoa(cpus), "mem_mb", strconv.Itoa(memMB), "go", goVersion,
		"cmdline_len", strconv.Itoa(given), "cmdline_crc32", fmt.Sprintf("0x%08x", crc32.ChecksumIEEE([]byte(cmdline)))}
	line := protocol.Format("boot", append(kv, "cmdline", cmdline)...)
	if len(line) > BootLineMax {
		line = protocol.Format("boot", append(kv, "cmdline", "-")...)
	}
	emit(line)
	if given > len(cmdline) {
		loc := "?"
		if _, file, line, ok := runtime.Caller(0); ok {
			loc = filepath.Base(file) + ":" + strconv.Itoa(line)
		}
		emit(protocol.Format("fail", "name", "-", "check", "cmdline", "cpu", strconv.Itoa(CPU()), "loc", loc,
			"detail", fmt.Sprintf("the command line is %d bytes, the kernel keeps %d: it runs with the first %d only (cmdline_crc32 is theirs)", given, len(cmdline), len(cmdline))))
	}
}

// Run runs the tests in order, each in its own goroutine (so Fatalf can end it), and returns how many
// came out as expected and how many did not.
func Run(tests []Test) (asExpected, unexpected int) {
	for _, tc := range tests {
		expect := tc.Expect
		if expect == "" {
			expect = "pass"
		}
		kv := []string{"name", tc.Name, "scheme", tc.Scheme, "scenario", tc.Scenario, "inject", tc.Inject, "expect", expect}
		if tc.Catch != "" {
			kv = append(kv, "catch", tc.Catch)
		}
		emit(protocol.Format("begin", kv...))
		t := &T{name: tc.Name}
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() {
				if r := recover(); r != nil {
					t.fail("panic", 2, "test panicked: %v", r)
				}
			}()
			tc.Run(t)
		}()
		<-done
		outcome, ok := "pass", true
		kv = []string{"name", tc.Name}
		switch {
		case t.Failed():
			outcome = "fail"
			ok = expect == "fail" && (tc.Catch == "" || t.checks[tc.Catch])
		case t.skipped != "":
			outcome, ok = "skip", expect == "pass"
		default:
			ok = expect == "pass"
		}
		kv = append(kv, "outcome", outcome, "ms", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
		if t.skipped != "" {
			kv = append(kv, "reason", t.skipped)
		}
		emit(protocol.Format("end", kv...))
		if ok {
			asExpected++
		} else {
			unexpected++
		}
	}
	return asExpected, unexpected
}

// Summary prints the last line of a complete run.
func Summary(tests, passed, failed int) {
	emit(protocol.Format("summary", "tests", strconv.Itoa(tests), "passed", strconv.Itoa(passed), "failed", strconv.Itoa(failed)))
}

// Steal measures what the host takes from the machine while a test waits: a goroutine spins reading
// the clock, yielding at every turn, and every gap of more than StealGap between two of its reads is
// time its virtual CPU did not run (the host ran something else), or the kernel ran something long.
// A timing test reports it beside its own lateness, so a late sleep on an oversubscribed host shows
// as the host's. Stop ends the probe and returns the gaps' total and the longest; meant for stretches
// that mostly wait (on one CPU the probe takes turns with the test).
type Steal struct {
	stop            chan struct{}
	done            chan struct{}
	stolen, longest time.Duration
}

// StealGap is the shortest gap Steal counts: a tick, an IPI or a switch to another goroutine and
// back take microseconds.
const StealGap = time.Millisecond

// StartSteal starts a Steal probe.
func StartSteal() *Steal {
	s := &Steal{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		last := time.Now()
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			runtime.Gosched()
			now := time.Now()
			if d := now.Sub(last); d > StealGap {
				s.stolen += d
				s.longest = max(s.longest, d)
			}
			last = now
		}
	}()
	return s
}

// Stop ends the probe: the time its CPU was away, in gaps longer than StealGap, and the longest.
func (s *Steal) Stop() (stolen, longest time.Duration) {
	close(s.stop)
	<-s.done
	return s.stolen, s.longest
}

// Metrics stops the probe and reports it as the test's host_steal_ms and host_gap_max_ms.
func (s *Steal) Metrics(t *T) {
	stolen, longest := s.Stop()
	t.Metric("host_steal_ms", Ms(stolen))
	t.Metric("host_gap_max_ms", Ms(longest))
}

// Ms is d in milliseconds, for metrics.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
