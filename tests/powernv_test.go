package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// powernv9's own path (docs/PPC64.md): skiboot's entry, hypervisor mode, OPAL's console, RTC and
// power-off, OPAL_START_CPU and doorbells. The whole suite runs on pseries (TestSuitePPC64); here a
// subset that crosses each of these, kept short because skiboot alone takes about 1.5 s a boot.

// powernvTests are the tests booted on powernv9: smoke, SMP, munmap-shootdown and exit-while-lazy
// under two schemes (its refcount injection is the bug this file injects).
const powernvTests = "tests=smoke/,smp/,mm/,lazy/refcount/exit-while-lazy,lazy/shootdown/exit-while-lazy"

// TestPowernv9 boots the subset at 1 and 2 CPUs: every test passes but the PCID half of
// munmap-shootdown, and at 2 CPUs the IPI round trips go by doorbell.
func TestPowernv9(t *testing.T) {
	img := ppc64Kernel(t)
	needSkiboot(t)
	for _, cpus := range []int{1, 2} {
		t.Run(fmt.Sprintf("cpus=%d", cpus), func(t *testing.T) {
			rep, out, rc := bootArch(t, "ppc64", img, "-machine", "powernv9", "-cpus", fmt.Sprint(cpus), "-append", powernvTests)
			if rc != 0 || rep.Outcome != "pass" {
				t.Fatalf("rc=%d outcome=%s\n%s", rc, rep.Outcome, out)
			}
			if rep.CPUsOnline != cpus {
				t.Errorf("%d CPUs online, want %d", rep.CPUsOnline, cpus)
			}
			checkPowernvTests(t, rep, cpus)
		})
	}
}

// checkPowernvTests checks each test's outcome and that the lazy-mm scenario ran under both schemes.
func checkPowernvTests(t *testing.T, rep report, cpus int) {
	t.Helper()
	lazy := 0
	for _, tc := range rep.Tests {
		switch {
		case tc.Name == "mm/munmap-shootdown/pcid":
			if tc.Outcome != "skip" || !strings.Contains(tc.Reason, "no PCID") {
				t.Errorf("%s: outcome %s (%q), want a skip saying no PCID", tc.Name, tc.Outcome, tc.Reason)
			}
			continue
		case tc.Outcome != "pass":
			t.Errorf("%s: outcome %s", tc.Name, tc.Outcome)
		case tc.Name == "smp/ipi-pingpong" && cpus > 1 && tc.Metrics["round_trips"] == 0:
			t.Errorf("smp/ipi-pingpong made no round trips: %v", tc.Metrics)
		}
		if strings.HasPrefix(tc.Name, "lazy/") {
			lazy++
		}
	}
	if lazy != 2 {
		t.Errorf("%d lazy-mm tests ran, want 2 (refcount and shootdown under exit-while-lazy)", lazy)
	}
}

// TestPowernv9Injected: a missing mm grab in the refcount scheme, at 2 CPUs, must be caught there by
// the detector the catalogue names for the default radix mode.
func TestPowernv9Injected(t *testing.T) {
	img := ppc64Kernel(t)
	needSkiboot(t)
	for _, c := range casesFor(t, "ppc64", "", false) {
		if c.inject == "refcount-no-grab" {
			// checkInjection boots at 4 CPUs; the later -cpus wins (the flag package keeps the last)
			checkInjection(t, "ppc64", img, c, "-machine", "powernv9", "-cpus", "2")
			return
		}
	}
	t.Fatal("refcount-no-grab is not a ppc64 injection of the catalogue")
}

// needSkiboot skips the test when QEMU's data directory (<its binary's directory>/../share/qemu, the
// first place QEMU looks for firmware) has no skiboot.lid, powernv9's default firmware.
func needSkiboot(t *testing.T) {
	t.Helper()
	bin, err := exec.LookPath("qemu-system-ppc64")
	if err != nil {
		t.Fatal("qemu-system-ppc64 is not installed: run `make setup`")
	}
	if bin, err = filepath.EvalSymlinks(bin); err != nil {
		t.Fatal(err)
	}
	lid := filepath.Join(filepath.Dir(bin), "..", "share", "qemu", "skiboot.lid")
	if _, err := os.Stat(lid); err != nil {
		t.Skipf("powernv9 needs QEMU's skiboot.lid, which this QEMU lacks (%v)", err)
	}
}
