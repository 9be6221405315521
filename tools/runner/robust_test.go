package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Every output is written whatever another did: one that cannot be written is named on stderr and
// leaves the exit status the verdict's (0 or 1, not 2).
func TestOutputsIndependent(t *testing.T) {
	dir := t.TempDir()
	blocked := filepath.Join(dir, "file")
	os.WriteFile(blocked, nil, 0o644) // a file where a directory must be: nothing can be written under it
	for _, c := range []struct {
		name, console string
		rc            int
	}{
		{"pass", goodConsole, 0},
		{"fail", strings.Replace(strings.Replace(goodConsole, "LZ1 end name=smoke/goroutines outcome=pass", "LZ1 fail name=smoke/goroutines check=assert cpu=0 loc=a detail=d\nLZ1 end name=smoke/goroutines outcome=fail", 1), "passed=1 failed=0", "passed=0 failed=1", 1), 1},
	} {
		out := filepath.Join(dir, c.name)
		args := append([]string{"-kernel", testKernel(t), "-qemu", fakeQEMU(t, lines(c.console)),
			"-json", filepath.Join(blocked, "r.json"), "-junit", filepath.Join(out, "missing-dir", "j.xml"),
			"-trace", filepath.Join(out, "t.json"), "-report", filepath.Join(out, "report"), "-results", filepath.Join(out, "results")}, oneTest...)
		os.MkdirAll(out, 0o755)
		rc, stdout, errs := runOut(args...)
		if rc != c.rc {
			t.Errorf("%s: rc %d, want %d:\n%s%s", c.name, rc, c.rc, stdout, errs)
		}
		for _, w := range []string{"could not write -json " + filepath.Join(blocked, "r.json"), "could not write -junit", "could not write -trace", "the exit status is the verdict's"} {
			if !strings.Contains(errs, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", c.name, w, errs)
			}
		}
		if _, err := os.Stat(filepath.Join(out, "report", "index.html")); err != nil {
			t.Errorf("%s: no -report: %v", c.name, err)
		}
		if sums, _ := filepath.Glob(filepath.Join(out, "results", "*", "summary.txt")); len(sums) != 1 {
			t.Errorf("%s: -results summaries %v", c.name, sums)
		}
	}
}

// Two runs in the same second get results directories of their own.
func TestResultsDirsUnique(t *testing.T) {
	base := t.TempDir()
	c := &Config{Arch: archNamed("amd64"), CPUs: 2}
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		d, err := resultsDir(base, c)
		if err != nil || seen[d] {
			t.Fatalf("run %d: %q, %v (seen %v)", i, d, err, seen)
		}
		seen[d] = true
	}
}

// An attached console ignores what came before the kernel's boot line: a console server's replay of
// the board's last run, summary included, must not end (or pass) this one.
func TestConsoleIgnoresBeforeBoot(t *testing.T) {
	stale := "old run: LZ1 summary tests=1 passed=1 failed=0\nLZ1 summary tests=1 passed=1 failed=0\nboard: rebooting\n"
	for _, c := range []struct {
		name, body string
		rc         int
		want       string
	}{
		{"replay then the run", stale + goodConsole + "\n", 0, "1 as expected"},
		{"replay only", stale, 2, "no summary on tcp:"},
	} {
		addr := serve(t, c.body, time.Minute)
		start := time.Now()
		rc, out, errs := runOut("-console", "tcp:"+addr, "-timeout", "2s")
		if rc != c.rc || !strings.Contains(out, c.want) {
			t.Errorf("%s: rc %d (want %d), output lacks %q:\n%s%s", c.name, rc, c.rc, c.want, out, errs)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%s: took %v", c.name, took)
		}
	}
}

// An attached run plans from the command line the boot line echoes; a line too long to echo
// (cmdline=- beside its length) plans nothing, and the console alone is judged.
func TestConsolePlansFromBootLine(t *testing.T) {
	long := strings.Replace(goodConsole, `cmdline="tests=smoke/goroutines"`, "cmdline_len=3897 cmdline_crc32=0xd8fd474d cmdline=-", 1)
	other := strings.Replace(goodConsole, `cmdline="tests=smoke/goroutines"`, `cmdline="tests=smoke/goroutines,smoke/gc"`, 1)
	for _, c := range []struct {
		name, body string
		rc         int
		want       string
	}{
		{"echoed", goodConsole + "\n", 0, "1 as expected"},
		{"too long to echo", long + "\n", 0, "1 as expected"},
		{"a planned test missing", other + "\n", 2, "smoke/gc: protocol: planned, and the console never began it"},
	} {
		rc, out, errs := runOut("-console", "tcp:"+serve(t, c.body, time.Minute), "-timeout", "5s")
		if rc != c.rc || !strings.Contains(out, c.want) {
			t.Errorf("%s: rc %d (want %d), output lacks %q:\n%s%s", c.name, rc, c.rc, c.want, out, errs)
		}
	}
}
