package main

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The runner's verdict is its own: every boot is held to the tests its command line plans
// (catalog.Plan), the command line must arrive whole, and a skip is never a pass.

// echo is the boot line of a kernel that received line: its length and CRC-32, as the kernel prints them.
func echo(line string) string {
	return fmt.Sprintf("LZ1 boot arch=amd64 cpus=1 mem_mb=511 go=go1.26.8 cmdline_len=%d cmdline_crc32=0x%08x cmdline=%q", len(line), crc32.ChecksumIEEE([]byte(line)), line)
}

const (
	begin   = "LZ1 begin name=smoke/goroutines scheme=- scenario=- inject=- expect=pass"
	end     = "LZ1 end name=smoke/goroutines outcome=pass ms=2"
	summary = "LZ1 summary tests=1 passed=1 failed=0"
	boot    = "LZ1 boot arch=amd64 cpus=1 mem_mb=511 go=go1.26.8 cmdline=-"
)

// lines is a fake QEMU printing these console lines and exiting as amd64's kernel does, with status 0.
func lines(ls ...string) string { return linesExit(1, ls...) }

// linesExit is a fake QEMU printing these console lines and exiting with QEMU's status.
func linesExit(status int, ls ...string) string {
	return "cat <<'X'\n" + strings.Join(ls, "\n") + "\nX\nexit " + fmt.Sprint(status)
}

var planCases = []struct {
	name   string
	script string
	args   []string
	rc     int
	want   []string
}{
	{"as planned", lines(boot, begin, end, summary), nil, 0, []string{"1 as expected"}},
	{"missing", lines(boot, "LZ1 summary tests=0 passed=0 failed=0"), nil, 2,
		[]string{"smoke/goroutines: protocol: planned, and the console never began it"}},
	{"missing when cut off", lines(boot, begin, end), []string{"-append", "tests=smoke/goroutines,smp/online"}, 2,
		[]string{"truncated: 1 planned test(s) never began: smp/online"}},
	{"not planned", lines(boot, begin, end, "LZ1 begin name=smoke/alloc scheme=- scenario=- inject=- expect=pass", "LZ1 end name=smoke/alloc outcome=pass ms=1", "LZ1 summary tests=2 passed=2 failed=0"), nil, 2,
		[]string{"smoke/alloc: protocol: test smoke/alloc was not planned"}},
	{"twice", lines(boot, begin, end, begin, end, "LZ1 summary tests=2 passed=2 failed=0"), nil, 2,
		[]string{"begins a second time"}},
	{"unknown outcome", lines(boot, begin, "LZ1 end name=smoke/goroutines outcome=done ms=2", summary), nil, 2,
		[]string{`outcome "done" (want pass, fail or skip)`}},
	{"unknown expect", lines(boot, strings.Replace(begin, "expect=pass", "expect=sometimes", 1), end, summary), nil, 2,
		[]string{`expects "sometimes" (want pass or fail)`}},
	{"kernel expects otherwise", lines(boot, strings.Replace(begin, "expect=pass", "expect=fail", 1), "LZ1 fail name=smoke/goroutines check=assert cpu=0 loc=a detail=d", "LZ1 end name=smoke/goroutines outcome=fail ms=2", summary), nil, 2,
		[]string{"the kernel expects fail (catch -) of smoke/goroutines, the runner planned pass"}},
	{"summary contradicts", lines(boot, begin, end, "LZ1 summary tests=1 passed=0 failed=1"), nil, 2,
		[]string{"summary says passed=0, the console showed 1"}},
	{"NaN metric", lines(boot, begin, "LZ1 metric name=smoke/goroutines x=NaN y=+Inf", end, summary), nil, 2,
		[]string{"metric x=NaN is not a finite number", "metric y=+Inf is not a finite number"}},
	{"all skipped", lines(boot, begin, `LZ1 end name=smoke/goroutines outcome=skip ms=0 reason="no goroutines"`, summary), nil, 1,
		[]string{"all-skipped: all 1 test(s) of suite skipped: the boot verified nothing", "0 as expected, 1 skipped"}},
	{"a skip counted apart", lines(boot, begin, end, "LZ1 begin name=mm/munmap-shootdown/pcid scheme=- scenario=munmap-shootdown inject=- expect=pass",
		`LZ1 end name=mm/munmap-shootdown/pcid outcome=skip ms=0 reason="no PCID"`, "LZ1 summary tests=2 passed=2 failed=0"),
		[]string{"-append", "tests=smoke/goroutines,mm/munmap-shootdown/pcid"}, 0, []string{"2 tests, 1 as expected, 1 skipped, 0 unexpected"}},
	{"echo whole", lines(echo("tests=smoke/goroutines"), begin, end, summary), nil, 0, []string{"1 as expected"}},
	{"echo cut", lines(strings.Replace(echo("tests=smoke/goroutines"), "cmdline_len=22", "cmdline_len=10", 1), begin, end, summary), nil, 2,
		[]string{"cmdline_len=10", "the runner sent 22 bytes", "cut or changed on the way"}},
	{"echo changed", lines(echo("tests=smoke/goroutinez"), begin, end, summary), nil, 2,
		[]string{"cut or changed on the way"}},
	{"injection that did not run", lines(boot, begin, end, summary), []string{"-inject", "write-after-free"}, 2,
		[]string{"test smoke/goroutines was not planned", "inject/write-after-free: protocol: planned, and the console never began it"}},
}

func TestPlanChecks(t *testing.T) {
	kernel := testKernel(t)
	for _, c := range planCases {
		t.Run(c.name, func(t *testing.T) {
			js := filepath.Join(t.TempDir(), "r.json")
			args := append([]string{"-kernel", kernel, "-qemu", fakeQEMU(t, c.script), "-json", js}, append(oneTest, c.args...)...)
			rc, out, errs := runOut(args...)
			if rc != c.rc {
				t.Errorf("rc %d, want %d:\n%s%s", rc, c.rc, out, errs)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			var rep jsonReport
			if b, err := os.ReadFile(js); err != nil || json.Unmarshal(b, &rep) != nil || (rep.Outcome == "pass") != (c.rc == 0) {
				t.Errorf("json report: %v %s", err, b)
			}
		})
	}
}

// An injection is held to its detector on the arch and MMU mode it runs in (catalog Detector): on
// ppc64's hash MMU skip-flush-ipi must be caught by the root audit, not by stale-tlb.
func TestDetectorPerMMU(t *testing.T) {
	kernel := testKernel(t)
	console := func(catch, check string) string {
		return linesExit(0, "LZ1 boot arch=ppc64 cpus=2 mem_mb=512 go=go1.26.8 cmdline=-",
			"LZ1 begin name=inject/skip-flush-ipi scheme=- scenario=munmap-shootdown inject=skip-flush-ipi expect=fail catch="+catch,
			"LZ1 fail name=inject/skip-flush-ipi check="+check+" cpu=1 loc=a detail=d",
			"LZ1 end name=inject/skip-flush-ipi outcome=fail ms=3", "LZ1 summary tests=1 passed=1 failed=0")
	}
	for _, c := range []struct {
		catch, check string
		rc           int
		want         string
	}{
		{"cr3-audit", "cr3-audit", 0, "injected bug caught"},
		{"stale-tlb", "stale-tlb", 2, "the kernel expects fail (catch stale-tlb) of inject/skip-flush-ipi, the runner planned fail (catch cr3-audit)"},
	} {
		rc, out, errs := runOut("-arch", "ppc64", "-mmu", "hash", "-cpus", "2", "-inject", "skip-flush-ipi", "-tap", "-kernel", kernel, "-qemu", fakeQEMU(t, console(c.catch, c.check)))
		if rc != c.rc || !strings.Contains(out, c.want) {
			t.Errorf("catch=%s: rc %d (want %d), output lacks %q:\n%s%s", c.catch, rc, c.rc, c.want, out, errs)
		}
	}
}

// refusals are runs the runner refuses before it boots anything (exit 2), with what it must say.
var refusals = []struct {
	args []string
	want []string
}{
	{[]string{"-append", "tests=nothing/"}, []string{`the command line "tests=nothing/" selects no test`}},
	{[]string{"-append", "seed=abc"}, []string{`-append: "seed=abc": want an unsigned integer`}},
	{[]string{"-append", "bogus=1"}, []string{`-append: unknown word "bogus=1"`}},
	{[]string{"-seed", "2", "-append", "seed=3"}, []string{"-append seed=3: seed is set already"}},
	{[]string{"-append", "tests=smoke/ tests=smp/"}, []string{"-append tests=smp/: tests is set already"}},
	{[]string{"-append", "inject=fault"}, []string{"-append inject=fault: use -inject"}},
	{[]string{"-arch", "ppc64", "-append", "hash"}, []string{"-append hash: use -mmu hash"}},
	{[]string{"-append", "tests=" + strings.Repeat("x", 4100)}, []string{"is 4106 bytes, more than the kernels take (4096)"}},
	{[]string{"-inject", "skip-lazy-catchup", "-cpus", "2"}, []string{"-inject skip-lazy-catchup needs at least 3 CPUs to show its bug: give -cpus 3 or more"}},
	{[]string{"-inject", "skip-tlbie", "-cpus", "2"}, []string{"-inject skip-tlbie does not apply to amd64"}},
	{[]string{"-arch", "ppc64", "-mmu", "hash", "-inject", "skip-tlbie", "-cpus", "2"}, []string{"-inject skip-tlbie does not apply to ppc64 -mmu hash: it runs on ppc64 with -mmu radix or radix-tlbie"}},
	{[]string{"-arch", "ppc64", "-mmu", "radix", "-inject", "skip-hpte-remove", "-cpus", "2"}, []string{"-inject skip-hpte-remove does not apply to ppc64 -mmu radix"}},
	{[]string{"-cpus", "33"}, []string{"-cpus 33 out of range 1..32 (the amd64 kernel's limit)"}},
	{[]string{"-timeout-scale", "0"}, []string{"-timeout-scale 0: want a positive factor"}},
	{[]string{"-shard", "1/2x"}, []string{`-shard "1/2x": want i/n`}},
	// every broken rule, one line each
	{[]string{"-cpus", "0", "-mem", "10", "-shard", "x", "-append", "seed=abc", "-scheme", "nope"},
		[]string{"runner: -cpus 0 out of range", "runner: -mem 10 out of range", `runner: -shard "x"`, `runner: -append: "seed=abc"`, `runner: unknown -scheme "nope"`}},
}

func TestRefusedBeforeBooting(t *testing.T) {
	kernel := testKernel(t)
	marker := filepath.Join(t.TempDir(), "booted")
	qemu := fakeQEMU(t, "touch "+marker+"\nexit 1")
	for _, c := range refusals {
		rc, out, errs := runOut(append([]string{"-kernel", kernel, "-qemu", qemu}, c.args...)...)
		if rc != 2 {
			t.Errorf("%q: rc %d, want 2:\n%s%s", c.args, rc, out, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%q: stderr lacks %q:\n%s", c.args, w, errs)
			}
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%q: QEMU was started", c.args)
		}
	}
}
