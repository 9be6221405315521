// Package ktest is the in-kernel test framework: it runs tests and prints their results in the console
// protocol of docs/PROTOCOL.md (tag LZ1). Each line goes out in one write, so goroutines never
// interleave partial lines.
package ktest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
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

// Line formats one protocol line from a kind and key/value pairs.
func Line(kind string, kv ...string) string {
	var b strings.Builder
	b.WriteString("LZ1 ")
	b.WriteString(kind)
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteByte(' ')
		b.WriteString(kv[i])
		b.WriteByte('=')
		b.WriteString(Value(kv[i+1]))
	}
	b.WriteByte('\n')
	return b.String()
}

// Value renders a value bare when it is a plain word, quoted otherwise; empty is "-".
func Value(v string) string {
	if v == "" {
		return "-"
	}
	for _, r := range v {
		if r <= ' ' || r == '"' || r == '=' || r > '~' {
			return strconv.Quote(v)
		}
	}
	return v
}

// Number renders a metric: integers without exponent, others with up to 3 decimals.
func Number(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
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
	emit(Line("fail", "name", t.name, "check", check, "cpu", strconv.Itoa(CPU()), "loc", loc,
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
	emit(Line("metric", "name", t.name, key, Number(v)))
}

// Failed reports whether the test has failed so far.
func (t *T) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// Boot prints the boot line.
func Boot(arch string, cpus, memMB int, goVersion, cmdline string) {
	emit(Line("boot", "arch", arch, "cpus", strconv.Itoa(cpus), "mem_mb", strconv.Itoa(memMB),
		"go", goVersion, "cmdline", cmdline))
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
		emit(Line("begin", kv...))
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
		emit(Line("end", kv...))
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
	emit(Line("summary", "tests", strconv.Itoa(tests), "passed", strconv.Itoa(passed), "failed", strconv.Itoa(failed)))
}
