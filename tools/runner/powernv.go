package main

import (
	"fmt"
	"strings"
)

// machineSpec is what a machine changes in its arch's QEMU command line and what it boots so far.
type machineSpec struct {
	Arch     string
	Opts     string   // appended to -machine, instead of the arch's MachineOpts
	Devices  []string // instead of the arch's Devices
	MemMB    int      // -mem when not given
	MinMemMB int
	MaxCPUs  int
	Words    map[string]string // kernel words (-append) that do not work there, and why
	Why      string            // why the rest does not, yet
}

// machineSpecs are the machines with a spec of their own (docs/PPC64.md).
var machineSpecs = map[string]machineSpec{
	// powernv9 with skiboot, QEMU's default firmware for it: the kernel runs in hypervisor mode
	// with its own partition table, console and power-off through OPAL, the other CPUs started by
	// OPAL_START_CPU, IPIs by hypervisor doorbells. skiboot powers off and reads the time of day
	// through the BMC (IPMI), which -nodefaults leaves out: it is added back. QEMU wants 1 GiB at
	// least (skiboot lives at 768 MiB). -smp N is N cores of one thread (QEMU 7.2's skiboot hangs
	// with threads=2); up to 8 were tried.
	"powernv9": {Arch: "ppc64",
		Devices: []string{"-device", "ipmi-bmc-sim,id=bmc0", "-device", "isa-ipmi-bt,bmc=bmc0,irq=10"},
		MemMB:   2048, MinMemMB: 1024, MaxCPUs: 8,
		Words: map[string]string{"nmi=reset": "OPAL_SIGNAL_SYSTEM_RESET needs the core's direct controls (XSCOM), " +
			"which QEMU 7.2's powernv9 lacks: the soft NMI, the default, works"},
		Why: "powernv9 boots up to 8 CPUs (tried; one thread per core)"},
}

// machineArg is -machine's value for the boot.
func machineArg(b *Boot) string {
	if m, ok := machineSpecs[b.Machine]; ok {
		return b.Machine + m.Opts
	}
	return b.Machine + b.Arch.MachineOpts
}

// machineDevices are the boot's extra QEMU arguments.
func machineDevices(b *Boot) []string {
	if m, ok := machineSpecs[b.Machine]; ok {
		return m.Devices
	}
	return b.Arch.Devices
}

// checkMachine checks what the machine's spec limits: memory (its default when -mem is not given),
// CPUs, kernel words.
func (c *Config) checkMachine(f *flags, add func(error)) {
	m, ok := machineSpecs[c.Machine]
	if !ok || m.Arch != c.Arch.Name {
		return
	}
	if !f.set["mem"] {
		c.MemMB = m.MemMB
	}
	if c.MemMB < m.MinMemMB {
		add(fmt.Errorf("-mem %d: %s wants %d MiB at least", c.MemMB, c.Machine, m.MinMemMB))
	}
	if c.CPUs > m.MaxCPUs {
		add(fmt.Errorf("-cpus %d is not supported on %s yet: %s", c.CPUs, c.Machine, m.Why))
	}
	for _, w := range strings.Fields(c.Append) {
		if why, ok := m.Words[w]; ok {
			add(fmt.Errorf("-append %s is not supported on %s yet: %s", w, c.Machine, why))
		}
	}
}

// checkMachineBoot refuses a boot (an injection's, which may raise the CPUs) that its machine does
// not boot yet.
func checkMachineBoot(b *Boot) []error {
	m, ok := machineSpecs[b.Machine]
	if !ok || m.Arch != b.Arch.Name {
		return nil
	}
	var errs []error
	if b.CPUs > m.MaxCPUs {
		errs = append(errs, fmt.Errorf("%s needs %d CPUs, not supported on %s yet: %s", b.Label, b.CPUs, b.Machine, m.Why))
	}
	return errs
}
