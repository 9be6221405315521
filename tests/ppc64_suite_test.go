package tests

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// The ppc64 kernel with the hosted runtime (entry boot) on QEMU's pseries, through the runner: the
// smoke and SMP suites at 1, 2, 4 and 8 CPUs, and the injected failures the harness and the
// detectors that run on ppc64 must see. The tests that need test address spaces skip there, saying
// why (radix PID switching is issue 7's); this checks they say so rather than pass.

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

func TestSuitePPC64(t *testing.T) {
	img := ppc64Kernel(t)
	for _, cpus := range []int{1, 2, 4, 8} {
		t.Run(fmt.Sprintf("cpus=%d", cpus), func(t *testing.T) {
			rep, out, rc := bootArch(t, "ppc64", img, "-cpus", fmt.Sprint(cpus), "-timeout", "120s")
			if rc != 0 || rep.Outcome != "pass" {
				t.Fatalf("rc=%d outcome=%s\n%s", rc, rep.Outcome, out)
			}
			if rep.CPUsOnline != cpus {
				t.Errorf("%d CPUs online, want %d", rep.CPUsOnline, cpus)
			}
			want := map[string]bool{}
			for _, name := range []string{"smoke/goroutines", "smoke/preempt", "smoke/alloc", "smoke/gc", "smoke/timers",
				"smoke/panic", "smoke/stdlib", "smoke/poison", "smp/online", "smp/concurrent", "smp/ipi-pingpong",
				"smp/ipi-broadcast", "smp/nmi", "smp/crosscall", "smp/pinned", "smp/shootdown", "smp/clock",
				"smp/gc-load", "smoke/report"} {
				want[name] = false
			}
			for _, tc := range rep.Tests {
				if _, ok := want[tc.Name]; ok {
					want[tc.Name] = tc.Outcome == "pass"
					continue
				}
				if tc.Outcome != "skip" || !strings.Contains(tc.Reason, "issue 7") {
					t.Errorf("%s: outcome %s (%q), want a skip that names what is missing", tc.Name, tc.Outcome, tc.Reason)
				}
			}
			for name, passed := range want {
				if !passed {
					t.Errorf("%s did not pass", name)
				}
			}
			if cpus > 1 {
				for _, tc := range rep.Tests {
					if tc.Name == "smp/ipi-pingpong" && tc.Metrics["round_trips"] == 0 {
						t.Errorf("smp/ipi-pingpong made no round trips: %v", tc.Metrics)
					}
				}
			}
		})
	}
}

func TestInjectedFailuresPPC64(t *testing.T) {
	img := ppc64Kernel(t)
	cases := []struct {
		inject, check string
		detail        []string
	}{
		{"panic", "crash", []string{"injected panic"}},
		{"fault", "crash", []string{"vector 0x0000000000000300", "dar=0x00000000dead0000"}}, // a DSI at the bad address
		{"hang", "timeout", []string{"QEMU killed"}},
		{"no-preempt-signal", "timeout", []string{"QEMU killed"}},
		{"ap-missing", "cpu-online", []string{"CPU 3", "did not come online"}},
		// the remote tlbiel is skipped: the other CPUs' TLBs keep the translations
		{"no-shootdown", "stale-tlb", []string{"stale translation"}},
		{"write-after-free", "poison", []string{"offset 0x40 holds 0x5eed"}},
	}
	for _, c := range cases {
		t.Run(c.inject, func(t *testing.T) {
			t.Parallel()
			rep, out, rc := bootArch(t, "ppc64", img, "-inject", c.inject, "-timeout", "8s", "-cpus", "4")
			if rc != 0 || rep.Outcome != "pass" || len(rep.Tests) == 0 {
				t.Fatalf("rc=%d outcome=%s\n%s", rc, rep.Outcome, out)
			}
			tc := rep.Tests[0]
			if tc.Name != "inject/"+c.inject || tc.Outcome != "fail" || !tc.AsExpected {
				t.Fatalf("test %+v", tc)
			}
			var details []string
			for _, f := range tc.Failures {
				if f.Check == c.check {
					details = append(details, f.Detail)
				}
			}
			all := strings.Join(details, "\n")
			for _, d := range c.detail {
				if !strings.Contains(all, d) {
					t.Errorf("no %s failure saying %q in %+v", c.check, d, tc.Failures)
				}
			}
		})
	}
}
