package tests

import (
	"strings"
	"testing"
)

// munmap-shootdown's broadcast probe (kernel/suites/tlb/probe.go): where flushes are the hardware's
// broadcast (POWER's tlbie, the HPT's removal), a broadcast that does not reach the other CPUs must
// show up as a skip saying so, never as a pass. Its negative control is the kernel word
// noprobebroadcast, which leaves the probe's broadcast out: every CPU then reads an old token and
// the scenario must be skipped with that reason; without it, the probe reaches every CPU and the
// scenario passes (the suite tests check that half in every mode). The runner also fails the boot as
// a whole, since its only test was skipped: a boot that verified nothing is never green.
func TestBroadcastProbeSkips(t *testing.T) {
	img := ppc64Kernel(t)
	for _, mmu := range []string{"radix-tlbie", "hash"} {
		t.Run(mmu, func(t *testing.T) {
			rep, out, _ := bootArch(t, "ppc64", img, "-mmu", mmu, "-cpus", "2",
				"-append", "tests=mm/munmap-shootdown/nopcid noprobebroadcast")
			for _, tc := range rep.Tests {
				if tc.Name == "mm/munmap-shootdown/nopcid" {
					if tc.Outcome != "skip" || !strings.Contains(tc.Reason, "did not reach CPUs [0 1]") {
						t.Errorf("outcome %s (%q), want a skip naming CPUs 0 and 1\n%s", tc.Outcome, tc.Reason, out)
					}
					return
				}
			}
			t.Fatalf("no mm/munmap-shootdown/nopcid in the report\n%s", out)
		})
	}
}
