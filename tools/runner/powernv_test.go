package main

import (
	"strings"
	"testing"
)

// powernv9: skiboot's machine, its BMC added back after -nodefaults, 2 GiB unless -mem says, and
// no pseries option.
func TestQEMUArgsPowernv(t *testing.T) {
	kernel := testKernel(t)
	b := planned(t, "-kernel", kernel, "-arch", "ppc64", "-machine", "powernv9", "-append", "tests=smoke/")[0]
	line := " " + strings.Join(qemuArgs(b), " ") + " "
	at := 0
	for _, w := range []string{"-machine powernv9", "-m 2048", "-smp 1", "-nodefaults", "-no-reboot", "-serial stdio",
		"-device ipmi-bmc-sim,id=bmc0 -device isa-ipmi-bt,bmc=bmc0,irq=10", "-kernel " + kernel,
		"-cpu power9", "-append tests=smoke/"} {
		i := strings.Index(line[at:], " "+w+" ")
		if i < 0 {
			t.Fatalf("%q not found (in order) in %q", w, line)
		}
		at += i + len(w)
	}
	for _, n := range []string{"x-vof", "pseries", "-bios"} {
		if strings.Contains(line, n) {
			t.Errorf("%q should not be in %q", n, line)
		}
	}
	if b := planned(t, "-kernel", kernel, "-arch", "ppc64", "-machine", "powernv9", "-cpus", "4")[0]; !strings.Contains(strings.Join(qemuArgs(b), " "), "-smp 4 ") {
		t.Errorf("-cpus 4: %q", qemuArgs(b))
	}
	if b := planned(t, "-kernel", kernel, "-arch", "ppc64", "-machine", "powernv9", "-mem", "1024")[0]; b.MemMB != 1024 {
		t.Errorf("-mem 1024 gave %d MiB", b.MemMB)
	}
	if b := planned(t, "-kernel", kernel, "-arch", "ppc64")[0]; !strings.Contains(strings.Join(qemuArgs(b), " "), "-machine pseries,x-vof=on -m 512") {
		t.Errorf("pseries changed: %q", qemuArgs(b))
	}
}

// What powernv9 does not boot yet is refused, saying why.
func TestPowernvRefusals(t *testing.T) {
	kernel := testKernel(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-cpus", "9"}, "-cpus 9 is not supported on powernv9 yet: powernv9 boots up to 8 CPUs"},
		{[]string{"-append", "nmi=reset"}, "-append nmi=reset is not supported on powernv9 yet: OPAL_SIGNAL_SYSTEM_RESET"},
		{[]string{"-mem", "512"}, "-mem 512: powernv9 wants 1024 MiB at least"},
		{[]string{"-machine", "powernv8"}, "-machine powernv8 is not supported yet: POWER8 has no partition table"},
	} {
		args := append([]string{"-kernel", kernel, "-arch", "ppc64", "-machine", "powernv9"}, c.args...)
		if rc, _, stderr := runOut(args...); rc != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: status %d, stderr %q; want 2 and %q", c.args, rc, stderr, c.want)
		}
	}
}

// An injection of one machine's own code runs there, in -inject all and the matrix, and is refused
// elsewhere with the reason.
func TestMachineInjection(t *testing.T) {
	kernel := testKernel(t)
	rc, _, stderr := runOut("-kernel", kernel, "-arch", "ppc64", "-inject", "hpt-no-tlbie")
	if want := "-inject hpt-no-tlbie runs only on -machine powernv9"; rc != 2 || !strings.Contains(stderr, want) {
		t.Errorf("on pseries: status %d, stderr %q; want 2 and %q", rc, stderr, want)
	}
	has := func(args ...string) bool {
		for _, b := range planned(t, append([]string{"-kernel", kernel, "-arch", "ppc64", "-mmu", "hash", "-inject", "all"}, args...)...) {
			if b.Inject == "hpt-no-tlbie" {
				return true
			}
		}
		return false
	}
	if !has("-machine", "powernv9") || has() {
		t.Errorf("-inject all plans hpt-no-tlbie on powernv9 %v, on pseries %v: want on powernv9 only", has("-machine", "powernv9"), has())
	}
}
