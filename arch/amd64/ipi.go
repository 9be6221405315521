package amd64

import (
	"fmt"
	"sync/atomic"

	"github.com/usbarmory/tamago/amd64/lapic"

	"lazymm/kernel"
	"lazymm/mm"
	"lazymm/shim"
)

// Inter-processor interrupts: reschedule (wake an idle CPU), cross-call (smp_call_function_many),
// a test vector that only counts, and NMIs. Their handlers run without the kernel lock: an NMI can
// arrive while its CPU holds it, and a cross-call sender may be waiting on a CPU that holds it.
const (
	ipiResched = iota
	ipiCall
	ipiTest
	ipiNMI
	nIPIKinds
)

var (
	ipiSent  [nIPIKinds][maxCPUs]uint64
	ipiRecv  [nIPIKinds][maxCPUs]uint64
	callLock uint32 // one cross-call sender at a time
)

var ipiVector = [nIPIKinds]uint32{vecResched, vecCall, vecTest, 0}

// sendIPI sends one IPI of a kind to a CPU. Interrupts are off around the two ICR writes, so a
// handler on this CPU cannot send in between.
//
//go:nosplit
func sendIPI(cpu int, kind int) {
	fl := irqSave()
	low := ipiVector[kind] | lapic.ICR_DLV_IRQ
	if kind == ipiNMI {
		low = lapic.ICR_DLV_NMI
	}
	// counted before the ICR write: the target may act on the IPI (and a pinger see the pong)
	// before this CPU gets past the write
	atomic.AddUint64(&ipiSent[kind][thisCPU().id], 1)
	icrSend(apicIDs[cpu], low)
	irqRestore(fl)
}

// sendIPIAllButSelf broadcasts one IPI of a kind with the ICR's all-excluding-self shorthand.
//
//go:nosplit
func sendIPIAllButSelf(kind int) {
	fl := irqSave()
	low := ipiVector[kind] | lapic.ICR_DLV_IRQ | lapic.ICR_DST_REST
	if kind == ipiNMI {
		low = lapic.ICR_DLV_NMI | lapic.ICR_DST_REST
	}
	atomic.AddUint64(&ipiSent[kind][thisCPU().id], uint64(shim.OnlineCPUs-1))
	icrSend(0, low)
	irqRestore(fl)
}

// sendIPIMask sends one IPI of a kind to each CPU in mask.
//
//go:nosplit
func sendIPIMask(mask uint64, kind int) {
	for i := 0; i < shim.OnlineCPUs; i++ {
		if mask&(1<<uint(i)) != 0 {
			sendIPI(i, kind)
		}
	}
}

// ipiInterrupt handles the IPI vectors and NMIs, without the kernel lock.
//
//go:nosplit
func ipiInterrupt(f *Frame) {
	c := thisCPU()
	switch f.Vector {
	case vecNMI:
		atomic.AddUint64(&ipiRecv[ipiNMI][c.id], 1)
		kernel.HandleNMI(int(c.id))
		return // NMIs take no EOI
	case vecResched:
		atomic.AddUint64(&ipiRecv[ipiResched][c.id], 1)
	case vecTest:
		atomic.AddUint64(&ipiRecv[ipiTest][c.id], 1)
		if to := atomic.LoadInt32(&c.pong); to >= 0 {
			sendIPI(int(to), ipiTest)
		}
	case vecCall:
		atomic.AddUint64(&ipiRecv[ipiCall][c.id], 1)
		runCrossCall(c)
	}
	lapicEOI()
}

// The arch's own cross-calls, above the kernel's ops.
const (
	callFlushTLB = 1<<31 + iota // flush everything, globals included (the runtime's munmap/MADV_DONTNEED)
	callFlushMM                 // flush_tlb_func for the mm.FlushInfo at arg
	callAudit                   // the CR3 audit (freed-page-table detector)
	callSetPCID                 // PCIDs on (arg 1) or off
)

// runOp runs one cross-call op on this CPU: the arch's, or the kernel's through its closed switch.
//
//go:nosplit
func runOp(cpu int, op uint32, arg uint64) {
	switch op {
	case callFlushTLB:
		flushGlobal()
	case callFlushMM:
		flushIPI(cpu, arg)
	case callAudit:
		auditCR3(cpu, auditCall)
	case callSetPCID:
		setPCIDMode(cpu, arg != 0)
	default:
		if kernel.HandleCrossCall(cpu, kernel.CrossCallOp(op), arg) {
			switchMMIrqsOff(cpu, &mm.InitMM) // the kernel's op asked this CPU to leave its lazy mm
		}
	}
}

// runCrossCall runs the cross-call posted in this CPU's slot, if it has not run yet. Besides the IPI
// handler, every loop that spins with interrupts off polls it (lockKernel, crossCall's waits), so a
// CPU waiting for a lock never leaves a cross-call sender waiting for it: no deadlock between a
// shootdown under the kernel lock and a CPU spinning on that lock.
//
//go:nosplit
func runCrossCall(c *percpu) {
	seq := atomic.LoadUint64(&c.callSeq)
	if seq == atomic.LoadUint64(&c.callDone) {
		return
	}
	runOp(int(c.id), c.callOp, c.callArg)
	atomic.StoreUint64(&c.callDone, seq)
}

// crossCall runs op on every CPU in mask (this one included, directly) and, if wait, returns when all
// have run it. Called from thread context with interrupts on, as smp_call_function_many.
//
//go:nosplit
func crossCall(mask uint64, op kernel.CrossCallOp, arg uint64, wait bool) {
	postCall(mask, uint32(op), arg, wait)
}

// postCall is crossCall for kernel ops and the arch's own (callFlushTLB); it may be called from
// thread context or, interrupts off, from trap context.
//
//go:nosplit
func postCall(mask uint64, op uint32, arg uint64, wait bool) {
	mask &= 1<<uint(shim.OnlineCPUs) - 1
	fl := irqSave() // stay on this CPU, and poll our own slot while waiting
	c := thisCPU()
	me := int(c.id)
	for !atomic.CompareAndSwapUint32(&callLock, 0, 1) {
		runCrossCall(c)
		pause()
	}
	for i := 0; i < shim.OnlineCPUs; i++ {
		if mask&(1<<uint(i)) == 0 || i == me {
			continue
		}
		t := &cpus[i]
		for atomic.LoadUint64(&t.callDone) != atomic.LoadUint64(&t.callSeq) { // previous call consumed
			runCrossCall(c)
			pause()
		}
		t.callOp, t.callArg = op, arg
		atomic.AddUint64(&t.callSeq, 1)
		sendIPI(i, ipiCall)
	}
	if mask&(1<<uint(me)) != 0 {
		runOp(me, op, arg)
	}
	atomic.StoreUint32(&callLock, 0)
	if wait {
		for i := 0; i < shim.OnlineCPUs; i++ {
			if mask&(1<<uint(i)) != 0 && i != me {
				for atomic.LoadUint64(&cpus[i].callDone) != atomic.LoadUint64(&cpus[i].callSeq) {
					runCrossCall(c)
					pause()
				}
			}
		}
	}
	irqRestore(fl)
}

func irqSave() uint64
func irqRestore(flags uint64)
func currentCPU() int

// pingPong bounces test IPIs between this CPU and to; the caller is pinned here.
func pingPong(to, rounds int) ([]uint64, error) {
	me := currentCPU()
	if to == me || to < 0 || to >= shim.OnlineCPUs {
		return nil, fmt.Errorf("ping-pong from cpu %d to cpu %d: not another online CPU", me, to)
	}
	atomic.StoreInt32(&cpus[to].pong, int32(me))
	defer atomic.StoreInt32(&cpus[to].pong, -1)
	rtt := make([]uint64, 0, rounds)
	for r := 0; r < rounds; r++ {
		before := atomic.LoadUint64(&ipiRecv[ipiTest][me])
		t0 := rdtsc()
		sendIPI(to, ipiTest)
		for atomic.LoadUint64(&ipiRecv[ipiTest][me]) == before {
			if rdtsc()-t0 > tscHz {
				return rtt, fmt.Errorf("round %d: no answer from cpu %d within 1 s", r, to)
			}
			pause()
		}
		rtt = append(rtt, rdtsc()-t0)
		if currentCPU() != me {
			return rtt, fmt.Errorf("the pinned caller moved from cpu %d to cpu %d", me, currentCPU())
		}
	}
	return rtt, nil
}
