package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lazymm/kernel/protocol"
)

// outcomeCase is a fake QEMU's console and status, the runner's flags, and the exit status and output
// wanted.
type outcomeCase struct {
	name    string
	script  string
	args    []string
	rc      int
	want    []string
	maxTime time.Duration
}

var outcomeCases = []outcomeCase{
	{"pass", "cat <<'X'\n" + goodConsole + "\nX\nexit 1", nil, 0, []string{"1 as expected"}, 0},
	{"exit mismatch", "cat <<'X'\n" + goodConsole + "\nX\nexit 3", nil, 1, []string{"exit", "kernel exited with status 1"}, 0},
	{"truncated", "cat <<'X'\n" + strings.Join(strings.Split(goodConsole, "\n")[:3], "\n") + "\nX\nexit 1", nil, 2, []string{"truncated"}, 0},
	{"garbled", "printf 'LZ1 begin name=a\\x00 ===\\n'; exit 1", nil, 2, []string{"protocol"}, 0},
	{"crash", "cat <<'X'\nLZ1 begin name=smoke/goroutines scheme=- scenario=- inject=- expect=pass\nLZ1 crash cpu=0 kind=exception vector=13 name=#GP error=0x0 rip=0x401000 rsp=0x1 cr2=0x0 cr3=0x1000\nLZ1 crash-end status=109\nX\nexit 219",
		nil, 1, []string{"crash", "#GP", "vector 13"}, 0},
	{"triple fault", "exit 0", nil, 2, []string{"QEMU exited by itself"}, 0},
	{"cpus missing", "cat <<'X'\n" + goodConsole + "\nX\nexit 1", []string{"-cpus", "2"}, 1, []string{"asked for 2 CPUs"}, 0},
	{"hang", "echo 'LZ1 begin name=inject/hang scheme=- scenario=- inject=hang expect=fail'; exec sleep 60", []string{"-timeout", "1s", "-inject", "hang"}, 0, []string{"timeout"}, 10 * time.Second},
	{"endless line", "head -c 200000 /dev/zero | tr '\\0' x; exit 1", nil, 2, []string{"truncated"}, 0},
	// QEMU that cannot start the machine: what it said is shown
	{"qemu error", "echo 'qemu: could not load kernel' >&2; exit 1", nil, 2, []string{"truncated", "qemu: QEMU's stderr: qemu: could not load kernel"}, 0},
	// one boot per injection, merged into one table; the fake kernel reports the inject it was given
	{"two injections", injectConsole(nil), []string{"-inject", "write-after-free,leak-pagetable"}, 0,
		[]string{"inject/write-after-free", "inject/leak-pagetable", "2 boots, each as expected"}, 0},
	// the injected bug reported by another check than its detector: caught by luck, not as expected
	{"caught by luck", injectConsole(map[string]string{"write-after-free": "stale-tlb"}), []string{"-inject", "write-after-free"}, 1,
		[]string{"caught by luck only"}, 0},
}

func TestRunnerOutcomes(t *testing.T) {
	kernel := testKernel(t)
	for _, c := range outcomeCases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			jsonPath := filepath.Join(t.TempDir(), "r.json")
			args := append([]string{"-kernel", kernel, "-qemu", fakeQEMU(t, c.script), "-json", jsonPath}, append(oneTest, c.args...)...)
			start := time.Now()
			rc := run(args, &out, &errb)
			if rc != c.rc {
				t.Errorf("rc = %d, want %d\nstdout:\n%s\nstderr:\n%s", rc, c.rc, out.String(), errb.String())
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if c.maxTime > 0 && time.Since(start) > c.maxTime {
				t.Errorf("took %v", time.Since(start))
			}
			var rep jsonReport
			b, err := os.ReadFile(jsonPath)
			if err != nil || json.Unmarshal(b, &rep) != nil || rep.Version != 1 || (rep.Outcome == "pass") != (c.rc == 0) {
				t.Errorf("json report: %v %s", err, b)
			}
		})
	}
}

func TestRunnerUsage(t *testing.T) {
	dir := t.TempDir()
	kernel := filepath.Join(dir, "k.elf")
	os.WriteFile(kernel, []byte("x"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-bogus"}, "flag provided but not defined"},
		{[]string{"-kernel", kernel, "stray"}, "unexpected argument"},
		{[]string{"-kernel", filepath.Join(dir, "missing")}, "not found"},
		{[]string{"-kernel", kernel, "-qemu", filepath.Join(dir, "no-qemu")}, "not found"},
		{[]string{"-kernel", kernel, "-arch", "mips"}, "unknown -arch \"mips\" (want amd64 or ppc64)"},
		{[]string{"-kernel", kernel, "-arch", "ppc64", "-machine", "powernv"}, "-machine powernv is not supported yet"},
		{[]string{"-kernel", kernel, "-arch", "ppc64", "-machine", "q35"}, "ppc64 boots on pseries"},
		{[]string{"-kernel", kernel, "-machine", "pseries"}, "amd64 boots on q35"},
		{[]string{"-kernel", kernel, "-arch", "ppc64", "-mem", "300"}, "multiple of 256 MiB"},
		{[]string{"-kernel", kernel, "-arch", "ppc64", "-cdrom", kernel}, "-cdrom boots a GRUB ISO"},
		{[]string{"-arch", "ppc64", "-kernel", filepath.Join(dir, "missing")}, "make kernel ARCH=ppc64"},
		{[]string{"-arch", "ppc64", "-kernel", kernel, "-qemu", filepath.Join(dir, "no-qemu")}, "apt-get install qemu-system-ppc"},
		{[]string{"-kernel", kernel, "-cpus", "0"}, "out of range"},
		{[]string{"-kernel", kernel, "-inject", "gremlins"}, "unknown -inject"},
		{[]string{"-kernel", kernel, "-timeout", "-1s"}, "positive"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if rc := run(c.args, &out, &errb); rc != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and %q", c.args, rc, errb.String(), c.want)
		}
	}
}

// BenchmarkReport renders the table, the cost table and the JSON report of a 100-test matrix run.
func BenchmarkReport(b *testing.B) {
	r := protocol.NewRun()
	schemes := []string{"refcount", "shootdown", "mmput-unlazy", "loaded-mm", "hazard", "exit-flush-unlazy", "no-active-mm"}
	for i := 0; i < 100; i++ {
		s := schemes[i%len(schemes)]
		name := fmt.Sprintf("lazy/%s/scenario-%d", s, i)
		r.Feed(fmt.Sprintf("LZ1 begin name=%s scheme=%s scenario=scenario-%d inject=- expect=pass", name, s, i))
		r.Feed(fmt.Sprintf("LZ1 metric name=%s switches=1253 lazy_entries=361 mm_count_atomics=%d line_transfers=166 shoot_ipis=3 switch_cycles_median=4134 exit_cycles_mean=120000", name, 300+i))
		r.Feed(fmt.Sprintf("LZ1 end name=%s outcome=pass ms=30", name))
	}
	r.Feed("LZ1 summary tests=100 passed=100 failed=0")
	r.Finish()
	res := &Result{Run: r, BootMS: 200, WallMS: 15000, ExitStatus: statusKernelOK, Boots: 1}
	c := &Config{Arch: archNamed("amd64"), CPUs: 4}
	b.ReportAllocs()
	for b.Loop() {
		if err := printTable(io.Discard, c, res, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(makeReport(c, res)); err != nil {
			b.Fatal(err)
		}
	}
}

// Consecutive tests skipped for the same reason fold into one line after the first; a different
// reason, or a test between them, starts a new run. The counts stay exact.
func TestTableFoldsSkips(t *testing.T) {
	r := protocol.NewRun()
	r.Feed("LZ1 boot arch=ppc64 cpus=1 mem_mb=512 go=go1.26.8 cmdline=-")
	for i, reason := range []string{"no PIDs", "no PIDs", "no PIDs", "no KVM", "no PIDs"} {
		name := fmt.Sprintf("lazy/t%d", i)
		r.Feed(fmt.Sprintf("LZ1 begin name=%s scheme=- scenario=- inject=- expect=pass", name))
		r.Feed(fmt.Sprintf("LZ1 end name=%s outcome=skip ms=0 reason=%q", name, reason))
	}
	r.Feed("LZ1 summary tests=5 passed=5 failed=0")
	r.Finish()
	var b strings.Builder
	if err := printTable(&b, &Config{Arch: archNamed("ppc64"), CPUs: 1}, &Result{Run: r, Boots: 1}, nil); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"lazy/t0", "skipped: no PIDs", "... 2 more", "lazy/t3", "skipped: no KVM", "lazy/t4", "5 tests, 0 as expected, 5 skipped, 0 unexpected"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, hidden := range []string{"lazy/t1", "lazy/t2"} {
		if strings.Contains(out, hidden) {
			t.Errorf("table shows folded %s:\n%s", hidden, out)
		}
	}
}
