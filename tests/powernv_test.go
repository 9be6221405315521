package tests

import (
	"lazymm/kernel/catalog"

	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// powernv9's own path (docs/PPC64.md): skiboot's entry, hypervisor mode, OPAL's console, RTC and
// power-off, OPAL_START_CPU and XIVE's IPIs, and each MMU mode with the kernel as hypervisor (radix,
// and hash on the kernel's own HPT). Every boot pays skiboot first: under TCG here about 1.5 s at 1
// CPU, 2.5 s at 2 and 5 s at 4 (single-threaded, as the runner runs 4 vCPUs on 2 cores).

// TestPowernv9Suite: the whole suite (smoke, SMP, munmap-shootdown and the lazy-mm scheme × scenario
// matrix) at 1, 2 and 4 CPUs in radix, the default mode, and at 4 CPUs in each other MMU mode, every
// test as suiteWant says. A 4-CPU suite is several boots, which the runner runs two at once (the
// membarrier boot alone): those run one after another; the 1- and 2-CPU suites, a QEMU each, run
// beside each other. 90 s on 2 cores.
func TestPowernv9Suite(t *testing.T) {
	img := ppc64Kernel(t)
	needSkiboot(t)
	ppc64, _ := catalog.ArchByName("ppc64")
	for _, mmu := range ppc64.MMUs {
		t.Run(mmu, func(t *testing.T) {
			counts := []int{4}
			if mmu == ppc64.MMUs[0] {
				counts = []int{4, 1, 2}
			}
			for _, cpus := range counts {
				t.Run(fmt.Sprintf("cpus=%d", cpus), func(t *testing.T) {
					if cpus < 4 {
						t.Parallel()
					}
					rep, out, rc := bootArch(t, "ppc64", img, "-machine", "powernv9", "-mmu", mmu, "-cpus", fmt.Sprint(cpus), "-timeout", "180s")
					if rc != 0 || rep.Outcome != "pass" {
						t.Fatalf("rc=%d outcome=%s\n%s", rc, rep.Outcome, out)
					}
					if rep.CPUsOnline != cpus {
						t.Errorf("%d CPUs online, want %d", rep.CPUsOnline, cpus)
					}
					checkSuite(t, rep, mmu, cpus, schemes)
				})
			}
		})
	}
}

// TestPowernv9Injected: every ppc64 injection of the catalogue on powernv9, each caught by the
// detector the catalogue names for its mode, in the set the pseries tests run
// (TestInjectedFailuresPPC64: ppc64Injections): 70 boots, 100 s on
// 2 cores. Not every mode each applies to: one the default mode catches with the same detector runs
// only there (every mode would be about 145 boots, 2 minutes more). Each boots at the fewest CPUs
// its bug needs (the catalogue's CPUs, as runner -inject all plans it), not checkInjection's 4:
// skiboot under single-threaded TCG takes 5 s at 4 CPUs, 2.5 s at 2; ap-missing keeps 4, so that
// the CPU it reports missing is CPU 3. Two boots at once (go test's -parallel, GOMAXPROCS).
func TestPowernv9Injected(t *testing.T) {
	img := ppc64Kernel(t)
	needSkiboot(t)
	for _, r := range append(ppc64Injections(t), powernvInjections(t)...) {
		t.Run(modeOf("ppc64", r.mmu, r.c.inject)+"/"+r.c.inject, func(t *testing.T) {
			t.Parallel()
			args := []string{"-machine", "powernv9"}
			if r.mmu != "" {
				args = append(args, "-mmu", r.mmu)
			}
			if in, _ := catalog.InjectionByName(r.c.inject); r.c.inject != "ap-missing" {
				args = append(args, "-cpus", fmt.Sprint(in.CPUs)) // checkInjection's -cpus 4 comes first: the last wins
			}
			checkInjection(t, "ppc64", img, r.c, args...)
		})
	}
}

// powernvInjections are the injections of powernv9's own code (the catalogue's Machines), each in
// the mode it selects.
func powernvInjections(t *testing.T) []injectRun {
	var out []injectRun
	for _, in := range catalog.Injections {
		if in.Machines != nil && in.AppliesOn("powernv9") {
			c, ok := injectCases[in.Name]
			if !ok {
				t.Fatalf("injection %s has no case here", in.Name)
			}
			c.inject = in.Name
			out = append(out, injectRun{"", c})
		}
	}
	return out
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
