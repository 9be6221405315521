// Package console parses the kernel's console protocol (docs/PROTOCOL.md, tag LZ1) into a Run: the
// tests with their outcomes, failures and metrics, the crash dumps, and the summary. It never panics on
// garbled input; every problem becomes a failure of the test it concerns.
package protocol

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Tag starts every protocol line of version 1.
const Tag = "LZ1 "

// MaxLine is the longest protocol line; longer lines are garbled.
const MaxLine = 4096

// maxRaw bounds the non-protocol output kept per test.
const maxRaw = 64 << 10

// Line is one parsed protocol line.
type Line struct {
	Kind string
	Keys []string
	Vals []string
}

// Get returns the value of key ("" if absent, and "-" reads as absent).
func (l Line) Get(key string) string {
	for i, k := range l.Keys {
		if k == key {
			if l.Vals[i] == "-" {
				return ""
			}
			return l.Vals[i]
		}
	}
	return ""
}

var kinds = map[string]bool{"boot": true, "begin": true, "fail": true, "metric": true, "end": true,
	"crash": true, "regs": true, "bytes": true, "crash-end": true, "summary": true, "trace": true}

// ParseLine parses one line that starts with Tag.
func ParseLine(s string) (Line, error) {
	if len(s) > MaxLine {
		return Line{}, fmt.Errorf("line of %d bytes exceeds %d", len(s), MaxLine)
	}
	rest, ok := strings.CutPrefix(strings.TrimSuffix(s, "\r"), Tag)
	if !ok {
		return Line{}, errors.New("not a protocol line")
	}
	kind, rest, _ := strings.Cut(rest, " ")
	if !kinds[kind] {
		return Line{}, fmt.Errorf("unknown kind %q", kind)
	}
	l := Line{Kind: kind}
	for rest = strings.TrimLeft(rest, " "); rest != ""; rest = strings.TrimLeft(rest, " ") {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return Line{}, fmt.Errorf("expected key=value at %q", clip(rest))
		}
		key := rest[:eq]
		for _, r := range key {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
				return Line{}, fmt.Errorf("bad key %q", clip(key))
			}
		}
		rest = rest[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return Line{}, fmt.Errorf("unterminated or bad quoted value for %s", key)
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
			if rest != "" && rest[0] != ' ' {
				return Line{}, fmt.Errorf("junk after quoted value of %s", key)
			}
		} else {
			val, rest, _ = strings.Cut(rest, " ")
			if val == "" || strings.ContainsAny(val, `"=`) {
				return Line{}, fmt.Errorf("bad value for %s", key)
			}
		}
		l.Keys = append(l.Keys, key)
		l.Vals = append(l.Vals, val)
	}
	return l, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Failure is one failed check of a test.
type Failure struct {
	Check  string
	CPU    int
	Loc    string
	Detail string
}

// Crash is a crash-dump block.
type Crash struct {
	Header Line
	Lines  []string // every line of the block, protocol or not (a Go traceback)
	Status string
}

// Test is one test as the console reported it.
type Test struct {
	Name, Scheme, Scenario, Inject, Expect string
	Catch                                  string // the check that must report an expected failure
	Outcome                                string // pass, fail or skip, as observed
	Reason                                 string // why a skipped test did not run
	Reported                               string // the end line's outcome: the kernel's own view, for the summary check
	Ended                                  bool
	MS                                     float64
	Failures                               []Failure
	Metrics                                map[string]float64
	Trace                                  []Line // the test's trace lines (kind trace), in order
	Raw                                    []string
	rawBytes                               int
}

// Run is a whole console.
type Run struct {
	Boot      *Line
	Tests     []*Test
	Crashes   []*Crash
	Summary   *Line
	Metrics   map[string]float64 // metric lines with name=-
	Raw       []string           // non-protocol output outside any test
	rawBytes  int
	lineNo    int
	cur       *Test
	runTest   *Test // the synthetic test failures outside any test go to
	crash     *Crash
	finished  bool
	protoSeen bool
	begun     map[string]bool // test names seen in begin lines: a name may run once
}

// NewRun returns an empty run ready to be fed.
func NewRun() *Run { return &Run{Metrics: map[string]float64{}} }

// ProtocolSeen reports whether any protocol line has been seen (the boot milestone).
func (r *Run) ProtocolSeen() bool { return r.protoSeen }

// Running is the test that began and has not ended, or nil.
func (r *Run) Running() *Test { return r.cur }

// IsOutside reports whether t is the synthetic test of the failures outside any test ("run").
func (r *Run) IsOutside(t *Test) bool { return t == r.runTest }

func (r *Run) running() *Test {
	if r.cur != nil {
		return r.cur
	}
	// failures outside any test are charged to a synthetic "run" test (one lookup, not a scan per
	// failure: a long garbled console must not cost quadratic time)
	if r.runTest == nil {
		r.runTest = &Test{Name: "run", Expect: "pass", Outcome: "pass", Ended: true, Metrics: map[string]float64{}}
		r.Tests = append(r.Tests, r.runTest)
	}
	return r.runTest
}

// AddFailure charges a failure to the running test (or to "run").
func (r *Run) AddFailure(f Failure) {
	t := r.running()
	t.Failures = append(t.Failures, f)
	t.Outcome = "fail"
}

// Feed consumes one console line (without its newline).
func (r *Run) Feed(s string) {
	r.lineNo++
	if !strings.HasPrefix(s, Tag) {
		if r.crash != nil {
			r.crash.Lines = append(r.crash.Lines, s)
		}
		// output outside a test (firmware, the boot loader) is kept on the run, not charged to a test
		raw, n := &r.Raw, &r.rawBytes
		if r.cur != nil {
			raw, n = &r.cur.Raw, &r.cur.rawBytes
		}
		if *n < maxRaw {
			*raw = append(*raw, s)
			*n += len(s)
		}
		return
	}
	r.protoSeen = true
	l, err := ParseLine(s)
	if err != nil {
		r.AddFailure(Failure{Check: "protocol", CPU: -1, Detail: fmt.Sprintf("console line %d: %v", r.lineNo, err)})
		return
	}
	if r.crash != nil && l.Kind != "crash-end" {
		r.crash.Lines = append(r.crash.Lines, s)
		if l.Kind == "regs" || l.Kind == "bytes" {
			return
		}
	}
	switch l.Kind {
	case "boot":
		if r.Boot != nil { // a second boot line: the machine reset, the first run's tests are cut off
			r.garbled("a second boot line: the machine restarted")
		}
		r.Boot = &l
	case "begin":
		r.begin(l)
	case "fail":
		r.fail(l)
	case "trace":
		if r.cur == nil || l.Get("name") != r.cur.Name {
			r.garbled("trace of %s, which is not running", l.Get("name"))
			return
		}
		r.cur.Trace = append(r.cur.Trace, l)
	case "metric":
		r.metric(l)
	case "end":
		r.end(l)
	case "crash":
		r.crash = &Crash{Header: l, Lines: []string{s}}
		r.Crashes = append(r.Crashes, r.crash)
	case "regs", "bytes":
		r.garbled("%s outside a crash dump", l.Kind)
	case "crash-end":
		if r.crash == nil {
			r.garbled("crash-end without crash")
			return
		}
		r.crash.Lines = append(r.crash.Lines, s)
		r.crash.Status = l.Get("status")
		r.closeCrash()
	case "summary":
		r.Summary = &l
	}
}

// garbled charges a protocol failure, with the console line number, to the running test.
func (r *Run) garbled(format string, a ...any) {
	r.AddFailure(Failure{Check: "protocol", CPU: -1, Detail: fmt.Sprintf("console line %d: ", r.lineNo) + fmt.Sprintf(format, a...)})
}

func (r *Run) begin(l Line) {
	name := l.Get("name")
	if r.cur != nil {
		r.garbled("test %s begins while %s runs", name, r.cur.Name)
	}
	r.cur = &Test{Name: name, Scheme: l.Get("scheme"), Scenario: l.Get("scenario"), Inject: l.Get("inject"),
		Expect: l.Get("expect"), Catch: l.Get("catch"), Outcome: "pass", Metrics: map[string]float64{}}
	r.Tests = append(r.Tests, r.cur)
	// an unknown expectation is not read as pass: the test could never be judged
	if e := r.cur.Expect; e != "pass" && e != "fail" {
		r.garbled("test %s expects %q (want pass or fail)", name, e)
	}
	if r.begun == nil {
		r.begun = map[string]bool{}
	}
	if r.begun[name] {
		r.garbled("test %s begins a second time", name)
	}
	r.begun[name] = true
}

func (r *Run) fail(l Line) {
	cpu, err := strconv.Atoi(l.Get("cpu"))
	if err != nil {
		cpu = -1
	}
	f := Failure{Check: l.Get("check"), CPU: cpu, Loc: l.Get("loc"), Detail: l.Get("detail")}
	if f.Check == "" {
		f.Check = "unnamed"
	}
	if f.Detail == "" {
		f.Detail = "(the kernel gave no detail)"
	}
	r.AddFailure(f)
}

// metric keeps finite numbers only: NaN or an infinity is a broken figure (and JSON has no spelling for it).
func (r *Run) metric(l Line) {
	dst := r.Metrics
	if r.cur != nil && l.Get("name") == r.cur.Name {
		dst = r.cur.Metrics
	}
	for i, k := range l.Keys {
		if k == "name" {
			continue
		}
		v, err := strconv.ParseFloat(l.Vals[i], 64)
		switch {
		case err != nil:
			r.garbled("metric %s=%q is not a number", k, l.Vals[i])
		case math.IsNaN(v) || math.IsInf(v, 0):
			r.garbled("metric %s=%s is not a finite number", k, l.Vals[i])
		default:
			dst[k] = v
		}
	}
}

func (r *Run) end(l Line) {
	if r.cur == nil || r.cur.Name != l.Get("name") {
		r.garbled("end of %s, which is not running", l.Get("name"))
		return
	}
	t := r.cur
	t.Reported = l.Get("outcome")
	switch t.Reported {
	case "skip":
		if len(t.Failures) == 0 {
			t.Outcome, t.Reason = "skip", l.Get("reason")
		}
	case "fail":
		t.Outcome = "fail"
		if len(t.Failures) == 0 {
			t.Failures = append(t.Failures, Failure{Check: "end", CPU: -1, Detail: "the kernel reported the test failed"})
		}
	case "pass":
	default: // not read as pass: an outcome the runner does not know is no verdict
		r.garbled("test %s ends with outcome %q (want pass, fail or skip)", t.Name, t.Reported)
	}
	if ms, err := strconv.ParseFloat(l.Get("ms"), 64); err == nil && !math.IsNaN(ms) && !math.IsInf(ms, 0) {
		t.MS = ms
	} else if l.Get("ms") != "" {
		r.garbled("test %s ends with ms=%s, not a finite number", t.Name, l.Get("ms"))
	}
	t.Ended = true
	r.cur = nil
}

func (r *Run) closeCrash() {
	c := r.crash
	r.crash = nil
	cpu, err := strconv.Atoi(c.Header.Get("cpu"))
	if err != nil {
		cpu = -1
	}
	h := c.Header
	detail := "kernel crashed: " + h.Get("kind")
	switch {
	case h.Get("kind") == "exception" && h.Get("pc") != "": // ppc64: SRR0, SRR1, DAR, DSISR
		detail = fmt.Sprintf("CPU exception vector %s at pc=%s (msr=%s dar=%s dsisr=%s)", h.Get("vector"), h.Get("pc"), h.Get("msr"), h.Get("dar"), h.Get("dsisr"))
	case h.Get("kind") == "exception":
		detail = fmt.Sprintf("CPU exception %s (vector %s, error %s) at rip=%s cr2=%s", h.Get("name"), h.Get("vector"), h.Get("error"), h.Get("rip"), h.Get("cr2"))
	default:
		for _, s := range c.Lines {
			if strings.HasPrefix(s, "panic: ") || strings.HasPrefix(s, "fatal error: ") {
				detail = "Go " + s
				break
			}
		}
	}
	r.AddFailure(Failure{Check: "crash", CPU: cpu, Detail: detail})
}

// Finish applies the end-of-console rules: an open crash block, a test without end, a missing summary
// and a summary disagreeing with what was seen are failures.
func (r *Run) Finish() {
	if r.finished {
		return
	}
	r.finished = true
	if r.crash != nil {
		r.closeCrash()
	}
	if r.Summary == nil {
		r.AddFailure(Failure{Check: "truncated", CPU: -1, Detail: "the console ended without a summary line"})
		if r.cur != nil {
			r.cur = nil
		}
		return
	}
	if r.cur != nil {
		r.AddFailure(Failure{Check: "protocol", CPU: -1, Detail: "summary while test " + r.cur.Name + " runs"})
		r.cur = nil
	}
	r.checkSummary()
}

// checkSummary compares the summary's counts with the tests the console showed, judged as the kernel
// judges them (by their end lines, before the runner's own checks): a contradiction is garbled.
func (r *Run) checkSummary() {
	seen, passed := 0, 0
	for _, t := range r.Tests {
		if t == r.runTest {
			continue
		}
		seen++
		if t.kernelAsExpected() {
			passed++
		}
	}
	want := []struct {
		key string
		n   int
	}{{"tests", seen}, {"passed", passed}, {"failed", seen - passed}}
	for _, w := range want {
		n, err := strconv.Atoi(r.Summary.Get(w.key))
		if err != nil || n != w.n {
			r.AddFailure(Failure{Check: "protocol", CPU: -1, Detail: fmt.Sprintf("summary says %s=%s, the console showed %d", w.key, r.Summary.Get(w.key), w.n)})
		}
	}
}

// kernelAsExpected is the kernel's own verdict on a test: its end line's outcome against its
// expectation, with the catch among the fail lines.
func (t *Test) kernelAsExpected() bool {
	switch t.Reported {
	case "skip":
		return t.Expect == "pass"
	case "pass":
		return t.Expect == "pass"
	case "fail":
		return t.Expect == "fail" && (t.Catch == "" || t.Caught())
	}
	return false
}

// AsExpected reports whether the test came out as expected: its outcome is its expectation and, for an
// injected bug with a Catch, that detector is among the failed checks (caught by the detector meant to
// catch it, not by luck). A skip is as expected of a test expected to pass: the report lists it apart.
// A protocol failure never is (the console could not be read), nor an interrupted test (the runner
// was stopped): no outcome of theirs is a verdict.
func (t *Test) AsExpected() bool {
	switch {
	case t.garbled():
		return false
	case t.Outcome == "skip":
		return t.Expect == "pass"
	case t.Outcome != t.Expect:
		return false
	case t.Expect == "fail" && t.Catch != "":
		return t.Caught()
	}
	return true
}

func (t *Test) garbled() bool {
	for _, f := range t.Failures {
		if f.Check == "protocol" || f.Check == "interrupted" {
			return true
		}
	}
	return false
}

// Caught reports whether a failure of the test's Catch check was reported.
func (t *Test) Caught() bool {
	for _, f := range t.Failures {
		if f.Check == t.Catch {
			return true
		}
	}
	return false
}

// Pass reports whether every test came out as expected.
func (r *Run) Pass() bool {
	for _, t := range r.Tests {
		if !t.AsExpected() {
			return false
		}
	}
	return len(r.Tests) > 0
}
