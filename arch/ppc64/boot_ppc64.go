package ppc64

import (
	"lazymm/kernel/machine"

	"unsafe"

	"lazymm/kernel/ktest"
	"lazymm/kernel/shim"
)

// The boot line reports the command line's true length: /chosen/bootargs's whole size, even past what
// the shim keeps.
func init() { ktest.CmdlineGiven = shim.CmdlineGiven }

// boot is the stub the trampoline jumps to, in 32-bit big-endian real mode (boot_ppc64.s).
func boot()

// bootAddr returns boot's address, for the image tool's -entry and for tests.
func bootAddr() uintptr

// EntryPoint is boot's address; referring to it keeps boot in the image.
var EntryPoint = bootAddr()

// The test entries (boot_ppc64.s); referring to their addresses keeps them in the image.
func bootFault()
func bootClobber()
func bootKernelFault()
func bootFaultAddr() uintptr
func bootClobberAddr() uintptr
func bootKernelFaultAddr() uintptr
func bootStub()
func bootStubAddr() uintptr

var (
	// FaultEntryPoint (bootFault): a trap instruction once trap is in place, which must come back as
	// a crash dump.
	FaultEntryPoint = bootFaultAddr()
	// ClobberEntryPoint (bootClobber): the decrementer proof with trap damaging r20 on each tick: the
	// register check must fail.
	ClobberEntryPoint = bootClobberAddr()
	// KernelFaultEntryPoint (bootKernelFault): trap itself faults: one crash dump, then power-off.
	KernelFaultEntryPoint = bootKernelFaultAddr()
	// StubEntryPoint (bootStub): the stub's proofs (sc, decrementer, registers), no runtime.
	StubEntryPoint = bootStubAddr()
)

const (
	modeHost = iota // boot: the hosted runtime
	modeFault
	modeClobber
	modeKernelFault
	modeStub
)

var (
	bootMode  uint64 // which entry ran (boot_ppc64.s)
	bootStack [64 << 10]byte
	// bootG stands for the runtime's g until the runtime runs: R30 points at it, so a stack check
	// that reads g.stackguard0 finds 0 and never calls morestack.
	bootG [1024]byte
	// tbFromDT says whether tbFreq came from the device tree.
	tbFromDT bool
)

// hvPutChars prints n (at most 16) bytes, high-order first from hi then lo, on the hypervisor
// console (H_PUT_TERM_CHAR).
func hvPutChars(hi, lo uint64, n int)

// putMem prints the n bytes at p on the hypervisor console, 16 at a time.
//
//go:nosplit
func putMem(p unsafe.Pointer, n int) {
	if powernv {
		opalWrite(uint64(uintptr(p)), uint64(n)) // opal_ppc64.s
		return
	}
	for i := 0; i < n; i += 16 {
		k := min(n-i, 16)
		var w [2]uint64
		for j := 0; j < k; j++ {
			w[j/8] |= uint64(*(*byte)(unsafe.Add(p, i+j))) << (56 - 8*(j%8))
		}
		hvPutChars(w[0], w[1], k)
	}
}

// bootInit runs first in 64-bit mode, on bootStack, with SPRG3 = &cpus[0]: the boot CPU's area; then,
// while the firmware is still there, the command line (it says radix or hash), client-architecture
// support (cas_ppc64.go), and what the device tree says after it (timebase frequency, CPUs); then
// the vectors.
//
//go:nosplit
func bootInit() {
	setupCPU(0)
	setDecrementer(0x7fffffff) // quiet for seconds, whatever the firmware left
	if powernv {
		pnvBoot() // opal_ppc64.go: the device tree and OPAL instead of VOF, RTAS and CAS
		hashWords()
		return
	}
	readFirmware()
	hashWords()
	casNegotiate(hashMode)
	tbFromDT = readTimebaseFreq()
	readCPUs()
	installVectors()
}

// hashWords reads hash's kernel words: the hashed page table instead of radix (hash_ppc64.go);
// inject=skip-hpte-remove and inject=hpt-no-tlbie are hash's.
//
//go:nosplit
func hashWords() {
	skipHPTERemove = shim.CmdlineHas("inject=skip-hpte-remove")
	hptNoTLBIE = shim.CmdlineHas("inject=hpt-no-tlbie") // powernv's own HPT (hpt_ppc64.go)
	hashMode = shim.CmdlineHas("hash") || skipHPTERemove || hptNoTLBIE
}

// stubMain is the first Go code on ppc64 proper: 64-bit mode, real mode, on bootStack, EE off, every
// entry through trapEntry.
//
//go:nosplit
func stubMain() {
	c := thisCPU()
	switch bootMode {
	case modeHost:
		hostMain()
		return
	case modeFault:
		trapAlways()
		return
	case modeKernelFault:
		c.kfault = true
		rawSyscall(9999, 0, 0, 0)
		shim.Puts("lazymm: ppc64 a fault in trap context came back\n")
		return
	}
	shim.Puts("lazymm: ppc64 boot stub reached in 64-bit mode, running Go code\n")
	// the system-call path the runtime will use: write through sc, and an unknown call
	msg := "lazymm: ppc64 write(2) through sc and the 0xc00 vector\n"
	if n, failed := rawSyscall(sysWrite, 1, uint64(uintptr(unsafe.Pointer(unsafe.StringData(msg)))), uint64(len(msg))); failed != 0 || n != uint64(len(msg)) {
		shim.Puts("lazymm: ppc64 write(2) through sc failed\n")
	}
	if r, failed := rawSyscall(9999, 0, 0, 0); failed == 1 && r == eNOSYS {
		shim.Puts("lazymm: ppc64 unknown system call: ENOSYS with CR0.SO\n")
	} else {
		shim.Puts("lazymm: ppc64 unknown system call did not fail with ENOSYS\n")
	}
	shim.Puts("lazymm: ppc64 timebase ")
	shim.PutDec(tbFreq)
	if tbFromDT {
		shim.Puts(" Hz (device tree)\n")
	} else {
		shim.Puts(" Hz (default)\n")
	}
	irqProof()
	decProof(c)
}

// irqProof checks the MSR (msrKernel, after boot's rfid and the sc's) and the MSR.EE helpers: off at
// first, irqEnable, irqSave (returns on, leaves off), irqRestore (on again), and a save/restore pair
// with EE off.
//
//go:nosplit
func irqProof() {
	if m := readMSR(); m != msrKernel|msrHVBit {
		shim.Puts("lazymm: ppc64 MSR is 0x")
		putHex(m)
		shim.Puts(", not SF|VEC|VSX|FP|ME\n")
	}
	m0 := readMSR() & msrEE
	irqEnable()
	m1 := readMSR() & msrEE
	s := irqSave()
	m2 := readMSR() & msrEE
	irqRestore(s)
	m3 := readMSR() & msrEE
	irqDisable()
	s0 := irqSave()
	irqRestore(s0)
	m4 := readMSR() & msrEE
	if m0 == 0 && m1 != 0 && s != 0 && m2 == 0 && m3 != 0 && s0 == 0 && m4 == 0 {
		shim.Puts("lazymm: ppc64 MSR.EE: irqEnable, irqSave, irqRestore, irqDisable work\n")
	} else {
		shim.Puts("lazymm: ppc64 MSR.EE: the irq helpers FAILED\n")
	}
}

// regPat are the values regCheck (regcheck_ppc64.s) keeps in registers across decrementer interrupts:
// [0..15] r14-r29, [16..19] F14-F17, [20..27] VSR52-55 (two doublewords each), [28] CR (fields 2-7),
// [29] CTR, [30] XER, [31] FPSCR (low word), [32] VSCR.
var (
	regPat [34]uint64
	regBuf [4]uint64
)

var regNames = [...]string{"r14", "r15", "r16", "r17", "r18", "r19", "r20", "r21", "r22", "r23",
	"r24", "r25", "r26", "r27", "r28", "r29", "f14", "f15", "f16", "f17", "vs52", "vs52", "vs53",
	"vs53", "vs54", "vs54", "vs55", "vs55", "cr", "ctr", "xer",
	"fpscr", "vscr"}

func regCheck(pat *[34]uint64, ticks *uint64, until, deadline uint64, buf *[4]uint64) (bad uint64)

// decProof: the decrementer at a 1 ms period with EE on, under a loop that keeps known values in
// registers (regCheck) until 20 ticks passed; then idleWait until 5 more. Meanwhile each exit from
// trap scrambles every register before restoring it (percpu.poison), so a register the restore
// forgot shows even when trap's own code left it alone.
//
//go:nosplit
func decProof(c *percpu) {
	for i := range regPat {
		regPat[i] = 0x9e3779b97f4a7c15 * uint64(i+1)
	}
	regPat[28] = 0x00c3a5e1 // CR2-CR7
	regPat[30] = 0x2004003c // XER: CA, CA32, byte count 60
	regPat[31] = 0xb        // FPSCR: XE (no interrupt: MSR.FE0/FE1 are 0), RN = round toward -inf
	regPat[32] = 0x10000    // VSCR: NJ
	c.clobber = bootMode == modeClobber
	c.poison = 1 // the exit path scrambles every register before it restores them
	c.decPeriod = uint32(tbFreq / 1000)
	setDecrementer(c.decPeriod)
	start := machine.ReadCycles()
	t0 := c.ticks
	irqEnable()
	bad := regCheck(&regPat, &c.ticks, t0+20, start+2*tbFreq, &regBuf)
	irqDisable()
	took := machine.ReadCycles() - start
	switch {
	case bad == 0:
		shim.Puts("lazymm: ppc64 decrementer: 20 ticks in ")
		shim.PutDec(took * 1000000 / tbFreq)
		shim.Puts(" us, registers preserved\n")
	case bad == 99:
		shim.Puts("lazymm: ppc64 decrementer: FAILED, ")
		shim.PutDec(c.ticks - t0)
		shim.Puts(" ticks in 2 s\n")
	default:
		shim.Puts("lazymm: ppc64 decrementer: FAILED, ")
		shim.Puts(regNames[bad-1])
		shim.Puts(" lost across the interrupts\n")
	}
	c.clobber = false
	// idle: H_CEDE sleeps until the next tick
	t1 := c.ticks
	start = machine.ReadCycles()
	waits := 0
	for c.ticks < t1+5 && waits < 1000 {
		idle()
		waits++
	}
	took = machine.ReadCycles() - start
	c.decPeriod = 0
	c.poison = 0
	setDecrementer(0x7fffffff)
	if c.ticks >= t1+5 {
		shim.Puts("lazymm: ppc64 idleWait: 5 ticks in ")
		shim.PutDec(took * 1000000 / tbFreq)
		shim.Puts(" us, ")
		shim.PutDec(uint64(waits))
		shim.Puts(" H_CEDE calls\n")
	} else {
		shim.Puts("lazymm: ppc64 idleWait: FAILED, no ticks\n")
	}
}
