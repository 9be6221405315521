package tests

import (
	"strings"
	"testing"
)

// munmap-shootdown's broadcast probe (kernel/suites/tlb/probe.go): where flushes are the hardware's
// broadcast (POWER's tlbie, the HPT's removal), a broadcast that does not reach the other CPUs must
// show up as a skip naming them, never as a pass; one that does not even invalidate the CPU that
// issued it is the kernel's fault, a stale-tlb failure. The kernel word noprobebroadcast makes the
// probe's invalidation its own CPU's only (tlbiel), where the arch can: the other CPU then reads an
// old token and the scenario is skipped with that reason. Under pseries's hash the removal
// (H_REMOVE) is global, so the word removes nothing and CPU 0 reads the old token too: the failure.
// Without the word the probe reaches every CPU and the scenario passes (the suite tests, every mode).
// The runner fails a boot whose only test was skipped as a whole: a boot that verified nothing is
// never green; these look at the test's own outcome.
func TestBroadcastProbeSkips(t *testing.T) {
	img := ppc64Kernel(t)
	for _, c := range []struct{ machine, mmu, outcome, says string }{
		{"pseries", "radix-tlbie", "skip", "did not reach CPUs [1]"},
		{"powernv9", "hash", "skip", "did not reach CPUs [1]"},
		{"pseries", "hash", "fail", "did not invalidate even CPU 0"},
	} {
		t.Run(c.machine+"/"+c.mmu, func(t *testing.T) {
			if c.machine == "powernv9" {
				needSkiboot(t)
			}
			rep, out, _ := bootArch(t, "ppc64", img, "-machine", c.machine, "-mmu", c.mmu, "-cpus", "2",
				"-append", "tests=mm/munmap-shootdown/nopcid noprobebroadcast")
			for _, tc := range rep.Tests {
				if tc.Name != "mm/munmap-shootdown/nopcid" {
					continue
				}
				got := tc.Reason
				for _, f := range tc.Failures {
					got += f.Detail
				}
				if tc.Outcome != c.outcome || !strings.Contains(got, c.says) {
					t.Errorf("outcome %s (%q), want %s saying %q\n%s", tc.Outcome, got, c.outcome, c.says, out)
				}
				return
			}
			t.Fatalf("no mm/munmap-shootdown/nopcid in the report\n%s", out)
		})
	}
}
