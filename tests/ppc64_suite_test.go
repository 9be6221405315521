package tests

import (
	"lazymm/kernel/catalog"

	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// The ppc64 kernel with the hosted runtime (entry boot) on QEMU's pseries, through the runner: the whole
// suite at 1, 2, 4 and 8 CPUs in both radix invalidation modes, and the injected failures. What cannot
// run on POWER must skip, saying why.

// ppc64Kernel is the ppc64 image with the hosted runtime: make test's (LAZYMM_KERNEL_PPC64), else
// one built once for this run.
func ppc64Kernel(t *testing.T) string {
	t.Helper()
	if k := os.Getenv("LAZYMM_KERNEL_PPC64"); k != "" {
		return k
	}
	ppc64Once.Do(func() { ppc64Path = buildPPC64In(t, workDir, "lazymm/arch/ppc64.boot") })
	if ppc64Path == "" {
		t.Fatal("the ppc64 image did not build")
	}
	return ppc64Path
}

var (
	ppc64Once sync.Once
	ppc64Path string
)

// TestSuitePPC64: the whole suite at 1, 2, 4 and 8 CPUs (the lazy-mm matrix cut to two schemes at 8,
// as on amd64). What cannot run on POWER must skip, saying why: the PCID half of munmap-shootdown.
func TestSuitePPC64(t *testing.T) {
	img := ppc64Kernel(t)
	for _, cpus := range []int{1, 2, 4, 8} {
		t.Run(fmt.Sprintf("cpus=%d", cpus), func(t *testing.T) {
			args := []string{"-cpus", fmt.Sprint(cpus), "-timeout", "180s"}
			matrix := schemes
			if cpus == 8 {
				matrix = []string{"refcount", "hazard"}
				args = append(args, "-append", "tests=smoke/,smp/,mm/,lazy/refcount/,lazy/hazard/")
			}
			rep, out, rc := bootArch(t, "ppc64", img, args...)
			if rc != 0 || rep.Outcome != "pass" {
				t.Fatalf("rc=%d outcome=%s\n%s", rc, rep.Outcome, out)
			}
			if rep.CPUsOnline != cpus {
				t.Errorf("%d CPUs online, want %d", rep.CPUsOnline, cpus)
			}
			checkSuite(t, rep, "radix", cpus, matrix)
		})
	}
}

// maxLeaveIPIs bounds the flush IPIs of munmap-shootdown at 4 CPUs where the hardware carries the
// flushes: the exit's 3, and under hash, where lazy CPUs do not keep the root, one per lazy CPU of
// each 64-page munmap, which frees its tables (8 rounds: 12).
var maxLeaveIPIs = map[string]float64{"radix-tlbie": 3, "hash": 15}

// suiteWant is the outcome each test of a whole-suite ppc64 boot in mode mmu at cpus CPUs, its
// lazy-mm matrix run for the schemes of matrix, must have:
// "pass"; "skip:" and a phrase of the reason (the PCID half of munmap-shootdown: POWER has none);
// "fail:" and the detector that must catch it, for a matrix test the catalogue finds unsound there
// (catalog.Unsounds: mask-trim under mmput-unlazy and exit-flush-unlazy where the exit flush moves
// lazy CPUs).
func suiteWant(mmu string, cpus int, matrix []string) map[string]string {
	want := map[string]string{"mm/munmap-shootdown/pcid": "skip:no PCID"}
	for _, name := range []string{"smoke/goroutines", "smoke/preempt", "smoke/alloc", "smoke/gc", "smoke/timers",
		"smoke/panic", "smoke/stdlib", "smoke/poison", "smp/online", "smp/concurrent", "smp/ipi-pingpong",
		"smp/ipi-broadcast", "smp/nmi", "smp/crosscall", "smp/pinned", "smp/shootdown", "smp/clock",
		"smp/gc-load", "mm/munmap-shootdown/nopcid", "smoke/report"} {
		want[name] = "pass"
	}
	for _, s := range matrix {
		for _, sc := range scenarios {
			want["lazy/"+s+"/"+sc] = "pass"
			if u, ok := catalog.UnsoundOn(s, sc, mmu); ok && cpus >= u.CPUs {
				want["lazy/"+s+"/"+sc] = "fail:" + u.Catch
			}
		}
	}
	return want
}

// checkSuite checks a whole-suite ppc64 boot: every test of suiteWant ran, once, with its outcome,
// and the figures checkSuiteMetrics reads are right.
func checkSuite(t *testing.T, rep report, mmu string, cpus int, matrix []string) {
	t.Helper()
	want := suiteWant(mmu, cpus, matrix)
	for i, tc := range rep.Tests {
		w, ok := want[tc.Name]
		if !ok {
			t.Errorf("unexpected test %s (or it ran twice)", tc.Name)
			continue
		}
		delete(want, tc.Name)
		kind, arg, _ := strings.Cut(w, ":")
		switch {
		case kind == "skip" && (tc.Outcome != "skip" || !strings.Contains(tc.Reason, arg)):
			t.Errorf("%s: outcome %s (%q), want a skip saying %q", tc.Name, tc.Outcome, tc.Reason, arg)
		case kind == "fail" && (tc.Outcome != "fail" || tc.Catch != arg || !tc.AsExpected):
			t.Errorf("%s: outcome %s, detector %q, as expected %v: want a failure %s catches (catalog.Unsounds)", tc.Name, tc.Outcome, tc.Catch, tc.AsExpected, arg)
		case kind == "pass" && tc.Outcome != "pass":
			t.Errorf("%s: outcome %s", tc.Name, tc.Outcome)
		}
		checkSuiteMetrics(t, rep, i, mmu, cpus)
	}
	for name := range want {
		t.Errorf("%s did not run", name)
	}
}

// modeFlushes is the counter of the flushes a munmap makes in each ppc64 MMU mode: by IPI under radix
// and radix-exitleave, by broadcast tlbie under radix-tlbie, by removing HPTEs under hash.
var modeFlushes = map[string]string{"radix": "flush_ipis", "radix-tlbie": "broadcast_flushes", "hash": "hpte_removes", "radix-exitleave": "flush_ipis"}

// checkSuiteMetrics checks rep.Tests[i]'s figures that show a path ran, at 2 CPUs and more: the
// ping-pong's 8 round trips each way between each pair of CPUs (XIVE on powernv9); powerpc's
// mm_cpumask, trimmed by the exit flush, so exit-flush-unlazy's final shootdown finds no CPU; each
// munmap-shootdown's flushes of the mode, and where the hardware carries them, no more flush IPIs
// than lazy CPUs leaving (maxLeaveIPIs, TestSuitePPC64Modes).
func checkSuiteMetrics(t *testing.T, rep report, i int, mmu string, cpus int) {
	t.Helper()
	name, m := rep.Tests[i].Name, rep.Tests[i].Metrics
	switch {
	case cpus == 1:
	case name == "smp/ipi-pingpong" && m["round_trips"] != float64(8*cpus*(cpus-1)):
		t.Errorf("smp/ipi-pingpong: %v round trips, want %d", m["round_trips"], 8*cpus*(cpus-1))
	case name == "lazy/exit-flush-unlazy/exit-while-lazy" && (m["trimmed"] == 0 || m["shoot_ipis"] != 0):
		t.Errorf("%s: trimmed %v, shootdown IPIs %v: want a trimmed mask and none", name, m["trimmed"], m["shoot_ipis"])
	case !strings.HasPrefix(name, "lazy/") || !strings.HasSuffix(name, "/munmap-shootdown"):
	case m[modeFlushes[mmu]] == 0:
		t.Errorf("%s: no %s: %v", name, modeFlushes[mmu], m)
	case modeFlushes[mmu] != "flush_ipis" && m["flush_ipis"] > maxLeaveIPIs[mmu]:
		t.Errorf("%s: %v flush IPIs: %s sends them only to lazy CPUs leaving a freed mm or freed tables", name, m["flush_ipis"], mmu)
	}
}

// TestSuitePPC64Modes: the TLB scenario and the lazy-mm matrix at 4 CPUs in the MMU modes other than
// the default: radix with broadcast tlbie and the hash MMU (H_REMOVE), whose flushes go through the
// hardware, the only flush IPIs left sending lazy CPUs off an mm (at most one per other CPU), and
// radix-exitleave, flushes by IPI, lazy CPUs leaving at exit_mmap as on x86. The figures are
// checkSuiteMetrics's (modeFlushes: each mode's own kind of flush).
func TestSuitePPC64Modes(t *testing.T) {
	img := ppc64Kernel(t)
	ppc64, _ := catalog.ArchByName("ppc64")
	for _, mmu := range ppc64.MMUs[1:] {
		t.Run(mmu, func(t *testing.T) {
			rep, out, rc := bootArch(t, "ppc64", img, "-cpus", "4", "-timeout", "180s", "-mmu", mmu, "-append", "tests=mm/,lazy/")
			if rc != 0 || rep.Outcome != "pass" {
				t.Fatalf("rc=%d outcome=%s\n%s", rc, rep.Outcome, out)
			}
			ran := 0
			for i, tc := range rep.Tests {
				checkSuiteMetrics(t, rep, i, mmu, 4)
				if strings.HasPrefix(tc.Name, "lazy/") && strings.HasSuffix(tc.Name, "/munmap-shootdown") {
					ran++
				}
			}
			if ran != len(schemes) {
				t.Errorf("%d lazy/*/munmap-shootdown tests ran, want %d", ran, len(schemes))
			}
		})
	}
}

// TestInjectedFailuresPPC64 runs every injected failure (nmi-no-check too: the soft NMI) in the
// default mode or the one it selects, then in every other MMU mode those that apply there and not in
// the default mode, or that another detector must catch there (the catalogue's Injection.CatchOn:
// e.g. under hash a missing flush IPI breaks only the move of lazy CPUs off a freed mm, which the root
// audit reading the SLB sees): ppc64Injections, which powernv9 runs too.
func TestInjectedFailuresPPC64(t *testing.T) {
	img := ppc64Kernel(t)
	for _, r := range ppc64Injections(t) {
		t.Run(modeOf("ppc64", r.mmu, r.c.inject)+"/"+r.c.inject, func(t *testing.T) {
			t.Parallel()
			var args []string
			if r.mmu != "" {
				args = append(args, "-mmu", r.mmu)
			}
			checkInjection(t, "ppc64", img, r.c, args...)
		})
	}
}

// injectRun is an injection and the MMU mode to boot it in ("": the default, or the one it selects).
type injectRun struct {
	mmu string
	c   injectCase
}

// ppc64Injections are the injections the pseries tests run: every one in the default mode (those
// that select a mode of their own, in theirs), with ppc64's phrases (ppc64Detail), then in each
// other mode those that do not apply in the default one or that another detector must catch there.
func ppc64Injections(t *testing.T) []injectRun {
	ppc64, _ := catalog.ArchByName("ppc64")
	var out []injectRun
	def := map[string]string{} // injection: its detector in the default run
	for _, c := range casesFor(t, "ppc64", "", true) {
		if d, ok := ppc64Detail[c.inject]; ok {
			c.detail = d
		}
		def[c.inject] = c.check
		out = append(out, injectRun{"", c})
	}
	for _, mmu := range ppc64.MMUs[1:] {
		for _, c := range casesFor(t, "ppc64", mmu, false) {
			if d, ok := ppc64Detail[c.inject]; ok && c.check == injectCases[c.inject].check {
				c.detail = d // ppc64's phrases are for the injection's own detector, not another mode's
			}
			if check, ok := def[c.inject]; !ok || check != c.check {
				out = append(out, injectRun{mmu, c})
			}
		}
	}
	return out
}
