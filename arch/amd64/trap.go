package amd64

import (
	"unsafe"

	"lazymm/mm"
)

// Frame is what trapCommon pushes: general registers (last pushed first), the vector and error code,
// and the hardware interrupt frame. SYSCALL entries build the same shape with vector 0x100.
type Frame struct {
	R15, R14, R13, R12, R11, R10, R9, R8 uint64
	RBP, RDI, RSI, RDX, RCX, RBX, RAX    uint64
	Vector, Err                          uint64
	RIP, CS, RFLAGS, RSP, SS             uint64
}

const (
	vecNMI      = 2
	vecPF       = 14
	vecTimer    = 0x20
	vecResched  = 0xf1
	vecCall     = 0xf2
	vecTest     = 0xf3
	vecSpurious = 0xff
	vecSyscall  = 0x100

	exitCrashBase = 0x60 // isa-debug-exit value for a CPU exception: 0x60 + vector
)

//go:nosplit
func ptr(p uintptr) unsafe.Pointer { return unsafe.Add(nil, p) }

// thisCPU returns the per-CPU area through GS.
//
//go:nosplit
func thisCPU() *percpu { return (*percpu)(ptr(uintptr(rdmsr(msrGSBase)))) }

// trap is the one entry from trapCommon, interrupts off, on a per-CPU stack. It must not allocate, grow
// the stack or take runtime locks: everything it calls is nosplit and works on fixed storage.
//
//go:nosplit
func trap(f *Frame) {
	switch f.Vector {
	case vecNMI, vecResched, vecCall, vecTest:
		ipiInterrupt(f)
		return
	case vecTimer:
		if c := thisCPU(); !timerTick(c) && !signalPending(c) {
			return
		}
	}
	if !lockKernelFrom(f) {
		crash(f) // a fault inside the kernel itself: nothing to recover
	}
	switch {
	case f.Vector == vecSyscall:
		syscallDispatch(f)
	case f.Vector == vecTimer:
		timerInterrupt(f)
	case f.Vector == vecSpurious:
	case f.Vector == vecPF && (pageFault(f) || nilFault(f)):
	default:
		crash(f)
	}
	deliverSignals(f)
	trapInjected()
	unlockKernel()
}

var vecNames = [32]string{"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
	"#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23", "#24",
	"#25", "#26", "#27", "#HV", "#VC", "#SX", "#31"}

// crash prints the crash-dump block of docs/PROTOCOL.md and ends the machine with 0x60+vector.
//
//go:nosplit
func crash(f *Frame) {
	c := thisCPU()
	consoleLockForce() // held to the end: nothing else prints over a crash dump
	kputs("\nLZ1 crash cpu=")
	kputdec(c.id)
	kputs(" kind=exception vector=")
	kputdec(f.Vector)
	kputs(" name=")
	if f.Vector < 32 {
		kputs(vecNames[f.Vector])
	} else {
		kputs("irq")
	}
	kputs(" error=")
	kputhex(f.Err)
	kputs(" rip=")
	kputhex(f.RIP)
	kputs(" rsp=")
	kputhex(f.RSP)
	kputs(" cr2=")
	kputhex(readCR2())
	kputs(" cr3=")
	kputhex(readCR3())
	kputs(" tid=")
	if c.cur >= 0 {
		kputdec(uint64(threads[c.cur].tid))
	} else {
		kputs("-")
	}
	kputs("\nLZ1 regs rax=")
	kputhex(f.RAX)
	kputs(" rbx=")
	kputhex(f.RBX)
	kputs(" rcx=")
	kputhex(f.RCX)
	kputs(" rdx=")
	kputhex(f.RDX)
	kputs(" rsi=")
	kputhex(f.RSI)
	kputs(" rdi=")
	kputhex(f.RDI)
	kputs(" rbp=")
	kputhex(f.RBP)
	kputs(" r8=")
	kputhex(f.R8)
	kputs("\nLZ1 regs r9=")
	kputhex(f.R9)
	kputs(" r10=")
	kputhex(f.R10)
	kputs(" r11=")
	kputhex(f.R11)
	kputs(" r12=")
	kputhex(f.R12)
	kputs(" r13=")
	kputhex(f.R13)
	kputs(" r14=")
	kputhex(f.R14)
	kputs(" r15=")
	kputhex(f.R15)
	kputs(" rflags=")
	kputhex(f.RFLAGS)
	kputs(" cs=")
	kputhex(f.CS)
	kputs("\nLZ1 bytes at=")
	kputhex(f.RIP)
	kputs(" hex=")
	const digits = "0123456789abcdef"
	for i := uint64(0); i < 16; i++ {
		pa, ok := mm.Translate(readCR3()&^0xfff, uintptr(f.RIP+i))
		if !ok {
			break
		}
		b := *(*byte)(mm.Phys(pa))
		putc(digits[b>>4])
		putc(digits[b&15])
	}
	status := exitCrashBase + f.Vector&31
	kputs("\nLZ1 crash-end status=")
	kputdec(status)
	kputs("\n")
	machineExit(int(status))
}

// machineExit ends QEMU through isa-debug-exit (status (v<<1)|1); on a board without it, halts.
//
//go:nosplit
func machineExit(v int) {
	outl(0xf4, uint32(v))
	haltForever()
}
