package shim

import (
	"fmt"
	"sync/atomic"

	"lazymm/kernel/machine"
	"lazymm/mm"
)

// Inter-processor interrupts and cross-calls (smp_call_function_many): the kinds, their counts, the
// per-CPU call slots and the waits are the shim's; the arch delivers (archSendIPI: a LAPIC ICR write,
// an XICS H_IPI, which also carries POWER's soft NMI) and runs its own ops (archRunOp). Handlers run
// without the kernel lock: an NMI can arrive while its CPU holds it, and a cross-call sender may be
// waiting on a CPU that holds it.
const (
	IPIResched = iota // wake an idle CPU, or one halted in a wait (wait.go)
	IPICall           // run the cross-call in the CPU's slot
	IPITest           // only counted (and bounced back for PingPong)
	IPINMI
	nIPIKinds
)

var (
	ipiSent  [nIPIKinds][MaxCPUs]uint64
	ipiRecv  [nIPIKinds][MaxCPUs]uint64
	callLock uint32 // one cross-call sender at a time
)

// IPICounts is machine.Machine's IPICounts: what cpu sent and received, by kind.
func IPICounts(cpu int) machine.IPICounts {
	ld := func(k int, a *[nIPIKinds][MaxCPUs]uint64) uint64 { return atomic.LoadUint64(&a[k][cpu]) }
	return machine.IPICounts{
		ReschedSent: ld(IPIResched, &ipiSent), ReschedRecv: ld(IPIResched, &ipiRecv),
		CallSent: ld(IPICall, &ipiSent), CallRecv: ld(IPICall, &ipiRecv),
		TestSent: ld(IPITest, &ipiSent), TestRecv: ld(IPITest, &ipiRecv),
		NMISent: ld(IPINMI, &ipiSent), NMIRecv: ld(IPINMI, &ipiRecv),
	}
}

// SendIPI sends one IPI of kind to cpu. It is counted before it is sent: the target may act on it
// (and a pinger see the pong) before this CPU is past the send.
//
//go:nosplit
func SendIPI(cpu, kind int) {
	fl := archIRQSave()
	atomic.AddUint64(&ipiSent[kind][archCPUID()], 1)
	archSendIPI(cpu, kind)
	archIRQRestore(fl)
}

// SendIPIAllButSelf broadcasts one IPI of kind to every other online CPU.
//
//go:nosplit
func SendIPIAllButSelf(kind int) {
	fl := archIRQSave()
	atomic.AddUint64(&ipiSent[kind][archCPUID()], uint64(OnlineCPUs-1))
	archSendIPIAllButSelf(kind)
	archIRQRestore(fl)
}

// SendIPIMask sends one IPI of kind to each CPU in mask.
//
//go:nosplit
func SendIPIMask(mask uint64, kind int) {
	for i := 0; i < OnlineCPUs; i++ {
		if mask&(1<<uint(i)) != 0 {
			SendIPI(i, kind)
		}
	}
}

// IPIReceived is the receiving side, from the arch's handler (interrupts off, no kernel lock): counts,
// bounces a test IPI back to a pinger, runs a posted cross-call. An NMI's handling is the arch's.
//
//go:nosplit
func IPIReceived(kind int) {
	c := thisCPU()
	atomic.AddUint64(&ipiRecv[kind][c.ID], 1)
	switch kind {
	case IPITest:
		if to := atomic.LoadInt32(&c.pong); to >= 0 {
			SendIPI(int(to), IPITest)
		}
	case IPICall:
		runCrossCall(c)
	}
}

// RunCrossCalls runs the cross-call posted to this CPU, if any. Every loop that spins with interrupts
// off polls it (the kernel lock, PostCall's waits, the arch's own locks), so a CPU waiting for a lock
// never leaves a cross-call sender waiting for it: no deadlock between a shootdown under the kernel
// lock and a CPU spinning on that lock.
//
//go:nosplit
func RunCrossCalls() { runCrossCall(thisCPU()) }

//go:nosplit
func runCrossCall(c *CPU) {
	seq := atomic.LoadUint64(&c.callSeq)
	if seq == atomic.LoadUint64(&c.callDone) {
		return
	}
	archRunOp(int(c.ID), c.callOp, c.callArg)
	atomic.StoreUint64(&c.callDone, seq)
	wakeWaiters() // the sender may be halted waiting for this
}

// PostCall runs op on every CPU in mask (this one included, directly) and, if wait, returns when all
// have run it. From thread context with interrupts on (smp_call_function_many) or, interrupts off,
// from trap context.
//
//go:nosplit
func PostCall(mask uint64, op uint32, arg uint64, wait bool) {
	mask &= 1<<uint(OnlineCPUs) - 1
	fl := archIRQSave() // stay on this CPU, and poll our own slot while waiting
	c := thisCPU()
	me := int(c.ID)
	var w spinWait
	for !atomic.CompareAndSwapUint32(&callLock, 0, 1) {
		runCrossCall(c)
		w.pause(c)
	}
	w.done(c)
	mask &^= mm.OfflineMask() // cpu_online_mask, read under the lock CPUDying takes
	for i := 0; i < OnlineCPUs; i++ {
		if mask&(1<<uint(i)) == 0 || i == me {
			continue
		}
		t := &CPUs[i]
		for atomic.LoadUint64(&t.callDone) != atomic.LoadUint64(&t.callSeq) { // previous call consumed
			runCrossCall(c)
			w.pause(c)
		}
		w.done(c)
		t.callOp, t.callArg = op, arg
		atomic.AddUint64(&t.callSeq, 1)
		SendIPI(i, IPICall)
	}
	if mask&(1<<uint(me)) != 0 {
		archRunOp(me, op, arg)
	}
	atomic.StoreUint32(&callLock, 0)
	wakeWaiters()
	if wait {
		for i := 0; i < OnlineCPUs; i++ {
			if mask&(1<<uint(i)) != 0 && i != me {
				for atomic.LoadUint64(&CPUs[i].callDone) != atomic.LoadUint64(&CPUs[i].callSeq) {
					runCrossCall(c)
					w.pause(c)
				}
				w.done(c)
			}
		}
	}
	archIRQRestore(fl)
}

// pingPongWait is how long a round may wait for its answer, in seconds, as the kernel's other waits
// for another CPU: a vCPU descheduled by a busy host answers late, not never.
const pingPongWait = 10

// PingPong bounces test IPIs between this CPU and to, rounds times, and returns each round trip in
// cycles; the caller is pinned here. hz is the cycle counter's rate.
func PingPong(to, rounds int, hz uint64) ([]uint64, error) {
	me := archCPUID()
	if to == me || to < 0 || to >= OnlineCPUs {
		return nil, fmt.Errorf("ping-pong from cpu %d to cpu %d: not another online CPU", me, to)
	}
	atomic.StoreInt32(&CPUs[to].pong, int32(me))
	defer atomic.StoreInt32(&CPUs[to].pong, -1)
	rtt := make([]uint64, 0, rounds)
	for r := 0; r < rounds; r++ {
		before := atomic.LoadUint64(&ipiRecv[IPITest][me])
		t0 := archCycles()
		SendIPI(to, IPITest)
		for atomic.LoadUint64(&ipiRecv[IPITest][me]) == before {
			if archCycles()-t0 > pingPongWait*hz {
				return rtt, fmt.Errorf("round %d: no answer from cpu %d within %d s", r, to, pingPongWait)
			}
			mm.Relax()
		}
		rtt = append(rtt, archCycles()-t0)
		if archCPUID() != me {
			return rtt, fmt.Errorf("the pinned caller moved from cpu %d to cpu %d", me, archCPUID())
		}
	}
	return rtt, nil
}

// CPUID is this CPU's index; IRQSave and IRQRestore turn its interrupts off and back (for the
// packages above the shim that run with interrupts off: paging).
//
//go:nosplit
func CPUID() int { return archCPUID() }

//go:nosplit
func IRQSave() uint64 { return archIRQSave() }

//go:nosplit
func IRQRestore(fl uint64) { archIRQRestore(fl) }
