package ppc64

import (
	"unsafe"

	"lazymm/kernel/paging"
	"lazymm/kernel/shim"
	"lazymm/mm"
)

// trap is the Go side of trapEntry (trap_ppc64.s): one function for every exception, interrupt and
// sc, in trap context (MSR.EE off, this CPU's trap stack, g = percpu.g). Like amd64's trap it gets the
// interrupted thread's Frame; whatever Frame and percpu.curFP it leaves are what rfid resumes. Nothing
// on this path may allocate, grow the stack, call indirectly or take runtime locks: it is all nosplit
// and works on fixed storage.

const (
	vecSysReset = 0x100
	vecMCheck   = 0x200
	vecDSI      = 0x300
	vecDSeg     = 0x380
	vecISI      = 0x400
	vecISeg     = 0x480
	vecExternal = 0x500
	vecAlign    = 0x600
	vecProgram  = 0x700
	vecFPUnavl  = 0x800
	vecDec      = 0x900
	vecDoorbell = 0xa00
	vecSyscall  = 0xc00
	vecTrace    = 0xd00
	vecPerfMon  = 0xf00
	vecVSXUnavl = 0xf20
	vecFacUnavl = 0xf40

	crSO = 0x10000000 // CR0.SO in the 32-bit CR image: the Linux ppc64 system-call error flag
)

// vectors are the interrupt vectors installVectors fills. Hypervisor interrupts (0x980, 0xe00-0xea0)
// go to the hypervisor, not to a pseries guest.
var vectors = [...]uint32{vecSysReset, vecMCheck, vecDSI, vecDSeg, vecISI, vecISeg, vecExternal,
	vecAlign, vecProgram, vecFPUnavl, vecDec, vecDoorbell, vecSyscall, vecTrace, vecPerfMon,
	vecVSXUnavl, vecFacUnavl}

func trapEntryAddr() uintptr
func trapEntrySavedAddr() uintptr
func trapExitLastAddr() uintptr

// installVectors writes each vector's stub (trap_ppc64.s: mtspr SPRG1,r3; li r3,vector; ba
// trapEntry) into the firmware's low memory. VOF's client interface is gone after this.
//
//go:nosplit
func installVectors() {
	entry := trapEntryAddr()
	if entry >= 1<<25 || entry&3 != 0 {
		shim.Puts("lazymm: ppc64 trapEntry lies above 32 MiB: the vectors' ba cannot reach it\n")
		powerOff()
	}
	for _, v := range vectors {
		p := (*[3]uint32)(unsafe.Add(nil, uintptr(v)))
		p[0] = 0x7c7143a6 // mtspr SPRG1, r3
		p[1] = 0x38600000 | v
		p[2] = 0x48000002 | uint32(entry)
		syncICache(uintptr(v), 12)
	}
}

//go:nosplit
func trap(f *Frame) {
	c := thisCPU()
	if f.Vector == vecSysReset && bootMode == modeHost {
		systemReset(c, f)
		return
	}
	if hashMode && hashMiss(c, f) {
		return // a segment or hash miss, at any depth (trap context reads the runtime's memory too)
	}
	if c.depth > 1 && !(c.idling && (f.Vector == vecDec || isExternal(f.Vector))) {
		crash(c, f) // a fault inside trap context: nothing to recover
	}
	// An interrupt in the idle wait nests here (the wait runs in trap context, as amd64's hlt does):
	// the idle loop has dropped the kernel lock, so the tick below takes it as any other would.
	if bootMode != modeHost {
		stubTrap(c, f)
		return
	}
	if c.depth == 1 && c.softMask != 0 && (isExternal(f.Vector) || f.Vector == vecDec) {
		maskedInterrupt(c, f.Vector) // the thread has interrupts soft-masked: an NMI runs, the rest waits
		return
	}
	if isExternal(f.Vector) {
		externalInterrupt(c, f.Vector) // IPIs: without the kernel lock (a cross-call sender may hold it)
		return
	}
	if f.Vector == vecDec {
		decTick(c, f)
		need := shim.Tick()
		paging.PeriodicAudit(int(c.id), shim.CPUs[c.id].Ticks)
		if !need && !shim.SignalPending() {
			return
		}
	}
	if shim.Waiting() {
		return // it ended a halt in a wait for another CPU: nothing is scheduled inside one
	}
	if !shim.LockKernelFrom() {
		crash(c, f) // an entry that interrupted the kernel itself
	}
	switch {
	case f.Vector == vecSyscall:
		shim.Syscall(f)
	case f.Vector == vecDec:
		shim.TimerInterrupt(f)
	case f.Vector == vecDSI && dataFault(f):
	case f.Vector == vecISI && instrFault(f):
	default:
		crash(c, f)
	}
	shim.DeliverSignals(f)
	shim.UnlockKernel()
}

// systemReset is the NMI with the kernel word nmi=reset (archSendIPI raises it with
// H_SIGNAL_SYS_RESET; the default is the soft NMI, maskedInterrupt): not maskable, it may
// land anywhere, in trap context too, and takes no lock. Unlike an x86 NMI nothing blocks a second
// one while the first runs, and where MSR.RI was off (trapEntry's windows, with the scratch
// registers in use) it cannot return: that is a crash dump, vector 0x100.
//
//go:nosplit
func systemReset(c *percpu, f *Frame) {
	if f.MSR&msrRI == 0 && c.idling && inEntryWindow(f.PC) {
		// The reset came as the idle wait took an interrupt, in that interrupt's entry window: its
		// SRR0/SRR1 (and the scratch registers) are lost, but where it came from is known (right
		// after H_CEDE, where only r1 is live: idleSP) and it was not acknowledged yet (XICS and the
		// decrementer keep it pending): resume the idle wait there, with EE on, and it is taken
		// again. Under QEMU this is the usual case: an idle CPU woken by an IPI and an NMI together
		// takes the IPI first. The depth goes back to the idle loop's once trapExit has run.
		f.PC = uint64(idleWaitResumeAddr())
		f.MSR = readMSR() | msrEE
		f.GPR[1] = c.idleSP
		c.depth = 2
	}
	if f.MSR&msrRI == 0 && f.PC == uint64(trapExitLastAddr())+4 {
		// right after trapExit's RI-off mtmsrd, before SRR0/SRR1 are loaded: nothing lost, and the
		// exit goes on as it was (RI stays off in f.MSR)
	} else if f.MSR&msrRI == 0 || c.depth > 3 {
		crash(c, f) // an entry's or exit's window: its SRR0/SRR1 are gone
	}
	handleNMI(c)
}

// maskedInterrupt is an external interrupt or decrementer taken while the interrupted thread had
// interrupts soft-masked (softIRQSave): MSR.EE was on, so it came, but only an NMI may run here. The
// decrementer is noted and parked (DEC at its maximum, so it does not come again at once);
// maskedExternal accepts the interrupt and runs the NMI kind of an IPI. softIRQRestore raises what
// waits again once the mask goes off. Only entries from thread context (depth 1) come here: trap
// context runs hard-disabled (EE off since the entry), so nothing, an NMI neither, interrupts it but
// the idle wait, which runs unmasked.
//
//go:nosplit
func maskedInterrupt(c *percpu, vector uint64) {
	if vector == vecDec {
		c.happened |= happenedDec
		setDecrementer(0x7fffffff)
		return
	}
	maskedExternal(c, vector)
}

// inEntryWindow says whether pc lies where an interrupt's entry has not saved what a nested entry
// overwrites yet: a vector's stub or trapEntry before trapEntrySaved.
//
//go:nosplit
func inEntryWindow(pc uint64) bool {
	if pc >= uint64(trapEntryAddr()) && pc < uint64(trapEntrySavedAddr()) {
		return true
	}
	for _, v := range vectors {
		if pc >= uint64(v) && pc < uint64(v)+12 {
			return true
		}
	}
	return false
}

// stubTrap is trap for the boot stub's proofs (bootStub and the test entries): its own sc dispatcher
// and the decrementer.
//
//go:nosplit
func stubTrap(c *percpu, f *Frame) {
	switch f.Vector {
	case vecSyscall:
		if c.kfault {
			trapAlways() // test only: a fault in trap context must still give a dump
		}
		scDispatch(f)
	case vecDec:
		decTick(c, f)
	default:
		crash(c, f)
	}
}

// DSISR and SRR1 bits of a storage interrupt (Power ISA 3.0 Book III 7.5.3, 7.5.5).
const (
	dsisrNoTranslation = 0x40000000 // no PTE: the radix walk found an invalid entry
	dsisrProtect       = 0x08000000 // the PTE (or HPTE) does not allow the access
	dsisrStore         = 0x02000000
	srr1NoTranslation  = 0x40000000
)

// dataFault pages in the runtime's memory on a data storage interrupt (demand paging, as amd64's
// #PF handler), hands a store to a read-only page back to UserStore (its exception-table fixup), or
// turns a nil dereference into SIGSEGV. False: a real fault (crash dump).
//
//go:nosplit
func dataFault(f *Frame) bool {
	dar := uintptr(f.DAR)
	if f.DSISR&dsisrNoTranslation != 0 && paging.ReportPoisonWalk(dar) {
		return false
	}
	if f.DSISR&dsisrStore != 0 && shim.InUserRange(dar, 1) {
		// UserStore's: a store to a read-only page (copy-on-write), or to one whose entry another
		// CPU's copy cleared; any other fault on a test page is real (they are never paged in)
		return userStoreFixup(f)
	}
	if f.DSISR&dsisrNoTranslation == 0 || shim.InUserRange(dar, 1) {
		return false
	}
	if shim.EnsurePage(uintptr(f.DAR), f.DSISR&dsisrStore != 0) {
		if hashMode {
			hashFault(thisCPU(), uintptr(f.DAR)) // the HPTE now: the access need not fault again
		}
		return true
	}
	return shim.NilFault(f.DAR)
}

// instrFault pages in code (the runtime executes nothing it mmaps, so this is for completeness).
//
//go:nosplit
func instrFault(f *Frame) bool {
	return f.MSR&srr1NoTranslation != 0 && shim.EnsurePage(uintptr(f.PC), false)
}

// decTick counts the tick and re-arms the decrementer (or parks it at its maximum when no period is
// set: it then stays quiet for seconds).
//
//go:nosplit
func decTick(c *percpu, f *Frame) {
	c.ticks++
	if c.decPeriod != 0 {
		setDecrementer(c.decPeriod)
	} else {
		setDecrementer(0x7fffffff)
	}
	if c.clobber {
		f.GPR[20]++ // test only: a lost register the check must see
	}
}

// crash prints the crash dump of the console protocol (the runner parses it) and powers off:
//
//	LZ1 crash cpu=N kind=exception vector=0x... pc=0x... msr=0x... dar=0x... dsisr=0x...
//	LZ1 regs gprs=0x<r0..r31, 16 hex digits each>
//	LZ1 bytes at=0x<pc> hex=<the 16 bytes at pc>
//	LZ1 crash-end status=0x<vector>
//
// RTAS power-off cannot carry a status to QEMU's exit code: the crash-end line is the verdict.
//
//go:nosplit
func crash(c *percpu, f *Frame) {
	shim.ConsoleLockForce() // held to the end: nothing else prints over a crash dump
	consoleFlush()
	shim.Puts("\nLZ1 crash cpu=")
	shim.PutDec(c.id)
	shim.Puts(" kind=exception vector=0x")
	putHex(f.Vector)
	shim.Puts(" pc=0x")
	putHex(f.PC)
	shim.Puts(" msr=0x")
	putHex(f.MSR)
	shim.Puts(" dar=0x")
	putHex(f.DAR)
	shim.Puts(" dsisr=0x")
	putHex(f.DSISR)
	shim.Puts(" tid=")
	if tid, ok := shim.CurrentTID(); ok && bootMode == modeHost {
		shim.PutDec(uint64(tid))
	} else {
		shim.Puts("-")
	}
	shim.Puts("\nLZ1 regs gprs=0x")
	for i := range f.GPR {
		putHex(f.GPR[i])
	}
	shim.Puts("\nLZ1 bytes at=0x")
	putHex(f.PC)
	shim.Puts(" hex=")
	at := uintptr(f.PC) & 0x0fffffff &^ 3 // real mode: keep it inside memory
	if _, mapped := mm.Translate(mm.InitMM.Root, at); trapMSR&msrDR == 0 || mapped {
		for i := uintptr(0); i < 16; i += 8 {
			putHex(uint64(*(*uint32)(unsafe.Add(nil, at+i)))<<32 | uint64(*(*uint32)(unsafe.Add(nil, at+i+4))))
		}
	}
	shim.Puts("\nLZ1 crash-end status=0x")
	putHex(f.Vector)
	shim.Puts("\n")
	powerOff()
}

// putHex prints v as 16 hex digits (the crash dump's fixed width), through the console buffer.
//
//go:nosplit
func putHex(v uint64) {
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = "0123456789abcdef"[v&15]
		v >>= 4
	}
	for _, c := range b {
		archPutc(c)
	}
}

// powerOff ends the machine through RTAS (boot_ppc64.s).
func powerOff()
