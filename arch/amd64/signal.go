package amd64

import "sync/atomic"

// Signal delivery, as Linux's x86-64 setup_rt_frame / rt_sigreturn do it, for the two signals the
// hosted runtime relies on: SIGURG (tgkill from preemptM: asynchronous preemption of a goroutine in a
// loop without calls) and SIGSEGV for a nil dereference (address < 4 KiB, which Go turns into a
// recoverable panic). Other faults are the kernel's: they get a CPU-exception crash dump instead.
const (
	sigSEGV = 11
	sigURG  = 23
	nSig    = 64

	saOnStack  = 0x08000000
	saNoDefer  = 0x40000000
	ssDisable  = 2
	siTkill    = -6
	segvMaperr = 1

	ucSize   = 304 // uc_flags, uc_link, uc_stack, uc_mcontext (gregs, fpregs, reserved), uc_sigmask
	ucMctx   = 40
	ucMask   = 296
	infoSize = 128
)

// sigaction is the kernel's struct sigaction on x86-64.
type sigaction struct {
	handler, flags, restorer, mask uint64
}

var sigactions [nSig + 1]sigaction

// dropPreemptSignals is an injected bug (inject=no-preempt-signal): tgkill(SIGURG) is accepted and
// dropped, as a shim without signal delivery would do. smoke/preempt must then fail (hang).
var dropPreemptSignals bool

//go:nosplit
func rtSigaction(sig int64, act, old uintptr) int64 {
	if sig < 1 || sig > nSig {
		return -eINVAL
	}
	if old != 0 {
		if !userOK(old, 32) {
			return -eFAULT
		}
		*(*sigaction)(ptr(old)) = sigactions[sig]
	}
	if act != 0 {
		if !userOK(act, 32) {
			return -eFAULT
		}
		sigactions[sig] = *(*sigaction)(ptr(act))
	}
	return 0
}

// sigaltstack: stack_t is {ss_sp, ss_flags int32 (+pad), ss_size}.
//
//go:nosplit
func sigaltstack(ss, old uintptr) int64 {
	t := curThread()
	if old != 0 {
		if !userOK(old, 24) {
			return -eFAULT
		}
		*(*uint64)(ptr(old)) = uint64(t.altSP)
		flags := int32(0)
		if t.altSize == 0 {
			flags = ssDisable
		}
		*(*int32)(ptr(old + 8)) = flags
		*(*uint64)(ptr(old + 16)) = uint64(t.altSize)
	}
	if ss != 0 {
		if !userOK(ss, 24) {
			return -eFAULT
		}
		if *(*int32)(ptr(ss + 8))&ssDisable != 0 {
			t.altSP, t.altSize = 0, 0
		} else {
			t.altSP, t.altSize = uintptr(*(*uint64)(ptr(ss))), uintptr(*(*uint64)(ptr(ss + 16)))
		}
	}
	return 0
}

// tgkill marks the signal pending on the target thread; it is delivered when that thread next returns
// from the kernel (at once if it is the caller).
//
//go:nosplit
func tgkill(tid int64, sig int64) int64 {
	if sig < 1 || sig > nSig {
		return -eINVAL
	}
	if sig == sigURG && dropPreemptSignals {
		return 0
	}
	for i := range threads {
		t := &threads[i]
		if t.state != tFree && int64(t.tid) == tid {
			atomic.OrUint64(&t.pending, 1<<uint(sig-1))
			return 0
		}
	}
	return -3 // ESRCH
}

// deliverable reports whether the current thread would take sig now.
//
//go:nosplit
func deliverable(t *thread, sig int) bool {
	return sigactions[sig].handler > 1 && t.sigmask&(1<<uint(sig-1)) == 0
}

// deliverSignals builds a signal frame for the lowest pending, unblocked signal with a handler and
// redirects the frame to the handler. Called on the way out of every kernel entry.
//
//go:nosplit
func deliverSignals(f *Frame) {
	c := thisCPU()
	if c.cur < 0 {
		return
	}
	t := &threads[c.cur]
	ready := atomic.LoadUint64(&t.pending) &^ t.sigmask
	if ready == 0 {
		return
	}
	sig := 1
	for ready&1 == 0 {
		ready >>= 1
		sig++
	}
	atomic.AndUint64(&t.pending, ^uint64(1<<uint(sig-1)))
	a := &sigactions[sig]
	if a.handler <= 1 { // SIG_DFL / SIG_IGN: nothing the runtime asked for
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
		*(*uint64)(ptr(fx + off)) = *(*uint64)(ptr(alignFX(&t.fx) + off))
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

	t.sigmask |= a.mask
	if a.flags&saNoDefer == 0 {
		t.sigmask |= 1 << uint(sig-1)
	}
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
			*(*uint64)(ptr(alignFX(&t.fx) + off)) = *(*uint64)(ptr(fx + off))
		}
		// keep MXCSR sane: reserved bits set would #GP on FXRSTOR
		*(*uint32)(ptr(alignFX(&t.fx) + 24)) &= 0xffff
	}
	t.sigmask = *(*uint64)(ptr(uc + ucMask))
	return true
}

// nilFault turns a fault on the nil page into SIGSEGV for the runtime (Go's nil checks rely on it).
//
//go:nosplit
func nilFault(f *Frame) bool {
	c := thisCPU()
	addr := readCR2()
	if c.cur < 0 || addr >= 0x1000 {
		return false
	}
	t := &threads[c.cur]
	if !deliverable(t, sigSEGV) {
		return false
	}
	t.faultAddr = addr
	atomic.OrUint64(&t.pending, 1<<(sigSEGV-1))
	return true
}

// signalPending says, without the kernel lock, whether the running thread has a signal to take.
//
//go:nosplit
func signalPending(c *percpu) bool {
	return c.cur >= 0 && atomic.LoadUint64(&threads[c.cur].pending)&^threads[c.cur].sigmask != 0
}
