package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// parseTAP checks a TAP 13 stream: the version line, a plan, test lines numbered 1..n in order, YAML
// blocks only after a "not ok", and as many test lines as the plan says. It returns the test lines.
func parseTAP(t *testing.T, s string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) < 2 || lines[0] != "TAP version 13" {
		t.Fatalf("no TAP 13 header: %q", s)
	}
	plan := regexp.MustCompile(`^1\.\.(\d+)$`).FindStringSubmatch(lines[1])
	if plan == nil {
		t.Fatalf("no plan: %q", lines[1])
	}
	want, _ := strconv.Atoi(plan[1])
	testLine := regexp.MustCompile(`^(ok|not ok) (\d+) - [^#\n]*(?:\\#[^#\n]*)*( # SKIP .*)?$`)
	var tests []string
	inYAML, lastNotOK := false, false
	for _, l := range lines[2:] {
		switch {
		case inYAML:
			if l == "  ..." {
				inYAML = false
			} else if !strings.HasPrefix(l, "  ") {
				t.Fatalf("unterminated YAML block before %q", l)
			}
		case l == "  ---":
			if !lastNotOK {
				t.Fatalf("YAML block after a passing test")
			}
			inYAML = true
		default:
			m := testLine.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("not a TAP test line: %q", l)
			}
			if n, _ := strconv.Atoi(m[2]); n != len(tests)+1 {
				t.Fatalf("test %d out of order: %q", n, l)
			}
			tests = append(tests, l)
			lastNotOK = m[1] == "not ok"
		}
	}
	if inYAML || len(tests) != want {
		t.Fatalf("%d test lines for a plan of %d (YAML open: %v)", len(tests), want, inYAML)
	}
	return tests
}

func TestTAPAndJUnit(t *testing.T) {
	kernel := testKernel(t)
	xmlPath := filepath.Join(t.TempDir(), "j.xml")
	// one injected bug caught by its detector, one caught by luck only, and a suite with a skip and a
	// failure (the fake kernel prints by the inject word it was given)
	suite := fakeArgs + `if [ -z "$inj" ]; then cat <<X
LZ1 boot arch=amd64 cpus=$cpus mem_mb=511 go=go1.26.8 cmdline=-
LZ1 begin name=mm/munmap-shootdown/pcid scheme=- scenario=munmap-shootdown inject=- expect=pass
LZ1 end name=mm/munmap-shootdown/pcid outcome=skip ms=1 reason="no PCID # here"
LZ1 begin name=smoke/goroutines scheme=- scenario=- inject=- expect=pass
LZ1 fail name=smoke/goroutines check=assert cpu=0 loc=x.go:1 detail="got 3 <want> 4 & more"
LZ1 end name=smoke/goroutines outcome=fail ms=2
LZ1 summary tests=2 passed=1 failed=1
X
exit 3; fi
`
	script := suite + injectConsole(map[string]string{"no-shootdown": "poison"})
	var out, errb bytes.Buffer
	rc := run([]string{"-kernel", kernel, "-qemu", fakeQEMU(t, script), "-matrix", "-tap", "-junit", xmlPath, "-parallel", "3",
		"-append", "tests=smoke/goroutines,mm/munmap-shootdown/pcid"}, &out, &errb)
	if rc != 1 {
		t.Fatalf("rc = %d, want 1 (one test failed, one bug caught by luck)\n%s%s", rc, out.String(), errb.String())
	}
	tests := parseTAP(t, out.String())
	joined := strings.Join(tests, "\n")
	for _, want := range []string{"ok 1 - mm/munmap-shootdown/pcid # SKIP no PCID \\# here", "not ok 2 - smoke/goroutines", "ok 4 - inject/write-after-free (injected bug caught by poison)"} {
		if !strings.Contains(joined, want) && !strings.Contains(out.String(), want) {
			t.Errorf("TAP lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(out.String(), "not ok 3 - inject/no-shootdown") {
		t.Errorf("an injected bug caught by luck must be not ok:\n%s", out.String())
	}

	b, err := os.ReadFile(xmlPath)
	if err != nil {
		t.Fatal(err)
	}
	var top junitSuites
	if err := xml.Unmarshal(b, &top); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, b)
	}
	if top.Tests != len(tests) || top.Failures != 2 || top.Skipped != 1 {
		t.Errorf("testsuites tests=%d failures=%d skipped=%d, want %d, 2, 1\n%s", top.Tests, top.Failures, top.Skipped, len(tests), b)
	}
	n := 0
	for _, s := range top.Suites {
		if s.Name == "" || s.Tests != len(s.Cases) {
			t.Errorf("suite %q: tests=%d with %d cases", s.Name, s.Tests, len(s.Cases))
		}
		for _, c := range s.Cases {
			n++
			if c.Name == "" || !strings.HasPrefix(c.Classname, "lazymm.amd64.") {
				t.Errorf("case %+v: no name or classname", c)
			}
			if c.Failure != nil && (c.Failure.Message == "" || c.Failure.Type == "") {
				t.Errorf("case %s: failure without message or type", c.Name)
			}
			if c.Name == "goroutines" && (c.Failure == nil || !strings.Contains(c.Failure.Text, "got 3 <want> 4 & more")) {
				t.Errorf("case b: failure text lost: %+v", c.Failure)
			}
		}
	}
	if n != len(tests) {
		t.Errorf("%d cases, %d tests", n, len(tests))
	}
}

// A results directory keeps every boot's console and a summary; a log that cannot be written (a full
// disk: /dev/full) fails that boot alone, and the others complete.
func TestResultsDirectory(t *testing.T) {
	kernel := testKernel(t)
	qemu := fakeQEMU(t, injectConsole(nil))
	boots := planned(t, "-kernel", kernel, "-qemu", qemu, "-cpus", "2", "-inject", "write-after-free,leak-pagetable,skip-exit-flush")
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, "inject-leak-pagetable.log")); err != nil {
		t.Skip(err)
	}
	rs := runBoots(context.Background(), boots, 2, dir, nil)
	if err := writeSummary(dir, boots, rs); err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		full := boots[i].Inject == "leak-pagetable"
		if r.Run.Pass() == full {
			t.Errorf("%s: pass %v, want %v", boots[i].Label, r.Run.Pass(), !full)
		}
		if full {
			continue
		}
		log, err := os.ReadFile(filepath.Join(dir, boots[i].Label+".log"))
		if err != nil || !strings.Contains(string(log), "LZ1 summary") {
			t.Errorf("%s: console not kept (%v): %q", boots[i].Label, err, log)
		}
	}
	sum, _ := os.ReadFile(filepath.Join(dir, "summary.txt"))
	for _, want := range []string{"inject-write-after-free            as expected", "inject-leak-pagetable              NOT as expected", "results: keeping the console"} {
		if !strings.Contains(string(sum), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}

func TestShardAndList(t *testing.T) {
	all := planned(t, "-matrix", "-cpus", "4")
	seen := map[string]int{}
	for i := 1; i <= 3; i++ {
		for _, b := range planned(t, "-matrix", "-cpus", "4", "-shard", fmt.Sprintf("%d/3", i)) {
			seen[b.Label]++
		}
	}
	if len(seen) != len(all) {
		t.Fatalf("3 shards cover %d boots of %d", len(seen), len(all))
	}
	for l, n := range seen {
		if n != 1 {
			t.Errorf("boot %s in %d shards", l, n)
		}
	}
	for _, bad := range []string{"0/3", "4/3", "1/0", "x", "1/", "1/2x", " 1/2", "1/2/3", "+1/2", "1/02 "} {
		if _, _, err := parseShard(bad); err == nil {
			t.Errorf("-shard %q accepted", bad)
		}
	}
	if rc, _, errs := runOut("-list", "-kernel", os.Args[0], "-qemu", "/bin/true", "-shard", "1/2x"); rc != 2 || !strings.Contains(errs, `-shard "1/2x"`) {
		t.Errorf("-shard 1/2x: rc %d: %s", rc, errs)
	}
	var out bytes.Buffer
	if rc := run([]string{"-list", "-matrix", "-cpus", "4", "-kernel", os.Args[0], "-qemu", "/bin/true"}, &out, &out); rc != 0 || strings.Count(out.String(), "boot ") != len(all) {
		t.Errorf("-list: rc %d, %d boots listed, want %d:\n%s", rc, strings.Count(out.String(), "boot "), len(all), out.String())
	}
}

// -gdb makes QEMU wait for a debugger on the port, and prints how to attach.
func TestGDB(t *testing.T) {
	args := strings.Join(qemuArgs(planned(t, "-gdb", "1234")[0]), " ")
	if !strings.Contains(args, "-gdb tcp:127.0.0.1:1234 -S") {
		t.Errorf("qemu args lack the gdb stub: %s", args)
	}
	kernel := testKernel(t)
	var out, errb bytes.Buffer
	run([]string{"-kernel", kernel, "-qemu", fakeQEMU(t, injectConsole(nil)), "-gdb", "1234", "-inject", "fault"}, &out, &errb)
	if !strings.Contains(errb.String(), "gdb "+kernel+" -ex 'target remote 127.0.0.1:1234'") {
		t.Errorf("no gdb command line printed: %s", errb.String())
	}
	if rc := run([]string{"-kernel", kernel, "-qemu", "/bin/true", "-gdb", "1234", "-matrix"}, &out, &errb); rc != 2 {
		t.Errorf("-gdb with -matrix: rc %d, want 2", rc)
	}
}
