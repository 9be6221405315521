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
			want := map[string]string{} // test: the outcome it must have ("skip:" and a phrase of the reason)
			for _, name := range []string{"smoke/goroutines", "smoke/preempt", "smoke/alloc", "smoke/gc", "smoke/timers",
				"smoke/panic", "smoke/stdlib", "smoke/poison", "smp/online", "smp/concurrent", "smp/ipi-pingpong",
				"smp/ipi-broadcast", "smp/nmi", "smp/crosscall", "smp/pinned", "smp/shootdown", "smp/clock",
				"smp/gc-load", "mm/munmap-shootdown/nopcid"} {
				want[name] = "pass"
			}
			want["mm/munmap-shootdown/pcid"] = "skip:no PCID"
			want["smoke/report"] = "pass"
			for _, s := range matrix {
				for _, sc := range scenarios {
					want["lazy/"+s+"/"+sc] = "pass"
				}
			}
			for _, tc := range rep.Tests {
				w, ok := want[tc.Name]
				if !ok {
					t.Errorf("unexpected test %s", tc.Name)
					continue
				}
				delete(want, tc.Name)
				if reason, isSkip := strings.CutPrefix(w, "skip:"); isSkip {
					if tc.Outcome != "skip" || !strings.Contains(tc.Reason, reason) {
						t.Errorf("%s: outcome %s (%q), want a skip saying %q", tc.Name, tc.Outcome, tc.Reason, reason)
					}
				} else if tc.Outcome != "pass" {
					t.Errorf("%s: outcome %s", tc.Name, tc.Outcome)
				}
				if tc.Name == "smp/ipi-pingpong" && cpus > 1 && tc.Metrics["round_trips"] == 0 {
					t.Errorf("smp/ipi-pingpong made no round trips: %v", tc.Metrics)
				}
				// powerpc's mm_cpumask: the exit flush trims the mask, so the final shootdown finds no CPU
				if tc.Name == "lazy/exit-flush-unlazy/exit-while-lazy" && cpus > 1 && (tc.Metrics["trimmed"] == 0 || tc.Metrics["shoot_ipis"] != 0) {
					t.Errorf("%s: trimmed %v, shootdown IPIs %v: want a trimmed mask and none", tc.Name, tc.Metrics["trimmed"], tc.Metrics["shoot_ipis"])
				}
			}
			for name := range want {
				t.Errorf("%s did not run", name)
			}
		})
	}
}

// maxLeaveIPIs bounds the flush IPIs of munmap-shootdown at 4 CPUs where the hardware carries the
// flushes: the exit's 3, and under hash, where lazy CPUs do not keep the root, one per lazy CPU of
// each 64-page munmap, which frees its tables (8 rounds: 12).
var maxLeaveIPIs = map[string]float64{"radix-tlbie": 3, "hash": 15}

// TestSuitePPC64Modes: the TLB scenario and the lazy-mm matrix at 4 CPUs in the MMU modes other than
// the default: radix with broadcast tlbie and the hash MMU (H_REMOVE), whose flushes go through the
// hardware, the only flush IPIs left sending lazy CPUs off an mm (at most one per other CPU), and
// radix-exitleave, flushes by IPI, lazy CPUs leaving at exit_mmap as on x86.
func TestSuitePPC64Modes(t *testing.T) {
	img := ppc64Kernel(t)
	for _, c := range []struct{ mmu, flushes string }{
		{"radix-tlbie", "broadcast_flushes"},
		{"hash", "hpte_removes"},
		{"radix-exitleave", "flush_ipis"},
	} {
		t.Run(c.mmu, func(t *testing.T) {
			rep, out, rc := bootArch(t, "ppc64", img, "-cpus", "4", "-timeout", "180s", "-mmu", c.mmu, "-append", "tests=mm/,lazy/")
			if rc != 0 || rep.Outcome != "pass" {
				t.Fatalf("rc=%d outcome=%s\n%s", rc, rep.Outcome, out)
			}
			ran := 0
			for _, tc := range rep.Tests {
				if !strings.HasSuffix(tc.Name, "/munmap-shootdown") || !strings.HasPrefix(tc.Name, "lazy/") {
					continue
				}
				ran++
				if tc.Metrics[c.flushes] == 0 {
					t.Errorf("%s: no %s: %v", tc.Name, c.flushes, tc.Metrics)
				}
				if c.flushes != "flush_ipis" && tc.Metrics["flush_ipis"] > maxLeaveIPIs[c.mmu] {
					t.Errorf("%s: %v flush IPIs: %s sends them only to lazy CPUs leaving a freed mm or freed tables", tc.Name, tc.Metrics["flush_ipis"], c.mmu)
				}
			}
			if ran != len(schemes) {
				t.Errorf("%d lazy/*/munmap-shootdown tests ran, want %d", ran, len(schemes))
			}
		})
	}
}

// TestInjectedFailuresPPC64Modes: in every other MMU mode, the injections that apply there and not in
// the default mode, or that another detector must catch there (the catalogue's Injection.CatchOn:
// e.g. under hash a missing flush IPI breaks only the move of lazy CPUs off a freed mm, which the root
// audit reading the SLB sees).
func TestInjectedFailuresPPC64Modes(t *testing.T) {
	img := ppc64Kernel(t)
	ppc64, _ := catalog.ArchByName("ppc64")
	def := map[string]injectCase{}
	for _, c := range casesFor(t, "ppc64", "", false) {
		def[c.inject] = c
	}
	for _, mmu := range ppc64.MMUs[1:] {
		for _, c := range casesFor(t, "ppc64", mmu, false) {
			if d, ok := def[c.inject]; ok && d.check == c.check {
				continue // as in the default mode, which TestInjectedFailuresPPC64 runs
			}
			t.Run(mmu+"/"+c.inject, func(t *testing.T) {
				t.Parallel()
				checkInjection(t, "ppc64", img, c, "-mmu", mmu)
			})
		}
	}
}

// TestInjectedFailuresPPC64 runs every injected failure (nmi-no-check too: the soft NMI).
func TestInjectedFailuresPPC64(t *testing.T) {
	img := ppc64Kernel(t)
	for _, c := range casesFor(t, "ppc64", "", true) {
		if d, ok := ppc64Detail[c.inject]; ok {
			c.detail = d
		}
		t.Run(c.inject, func(t *testing.T) {
			t.Parallel()
			checkInjection(t, "ppc64", img, c)
		})
	}
}
