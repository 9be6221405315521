package shim

import "unsafe"

// Frame is what arch/amd64's trapCommon pushes: general registers (last pushed first), the vector and
// error code, and the hardware interrupt frame. SYSCALL entries build the same shape with vector 0x100.
type Frame struct {
	R15, R14, R13, R12, R11, R10, R9, R8 uint64
	RBP, RDI, RSI, RDX, RCX, RBX, RAX    uint64
	Vector, Err                          uint64
	RIP, CS, RFLAGS, RSP, SS             uint64
}

// FPArea holds a thread's FXSAVE image, 16-byte aligned inside it (Addr).
type FPArea [512 + 16]byte

// Addr is the aligned FXSAVE address.
//
//go:nosplit
func (a *FPArea) Addr() uintptr { return (uintptr(unsafe.Pointer(&a[0])) + 15) &^ 15 }

// copyFrom copies another thread's FPU state (clone, like copy_thread).
//
//go:nosplit
func (a *FPArea) copyFrom(src *FPArea) {
	d, s := a.Addr(), src.Addr()
	for off := uintptr(0); off < 512; off += 8 {
		*(*uint64)(ptr(d + off)) = *(*uint64)(ptr(s + off))
	}
}

// The x86-64 system-call convention: number in RAX, arguments in RDI, RSI, RDX, R10, R8, R9, result
// (or -errno) in RAX.

//go:nosplit
func (f *Frame) nr() uint64 { return f.RAX }

//go:nosplit
func (f *Frame) args() (a0, a1, a2, a3 uint64) { return f.RDI, f.RSI, f.RDX, f.R10 }

//go:nosplit
func (f *Frame) setRet(r int64) { f.RAX = uint64(r) }

// cloneChild makes f the child's frame of clone: it returns 0 on the given stack.
//
//go:nosplit
func (f *Frame) cloneChild(stack uint64) {
	f.RAX = 0
	f.RSP = stack
}

// cloneTLS is clone's TLS argument (x86-64 order: flags, stack, ptid, ctid, tls).
//
//go:nosplit
func (f *Frame) cloneTLS() uint64 { return f.R8 }

// struct epoll_event is packed on x86-64: u32 events, u64 data at 4.
const epollEventSize, epollDataOff = 12, 4
