package protocol

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	cases := []struct {
		in      string
		kind    string
		kv      map[string]string
		wantErr string
	}{
		{"LZ1 begin name=smoke/gc scheme=- expect=pass", "begin", map[string]string{"name": "smoke/gc", "scheme": "", "expect": "pass"}, ""},
		{`LZ1 fail name=a detail="got 3, want \"4\"" cpu=1`, "fail", map[string]string{"detail": `got 3, want "4"`, "cpu": "1"}, ""},
		{"LZ1 summary tests=1 passed=1 failed=0\r", "summary", map[string]string{"failed": "0"}, ""},
		{"LZ1 bogus a=b", "", nil, "unknown kind"},
		{"LZ1 begin name", "", nil, "key=value"},
		{"LZ1 begin Name=x", "", nil, "bad key"},
		{`LZ1 fail detail="open`, "", nil, "quoted"},
		{`LZ1 fail detail="x"y`, "", nil, "junk"},
		{"LZ1 fail a=b=c", "", nil, "bad value"},
		{"LZ1 fail a=", "", nil, "bad value"},
		{"hello", "", nil, "not a protocol line"},
		{"LZ1 fail a=" + strings.Repeat("x", MaxLine), "", nil, "exceeds"},
	}
	for _, c := range cases {
		l, err := ParseLine(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseLine(%q) error = %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || l.Kind != c.kind {
			t.Errorf("ParseLine(%q) = %v, %v", c.in, l, err)
			continue
		}
		for k, v := range c.kv {
			if got := l.Get(k); got != v {
				t.Errorf("ParseLine(%q).Get(%s) = %q, want %q", c.in, k, got, v)
			}
		}
	}
}

func feed(console string) *Run {
	r := NewRun()
	for _, s := range strings.Split(strings.TrimSuffix(console, "\n"), "\n") {
		r.Feed(s)
	}
	r.Finish()
	return r
}

func checks(r *Run) []string {
	var out []string
	for _, t := range r.Tests {
		for _, f := range t.Failures {
			out = append(out, t.Name+":"+f.Check)
		}
	}
	return out
}

func TestRuns(t *testing.T) {
	const good = `LZ1 boot arch=amd64 cpus=1 mem_mb=511 go=go1.26.8 cmdline=-
LZ1 begin name=a scheme=- scenario=- inject=- expect=pass
LZ1 metric name=a x=3 y=1.5
LZ1 end name=a outcome=pass ms=2
LZ1 summary tests=1 passed=1 failed=0
`
	cases := []struct {
		name    string
		console string
		pass    bool
		checks  string
	}{
		{"good", good, true, ""},
		{"loader noise", "GRUB loading.\n\x1b[2J\n" + good, true, ""},
		{"truncated", strings.Join(strings.Split(good, "\n")[:3], "\n"), false, "a:truncated"},
		{"empty", "", false, "run:truncated"},
		{"assert", strings.Replace(strings.Replace(good, "LZ1 end name=a outcome=pass", "LZ1 fail name=a check=assert cpu=0 loc=x.go:1 detail=boom\nLZ1 end name=a outcome=fail", 1), "passed=1 failed=0", "passed=0 failed=1", 1), false, "a:assert"},
		{"end says fail", strings.Replace(strings.Replace(good, "outcome=pass", "outcome=fail", 1), "passed=1 failed=0", "passed=0 failed=1", 1), false, "a:end"},
		{"garbled", strings.Replace(good, "LZ1 metric name=a x=3 y=1.5", "LZ1 metric name=a x=three", 1), false, "a:protocol"},
		{"bad summary", strings.Replace(good, "tests=1", "tests=2", 1), false, "run:protocol"},
		{"expected crash", `LZ1 boot arch=amd64 cpus=1 mem_mb=1 go=x cmdline=-
LZ1 begin name=inject/fault scheme=- scenario=- inject=fault expect=fail
LZ1 crash cpu=0 kind=exception vector=14 name=#PF error=0x2 rip=0x4a0000 rsp=0x1 cr2=0xdead0000 cr3=0x1000
LZ1 regs rax=0x0
LZ1 bytes at=0x4a0000 hex=48c7
LZ1 crash-end status=110
`, true, "inject/fault:crash inject/fault:truncated"},
		{"go panic", `LZ1 begin name=x scheme=- scenario=- inject=- expect=pass
LZ1 crash cpu=0 kind=panic tid=3
panic: boom

goroutine 7 [running]:
LZ1 crash-end status=2`, false, "x:crash x:truncated"},
	}
	for _, c := range cases {
		r := feed(c.console)
		if got := strings.Join(checks(r), " "); got != c.checks {
			t.Errorf("%s: failures %q, want %q", c.name, got, c.checks)
		}
		if r.Pass() != c.pass {
			t.Errorf("%s: Pass() = %v, want %v", c.name, r.Pass(), c.pass)
		}
	}
	r := feed(good)
	if r.Tests[0].Metrics["y"] != 1.5 || r.Boot.Get("cpus") != "1" {
		t.Errorf("metrics/boot lost: %+v %+v", r.Tests[0].Metrics, r.Boot)
	}
	for _, c := range cases {
		if c.name == "expected crash" {
			r = feed(c.console)
		}
	}
	if d := r.Tests[0].Failures[0].Detail; !strings.Contains(d, "#PF") || !strings.Contains(d, "0xdead0000") {
		t.Errorf("crash detail %q", d)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("LZ1 begin name=a scheme=- scenario=- inject=- expect=pass\nLZ1 end name=a outcome=pass\nLZ1 summary tests=1 passed=1 failed=0")
	f.Add("LZ1 crash cpu=0 kind=exception\nLZ1 crash cpu=1 kind=panic\nLZ1 regs a=\"\\x\"")
	f.Add("LZ1 fail detail=\"unterminated\nLZ1 metric name=- k=1e400")
	f.Add("\x00\xff\xfeLZ1 \x00")
	f.Fuzz(func(t *testing.T, console string) {
		r := NewRun()
		for _, s := range strings.Split(console, "\n") {
			r.Feed(s)
		}
		r.Finish()
		for _, tt := range r.Tests {
			for _, fl := range tt.Failures {
				if fl.Check == "" && fl.Detail == "" {
					t.Fatalf("empty failure in %q", tt.Name)
				}
			}
		}
		r.Pass()
	})
}

func BenchmarkParse(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 2000; i++ {
		sb.WriteString("LZ1 begin name=t scheme=- scenario=- inject=- expect=pass\nLZ1 metric name=t a=1 b=2.5\nLZ1 fail name=t check=x cpu=0 loc=a.go:1 detail=\"d e\"\nLZ1 end name=t outcome=fail ms=1\nnoise line\n")
	}
	lines := strings.Split(sb.String(), "\n")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := NewRun()
		for _, s := range lines {
			r.Feed(s)
		}
		r.Finish()
	}
}

// An injected bug counts as caught only when its named detector reported it; a skip is as expected of a
// test expected to pass, never of one expected to fail, and a failure overrides a claimed skip.
func TestCatchAndSkip(t *testing.T) {
	// passed is the summary's count: the kernel's own verdict, from its end line
	run := func(begin, body, end string, passed int) string {
		return "LZ1 begin name=x scheme=- scenario=- inject=i " + begin + "\n" + body + "LZ1 end name=x " + end +
			fmt.Sprintf("\nLZ1 summary tests=1 passed=%d failed=%d\n", passed, 1-passed)
	}
	cases := []struct {
		name, console string
		asExpected    bool
		outcome       string
	}{
		{"caught by its detector", run("expect=fail catch=stale-tlb", "LZ1 fail name=x check=ipi-count cpu=0 loc=a detail=d\nLZ1 fail name=x check=stale-tlb cpu=1 loc=a detail=d\n", "outcome=fail", 1), true, "fail"},
		{"caught by another check only", run("expect=fail catch=stale-tlb", "LZ1 fail name=x check=ipi-count cpu=0 loc=a detail=d\n", "outcome=fail", 0), false, "fail"},
		{"caught by a crash only", run("expect=fail catch=poison-walk", "", "outcome=fail", 0), false, "fail"},
		{"trap-context fail line (name=-)", run("expect=fail catch=poison-walk", "LZ1 fail name=- check=poison-walk cpu=2 loc=pageFault detail=d\n", "outcome=fail", 1), true, "fail"},
		{"no catch: any failure", run("expect=fail", "LZ1 fail name=x check=assert cpu=0 loc=a detail=d\n", "outcome=fail", 1), true, "fail"},
		{"skip of a passing test", run("expect=pass", "", `outcome=skip reason="no PCID"`, 1), true, "skip"},
		{"skip of an injected bug", run("expect=fail catch=stale-tlb", "", "outcome=skip reason=r", 0), false, "skip"},
		{"skip with a failure is a failure", run("expect=pass", "LZ1 fail name=x check=assert cpu=0 loc=a detail=d\n", "outcome=skip reason=r", 1), false, "fail"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := feed(c.console)
			var x *Test
			for _, tc := range r.Tests {
				if tc.Name == "x" {
					x = tc
				}
			}
			if x == nil {
				t.Fatalf("no test x in %+v", r.Tests)
			}
			if x.AsExpected() != c.asExpected || x.Outcome != c.outcome || r.Pass() != c.asExpected {
				t.Errorf("outcome %s as expected %v pass %v, want %s %v", x.Outcome, x.AsExpected(), r.Pass(), c.outcome, c.asExpected)
			}
		})
	}
}

// BenchmarkFeed parses a long console: the suite's protocol lines, as the runner reads them.
func BenchmarkFeed(b *testing.B) {
	var lines []string
	for i := 0; i < 100; i++ {
		name := "lazy/refcount/t" + strings.Repeat("x", i%7)
		lines = append(lines,
			"LZ1 begin name="+name+" scheme=refcount scenario=switch-storm inject=- expect=pass",
			"LZ1 metric name="+name+" switches=1253 lazy_entries=361 mm_count_atomics=1388 line_transfers=166 switch_cycles_median=4134",
			`LZ1 fail name=`+name+` check=freed-mm cpu=1 loc=run.go:80 detail="CPU 1: the NMI handler dereferenced mm 0x216000 (ctx 2), which is freed or reused"`,
			"LZ1 end name="+name+" outcome=fail ms=56")
	}
	b.ReportAllocs()
	for b.Loop() {
		r := NewRun()
		for _, s := range lines {
			r.Feed(s)
		}
		r.Finish()
	}
	b.ReportMetric(float64(len(lines)), "lines/op")
}

// A ppc64 crash dump (arch/ppc64/trap_ppc64.s) reads as an exception at its pc.
func TestPPC64Crash(t *testing.T) {
	r := feed(`LZ1 begin name=a scheme=- scenario=- inject=- expect=pass
LZ1 crash cpu=0 kind=exception vector=0x0000000000000700 pc=0x000000000009fb08 msr=0x0000000000020000 dar=0x0000000000000000 dsisr=0x0000000000000000
LZ1 regs gprs=0x00000000000000000000000000000000
LZ1 bytes at=0x000000000009fb08 hex=7fe00008480000003c60000a3863fb00
LZ1 crash-end status=0x0000000000000700`)
	if len(r.Tests) == 0 || len(r.Tests[0].Failures) == 0 {
		t.Fatalf("no failure: %+v", r.Tests)
	}
	f := r.Tests[0].Failures[0]
	if f.Check != "crash" || !strings.Contains(f.Detail, "vector 0x0000000000000700 at pc=0x000000000009fb08") || !strings.Contains(f.Detail, "msr=0x0000000000020000") {
		t.Errorf("failure %+v", f)
	}
}

// What the parser must not read as a pass: an unknown expect= or outcome=, a test that runs twice, a
// metric that is not a finite number, a summary whose counts contradict the console, a second boot.
func TestGarbledVerdicts(t *testing.T) {
	const good = `LZ1 boot arch=amd64 cpus=1 mem_mb=511 go=go1.26.8 cmdline=-
LZ1 begin name=a scheme=- scenario=- inject=- expect=pass
LZ1 metric name=a x=3
LZ1 end name=a outcome=pass ms=2
LZ1 summary tests=1 passed=1 failed=0
`
	twice := strings.Replace(good, "LZ1 summary tests=1 passed=1", "LZ1 begin name=a scheme=- scenario=- inject=- expect=pass\nLZ1 end name=a outcome=pass ms=2\nLZ1 summary tests=2 passed=2", 1)
	// the kernel counted a as passed, which the runner cannot confirm: the summary contradicts too
	const counts = " run:protocol run:protocol"
	cases := []struct{ name, console, checks string }{
		{"unknown expect", strings.Replace(good, "expect=pass", "expect=maybe", 1), "a:protocol" + counts},
		{"no expect", strings.Replace(good, " expect=pass", "", 1), "a:protocol" + counts},
		{"unknown outcome", strings.Replace(good, "outcome=pass", "outcome=passed", 1), "a:protocol" + counts},
		{"runs twice", twice, "a:protocol"},
		{"NaN metric", strings.Replace(good, "x=3", "x=NaN", 1), "a:protocol"},
		{"Inf metric", strings.Replace(good, "x=3", "x=-Inf y=+Inf", 1), "a:protocol a:protocol"},
		{"summary passed", strings.Replace(good, "passed=1 failed=0", "passed=0 failed=1", 1), "run:protocol run:protocol"},
		{"summary not a number", strings.Replace(good, "failed=0", "failed=none", 1), "run:protocol"},
		{"second boot", strings.Replace(good, "LZ1 summary", "LZ1 boot arch=amd64 cpus=1 mem_mb=511 go=go1.26.8 cmdline=-\nLZ1 summary", 1), "run:protocol"},
	}
	for _, c := range cases {
		r := feed(c.console)
		if got := strings.Join(checks(r), " "); got != c.checks {
			t.Errorf("%s: failures %q, want %q", c.name, got, c.checks)
		}
		if r.Pass() {
			t.Errorf("%s: passes", c.name)
		}
		for _, tt := range r.Tests {
			for k, v := range tt.Metrics {
				if v != v || v > 1e308 || v < -1e308 {
					t.Errorf("%s: metric %s=%v kept", c.name, k, v)
				}
			}
		}
	}
	if r := feed(good); r.Running() != nil || !r.Pass() {
		t.Errorf("good console: running %v, pass %v", r.Running(), r.Pass())
	}
}
