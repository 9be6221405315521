package ppc64

import (
	"lazymm/kernel/machine"

	"math/bits"
	"unsafe"

	"lazymm/kernel/catalog"
	"lazymm/kernel/paging"
	"lazymm/kernel/shim"
)

// Hosting the Go runtime on ppc64: what the firmware says (the command line, RAM), the frames and
// the MMU, then the runtime's own entry with the stack Linux gives a static executable. The shim
// serves its system calls from then on.

const (
	hz = 1000 // decrementer ticks per second: preemption and sleeps, as amd64's LAPIC tick

	// AT_HWCAP and AT_HWCAP2 bits (arch/powerpc/include/uapi/asm/cputable.h): the runtime refuses to
	// run without ISA 2.07 (POWER8).
	hwcap64, hwcapAltivec, hwcapFPU, hwcapMMU, hwcapVSX = 0x40000000, 0x10000000, 0x08000000, 0x04000000, 0x00000080
	hwcap2Arch207, hwcap2Arch300, hwcap2Darn            = 0x80000000, 0x00800000, 0x00200000
)

var (
	tbBoot   uint64
	nsMult   uint64 // ns = tb * nsMult >> 32
	tbMult   uint64 // tb = ns * tbMult >> 32 (no division on the trap path: Div64 is no intrinsic here)
	bootUnix int64
	hasDarn  bool
)

// In host_ppc64.s.
func enterRuntime(pc, sp, msr uint64)
func rt0Addr() uint64
func darn() uint64

// fwBuf receives firmware properties (static: boot's nosplit stack is small); bootargs receives
// /chosen/bootargs: the longest command line the runner sends, and its NUL.
var (
	fwBuf    [1024]byte
	bootargs [catalog.MaxCmdline + 1]byte
)

// readFirmware reads /chosen/bootargs into the shim's command line and /memory@0's size, through
// VOF's client interface while it is still there (before installVectors).
//
//go:nosplit
func readFirmware() {
	if promEntry == 0 {
		return
	}
	var name, path, prop [32]byte
	if chosen, ok := of(&name, "finddevice", 1, cstr(&path, "/chosen"), 0, 0, 0); ok && chosen != 0 && chosen != 0xffffffff {
		// getprop copies what fits and returns the property's whole size (a string's, with its NUL):
		// a longer line is kept in part and its size recorded, which the boot line reports
		buf := &bootargs
		n, ok := of(&name, "getprop", 4, chosen, cstr(&prop, "bootargs"), uint32(uintptr(unsafe.Pointer(&buf[0]))), uint32(len(buf)))
		if ok && n != 0xffffffff {
			for i := uint32(0); i < n && i < uint32(len(buf)) && buf[i] != 0; i++ {
				shim.CmdlineAppend(buf[i])
			}
			if n > uint32(len(buf)) {
				shim.CmdlineSize(int(n) - 1)
			}
		}
	}
	var reg [4]uint32 // #address-cells = #size-cells = 2
	if mem, ok := of(&name, "finddevice", 1, cstr(&path, "/memory@0"), 0, 0, 0); ok && mem != 0 && mem != 0xffffffff {
		n, ok := of(&name, "getprop", 4, mem, cstr(&prop, "reg"), uint32(uintptr(unsafe.Pointer(&reg[0]))), 16)
		if ok && n == 16 && reg[0] == 0 && reg[1] == 0 {
			memBytes = uint64(reg[2])<<32 | uint64(reg[3])
		}
	}
}

// hostMain sets the machine up for the runtime and enters it; it does not return.
//
//go:nosplit
func hostMain() {
	if memBytes < 64<<20 {
		shim.Puts("lazymm: ppc64 the firmware gave no usable /memory@0 size\n")
		powerOff()
	}
	framesInit()
	if !mmuInit() {
		powerOff()
	}
	if shim.CmdlineHas("exit=boot") { // the floor: QEMU and firmware, not the kernel
		powerOff()
	}
	shim.InitCPU(0)
	shim.InjectFromCmdline()
	paging.InjectFromCmdline()
	paging.RootName = "PIDR"
	// tlbie: flushes of an mm by broadcast tlbie (no IPIs), POWER's other invalidation mode. Hash's
	// H_REMOVEs are broadcast too (archFlushBroadcast): lazy CPUs are still sent off a freed mm, whose
	// context (the VSIDs in their SLBs) is recycled with its slot (docs/PPC64.md)
	paging.Broadcast = shim.CmdlineHas("tlbie") || paging.SkipBroadcast || hashMode
	if hashMode {
		paging.RootName = "SLB"
	}
	// nmi=reset: NMIs by system reset (H_SIGNAL_SYS_RESET) instead of the soft NMI (smp_ppc64.go)
	nmiReset = shim.CmdlineHas("nmi=reset")
	hasDarn = darn() != ^uint64(0)
	clockInit()
	shim.StartFirstThread(0) // no TLS register on ppc64; a zeroed FP area is a valid FP state
	if !powernv {
		hcall(hCPPR, 0xff, 0, 0, 0) // this CPU's interrupt presenter takes every priority (IPIs)
	} else {
		xiveInit() // every CPU's IPI, before they start (xive_ppc64.go)
	}
	startCPUs() // they idle in the scheduler; the runtime's main thread is already here
	c := thisCPU()
	c.decPeriod = uint32(tbFreq / hz)
	setDecrementer(c.decPeriod)
	aux := [...][2]uintptr{
		{shim.AuxHWCap, hwcap64 | hwcapAltivec | hwcapFPU | hwcapMMU | hwcapVSX},
		{shim.AuxHWCap2, hwcap2Arch207 | hwcap2Arch300 | hwcap2Darn},
	}
	sp := shim.InitialStack(aux[:])
	enterRuntime(rt0Addr(), uint64(sp), msrKernel|msrHVBit|msrEE|msrRI|msrIR|msrDR)
}

// clockInit: the timebase is the clock (its frequency from the device tree), the wall clock at boot
// comes from RTAS get-time-of-day.
//
//go:nosplit
func clockInit() {
	tbBoot = machine.ReadCycles()
	hi, lo := bits.Mul64(1e9, 1<<32)
	nsMult, _ = bits.Div64(hi, lo, tbFreq)
	hi, lo = bits.Mul64(tbFreq, 1<<32)
	tbMult, _ = bits.Div64(hi, lo, 1e9)
	if powernv {
		bootUnix = pnvTimeOfDay()
	} else {
		bootUnix = rtasTimeOfDay()
	}
}

//go:nosplit
func tbToNs(d uint64) uint64 {
	hi, lo := bits.Mul64(d, nsMult)
	return hi<<32 | lo>>32
}

//go:nosplit
func nsToTB(ns uint64) uint64 {
	hi, lo := bits.Mul64(ns, tbMult)
	if hi >= 1<<31 {
		return ^uint64(0) >> 1
	}
	return hi<<32 | lo>>32
}

// rtasArgs is an RTAS call's argument buffer: token, nargs, nret, then the arguments and returns.
var rtasArgs [16]uint32

// rtasTimeOfDay calls RTAS get-time-of-day (QEMU's token 0x2001): status, year, month, day, hour,
// minute, second, nanoseconds. It returns Unix seconds, 0 if RTAS fails.
//
//go:nosplit
func rtasTimeOfDay() int64 {
	a := &rtasArgs
	a[0], a[1], a[2] = 0x2001, 0, 8
	if hcall(0xf000, uint64(uintptr(unsafe.Pointer(a))), 0, 0, 0) != 0 || a[3] != 0 {
		return 0
	}
	year, mon, day := int64(a[4]), int64(a[5]), int64(a[6])
	hour, min, sec := int64(a[7]), int64(a[8]), int64(a[9])
	return shim.UnixSeconds(year, mon, day, hour, min, sec)
}
