package shim

import "sync/atomic"

// Signals, for the two the hosted runtime relies on: SIGURG (tgkill from preemptM: asynchronous
// preemption of a goroutine in a loop without calls) and SIGSEGV for a nil dereference (address < 4 KiB, which Go turns into a
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
)

// sigaction is the kernel's struct sigaction (the same on x86-64 and ppc64).
type sigaction struct {
	handler, flags, restorer, mask uint64
}

var sigactions [nSig + 1]sigaction

// DropPreemptSignals is an injected bug (inject=no-preempt-signal): tgkill(SIGURG) is accepted and
// dropped, as a shim without signal delivery would do. smoke/preempt must then fail (hang).
var DropPreemptSignals bool

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
	if sig == sigURG && DropPreemptSignals {
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
func deliverable(t *Thread, sig int) bool {
	return sigactions[sig].handler > 1 && t.sigmask&(1<<uint(sig-1)) == 0
}

// nilFault turns a fault on the nil page into SIGSEGV for the runtime (Go's nil checks rely on it).
//
// addr is the faulting data address. The arch then returns to the thread through DeliverSignals.
//
//go:nosplit
func NilFault(addr uint64) bool {
	c := thisCPU()
	if c.Cur < 0 || addr >= 0x1000 {
		return false
	}
	t := &threads[c.Cur]
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
func SignalPending() bool {
	c := thisCPU()
	return c.Cur >= 0 && atomic.LoadUint64(&threads[c.Cur].pending)&^threads[c.Cur].sigmask != 0
}

// takeSignal takes the running thread's lowest pending, unblocked signal that has a handler; nil when
// there is none (SIG_DFL and SIG_IGN are nothing the runtime asked for: dropped).
//
//go:nosplit
func takeSignal() (*Thread, int, *sigaction) {
	c := thisCPU()
	if c.Cur < 0 {
		return nil, 0, nil
	}
	t := &threads[c.Cur]
	ready := atomic.LoadUint64(&t.pending) &^ t.sigmask
	if ready == 0 {
		return nil, 0, nil
	}
	sig := 1
	for ready&1 == 0 {
		ready >>= 1
		sig++
	}
	atomic.AndUint64(&t.pending, ^uint64(1<<uint(sig-1)))
	a := &sigactions[sig]
	if a.handler <= 1 {
		return nil, 0, nil
	}
	return t, sig, a
}

// blockDuringHandler masks what the handler runs with: its sa_mask and, without SA_NODEFER, sig.
//
//go:nosplit
func blockDuringHandler(t *Thread, sig int, a *sigaction) {
	t.sigmask |= a.mask
	if a.flags&saNoDefer == 0 {
		t.sigmask |= 1 << uint(sig-1)
	}
}
