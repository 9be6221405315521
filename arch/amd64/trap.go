package amd64

import (
	"unsafe"

	"lazymm/kernel/shim"
	"lazymm/mm"
)

// Frame is what trapCommon pushes (the layout is the shim's: shim/frame_amd64.go).
type Frame = shim.Frame

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
		if !timerTick(thisCPU()) && !shim.SignalPending() {
			return
		}
	}
	if shim.Waiting() {
		return // it ended a halt in a wait for another CPU: nothing is scheduled inside one
	}
	if !shim.LockKernelFrom() {
		crash(f) // a fault inside the kernel itself: nothing to recover
	}
	switch {
	case f.Vector == vecSyscall:
		shim.Syscall(f)
	case f.Vector == vecTimer:
		shim.TimerInterrupt(f)
	case f.Vector == vecSpurious:
	case f.Vector == vecPF && (pageFault(f) || shim.NilFault(readCR2())):
	default:
		crash(f)
	}
	shim.DeliverSignals(f)
	trapInjected()
	shim.UnlockKernel()
}

var vecNames = [32]string{"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
	"#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23", "#24",
	"#25", "#26", "#27", "#HV", "#VC", "#SX", "#31"}

// crash prints the crash-dump block of docs/PROTOCOL.md and ends the machine with 0x60+vector.
//
//go:nosplit
func crash(f *Frame) {
	c := thisCPU()
	shim.ConsoleLockForce() // held to the end: nothing else prints over a crash dump
	shim.Puts("\nLZ1 crash cpu=")
	shim.PutDec(c.id)
	shim.Puts(" kind=exception vector=")
	shim.PutDec(f.Vector)
	shim.Puts(" name=")
	if f.Vector < 32 {
		shim.Puts(vecNames[f.Vector])
	} else {
		shim.Puts("irq")
	}
	shim.Puts(" error=")
	shim.PutHex(f.Err)
	shim.Puts(" rip=")
	shim.PutHex(f.RIP)
	shim.Puts(" rsp=")
	shim.PutHex(f.RSP)
	shim.Puts(" cr2=")
	shim.PutHex(readCR2())
	shim.Puts(" cr3=")
	shim.PutHex(readCR3())
	shim.Puts(" tid=")
	if tid, ok := shim.CurrentTID(); ok {
		shim.PutDec(uint64(tid))
	} else {
		shim.Puts("-")
	}
	shim.Puts("\nLZ1 regs rax=")
	shim.PutHex(f.RAX)
	shim.Puts(" rbx=")
	shim.PutHex(f.RBX)
	shim.Puts(" rcx=")
	shim.PutHex(f.RCX)
	shim.Puts(" rdx=")
	shim.PutHex(f.RDX)
	shim.Puts(" rsi=")
	shim.PutHex(f.RSI)
	shim.Puts(" rdi=")
	shim.PutHex(f.RDI)
	shim.Puts(" rbp=")
	shim.PutHex(f.RBP)
	shim.Puts(" r8=")
	shim.PutHex(f.R8)
	shim.Puts("\nLZ1 regs r9=")
	shim.PutHex(f.R9)
	shim.Puts(" r10=")
	shim.PutHex(f.R10)
	shim.Puts(" r11=")
	shim.PutHex(f.R11)
	shim.Puts(" r12=")
	shim.PutHex(f.R12)
	shim.Puts(" r13=")
	shim.PutHex(f.R13)
	shim.Puts(" r14=")
	shim.PutHex(f.R14)
	shim.Puts(" r15=")
	shim.PutHex(f.R15)
	shim.Puts(" rflags=")
	shim.PutHex(f.RFLAGS)
	shim.Puts(" cs=")
	shim.PutHex(f.CS)
	shim.Puts("\nLZ1 bytes at=")
	shim.PutHex(f.RIP)
	shim.Puts(" hex=")
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
	shim.Puts("\nLZ1 crash-end status=")
	shim.PutDec(status)
	shim.Puts("\n")
	machineExit(int(status))
}

// machineExit ends QEMU through isa-debug-exit (status (v<<1)|1); on a board without it, halts.
//
//go:nosplit
func machineExit(v int) {
	outl(0xf4, uint32(v))
	haltForever()
}
