package ppc64

import (
	"lazymm/kernel/machine"

	"sync/atomic"
	"unsafe"

	"lazymm/kernel/lazy"
	"lazymm/kernel/paging"
	"lazymm/kernel/shim"
	"lazymm/mm"
)

// SMP on pseries: the CPUs are the device tree's /cpus nodes (read through VOF at boot); each is
// started with RTAS start-cpu at apEntry in real mode, joins the radix MMU (PIDR, translation on),
// the decrementer tick and the interrupt presenter, and waits in the shim's scheduler for a thread.
// IPIs go through the XICS hypervisor calls: H_IPI raises the target's MFRR, the target takes an
// external interrupt (0x500), reads H_XIRR (source 2 is the IPI), lowers its MFRR, runs the kinds
// pending in its ipiPending word (one IPI source carries them all, as Linux's muxed IPIs), and H_EOI.
// The NMI is a soft NMI (Linux powerpc's scheme): one more kind on the IPI, which soft-masked code
// (irqSave) still takes, because soft masking leaves MSR.EE on and trap runs the NMI kind of a
// masked interrupt right there (trap_ppc64.go's maskedInterrupt). With the kernel word nmi=reset
// it is a system reset instead (H_SIGNAL_SYS_RESET, trap_ppc64.go's systemReset). On powernv the
// CPUs start through OPAL_START_CPU and the IPI is a hypervisor doorbell (opal_ppc64.go).
const (
	hEOI, hCPPR, hIPI, hXIRR = 0x64, 0x68, 0x6c, 0x74
	xicsIPISource            = 2
	ipiPriority              = 4 // MFRR value: more favoured than the CPPR's 0xff
	rtasStartCPU             = 0x2006
	apStackSize              = 16 << 10
	apWaitSeconds            = 10 // how long the started CPUs get to arrive, all together (startCPUs)

	// the arch's own cross-call op (paging.ArchOps + 0..15)
	callFlushTLB = paging.ArchOps // flush every PID's translations (the runtime's munmap/MADV_DONTNEED)
)

var (
	hwIDs        [maxCPUs]uint32 // by CPU index: the device tree's reg (the interrupt server too)
	firmwareCPUs = 1
	ipiPending   [maxCPUs]uint32 // IPI kinds (shim.IPI*) raised for each CPU, as bits
	nmiInFlight  [maxCPUs]uint32 // an NMI was sent and its handler has not finished
	nmiSentTB    [maxCPUs]uint64 // when the NMI in flight was sent (the timebase), for its latency
	nmiReset     bool            // the kernel word nmi=reset: NMIs are system resets, not soft NMIs
	apStart      [maxCPUs][2]uintptr
	apStacks     [maxCPUs][apStackSize]byte
	arrived      [maxCPUs]uint32
	smpReady     uint32
	skipAP       = -1 // inject=ap-missing: this CPU index is never started
)

// In smp_ppc64.s.
func apEntry()
func apEntryAddr() uintptr
func apSchedule(kstack uintptr)

// readCPUs lists /cpus's children with device_type "cpu" (at boot, through VOF).
//
//go:nosplit
func readCPUs() {
	var name, path, prop [32]byte
	var reg [1]uint32
	cpusNode, ok := of(&name, "finddevice", 1, cstr(&path, "/cpus"), 0, 0, 0)
	if !ok || cpusNode == 0 || cpusNode == 0xffffffff {
		return
	}
	n := 0
	for node, ok := of(&name, "child", 1, cpusNode, 0, 0, 0); ok && node != 0 && node != 0xffffffff && n < maxCPUs; node, ok = of(&name, "peer", 1, node, 0, 0, 0) {
		l, ok := of(&name, "getprop", 4, node, cstr(&prop, "reg"), uint32(uintptr(unsafe.Pointer(&reg[0]))), 4)
		if ok && l == 4 {
			hwIDs[n] = reg[0]
			n++
		}
	}
	if n > 0 {
		firmwareCPUs = n
	}
}

// startCPUs starts every other CPU (RTAS start-cpu) and waits for each to arrive; the CPUs online
// are the contiguous prefix that did (a latecomer beyond a missing CPU parks). The wait is bounded as
// Linux bounds it (seconds: its __cpu_up gives a CPU 5 s, x86's 10), not by what a fast host needs: a
// virtual CPU is a host thread that may not run for a long while on an oversubscribed host. The
// bound is for them all (apWaitSeconds from the first start), and a CPU is waited for only while
// every one before it came: after a missing one none could be online. The CPU inject=ap-missing
// never starts is not waited for.
//
//go:nosplit
func startCPUs() {
	if shim.CmdlineHas("inject=ap-missing") && firmwareCPUs > 1 {
		skipAP = firmwareCPUs - 1 // the last CPU is never started
	}
	online := 1
	deadline := machine.ReadCycles() + apWaitSeconds*tbFreq
	missing := false
	for i := 1; i < firmwareCPUs && i < shim.MaxCPUs; i++ {
		if i == skipAP {
			continue
		}
		apStart[i] = [2]uintptr{uintptr(unsafe.Pointer(&cpus[i])), uintptr(unsafe.Pointer(&apStacks[i][0])) + apStackSize - 256}
		if !startCPU(i) {
			shim.Puts("lazymm: ppc64 start-cpu failed for CPU ")
			shim.PutDec(uint64(i))
			shim.Puts("\n")
			missing = true
			continue
		}
		for !missing && atomic.LoadUint32(&arrived[i]) == 0 && machine.ReadCycles() < deadline {
		}
		missing = missing || atomic.LoadUint32(&arrived[i]) == 0
	}
	for online < firmwareCPUs && atomic.LoadUint32(&arrived[online]) != 0 {
		online++
	}
	shim.OnlineCPUs = online
	atomic.StoreUint32(&smpReady, 1)
}

// startCPU starts CPU i at apEntry: RTAS start-cpu, or OPAL_START_CPU on powernv.
//
//go:nosplit
func startCPU(i int) bool {
	if powernv {
		return pnvStartCPU(i)
	}
	a := &rtasArgs
	a[0], a[1], a[2] = rtasStartCPU, 3, 1
	a[3], a[4], a[5] = hwIDs[i], uint32(apEntryAddr()), uint32(i)
	return hcall(0xf000, uint64(uintptr(unsafe.Pointer(a))), 0, 0, 0) == 0 && a[6] == 0
}

// apMain is where a started CPU arrives from apEntry, on its own stack, real mode, EE off.
//
//go:nosplit
func apMain(idx int) {
	setupCPU(idx)
	if powernv {
		pnvJoin() // HV mode: LPCR, PSSCR, the partition table (opal_ppc64.go)
	}
	if hashMode {
		slbBolt()
	} else {
		setPIDR(kernelPID)
		tlbielPID(kernelPID)
	}
	setMSR(readMSR() | msrFP | msrVEC | msrVSX | msrRI | msrIR | msrDR) // RI: an NMI in the idle loop returns
	c := thisCPU()
	shim.InitCPU(idx)
	if !powernv {
		hcall(hCPPR, 0xff, 0, 0, 0)
	} else {
		xiveJoin()
	}
	atomic.StoreUint32(&arrived[idx], 1)
	for atomic.LoadUint32(&smpReady) == 0 {
		mm.Relax()
	}
	if idx >= shim.OnlineCPUs {
		for { // beyond a CPU that never came up: never online
			idleWait()
		}
	}
	c.decPeriod = uint32(tbFreq / hz)
	setDecrementer(c.decPeriod)
	apSchedule(c.kstack) // trap context on the trap stack: shim.Idle, then the thread it found
}

// apIdle is apSchedule's Go half: wait in the scheduler until a thread is runnable here and load it
// into f, which trapExit then enters.
//
//go:nosplit
func apIdle(f *Frame) {
	archSwitchTo(nil)
	shim.Idle(f)
}

//go:linkname archSendIPI lazymm/kernel/shim.archSendIPI
//go:nosplit
func archSendIPI(cpu, kind int) {
	if kind == shim.IPINMI {
		// One NMI in flight per CPU: like x86's NMI latch, an NMI sent before the handler of the
		// last one ended merges into it. (A second system reset would land on the first's vector
		// before it saved SRR0/SRR1 and could not return.)
		if !atomic.CompareAndSwapUint32(&nmiInFlight[cpu], 0, 1) {
			return
		}
		atomic.StoreUint64(&nmiSentTB[cpu], machine.ReadCycles())
		if nmiReset {
			hcall(hSignalSysReset, uint64(hwIDs[cpu]), 0, 0, 0)
			return
		}
	}
	atomic.OrUint32(&ipiPending[cpu], 1<<uint(kind))
	raiseIPI(cpu)
}

// raiseIPI raises the IPI of cpu: its MFRR (H_IPI), or on powernv as pnv_cause_ipi does, a
// doorbell within the core (PIRs alike but for the thread bits, SMT4) and XIVE across cores.
//
//go:nosplit
func raiseIPI(cpu int) {
	if powernv && xiveOn && hwIDs[cpu]>>2 != hwIDs[thisCPU().id]>>2 {
		xiveSend(cpu)
		return
	}
	if powernv {
		doorbell(hwIDs[cpu])
		return
	}
	hcall(hIPI, uint64(hwIDs[cpu]), ipiPriority, 0, 0)
}

//go:linkname archSendIPIAllButSelf lazymm/kernel/shim.archSendIPIAllButSelf
//go:nosplit
func archSendIPIAllButSelf(kind int) {
	me := int(thisCPU().id)
	for i := 0; i < shim.OnlineCPUs; i++ {
		if i != me {
			archSendIPI(i, kind)
		}
	}
}

// externalInterrupt is 0x500 through XICS, without the kernel lock: the IPI (lower the MFRR first,
// then take the pending kinds, so none raised meanwhile is lost; the NMI kind runs handleNMI) or
// anything else, acknowledged.
//
//go:nosplit
func externalInterrupt(c *percpu, vector uint64) {
	if powernv {
		if vector == vecHVirt {
			xiveAck(c) // a doorbell needs none: its delivery cleared it
		}
		takeIPIs(c)
		return
	}
	_, xirr := hcall2(hXIRR, 0, 0, 0, 0)
	switch src := xirr & 0xffffff; src {
	case 0: // nothing pending
		return
	case xicsIPISource:
		hcall(hIPI, uint64(hwIDs[c.id]), 0xff, 0, 0)
		takeIPIs(c)
	}
	hcall(hEOI, uint64(uint32(xirr)), 0, 0, 0)
}

// takeIPIs runs the IPI kinds pending for this CPU (the NMI kind through handleNMI).
//
//go:nosplit
func takeIPIs(c *percpu) {
	kinds := atomic.SwapUint32(&ipiPending[c.id], 0)
	for k := 0; k < 32 && kinds != 0; k++ {
		if kinds&(1<<uint(k)) != 0 {
			kinds &^= 1 << uint(k)
			if k == shim.IPINMI {
				handleNMI(c)
			} else {
				shim.IPIReceived(k)
			}
		}
	}
}

// maskedExternal is an external interrupt that came while this CPU was soft-masked (Linux's
// masked_interrupt, with the NMI let through): accept it, and if it is the IPI take only the NMI
// kind out of the pending ones and run it here, in the interrupt-off code it interrupted; the other
// kinds stay pending, and happenedIPI has softIRQRestore raise the IPI again. The MFRR is lowered
// first, as in externalInterrupt: an IPI left raised would come again as soon as trap returns.
//
//go:nosplit
func maskedExternal(c *percpu, vector uint64) {
	if powernv {
		if vector == vecHVirt {
			xiveAck(c)
		}
		takeMaskedNMI(c)
		return
	}
	_, xirr := hcall2(hXIRR, 0, 0, 0, 0)
	src := xirr & 0xffffff
	if src == 0 {
		return
	}
	if src == xicsIPISource {
		hcall(hIPI, uint64(hwIDs[c.id]), 0xff, 0, 0)
		takeMaskedNMI(c)
	}
	hcall(hEOI, uint64(uint32(xirr)), 0, 0, 0)
}

// takeMaskedNMI takes the NMI kind alone out of this CPU's pending IPIs and runs it; the others
// wait (happenedIPI).
//
//go:nosplit
func takeMaskedNMI(c *percpu) {
	const nmi = 1 << shim.IPINMI
	kinds := atomic.AndUint32(&ipiPending[c.id], ^uint32(nmi))
	if kinds&^nmi != 0 {
		c.happened |= happenedIPI
	}
	if kinds&nmi != 0 {
		c.nmiMasked++
		c.nmiMaskedLat += handleNMI(c)
	}
}

// handleNMI is the NMI's work, wherever it landed (an IPI, soft-masked or not, or a system reset):
// count it, run the engine's NMI work, end the one in flight, and time it from its send (returned,
// in timebase ticks).
//
//go:nosplit
func handleNMI(c *percpu) uint64 {
	shim.IPIReceived(shim.IPINMI)
	lazy.HandleNMI(int(c.id))
	lat := machine.ReadCycles() - atomic.LoadUint64(&nmiSentTB[c.id])
	if lat >= 1<<40 {
		lat = 0
	}
	c.nmiLatSum += lat
	c.nmiTaken++
	if lat > c.nmiLatMax {
		c.nmiLatMax = lat
	}
	atomic.StoreUint32(&nmiInFlight[c.id], 0)
	return lat
}

// archRunOp runs the arch's own cross-call op here (paging's runOp, the shim's, hands it over).
//
//go:linkname archRunOp lazymm/kernel/paging.archRunOp
//go:nosplit
func archRunOp(cpu int, op uint32, arg uint64) {
	if op == callFlushTLB {
		tlbielAll()
	}
}
