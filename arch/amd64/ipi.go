package amd64

import (
	_ "unsafe" // for go:linkname

	"github.com/usbarmory/tamago/amd64/lapic"

	"lazymm/kernel/lazy"
	"lazymm/kernel/paging"
	"lazymm/kernel/shim"
)

// Inter-processor interrupts through the LAPIC's ICR: the kinds, counts, cross-call slots and waits
// are the shim's (shim/ipi.go); here is the delivery (a fixed vector per kind, or NMI) and the
// handler.

var ipiVector = [...]uint32{shim.IPIResched: vecResched, shim.IPICall: vecCall, shim.IPITest: vecTest}

// archSendIPI writes the ICR (the shim has interrupts off around it, so a handler on this CPU cannot
// send in between the two writes).
//
//go:linkname archSendIPI lazymm/kernel/shim.archSendIPI
//go:nosplit
func archSendIPI(cpu, kind int) { icrSend(apicIDs[cpu], icrLow(kind)) }

// archSendIPIAllButSelf uses the ICR's all-excluding-self shorthand.
//
//go:linkname archSendIPIAllButSelf lazymm/kernel/shim.archSendIPIAllButSelf
//go:nosplit
func archSendIPIAllButSelf(kind int) { icrSend(0, icrLow(kind)|lapic.ICR_DST_REST) }

//go:nosplit
func icrLow(kind int) uint32 {
	if kind == shim.IPINMI {
		return lapic.ICR_DLV_NMI
	}
	return ipiVector[kind] | lapic.ICR_DLV_IRQ
}

// ipiInterrupt handles the IPI vectors and NMIs, without the kernel lock.
//
//go:nosplit
func ipiInterrupt(f *Frame) {
	switch f.Vector {
	case vecNMI:
		shim.IPIReceived(shim.IPINMI)
		lazy.HandleNMI(int(thisCPU().id))
		return // NMIs take no EOI
	case vecResched:
		shim.IPIReceived(shim.IPIResched)
	case vecTest:
		shim.IPIReceived(shim.IPITest)
	case vecCall:
		shim.IPIReceived(shim.IPICall)
	}
	lapicEOI()
}

// The arch's own cross-calls (paging.ArchOps + 0..15): paging's runOp, the shim's, hands them here.
const (
	callFlushTLB = paging.ArchOps + iota // flush everything, globals included (the runtime's munmap/MADV_DONTNEED)
	callSetPCID                          // PCIDs on (arg 1) or off
)

//go:linkname archRunOp lazymm/kernel/paging.archRunOp
//go:nosplit
func archRunOp(cpu int, op uint32, arg uint64) {
	switch op {
	case callFlushTLB:
		flushGlobal()
	case callSetPCID:
		setPCIDMode(cpu, arg != 0)
	}
}

func irqSave() uint64
func irqRestore(flags uint64)
