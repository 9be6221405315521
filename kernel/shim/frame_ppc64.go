package shim

import "unsafe"

// Frame is a thread's register state at a kernel entry (exception, interrupt or sc), as
// arch/ppc64's trap entry saves it; the offsets are the assembly's.
type Frame struct {
	GPR    [32]uint64 // 0: r0..r31
	PC     uint64     // 256: SRR0 (for sc: the instruction after it)
	MSR    uint64     // 264: SRR1
	LR     uint64     // 272
	CTR    uint64     // 280
	CR     uint64     // 288
	XER    uint64     // 296
	Vector uint64     // 304: 0x300, 0x500, 0x700, 0x900, 0xc00, ...
	DAR    uint64     // 312
	DSISR  uint64     // 320
	_      uint64     // 328
}

// FPArea is a thread's floating-point and vector state: VSR0-63 (the FPRs are the high halves of
// VSR0-31), FPSCR and VSCR.
type FPArea struct {
	VSR   [64][2]uint64
	FPSCR uint64
	VSCR  uint64
}

// Addr is the area's address, as the trap entry's save and restore use it.
//
//go:nosplit
func (a *FPArea) Addr() uintptr { return uintptr(unsafe.Pointer(a)) }

//go:nosplit
func (a *FPArea) copyFrom(src *FPArea) { *a = *src }

// The Linux ppc64 system-call convention: number in r0, arguments in r3-r8, result in r3; on error
// CR0.SO is set and r3 holds the positive errno.
const crSO = 0x10000000 // CR0's summary-overflow bit

//go:nosplit
func (f *Frame) nr() uint64 { return f.GPR[0] }

//go:nosplit
func (f *Frame) args() (a0, a1, a2, a3 uint64) { return f.GPR[3], f.GPR[4], f.GPR[5], f.GPR[6] }

//go:nosplit
func (f *Frame) setRet(r int64) {
	if r < 0 && r > -4096 {
		f.GPR[3] = uint64(-r)
		f.CR |= crSO
		return
	}
	f.GPR[3] = uint64(r)
	f.CR &^= crSO
}

// cloneChild makes f the child's frame of clone: it returns 0 on the given stack.
//
//go:nosplit
func (f *Frame) cloneChild(stack uint64) {
	f.setRet(0)
	f.GPR[1] = stack
}

// cloneTLS is clone's TLS argument (ppc64 order: flags, stack, ptid, tls, ctid); Go's ppc64 runtime
// never asks for CLONE_SETTLS.
//
//go:nosplit
func (f *Frame) cloneTLS() uint64 { return f.GPR[6] }

// struct epoll_event is naturally aligned on ppc64: u32 events, padding, u64 data at 8.
const epollEventSize, epollDataOff = 16, 8
