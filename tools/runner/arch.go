package main

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"time"

	"golang.org/x/arch/ppc64/ppc64asm"
	"golang.org/x/arch/x86/x86asm"

	"lazymm/kernel/catalog"
	"lazymm/kernel/protocol"
)

// archSpec is everything the runner knows of an arch: the catalogue's (MMU modes, machines, CPU
// limit), how QEMU runs it, what QEMU's exit status means there, and how to read its crash dumps.
type archSpec struct {
	catalog.Arch
	QEMU, Package string            // QEMU's binary and the Debian package that has it
	CPUModel      string            // TCG's -cpu
	MachineOpts   string            // appended to -machine
	Unsupported   map[string]string // QEMU machines the kernel does not boot on yet, and why
	MemAlignMB    int               // -mem must be a multiple of it (0: any)
	CDROM         bool              // boots a GRUB ISO (-cdrom)
	KernelBIOS    string            // the firmware for -kernel boots, where QEMU's data has it ("": QEMU's default)
	SMP           func(cpus int) string
	Devices       []string // extra QEMU arguments of the machine
	// timeout planning: a boot's fixed cost and one test's, at one vCPU per host core, under TCG,
	// about 5 times what was measured on an idle host (the whole suite at 4 CPUs on 2 host cores:
	// amd64 15 s, ppc64 85 s), so a loaded host does not fail a healthy kernel
	BootCost, TestCost time.Duration
	Exit               exitSpec
	ISA                isaSpec
}

// exitSpec says what QEMU's exit status means on an arch.
type exitSpec struct {
	OK       int    // the status of a kernel that ran to its end
	OKWhat   string // what status OK says, where it carries no verdict
	Verdict  bool   // whether the status carries the kernel's verdict (else the console alone decides)
	Describe func(status int) string
}

// isaSpec is what the symbolizer needs of an arch's images and crash dumps.
type isaSpec struct {
	Machine elf.Machine
	Order   binary.ByteOrder
	PCKey   string // the crash line's key for the faulting address
	Align   uint64 // the kernel dumps code from an address aligned so (1: as is)
	// TopBits are address bits the MMU ignores in real mode: a pc with them set is the image's without
	TopBits uint64
	Decode  func(s *symbolizer, code []byte, pc uint64) (string, int, error)
	Cause   func(h protocol.Line) string // the trap's cause from the crash header, or ""
}

// arches are the runner's arches, in catalog.Arches's order.
var arches = []*archSpec{
	{
		Arch: mustArch("amd64"), QEMU: "qemu-system-x86_64", Package: "qemu-system-x86", CPUModel: "max", CDROM: true,
		// qboot loads the -kernel image without SeaBIOS's device probing: 46 ms less a boot
		// (docs/BOOT.md); the ISO boots through SeaBIOS, as GRUB needs its disk services
		KernelBIOS: "qboot.rom",
		// one CPU per socket: the MP table (the fallback when ACPI is off) lists one CPU per package
		SMP:      func(n int) string { return fmt.Sprintf("%d,sockets=%d,cores=1,threads=1", n, n) },
		Devices:  []string{"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"},
		BootCost: 15 * time.Second, TestCost: 500 * time.Millisecond,
		Exit: exitSpec{OK: statusKernelOK, Verdict: true, Describe: describeDebugExit},
		ISA:  isaSpec{Machine: elf.EM_X86_64, Order: binary.LittleEndian, PCKey: "rip", Align: 1, Decode: decodeX86},
	},
	{
		// pseries with VOF (QEMU's minimal firmware, which enters the image and serves
		// /chosen/bootargs, the -append words, through its client interface); the hypervisor vterm is
		// the first -serial
		Arch: mustArch("ppc64"), QEMU: "qemu-system-ppc64", Package: "qemu-system-ppc", CPUModel: "power9",
		MachineOpts: ",x-vof=on", MemAlignMB: 256,
		Unsupported: map[string]string{
			"powernv":   "the ppc64 kernel boots on pseries and powernv9 (skiboot; docs/PPC64.md): say -machine powernv9",
			"powernv8":  "POWER8 has no partition table (its HPT is in SDR1), which the kernel's powernv path sets: -machine powernv9",
			"powernv10": "not tried yet: -machine powernv9"},
		SMP:      func(n int) string { return fmt.Sprint(n) },
		BootCost: 30 * time.Second, TestCost: 2 * time.Second,
		Exit: exitSpec{OK: statusPowerOff, OKWhat: "the machine powered off", Describe: describePowerOff},
		ISA: isaSpec{Machine: elf.EM_PPC64, Order: binary.BigEndian, PCKey: "pc", Align: 4, TopBits: 0xf << 60,
			Decode: decodePPC64, Cause: ppc64Cause},
	},
}

func mustArch(name string) catalog.Arch {
	a, ok := catalog.ArchByName(name)
	if !ok {
		panic("catalog has no arch " + name)
	}
	return a
}

// archNamed finds an arch of the table.
func archNamed(name string) *archSpec {
	for _, a := range arches {
		if a.Name == name {
			return a
		}
	}
	return nil
}

func archNames() []string {
	var out []string
	for _, a := range arches {
		out = append(out, a.Name)
	}
	return out
}

// Native says whether this host runs the arch's code (ppc64le hosts run big-endian ppc64 guests).
func (a *archSpec) Native() bool { return strings.HasPrefix(runtime.GOARCH, a.Name) }

// GDB is the gdb that debugs the arch's kernel from this host: gdb-multiarch for a foreign one.
func (a *archSpec) GDB() string {
	if a.Native() {
		return "gdb"
	}
	return "gdb-multiarch"
}

// DefaultMMU is the arch's default MMU mode ("" where it has one).
func (a *archSpec) DefaultMMU() string { return a.MMUs[0] }

// describeExit explains a QEMU exit status in the kernel's terms.
func (a *archSpec) describeExit(s int) string {
	switch {
	case s == statusAttached:
		return "attached to a running console: no exit status"
	case s < 0:
		return "killed"
	}
	return a.Exit.Describe(s)
}

// Exit statuses of QEMU with isa-debug-exit (amd64): (v<<1)|1 for the value v the kernel wrote.
const (
	statusQEMUSelf = 0 // triple fault with -no-reboot, or QEMU ended on its own
	statusKernelOK = 1 // exit_group(0)
)

// statusPowerOff is QEMU's exit status when a ppc64 kernel powers the machine off through RTAS: the
// same whatever the verdict (power-off carries no status), so on ppc64 the console alone decides.
const statusPowerOff = 0

func describeDebugExit(s int) string {
	switch {
	case s == statusQEMUSelf:
		return "QEMU exited by itself (triple fault or reset)"
	case s == statusKernelOK:
		return "kernel exited with status 0"
	case s%2 == 1 && s <= 127:
		return fmt.Sprintf("kernel exited with status %d", (s-1)/2)
	case s%2 == 1 && s >= 193:
		return fmt.Sprintf("kernel crashed on CPU exception vector %d", (s-1)/2-0x60)
	}
	return fmt.Sprintf("QEMU exit status %d (QEMU error?)", s)
}

func describePowerOff(s int) string {
	if s == statusPowerOff {
		return "the machine powered off (RTAS or OPAL power-off carries no status: the console is the verdict)"
	}
	return fmt.Sprintf("QEMU exit status %d (QEMU error? the ppc64 kernel can only power off, with status 0)", s)
}

func decodeX86(_ *symbolizer, code []byte, pc uint64) (string, int, error) {
	inst, err := x86asm.Decode(code, 64)
	if err != nil {
		return "", 0, err
	}
	return x86asm.GoSyntax(inst, pc, nil), inst.Len, nil
}

// decodePPC64 shows a word that does not decode as a WORD and steps over it (instructions are 4
// bytes, or 8 when prefixed), so one odd word does not end the listing.
func decodePPC64(s *symbolizer, code []byte, pc uint64) (string, int, error) {
	inst, err := ppc64asm.Decode(code, s.order)
	if err != nil {
		if len(code) < 4 {
			return "", 0, err
		}
		return fmt.Sprintf("WORD $%#08x", s.order.Uint32(code)), 4, nil
	}
	return ppc64asm.GoSyntax(inst, pc, s.symname), inst.Len, nil
}
