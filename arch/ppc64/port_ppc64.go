package ppc64

import (
	"lazymm/kernel/machine"

	"unsafe" // also for go:linkname

	"lazymm/kernel/shim"
)

// The shim's port (shim/port.go): the functions the shim calls in trap context, linked by name.
// archLeaf and archShootdown are in mmu_ppc64.go.

// The console: H_PUT_TERM_CHAR takes up to 16 bytes per call, so bytes are gathered under the shim's
// console lock and sent at a newline or when 16 are pending; consoleFlush sends the rest (before a
// crash dump or power-off).
var (
	conBuf [16]byte
	conN   int
)

//go:linkname archPutc lazymm/kernel/shim.archPutc
//go:nosplit
func archPutc(c byte) {
	conBuf[conN] = c
	conN++
	if conN == len(conBuf) || c == '\n' {
		consoleFlush()
	}
}

//go:nosplit
func consoleFlush() {
	if conN > 0 {
		putMem(unsafe.Pointer(&conBuf[0]), conN)
		conN = 0
	}
}

//go:linkname archCPUID lazymm/kernel/shim.archCPUID
//go:nosplit
func archCPUID() int { return int(thisCPU().id) }

//go:linkname archIdle lazymm/kernel/shim.archIdle
//go:nosplit
func archIdle() {
	c := thisCPU()
	// Soft-masked (a wait in thread context), MSR.EE is on: an interrupt may already have come and
	// been deferred (the wake-up the caller waits for). Hard-disabled, one arriving now stays pending
	// for H_CEDE. EE goes back as it was: soft-masked code runs with it on.
	hard := irqSave()
	if c.happened == 0 { // as Linux's power idle checks irq_happened before it cedes
		was := c.idling // a wait's halt may nest in an interrupt that ended the idle loop's
		c.idling = true
		idle()
		c.idling = was
	}
	irqRestore(hard)
}

//go:linkname archMayHalt lazymm/kernel/shim.archMayHalt
//go:nosplit
func archMayHalt() bool { return true } // trap entries nest on the current stack (the idle wait's rule)

//go:linkname archCycles lazymm/kernel/shim.archCycles
//go:nosplit
func archCycles() uint64 { return machine.ReadCycles() }

//go:linkname archNsToCycles lazymm/kernel/shim.archNsToCycles
//go:nosplit
func archNsToCycles(ns uint64) uint64 { return nsToTB(ns) }

//go:linkname archNanotime lazymm/kernel/shim.archNanotime
//go:nosplit
func archNanotime() uint64 { return tbToNs(machine.ReadCycles() - tbBoot) }

//go:linkname archWallOffset lazymm/kernel/shim.archWallOffset
//go:nosplit
func archWallOffset() int64 { return bootUnix }

// archSwitchTo makes t's FP area the one trapEntry's exit restores (ppc64 has no TLS register).
// A thread leaving the CPU (t nil) takes no soft mask with it: threads enter the kernel and block
// soft-enabled (the soft-masked sections are short, nosplit and make no system calls), so the mask
// is the CPU's, not saved per thread; should one block masked anyway, the next thread must not
// inherit the mask, nor a parked decrementer (softIRQRestore's replay).
//
//go:linkname archSwitchTo lazymm/kernel/shim.archSwitchTo
//go:nosplit
func archSwitchTo(t *shim.Thread) {
	c := thisCPU()
	if t == nil {
		c.curFP = align16(&fpArea[c.id][0])
		if c.softMask != 0 || c.happened != 0 {
			c.softMask = 0
			replayMasked(c)
		}
		return
	}
	c.curFP = t.FP.Addr()
}

//go:linkname archRandom lazymm/kernel/shim.archRandom
//go:nosplit
func archRandom() (uint64, bool) {
	if !hasDarn {
		return 0, false
	}
	v := darn()
	return v, v != ^uint64(0)
}

//go:linkname archExit lazymm/kernel/shim.archExit
//go:nosplit
func archExit(status int) {
	if shim.CmdlineHas("nmistat") {
		nmiStats()
	}
	consoleFlush()
	powerOff() // RTAS power-off carries no status: the console's summary line is the verdict
}

//go:linkname archCrash lazymm/kernel/shim.archCrash
//go:nosplit
func archCrash(f *Frame) { crash(thisCPU(), f) }

//go:linkname archIRQSave lazymm/kernel/shim.archIRQSave
//go:nosplit
func archIRQSave() uint64 { return softIRQSave() }

//go:linkname archIRQRestore lazymm/kernel/shim.archIRQRestore
//go:nosplit
func archIRQRestore(fl uint64) { softIRQRestore(fl) }

// nmiStats prints, at exit with the kernel word nmistat, the NMIs every CPU took, how many of them
// landed in soft-masked code, and their latency from send to handler (docs/PPC64-FIGURES.md#the-soft-nmi).
//
//go:nosplit
func nmiStats() {
	var taken, masked, sum, maskedSum, max uint64
	for i := 0; i < shim.OnlineCPUs; i++ {
		c := &cpus[i]
		taken += c.nmiTaken
		masked += c.nmiMasked
		sum += c.nmiLatSum
		maskedSum += c.nmiMaskedLat
		if c.nmiLatMax > max {
			max = c.nmiLatMax
		}
	}
	shim.ConsoleLock()
	shim.Puts("lazymm: ppc64 NMIs: ")
	shim.PutDec(taken)
	shim.Puts(" taken, ")
	shim.PutDec(masked)
	shim.Puts(" in soft-masked code; latency from send: mean ")
	if taken > 0 {
		shim.PutDec(tbToNs(sum/taken) / 1000)
	} else {
		shim.Puts("-")
	}
	shim.Puts(" us, max ")
	shim.PutDec(tbToNs(max) / 1000)
	shim.Puts(" us; in soft-masked code: mean ")
	if masked > 0 {
		shim.PutDec(tbToNs(maskedSum/masked) / 1000)
	} else {
		shim.Puts("-")
	}
	shim.Puts(" us\n")
	shim.ConsoleUnlock()
}
