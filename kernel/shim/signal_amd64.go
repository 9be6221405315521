package shim

// Signal delivery, as Linux's x86-64 setup_rt_frame / rt_sigreturn do it.

// The x86-64 signal frame (arch/x86/include/uapi/asm/ucontext.h, sigcontext.h).
const (
	ucSize   = 304 // uc_flags, uc_link, uc_stack, uc_mcontext (gregs, fpregs, reserved), uc_sigmask
	ucMctx   = 40
	ucMask   = 296
	infoSize = 128
)

// DeliverSignals builds a signal frame for the lowest pending, unblocked signal with a handler and
// redirects the frame to the handler. Called on the way out of every kernel entry.
//
//go:nosplit
func DeliverSignals(f *Frame) {
	t, sig, a := takeSignal()
	if t == nil {
		return
	}
	sp := uintptr(f.RSP) - 128 // below the interrupted code's red zone
	if a.flags&saOnStack != 0 && t.altSize != 0 && !(sp >= t.altSP && sp < t.altSP+t.altSize) {
		sp = t.altSP + t.altSize
	}
	fx := (sp - 512) &^ 63
	info := fx - infoSize
	uc := (info - ucSize) &^ 15
	frame := uc - 8 // return address slot: handler entry sees RSP ≡ 8 mod 16, as after a CALL
	if !userOK(frame, sp-frame) {
		return // no stack to deliver on: the signal is dropped, as Linux would force SIGSEGV
	}
	for off := uintptr(0); off < 512; off += 8 {
		*(*uint64)(ptr(fx + off)) = *(*uint64)(ptr(t.FP.Addr() + off))
	}
	for off := uintptr(0); off < infoSize+ucSize; off += 8 {
		*(*uint64)(ptr(uc + off)) = 0
	}
	*(*int32)(ptr(info)) = int32(sig)
	if sig == sigSEGV {
		*(*int32)(ptr(info + 8)) = segvMaperr
		*(*uint64)(ptr(info + 16)) = t.faultAddr
	} else {
		*(*int32)(ptr(info + 8)) = siTkill
		*(*int32)(ptr(info + 16)) = 1 // si_pid
	}
	*(*uint64)(ptr(uc + 16)) = uint64(t.altSP)
	if t.altSize == 0 {
		*(*int32)(ptr(uc + 24)) = ssDisable
	}
	*(*uint64)(ptr(uc + 32)) = uint64(t.altSize)
	g := (*[23]uint64)(ptr(uc + ucMctx))
	g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7] = f.R8, f.R9, f.R10, f.R11, f.R12, f.R13, f.R14, f.R15
	g[8], g[9], g[10], g[11], g[12], g[13], g[14] = f.RDI, f.RSI, f.RBP, f.RBX, f.RDX, f.RAX, f.RCX
	g[15], g[16], g[17], g[18] = f.RSP, f.RIP, f.RFLAGS, f.CS
	g[19], g[20], g[22] = f.Err, f.Vector, t.faultAddr
	*(*uint64)(ptr(uc + ucMctx + 23*8)) = uint64(fx) // fpregs
	*(*uint64)(ptr(uc + ucMask)) = t.sigmask
	*(*uint64)(ptr(frame)) = a.restorer

	blockDuringHandler(t, sig, a)
	f.RIP = a.handler
	f.RSP = uint64(frame)
	f.RDI, f.RSI, f.RDX, f.RAX = uint64(sig), uint64(info), uint64(uc), 0
	f.RFLAGS &^= 0x500 // TF, DF
}

// rtSigreturn restores the context a handler may have edited (Go's async preemption rewrites RIP and
// RSP to inject a call to asyncPreempt; sigpanic injection does the same).
//
//go:nosplit
func rtSigreturn(f *Frame) bool {
	t := curThread()
	uc := uintptr(f.RSP) // the restorer's SYSCALL runs with RSP at the ucontext (return address popped)
	if !userOK(uc, ucSize) {
		return false
	}
	g := (*[23]uint64)(ptr(uc + ucMctx))
	f.R8, f.R9, f.R10, f.R11, f.R12, f.R13, f.R14, f.R15 = g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]
	f.RDI, f.RSI, f.RBP, f.RBX, f.RDX, f.RAX, f.RCX = g[8], g[9], g[10], g[11], g[12], g[13], g[14]
	f.RSP, f.RIP = g[15], g[16]
	const userFlags = 0xcd5 // CF PF AF ZF SF TF DF OF: what a handler may change
	f.RFLAGS = f.RFLAGS&^userFlags | g[17]&userFlags | 0x200
	if fx := uintptr(*(*uint64)(ptr(uc + ucMctx + 23*8))); fx != 0 && userOK(fx, 512) {
		for off := uintptr(0); off < 512; off += 8 {
			*(*uint64)(ptr(t.FP.Addr() + off)) = *(*uint64)(ptr(fx + off))
		}
		// keep MXCSR sane: reserved bits set would #GP on FXRSTOR
		*(*uint32)(ptr(t.FP.Addr() + 24)) &= 0xffff
	}
	t.sigmask = *(*uint64)(ptr(uc + ucMask))
	return true
}
