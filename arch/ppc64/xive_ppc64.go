package ppc64

import (
	"sync/atomic"
	"unsafe"

	"lazymm/kernel/shim"
	"lazymm/mm"
)

// XIVE, POWER9's interrupt controller, in exploitation mode through OPAL: powernv's IPIs between
// cores, as Linux's arch/powerpc/sysdev/xive (native.c, common.c) sends them. A real POWER9 delivers
// a doorbell only to the threads of the sender's core, so pnv_cause_ipi's rule is kept: a doorbell
// to a sibling thread (or to itself), XIVE to anything else (raiseIPI). At boot (xiveInit, as
// xive_native_init and xive_setup_cpu_ipi): OPAL_XIVE_RESET to exploitation mode; for each CPU an
// event queue of one page at the IPI's priority (OPAL_XIVE_SET_QUEUE_INFO) and an IPI source
// (OPAL_XIVE_ALLOCATE_IRQ, OPAL_XIVE_GET_IRQ_INFO for its ESB pages) routed to it
// (OPAL_XIVE_SET_IRQ_CONFIG) and unmasked (PQ=00). Each CPU opens its thread context's CPPR to every
// priority itself (xiveJoin). A send is a store to the target's trigger page; the target takes the
// hypervisor virtualization interrupt (0xea0, LPCR.HVICE; LPCR.HVEE wakes stop) and xiveAck
// acknowledges it in the thread management area, drains its queue, EOIs the source and reopens the
// CPPR (xive_native_update_pending, xive_scan_interrupts, xive_do_source_eoi). The IPI's kinds
// travel in ipiPending as with doorbells. Under QEMU 7.2 every CPU is a core of its own, so every
// IPI but the self-IPI of a replayed interrupt goes through XIVE.
const (
	opalXiveReset        = 128
	opalXiveGetIRQInfo   = 129
	opalXiveSetIRQConfig = 131
	opalXiveSetQueueInfo = 133
	opalXiveAllocateIRQ  = 139
	opalXiveAnyChip      = 0xffffffff
	xiveModeExploit      = 1
	xiveEQEnabled        = 1 // OPAL_XIVE_EQ_ENABLED
	xiveEQAlwaysNotify   = 2
	xiveIRQStoreEOI      = 2 // OPAL_XIVE_IRQ_STORE_EOI
	xiveIRQLSI           = 4
	xiveIRQShiftBug      = 8
	xiveIRQViaFW         = 0x30 // MASK_VIA_FW | EOI_VIA_FW: ESB operations not enough
	xivePrio             = 7    // Linux's xive_irq_priority: the lowest of 8
	xiveQueueShift       = 12   // one page: 1024 entries
	tmQW3HVPhys, tmCPPR  = 0x30, 0x1
	tmSpcAckHVReg        = 0x830
	esbStoreEOI          = 0x400
	esbSetPQ00           = 0xc00
	esbValQ              = 1
	vecHVirt             = 0xea0 // the hypervisor virtualization interrupt
	lpcrHVICE            = 1 << 1
	lpcrHVEE             = 1 << 46
)

// xiveSrc is one CPU's IPI: its source, ESB pages, and event queue with its read position.
type xiveSrc struct {
	flags, eoi, trig uint64 // OPAL writes these (physical addresses: static)
	shift, chip      uint32
	girq             uint64
	queue            uint64 // the event queue's physical address
	idx, toggle      uint32
}

var (
	xiveOn   bool
	xiveTIMA uint64 // the thread management area, hypervisor ring
	xiveIPI  [maxCPUs]xiveSrc
)

// In xive_ppc64.s.
func ciLoad64(pa uint64) uint64
func ciStore64(pa, v uint64)
func ciLoad16(pa uint64) uint16
func ciStore8(pa uint64, v uint8)

// xiveInit sets up every CPU's IPI, or leaves doorbells alone (a console line) if the device tree
// has no XIVE or OPAL refuses; false then.
//
//go:nosplit
func xiveInit() bool {
	xiveTIMA = xiveFindTIMA()
	if xiveTIMA == 0 {
		return xiveFailed("no ibm,opal-xive-pe node with a hypervisor ring", 0)
	}
	if rc := opalCall(opalXiveReset, xiveModeExploit, 0, 0); rc != opalSuccess {
		return xiveFailed("OPAL_XIVE_RESET", rc)
	}
	for i := 0; i < firmwareCPUs; i++ {
		if rc := xiveSetupCPU(i); rc != opalSuccess {
			return xiveFailed("a CPU's queue or IPI", rc)
		}
	}
	xiveOn = true
	xiveJoin()
	shim.Puts("lazymm: ppc64 powernv: XIVE in exploitation mode: IPIs across cores by trigger page, ")
	shim.PutDec(uint64(firmwareCPUs))
	shim.Puts(" sources at priority 7, thread management at 0x")
	putHex(xiveTIMA)
	shim.Puts("\n")
	return true
}

// xiveSetupCPU gives CPU i its queue page and IPI source, routed to it at xivePrio, unmasked.
//
//go:nosplit
func xiveSetupCPU(i int) int64 {
	x := &xiveIPI[i]
	pir := uint64(hwIDs[i])
	f, ok := mm.Frames.Alloc(mm.Reserved) // shared with the controller for good: never freed
	if !ok {
		return opalNoMem
	}
	mm.ZeroFrame(f)
	x.queue = f << 12
	rc := opalRetry6(opalXiveSetQueueInfo, pir, xivePrio, x.queue, xiveQueueShift, xiveEQEnabled|xiveEQAlwaysNotify, 0)
	if rc != opalSuccess {
		return rc
	}
	girq := opalRetry6(opalXiveAllocateIRQ, opalXiveAnyChip, 0, 0, 0, 0, 0)
	if girq < 0 {
		return girq
	}
	x.girq = uint64(girq)
	rc = opalRetry6(opalXiveGetIRQInfo, x.girq, addr(&x.flags), addr(&x.eoi), addr(&x.trig), addr(&x.shift), addr(&x.chip))
	if rc != opalSuccess || x.trig == 0 || x.flags&xiveIRQViaFW != 0 {
		return min(rc, opalParameter)
	}
	if rc = opalRetry6(opalXiveSetIRQConfig, x.girq, pir, xivePrio, uint64(i), 0, 0); rc != opalSuccess {
		return rc
	}
	ciLoad64(x.eoi + esbOffset(x, esbSetPQ00)) // unmask: PQ=00
	return opalSuccess
}

//go:nosplit
func addr[T any](p *T) uint64 { return uint64(uintptr(unsafe.Pointer(p))) }

// opalRetry6 is an OPAL call retried while OPAL says busy (every XIVE call may).
//
//go:nosplit
func opalRetry6(token, a0, a1, a2, a3, a4, a5 uint64) int64 {
	for {
		if rc := opalCall6(token, a0, a1, a2, a3, a4, a5); rc != opalBusy {
			return rc
		}
	}
}

// esbOffset is an ESB operation's offset, shifted on sources with the shift bug.
//
//go:nosplit
func esbOffset(x *xiveSrc, off uint64) uint64 {
	if x.flags&xiveIRQShiftBug != 0 {
		return off << 4
	}
	return off
}

// xiveFindTIMA is the hypervisor ring's thread management area: the second (address, size) of the
// reg of the root's child compatible with ibm,opal-xive-pe.
//
//go:nosplit
func xiveFindTIMA() uint64 {
	root := fdtRoot()
	for c := fdtFirstChild(root); c != 0; c = fdtNextChild(c) {
		if !fdtCompatible(c, "ibm,opal-xive-pe") {
			continue
		}
		if r, n, ok := fdtGetProp(c, "reg"); ok && n >= 32 {
			return fdtU64(r + 16)
		}
	}
	return 0
}

//go:nosplit
func xiveFailed(what string, rc int64) bool {
	shim.Puts("lazymm: ppc64 powernv: XIVE not set up (")
	shim.Puts(what)
	shim.Puts(", OPAL ")
	shim.PutDec(uint64(-rc))
	shim.Puts("): IPIs go by doorbell, which a real POWER9 delivers only within a core\n")
	return false
}

// xiveJoin opens this CPU's hypervisor thread context to every priority (CPPR 0xff).
//
//go:nosplit
func xiveJoin() {
	if xiveOn {
		ciStore8(xiveTIMA+tmQW3HVPhys+tmCPPR, 0xff)
	}
}

// xiveSend raises cpu's IPI: a store to its trigger page (xive_cause_ipi).
//
//go:nosplit
func xiveSend(cpu int) { ciStore64(xiveIPI[cpu].trig, 0) }

// xiveAck takes this CPU's XIVE interrupt: the acknowledge (the CPPR drops to the priority), every
// queued event with its source's EOI, then the CPPR back to 0xff. In trap context: no lock, no
// allocation; the queue and the indexes are this CPU's alone.
//
//go:nosplit
func xiveAck(c *percpu) {
	ciLoad16(xiveTIMA + tmSpcAckHVReg)
	x := &xiveIPI[c.id]
	q := (*[1 << (xiveQueueShift - 2)]uint32)(unsafe.Add(nil, uintptr(x.queue)))
	for atomic.LoadUint32(&q[x.idx])>>31 != x.toggle {
		x.idx = (x.idx + 1) & (1<<(xiveQueueShift-2) - 1)
		if x.idx == 0 {
			x.toggle ^= 1
		}
		xiveEOI(x)
	}
	ciStore8(xiveTIMA+tmQW3HVPhys+tmCPPR, 0xff)
}

// xiveEOI ends the source's event (xive_do_source_eoi): a store EOI where the source has it, a
// load EOI for a level source, else PQ=00 and a trigger again if one came meanwhile (Q was set).
//
//go:nosplit
func xiveEOI(x *xiveSrc) {
	switch {
	case x.flags&xiveIRQStoreEOI != 0:
		ciStore64(x.eoi+esbOffset(x, esbStoreEOI), 0)
	case x.flags&xiveIRQLSI != 0:
		ciLoad64(x.eoi)
	default:
		if ciLoad64(x.eoi+esbOffset(x, esbSetPQ00))&esbValQ != 0 {
			ciStore64(x.trig, 0)
		}
	}
}
