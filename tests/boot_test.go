// Integration tests: boot the real kernel under QEMU through the runner and check what it reports,
// including the injected failures that prove the harness sees a panic, a fault and a hang.
package tests

import (
	"lazymm/kernel/catalog"

	"encoding/json"
	"fmt"
	imgpng "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var kernel, runner, workDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lazymm-tests")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	workDir = dir
	code := func() int {
		defer os.RemoveAll(dir)
		if err := build(dir); err != nil {
			fmt.Fprintln(os.Stderr, "tests: building:", err)
			return 2
		}
		return m.Run()
	}()
	os.Exit(code)
}

// build makes the runner and, unless LAZYMM_KERNEL names one (make test does), the kernel image.
func build(dir string) error {
	run := func(env []string, args ...string) error {
		cmd := exec.Command("go", args...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return nil
	}
	runner = filepath.Join(dir, "runner")
	if err := run(nil, "build", "-o", runner, "./tools/runner"); err != nil {
		return err
	}
	if kernel = os.Getenv("LAZYMM_KERNEL"); kernel != "" {
		return nil
	}
	kernel = filepath.Join(dir, "lazymm.elf")
	if err := run([]string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", kernelGOFLAGS()}, "build",
		"-o", kernel, "./kernel/cmd/lazymm"); err != nil {
		return err
	}
	return run(nil, "run", "./tools/mkimage", "-entry", "lazymm/arch/amd64.boot32", kernel)
}

type report struct {
	Outcome    string `json:"outcome"`
	CPUsOnline int    `json:"cpus_online"`
	BootMS     int64  `json:"boot_ms"`
	Tests      []struct {
		Name       string `json:"name"`
		Expected   string `json:"expected"`
		Outcome    string `json:"outcome"`
		Catch      string `json:"catch"`
		AsExpected bool   `json:"as_expected"`
		Reason     string `json:"reason"`
		Failures   []struct {
			Check  string `json:"check"`
			Detail string `json:"detail"`
		} `json:"failures"`
		Metrics map[string]float64 `json:"metrics"`
	} `json:"tests"`
}

func boot(t *testing.T, args ...string) (report, string, int) {
	t.Helper()
	return bootArch(t, "amd64", kernel, args...)
}

// bootArch boots image on arch through the runner and returns its JSON report, output and status.
func bootArch(t *testing.T, arch, image string, args ...string) (report, string, int) {
	t.Helper()
	q := map[string]string{"amd64": "qemu-system-x86_64", "ppc64": "qemu-system-ppc64"}[arch]
	if _, err := exec.LookPath(q); err != nil {
		t.Fatalf("%s is not installed: run `make setup`", q)
	}
	js := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(runner, append([]string{"-arch", arch, "-kernel", image, "-json", js}, args...)...)
	out, _ := cmd.CombinedOutput()
	var rep report
	b, err := os.ReadFile(js)
	if err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("no JSON report (%v); runner said:\n%s", err, out)
	}
	return rep, string(out), cmd.ProcessState.ExitCode()
}

// The lazy-mm matrix: every scheme under every scenario (kernel/suites/matrix).
var (
	schemes   = catalog.Schemes
	scenarios = catalog.Scenarios
)

// The whole suite (smoke, SMP, mm and the lazy-mm matrix) at 1, 2 and 4 CPUs; at 8 CPUs (four
// virtual CPUs per host core under TCG) the matrix is cut to two schemes to keep the time down.
func TestSuite(t *testing.T) {
	for _, cpus := range []int{1, 2, 4, 8} {
		t.Run(fmt.Sprintf("cpus=%d", cpus), func(t *testing.T) {
			args := []string{"-cpus", fmt.Sprint(cpus), "-timeout", "180s"}
			matrix := schemes
			if cpus == 8 {
				matrix = []string{"refcount", "hazard"}
				args = append(args, "-append", "tests=smoke/,smp/,mm/,lazy/refcount/,lazy/hazard/")
			}
			rep, out, rc := boot(t, args...)
			if rc != 0 || rep.Outcome != "pass" {
				t.Fatalf("rc=%d outcome=%s\n%s", rc, rep.Outcome, out)
			}
			want := map[string]bool{}
			for _, name := range []string{"smoke/goroutines", "smoke/preempt", "smoke/alloc", "smoke/gc", "smoke/timers",
				"smoke/panic", "smoke/stdlib", "smoke/poison", "smp/online", "smp/concurrent", "smp/ipi-pingpong", "smp/ipi-broadcast", "smp/nmi",
				"smp/crosscall", "smp/pinned", "smp/shootdown", "smp/clock", "smp/gc-load", "mm/munmap-shootdown/nopcid",
				"mm/munmap-shootdown/pcid"} {
				want[name] = false
			}
			if cpus != 8 {
				want["smoke/report"] = false
			}
			for _, s := range matrix {
				for _, sc := range scenarios {
					want["lazy/"+s+"/"+sc] = false
				}
			}
			for _, tc := range rep.Tests {
				want[tc.Name] = true
				switch tc.Name {
				case "smoke/timers":
					if ms := tc.Metrics["sleep_ms"]; ms < 50 || ms > 150 {
						t.Errorf("sleep_ms = %v", ms)
					}
				case "smoke/report":
					if tc.Metrics["sys_202"] == 0 || tc.Metrics["resident_frames"] == 0 {
						t.Errorf("report metrics missing: %v", tc.Metrics)
					}
					if tc.Metrics["sys_228"] > 50 {
						t.Errorf("%v clock_gettime system calls: the runtime is not using the vDSO", tc.Metrics["sys_228"])
					}
				case "smp/ipi-pingpong":
					if cpus > 1 && tc.Metrics["round_trips"] != float64(8*cpus*(cpus-1)) {
						t.Errorf("round_trips = %v", tc.Metrics["round_trips"])
					}
				}
			}
			for name, seen := range want {
				if !seen {
					t.Errorf("test %s did not run", name)
				}
			}
			if rep.CPUsOnline != cpus || rep.BootMS <= 0 {
				t.Errorf("cpus_online=%d boot_ms=%d", rep.CPUsOnline, rep.BootMS)
			}
		})
	}
}

// Each injected failure must be observed, as the right kind of failure, and the run must then count as
// "came out as expected".
// injectCase is an injected failure, the check that must report it, and phrases its report must hold.
type injectCase struct {
	inject, check string
	detail        []string
}

// ppc64Detail are the phrases of a case on ppc64 where they differ: its lazy CPUs get flush IPIs too,
// and catch up by nothing else, so either kind of CPU may be reported first; a root left behind may
// be found by the timer's audit before the test's cross-call audit (both read PIDR or the SLB), as
// on powernv9 at 2 CPUs.
var ppc64Detail = map[string][]string{
	"skip-flush-ipi":  {"read an old token", "stale reads in all"},
	"skip-exit-flush": {"is not the root of a live address space", " audit; "},
}

// injectCases are the check and the phrases each injection's report must hold, by name; the list of
// injections is the catalogue's (TestInjectCasesCoverCatalogue).
var injectCases = map[string]injectCase{ // inject is set from the key
	"panic":                   {check: "crash", detail: []string{"injected panic"}},
	"fault":                   {check: "crash", detail: nil},
	"hang":                    {check: "timeout", detail: []string{"QEMU killed"}},
	"no-preempt-signal":       {check: "timeout", detail: []string{"QEMU killed"}},
	"ap-missing":              {check: "cpu-online", detail: []string{"CPU 3", "did not come online"}},
	"no-shootdown":            {check: "stale-tlb", detail: []string{"stale translation"}},
	"write-after-free":        {check: "poison", detail: []string{"offset 0x40 holds 0x5eed"}},
	"skip-flush-ipi":          {check: "stale-tlb", detail: []string{"(not lazy) read", "stale reads in all"}},
	"skip-lazy-catchup":       {check: "stale-tlb", detail: []string{"(lazy during the flush) read"}},
	"hpt-no-tlbie":            {check: "stale-tlb", detail: []string{"did not invalidate even CPU 0"}},
	"skip-exit-flush":         {check: "cr3-audit", detail: []string{"is not the root of a live address space", "cross-call audit"}},
	"refcount-no-grab":        {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"shootdown-no-ipi":        {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"mmput-unlazy-skip":       {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"loaded-mm-stale-mask":    {check: "cr3-audit", detail: []string{"is not the root of a live address space"}},
	"hazard-no-scan":          {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"nmi-no-check":            {check: "nmi-uaccess", detail: []string{"NMI user reads returned another mm's memory"}},
	"temporary-mm-no-restore": {check: "cr3-audit", detail: []string{"is not the root of a live address space"}},
	"exit-flush-no-unlazy":    {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"membarrier-no-ipi":       {check: "membarrier", detail: []string{"executed no barrier"}},
	"mmput-twice":             {check: "user-fault", detail: []string{"kthread_use_mm's access to page", "faulted"}},
	"exec-keep-active":        {check: "freed-mm", detail: []string{"dereferenced mm"}},
	"exec-no-activate":        {check: "user-fault", detail: []string{"exec_mmap's task to page", "faulted"}},
	"skip-tlbie":              {check: "stale-tlb", detail: []string{"read an old token", "stale reads in all"}},
	"skip-hpte-remove":        {check: "stale-tlb", detail: []string{"read an old token", "stale reads in all"}},
	"leak-pagetable":          {check: "leak", detail: []string{"mm-pagetable frames"}},
	"free-linked-table":       {check: "poison-walk", detail: []string{"went through freed page-table frame"}},
	"unmap-free-no-flush":     {check: "stale-tlb", detail: []string{"lazy, still, after the munmap freed its page tables"}},
	"fork-no-flush":           {check: "stale-tlb", detail: []string{"post-fork write", "outlived fork's flush_tlb_mm"}},
	"cow-no-flush":            {check: "stale-tlb", detail: []string{"copy-on-write of page", "past wp_page_copy's flush"}},
	"refcount-exit-no-grab":   {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"refcount-no-drop":        {check: "leak", detail: []string{"address spaces", "never reached zero"}},
	"shootdown-cpumask":       {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"shoot-keep-active":       {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"shoot-no-leave":          {check: "cr3-audit", detail: []string{"is not the root of a live address space"}},
	"mmput-unlazy-late":       {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"loaded-mm-no-ipi":        {check: "cr3-audit", detail: []string{"is not the root of a live address space"}},
	"hazard-no-publish":       {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"hazard-no-clear":         {}, // equivalent: run by no boot test
	"exit-flush-no-backstop":  {}, // equivalent
	"no-active-mm-no-scan":    {check: "cr3-audit", detail: []string{"is not the root of a live address space"}},
	"temporary-mm-no-leave":   {}, // equivalent
	"unuse-mm-no-mmput":       {check: "leak", detail: []string{"address spaces", "never reached zero"}},
	"exit-mm-no-handoff":      {check: "leak", detail: []string{"address spaces", "never reached zero"}},
	"membarrier-no-ipi-mb":    {}, // equivalent: not shown under TCG
	"membarrier-curr-plain":   {}, // equivalent
	"membarrier-lazy-no-mb":   {}, // equivalent
	"nmi-no-uaccess-check":    {check: "nmi-uaccess", detail: []string{"NMI user reads returned another mm's memory"}},
	"hotplug-no-idle-exit":    {check: "cr3-audit", detail: []string{"is not the root of a live address space", "offline audit"}},
	"hotplug-drop-early":      {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"idle-leave-no-switch":    {check: "stale-tlb", detail: []string{"mapped anew while it idled", "a stale translation"}},
	"rt-mmdrop-drain-twice":   {check: "freed-mm", detail: []string{"mmdrop dereferenced mm", "which is freed or reused"}},
	"hazard-ref-no-convert":   {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"hazard-ref-drop-in-use":  {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"shootdown-all-not-self":  {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
	"loaded-mm-keep-active":   {check: "freed-mm", detail: []string{"dereferenced mm", "which is freed or reused"}},
}

// casesFor are the injections that run on an arch and MMU mode ("" the arch's default), in the
// catalogue's order, each with the detector that must catch it there; with all, also those that select
// a mode of their own (skip-tlbie, skip-hpte-remove).
func casesFor(t *testing.T, arch, mmu string, all bool) []injectCase {
	var out []injectCase
	for _, in := range catalog.Injections {
		c, ok := injectCases[in.Name]
		switch {
		case !ok:
			t.Errorf("injection %s has no case here", in.Name)
		case in.Equivalent != "": // an equivalent mutant fails nothing: no boot test runs it as a bug
		case !in.AppliesOn(""): // a machine's own bug: its machine's tests run it (powernvInjections)
		case in.AppliesTo(arch, mmu) || all && slices.Contains(in.Arches, arch) && catalog.MMUOf("inject="+in.Name) != "":
			c.inject = in.Name
			if d := in.Detector(modeOf(arch, mmu, in.Name)); d != "" && d != c.check {
				c.check, c.detail = d, detectorPhrases[d]
			}
			out = append(out, c)
		}
	}
	return out
}

// modeOf is the MMU mode an injection runs in: the one it selects itself, else mmu, else the arch's
// default.
func modeOf(arch, mmu, inject string) string {
	line := "inject=" + inject
	if catalog.MMUOf(line) == "" && mmu != "" {
		return mmu
	}
	return catalog.ModeOf(line, arch)
}

// detectorPhrases are what a detector's report says whatever the bug: for a mode whose detector is
// not the case's own.
var detectorPhrases = map[string][]string{catalog.DetectCR3Audit: {"is not the root of a live address space"}}

// TestInjectCasesCoverCatalogue: every case is a catalogued injection, with the catalogue's detector.
func TestInjectCasesCoverCatalogue(t *testing.T) {
	for name, c := range injectCases {
		in, ok := catalog.InjectionByName(name)
		if !ok {
			t.Errorf("case %s is no catalogued injection", name)
		} else if in.Catch != "" && in.Catch != c.check {
			t.Errorf("case %s expects %s, the catalogue %s", name, c.check, in.Catch)
		}
	}
}

func TestInjectedFailures(t *testing.T) {
	for _, c := range casesFor(t, "amd64", "", true) {
		t.Run(c.inject, func(t *testing.T) {
			t.Parallel()
			checkInjection(t, "amd64", kernel, c)
		})
	}
}

// checkInjection boots image on arch with c injected at 4 CPUs (and runnerArgs) and checks the run expected the failure
// and the named check reported it, saying what c.detail says.
func checkInjection(t *testing.T, arch, image string, c injectCase, runnerArgs ...string) {
	t.Helper()
	detail := c.detail
	if c.inject == "fault" {
		detail = map[string][]string{"amd64": {"#PF", "cr2=0xdead0000"}, "ppc64": {"vector 0x0000000000000300", "dar=0x00000000dead0000"}}[arch]
	}
	args := []string{"-inject", c.inject, "-cpus", "4"}
	if c.check == "timeout" { // the bug is a hang: end it soon; every other boot gets the runner's planned timeout
		args = append(args, "-timeout", "8s")
	}
	rep, out, rc := bootArch(t, arch, image, append(args, runnerArgs...)...)
	if rc != 0 || rep.Outcome != "pass" || len(rep.Tests) == 0 {
		t.Fatalf("rc=%d outcome=%s\n%s", rc, rep.Outcome, out)
	}
	tc := rep.Tests[0]
	if tc.Name != "inject/"+c.inject || tc.Expected != "fail" || tc.Outcome != "fail" || !tc.AsExpected {
		t.Fatalf("test %+v", tc)
	}
	if tc.Catch != "" && tc.Catch != c.check {
		t.Errorf("the kernel names %q as the detector of %s, want %q", tc.Catch, c.inject, c.check)
	}
	var details []string // of the failures c.check reported: each expected phrase is in one of them
	for _, f := range tc.Failures {
		if f.Check == c.check {
			details = append(details, f.Detail)
		}
	}
	if len(details) == 0 {
		t.Errorf("no %s failure in %+v", c.check, tc.Failures)
	}
	for _, d := range detail {
		if !slices.ContainsFunc(details, func(s string) bool { return strings.Contains(s, d) }) {
			t.Errorf("no %s failure detail contains %q: %q", c.check, d, details)
		}
	}
	if c.check == "crash" && !strings.Contains(out, "crash dump:") {
		t.Errorf("no crash dump in the report:\n%s", out)
	}
	if c.inject == "fault" { // symbolized, with its source line and the faulting instruction marked
		insn := map[string]string{"amd64": "MOVQ $0x1, 0(AX)", "ppc64": "MOVD R4,0(R3)"}[arch]
		for _, want := range []string{"is in main.init.", "(registry.go:", "code around it, from the image:", "=> 0x", insn} {
			if !strings.Contains(out, want) {
				t.Errorf("the crash report lacks %q:\n%s", want, out)
			}
		}
	}
}

// Scenario munmap-shootdown at 4 CPUs: every detector clean, and the flush IPIs exactly the CPUs of
// mm_cpumask that were not lazy, or all of them when the munmap freed page tables. Round r makes CPU
// c (c > 0) lazy when c+r/2 is odd. The 1-page unmaps (even rounds) free no table: one CPU takes an
// IPI when r%4 is 0, two when it is 2 (12 in all, 12 lazy CPUs skipped); the 64-page ones remove the
// mapping's only VMA, and free_pgtables its 3 tables: all 3 CPUs (8 rounds: 24, the lazy ones leaving
// for init_mm: 12); the exit flush of freed tables reaches the 3 lazy CPUs. 39 IPIs.
func TestScenarioMunmapShootdown(t *testing.T) {
	rep, out, rc := boot(t, "-scenario", "munmap-shootdown", "-cpus", "4", "-timeout", "60s")
	if rc != 0 || rep.Outcome != "pass" || len(rep.Tests) != 2+len(schemes) {
		t.Fatalf("rc=%d outcome=%s\n%s", rc, rep.Outcome, out)
	}
	m := rep.Tests[0].Metrics
	if rep.Tests[0].Name != "mm/munmap-shootdown/nopcid" || rep.Tests[0].Outcome != "pass" {
		t.Fatalf("first test %+v", rep.Tests[0])
	}
	for k, want := range map[string]float64{"flush_ipis": 39, "lazy_skipped": 12, "left_lazy": 15, "cr3_noflush": 0, "tables_freed": 24} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	for _, k := range []string{"range_flushes", "full_flushes", "lazy_catchups", "cr3_audits", "shootdown_1p_cycles", "shootdown_64p_cycles"} {
		if m[k] <= 0 {
			t.Errorf("%s = %v, want > 0", k, m[k])
		}
	}
	if p := rep.Tests[1]; p.Outcome == "skip" && !strings.Contains(p.Reason, "no PCID") || p.Outcome == "fail" {
		t.Errorf("pcid half: %+v", p)
	}
}

// A kernel command-line word the kernel does not know must fail the run, not be ignored.
func TestUnknownCmdline(t *testing.T) {
	// the runner refuses a word the catalogue does not know before it boots anything
	cmd := exec.Command(runner, "-kernel", kernel, "-append", "bogus=1 seed=abc")
	out, _ := cmd.CombinedOutput()
	if rc := cmd.ProcessState.ExitCode(); rc != 2 || !strings.Contains(string(out), `unknown word "bogus=1"`) ||
		!strings.Contains(string(out), "seed=abc") {
		t.Errorf("runner: rc=%d\n%s", rc, out)
	}
	// and the kernel, given one all the same (here as a Linux process), fails its cmdline check
	cmd = exec.Command(kernel, "bogus=1", "tests=smoke/goroutines")
	out, _ = cmd.CombinedOutput()
	if rc := cmd.ProcessState.ExitCode(); rc != 1 || !strings.Contains(string(out), "check=cmdline") {
		t.Errorf("kernel: rc=%d\n%s", rc, out)
	}
}

// The real-board path: GRUB 2 (not QEMU's own multiboot loader) loads the same image, from an ISO whose
// grub.cfg passes a command line (GRUB 2, unlike QEMU, does not put the kernel's path first).
func TestGRUBBoot(t *testing.T) {
	if _, err := exec.LookPath("grub-mkrescue"); err != nil {
		t.Fatal("grub-mkrescue is not installed: run `make setup`")
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "iso/boot/grub"), 0o755)
	img, err := os.ReadFile(kernel)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "iso/boot/lazymm.elf"), img, 0o644)
	cfg := "serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\nset timeout=0\n" +
		"menuentry lazymm {\n  multiboot /boot/lazymm.elf tests=smoke/g\n  boot\n}\n"
	os.WriteFile(filepath.Join(dir, "iso/boot/grub/grub.cfg"), []byte(cfg), 0o644)
	iso := filepath.Join(dir, "lazymm.iso")
	if b, err := exec.Command("grub-mkrescue", "-o", iso, filepath.Join(dir, "iso")).CombinedOutput(); err != nil {
		t.Fatalf("grub-mkrescue: %v\n%s", err, b)
	}
	rep, out, rc := boot(t, "-cdrom", iso, "-timeout", "120s")
	if rc != 0 || rep.Outcome != "pass" {
		t.Fatalf("GRUB boot: rc=%d outcome=%s\n%s", rc, rep.Outcome, out)
	}
	var names []string
	for _, tc := range rep.Tests {
		names = append(names, tc.Name)
	}
	if got := strings.Join(names, " "); got != "smoke/goroutines smoke/gc" { // tests= filters smoke/report too
		t.Errorf("GRUB's command line was not honoured: tests %q", got)
	}
}

// Without the vDSO (vdso=off) the runtime reads the clock by system call: the count shows the vDSO is
// what removes them, and the suite still passes that way.
func TestWithoutVDSO(t *testing.T) {
	rep, out, rc := boot(t, "-append", "vdso=off tests=smoke/timers", "-timeout", "120s")
	if rc != 0 || rep.Outcome != "pass" {
		t.Fatalf("rc=%d outcome=%s\n%s", rc, rep.Outcome, out)
	}
	for _, tc := range rep.Tests {
		if tc.Name == "smoke/report" && tc.Metrics["sys_228"] < 100 {
			t.Errorf("only %v clock_gettime calls with vdso=off", tc.Metrics["sys_228"])
		}
	}
}

// CPUs from the MP table when ACPI is off: the fallback finds the same CPUs and they all come up.
func TestMPTableFallback(t *testing.T) {
	rep, out, rc := boot(t, "-cpus", "4", "-append", "acpi=off tests=smp/online", "-timeout", "120s")
	if rc != 0 || rep.Outcome != "pass" || rep.CPUsOnline != 4 {
		t.Fatalf("rc=%d outcome=%s cpus_online=%d\n%s", rc, rep.Outcome, rep.CPUsOnline, out)
	}
	for _, tc := range rep.Tests {
		if tc.Name == "smp/online" && (tc.Metrics["from_mp_table"] != 1 || tc.Metrics["firmware_cpus"] != 4) {
			t.Errorf("smp/online metrics %v: the MP table was not what found the CPUs", tc.Metrics)
		}
	}
}

// -trace: the lazy-mm scenarios' per-CPU events become a Chrome/Perfetto trace of the real run.
func TestTraceFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.json")
	rep, out, rc := boot(t, "-cpus", "2", "-scheme", "shootdown", "-scenario", "exit-nmi", "-trace", path)
	if rc != 0 || rep.Outcome != "pass" {
		t.Fatalf("rc=%d\n%s", rc, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		TraceEvents []struct {
			Name, Ph, Cat string
			TID           int
		}
	}
	if err := json.Unmarshal(b, &tf); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	cpus := map[int]bool{}
	for _, e := range tf.TraceEvents {
		seen[e.Ph+":"+e.Cat] = true
		cpus[e.TID] = true
	}
	for _, want := range []string{"X:user", "X:lazy", "i:lazy", "i:ipi", "i:nmi", "i:free", "i:exit"} {
		if !seen[want] {
			t.Errorf("no %s event in the trace (have %v)", want, seen)
		}
	}
	if len(cpus) != 2 {
		t.Errorf("events on CPUs %v, want 2 CPUs", cpus)
	}
}

// -report: the HTML page of a real run renders in headless Chromium (Debian's chromium package; CI
// installs it), and the screenshot is not blank.
func TestReportRenders(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium): the -report page is not rendered here")
	}
	dir := t.TempDir()
	rep, out, rc := boot(t, "-cpus", "2", "-scheme", "refcount,hazard", "-scenario", "exit-nmi,membarrier", "-report", dir)
	if rc != 0 || rep.Outcome != "pass" {
		t.Fatalf("rc=%d\n%s", rc, out)
	}
	png := filepath.Join(dir, "page.png")
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1200,900", "--screenshot="+png,
		"file://"+filepath.Join(dir, "index.html"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, b)
	}
	f, err := os.Open(png)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := imgpng.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	// the matrix's green cells and the charts' blue bars must be there: count non-white pixels
	b := img.Bounds()
	inked := 0
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				inked++
			}
		}
	}
	if total := (b.Dx() / 4) * (b.Dy() / 4); inked < total/50 {
		t.Errorf("the rendered page is nearly blank: %d of %d sampled pixels are not white", inked, total)
	}
}

// kernelGOFLAGS is the Makefile's GOFLAGS for the kernel (its packages without bounds checks), so the
// list of those packages is written once.
func kernelGOFLAGS() string {
	b, err := os.ReadFile("../Makefile")
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "export GOFLAGS := "); ok {
				return "GOFLAGS=" + v
			}
		}
	}
	return "GOFLAGS=" + os.Getenv("GOFLAGS")
}
