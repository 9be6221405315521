package ppc64

import "unsafe"

// The per-CPU area, the timebase and the interrupt-enable helpers (cpu_ppc64.s).
//
// SPRG3 holds this CPU's percpu address from boot on; SPRG1 and SPRG2 are the vector stubs' and
// trapEntry's first scratch (r3 and r4, until the area is reachable). Nothing global is scratch on the
// trap path, so further CPUs only need their own setupCPU.

const (
	maxCPUs    = 64
	kstackSize = 16 << 10 // each CPU's trap stack
	// trapReserve is what trapEntry keeps at the top of a trap stack: trap's 64-byte call area and
	// the Frame (336 bytes, 352 reserved); kstack and nstack point below it.
	trapReserve = 416
	nstackSize  = 8 << 10 // each CPU's stack for an entry nested in trap context (a fault in the kernel)
	fpAreaSize  = int(unsafe.Sizeof(FPState{})) + 16

	// msrKernel is the MSR of the boot stub and of trap context: 64-bit, machine checks on, FP, VMX
	// and VSX available (trap's Go code may use them: its entry saved them); real mode, big-endian,
	// EE off.
	msrSF     = 1 << 63
	msrVEC    = 1 << 25
	msrVSX    = 1 << 23
	msrEE     = 1 << 15
	msrFP     = 1 << 13
	msrME     = 1 << 12
	msrRI     = 1 << 1 // recoverable: a system reset (the NMI) may return; trapEntry's windows clear it
	msrKernel = msrSF | msrVEC | msrVSX | msrFP | msrME
)

// percpu is this CPU's area, reached through SPRG3. The fields up to poison are read by trap_ppc64.s
// (through go_asm.h, so the offsets follow the struct; layout_ppc64.go pins them): self 0, scratch 8,
// kstack 56, curFP 64, g 72, id 80, depth 88, nstack 96, nestFP 104, poison 112, nmiStack 120,
// nmiFP 128. Keep them first.
// Fields for Go code only follow; the scheduler's go at the end.
type percpu struct {
	self uintptr // 0: this struct's address
	// scratch is trapEntry's, before the frame exists: [0] the vector (8), [1] the interrupted r1
	// (16), [2] r5 (24), [3] CR (32), [4] the FPState this entry saved into (40), [5] spare (48).
	scratch  [6]uint64
	kstack   uintptr // 56: this CPU's trap stack, trapReserve below its top (16-byte aligned)
	curFP    uintptr // 64: FPState of the thread whose registers are live (like amd64's curFX)
	g        uintptr // 72: the stand-in g for trap context (zero stackguard)
	id       uint64  // 80
	depth    uint64  // 88: trap nesting: 0 outside trap context, 1 in it, 2 in a fault inside it
	nstack   uintptr // 96: top of the stack of an entry nested in trap context (depth 1 -> 2)
	nestFP   uintptr // 104: the FPState such a nested entry saves into (the thread's stays intact)
	poison   uint64  // 112: test only: nonzero makes the exit path scramble every register first
	nmiStack uintptr // 120: the stack of a system reset nested in a nested entry (depth 2 -> 3)
	nmiFP    uintptr // 128: the FPState it saves into

	ticks     uint64 // decrementer interrupts taken on this CPU
	decPeriod uint32 // the decrementer's re-arm value in timebase ticks; 0: leave it idle
	clobber   bool   // test only (bootClobber): trap adds 1 to r20 in the frame on each tick
	kfault    bool   // test only (bootKernelFault): trap faults (tw) on the next sc
	idling    bool   // in the shim's idle wait (archIdle): an interrupt nests in trap context there
	idleSP    uint64 // r1 in idleWait, for a system reset's resume there
	// the hash MMU's (hash_ppc64.go): the next SLB entry a segment miss takes, and the user slot's
	// context and root (0: InitMM loaded, no user segments)
	slbNext  uint64
	userCtx  uint64
	userRoot uint64

	// Soft masking (irqSave/irqRestore, as Linux's irq_soft_mask): softMask set means the code
	// running here has interrupts off though MSR.EE stays on; an external interrupt or decrementer
	// taken meanwhile is a masked interrupt (trap_ppc64.go's maskedInterrupt), noted in happened
	// (PACA_IRQ_DEC, PACA_IRQ_EE) and raised again in hardware when the mask goes off.
	softMask     uint64
	happened     uint32
	nmiMasked    uint64 // NMIs this CPU took in soft-masked code (the soft NMI landing in interrupt-off code)
	nmiLatSum    uint64 // timebase ticks from send to handler, summed over the NMIs taken here
	nmiMaskedLat uint64 // the same, over those that landed in soft-masked code
	nmiLatMax    uint64
	nmiTaken     uint64
}

var (
	cpus [maxCPUs]percpu

	kstk   [maxCPUs][kstackSize]byte
	nstk   [maxCPUs][nstackSize]byte
	trapG  [maxCPUs][1024]byte          // stand-in g per CPU for trap context: zero stackguard
	fpArea [maxCPUs][3][fpAreaSize]byte // per CPU: the boot thread's (then idle) FPState, the nested entry's, the NMI's
	mstk   [maxCPUs][nstackSize]byte    // per CPU: the stack of an NMI in a nested entry

	// tbFreq is the timebase frequency in Hz: the device tree's /cpus/<first cpu>/timebase-frequency
	// when VOF answers at boot (readTimebaseFreq), else POWER's and QEMU pseries' 512 MHz.
	tbFreq uint64 = 512000000
)

//go:nosplit
func align16(p *[fpAreaSize]byte) uintptr {
	return (uintptr(unsafe.Pointer(&p[0])) + 15) &^ 15
}

// setupCPU fills CPU id's area and points SPRG3 at it. The boot CPU's boot64 has set SPRG3 already;
// setting it again is harmless.
//
//go:nosplit
func setupCPU(id int) {
	c := &cpus[id]
	c.self = uintptr(unsafe.Pointer(c))
	c.id = uint64(id)
	c.kstack = (uintptr(unsafe.Pointer(&kstk[id][0]))+kstackSize)&^15 - trapReserve
	c.nstack = (uintptr(unsafe.Pointer(&nstk[id][0]))+nstackSize)&^15 - trapReserve
	c.g = uintptr(unsafe.Pointer(&trapG[id][0]))
	c.curFP = align16(&fpArea[id][0])
	c.nestFP = align16(&fpArea[id][1])
	c.nmiStack = (uintptr(unsafe.Pointer(&mstk[id][0]))+nstackSize)&^15 - trapReserve
	c.nmiFP = align16(&fpArea[id][2])
	c.depth = 0
	setSPRG3(c.self)
}

//go:nosplit
func thisCPU() *percpu { return (*percpu)(unsafe.Add(nil, getSPRG3())) }

// In cpu_ppc64.s.
func getSPRG3() uintptr
func setSPRG3(p uintptr)

// setDecrementer writes DEC: a decrementer interrupt comes when it passes zero (goes negative) while
// MSR.EE is on, and stays pending until DEC is written again. QEMU 7.2's pseries turns the large
// decrementer on for POWER9 (LPCR.LD: mfdec reads back sign-extended 64 bits, as observed); a
// positive count below 2^31, which is all this takes, works the same with and without it. 0x7fffffff
// parks it for about 4 s at 512 MHz.
func setDecrementer(ticks uint32)

// irqEnable and irqDisable set and clear MSR.EE (mtmsrd L=1): the hard enable. irqSave clears it
// and returns its former state (MSR & EE) for irqRestore. The shim's IRQSave/IRQRestore are the
// soft ones below (softIRQSave, softIRQRestore); these hard ones serve the boot stub, the soft
// ones' own critical sections and the system-reset mode.
func irqEnable()
func irqDisable()
func irqSave() uint64
func irqRestore(flags uint64)

// Bits of percpu.happened: the masked interrupts to raise again when the soft mask goes off.
const (
	happenedDec = 1 << 0 // a decrementer (parked meanwhile): DEC = 1 raises it again
	happenedIPI = 1 << 1 // IPI kinds left pending in ipiPending: H_IPI to this CPU raises it again
)

// softIRQSave soft-masks this CPU's interrupts (local_irq_save with Linux powerpc's
// irq_soft_mask) and returns the former mask for softIRQRestore. MSR.EE is not changed: an
// interrupt that comes meanwhile enters trap and goes to maskedInterrupt, which runs an NMI there
// and defers the rest. Only the few instructions that find and set this CPU's flag run hard-off
// (a tick between reading SPRG3 and the store could move the thread to another CPU); the hard state
// is put back as it was, so in trap context (EE hard-off since the entry) EE is never turned on.
//
//go:nosplit
func softIRQSave() uint64 {
	hard := irqSave()
	c := thisCPU()
	old := c.softMask
	c.softMask = 1
	irqRestore(hard)
	return old
}

// softIRQRestore puts the soft mask back to fl; when that unmasks, the interrupts that came
// masked meanwhile are raised again in hardware (Linux's replay, done by the hardware rather than
// by calling the handlers: the tick may preempt the thread, which only trap's full path with a
// Frame can do, and an IPI's kinds stay in ipiPending for externalInterrupt to take). They are
// taken as soon as EE is on: at once in thread context, when trap context returns to a thread in
// trap context.
//
//go:nosplit
func softIRQRestore(fl uint64) {
	hard := irqSave()
	c := thisCPU()
	c.softMask = fl
	if fl == 0 && c.happened != 0 {
		replayMasked(c)
	}
	irqRestore(hard)
}

// replayMasked raises again, in hardware, what maskedInterrupt deferred (hard-off, soft-on).
//
//go:nosplit
func replayMasked(c *percpu) {
	h := c.happened
	c.happened = 0
	if h&happenedDec != 0 {
		setDecrementer(1)
	}
	if h&happenedIPI != 0 && powernv {
		doorbell(hwIDs[c.id]) // not through raiseIPI: this is the end of the trap path's deepest chain
	} else if h&happenedIPI != 0 {
		hcall(hIPI, uint64(hwIDs[c.id]), ipiPriority, 0, 0)
	}
}

// readMSR returns the MSR (mfmsr).
func readMSR() uint64

// idleWait waits for an interrupt: H_CEDE, the PAPR idle call, which sets MSR.EE and sleeps in one
// step (no lost wake-up between enabling and waiting), so the interrupt runs trap right after the
// call returns. Then EE is cleared again. Call it with EE off. (QEMU 7.2 also halts on `wait` with
// EE on, but that leaves a window between mtmsrd and wait; H_CEDE is what Linux uses on pseries.)
func idleWait()

// idleWaitResumeAddr is the address right after idleWait's sc.
func idleWaitResumeAddr() uintptr

// syncICache makes n bytes of code just written at p visible to instruction fetch.
func syncICache(p uintptr, n uintptr)

// ofCall calls the Open Firmware client interface (VOF's prom entry, r5 at boot) with the argument
// array at args; it returns the interface's r3 (0: done, -1: failed).
func ofCall(entry, args uintptr) int64

// trapAlways runs tw 31,0,0: a program-check interrupt (vector 0x700, SRR1's trap bit).
func trapAlways()

// promEntry is r5 at boot: VOF's client-interface entry; VOF is gone once installVectors overwrote
// low memory.
var promEntry uint64

// ofArgs is the client interface's argument array: service, nargs, nret, then args and returns, all
// 32-bit big-endian cells.
var ofArgs [16]uint32

// cstr copies s, NUL-terminated, to buf and returns its address.
//
//go:nosplit
func cstr(buf *[32]byte, s string) uint32 {
	n := copy(buf[:len(buf)-1], s)
	buf[n] = 0
	return uint32(uintptr(unsafe.Pointer(&buf[0])))
}

// of runs service with nargs of a0..a3 and one return value, which it returns; ok is false if the
// interface itself failed.
//
//go:nosplit
func of(name *[32]byte, service string, nargs int, a0, a1, a2, a3 uint32) (ret uint32, ok bool) {
	a := &ofArgs
	a[0] = cstr(name, service)
	a[1] = uint32(nargs)
	a[2] = 1
	a[3], a[4], a[5], a[6] = a0, a1, a2, a3
	a[3+nargs] = 0xffffffff
	if ofCall(uintptr(promEntry), uintptr(unsafe.Pointer(a))) != 0 {
		return 0, false
	}
	return a[3+nargs], true
}

// readTimebaseFreq reads /cpus/<first child>/timebase-frequency through VOF's client interface
// (finddevice, child, getprop), before installVectors overwrites the firmware. On any failure tbFreq
// keeps its default (512 MHz, QEMU's pseries and POWER8/9 hardware).
//
//go:nosplit
func readTimebaseFreq() (fromDT bool) {
	if promEntry == 0 {
		return false
	}
	var name, path, prop [32]byte
	var val [2]uint32
	cpusNode, ok := of(&name, "finddevice", 1, cstr(&path, "/cpus"), 0, 0, 0)
	if !ok || cpusNode == 0 || cpusNode == 0xffffffff {
		return false
	}
	cpu, ok := of(&name, "child", 1, cpusNode, 0, 0, 0)
	if !ok || cpu == 0 || cpu == 0xffffffff {
		return false
	}
	n, ok := of(&name, "getprop", 4, cpu, cstr(&prop, "timebase-frequency"), uint32(uintptr(unsafe.Pointer(&val[0]))), 8)
	if !ok || (n != 4 && n != 8) {
		return false
	}
	f := uint64(val[0])
	if n == 8 {
		f = f<<32 | uint64(val[1])
	}
	if f < 1000000 {
		return false
	}
	tbFreq = f
	return true
}
