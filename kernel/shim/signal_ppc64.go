package shim

import "unsafe"

// Signal delivery, as Linux's ppc64 handle_rt_signal64 / sys_rt_sigreturn do it. The handler is an
// ELFv1 function descriptor (entry, TOC); it returns through LR to sigreturnTramp, whose sc is
// rt_sigreturn with r1 where the handler was entered.

// The ppc64 signal frame (arch/powerpc/include/uapi/asm/ucontext.h, sigcontext.h, ptrace.h).
const (
	ucSize      = 1696 // uc_flags, uc_link, uc_stack, uc_sigmask, 15 unused, uc_mcontext
	ucMask      = 40
	ucMctx      = 168
	ucFPCopy    = ucMctx      // sigcontext._unused[0]: where the FP registers were saved (ours)
	mcRegsPtr   = ucMctx + 56 // sigcontext.regs: points at gp_regs
	mcGPRegs    = ucMctx + 64 // gp_regs[48], a struct pt_regs
	infoSize    = 128
	sigFrameLen = 128 // __SIGNAL_FRAMESIZE: the handler's caller frame below the ucontext
	redZone     = 288 // the ELF ABI's protected zone below r1

	ptNIP, ptMSR, ptCTR, ptLink, ptXER, ptCCR, ptTrap, ptDAR, ptDSISR = 32, 33, 35, 36, 37, 38, 40, 41, 42
)

func sigreturnTramp()

// sigreturnTrampAddr is sigreturnTramp's address (sigtramp_ppc64.s).
func sigreturnTrampAddr() uint64

// DeliverSignals builds a signal frame for the lowest pending, unblocked signal with a handler and
// redirects the frame to the handler. Called on the way out of every kernel entry.
//
//go:nosplit
func DeliverSignals(f *Frame) {
	t, sig, a := takeSignal()
	if t == nil {
		return
	}
	sp := uintptr(f.GPR[1]) - redZone
	if a.flags&saOnStack != 0 && t.altSize != 0 && !(sp >= t.altSP && sp < t.altSP+t.altSize) {
		sp = t.altSP + t.altSize
	}
	fp := (sp - unsafe.Sizeof(FPArea{})) &^ 15
	info := fp - infoSize
	uc := (info - ucSize) &^ 15
	frame := uc - sigFrameLen
	if !userOK(frame, sp-frame) || !userOK(uintptr(a.handler), 16) {
		return // no stack to deliver on: the signal is dropped, as Linux would force SIGSEGV
	}
	*(*FPArea)(ptr(fp)) = t.FP // restored by rt_sigreturn: the handler may use the FP registers
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
	*(*uint64)(ptr(uc + ucMask)) = t.sigmask
	*(*int32)(ptr(uc + ucMctx + 32)) = int32(sig)
	*(*uint64)(ptr(uc + ucMctx + 40)) = a.handler
	*(*uint64)(ptr(uc + ucFPCopy)) = uint64(fp)
	*(*uint64)(ptr(uc + mcRegsPtr)) = uint64(uc + mcGPRegs)
	g := (*[48]uint64)(ptr(uc + mcGPRegs))
	for i := range f.GPR {
		g[i] = f.GPR[i]
	}
	g[ptNIP], g[ptMSR], g[ptCTR], g[ptLink] = f.PC, f.MSR, f.CTR, f.LR
	g[ptXER], g[ptCCR], g[ptTrap], g[ptDAR], g[ptDSISR] = f.XER, f.CR, f.Vector, t.faultAddr, f.DSISR
	*(*uint64)(ptr(frame)) = f.GPR[1] // the back chain

	blockDuringHandler(t, sig, a)
	desc := uintptr(a.handler)
	f.PC = *(*uint64)(ptr(desc))
	f.GPR[2] = *(*uint64)(ptr(desc + 8))
	f.GPR[12] = f.PC
	f.LR = sigreturnTrampAddr()
	f.GPR[1] = uint64(frame)
	f.GPR[3], f.GPR[4], f.GPR[5], f.GPR[6] = uint64(sig), uint64(info), uint64(uc), uint64(uc)
}

// rtSigreturn restores the context a handler may have edited (Go's async preemption rewrites the PC,
// LR and r1 to inject a call to asyncPreempt; sigpanic injection does the same).
//
//go:nosplit
func rtSigreturn(f *Frame) bool {
	t := curThread()
	frame := uintptr(f.GPR[1]) // the handler has returned: r1 is where it was entered
	uc := frame + sigFrameLen
	if !userOK(frame, sigFrameLen+ucSize+infoSize) {
		return false
	}
	g := (*[48]uint64)(ptr(uc + mcGPRegs))
	for i := range f.GPR {
		f.GPR[i] = g[i]
	}
	f.PC, f.CTR, f.LR, f.XER, f.CR = g[ptNIP], g[ptCTR], g[ptLink], g[ptXER], g[ptCCR]
	if fp := uintptr(*(*uint64)(ptr(uc + ucFPCopy))); userOK(fp, unsafe.Sizeof(FPArea{})) {
		t.FP = *(*FPArea)(ptr(fp))
	}
	t.sigmask = *(*uint64)(ptr(uc + ucMask))
	return true
}
