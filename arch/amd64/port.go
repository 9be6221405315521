package amd64

import (
	"lazymm/kernel/machine"

	"unsafe"

	"lazymm/kernel/shim"
	"lazymm/mm"
)

// The shim's port (shim/port.go): the functions the shim calls in trap context, linked by name.

//go:linkname archCPUID lazymm/kernel/shim.archCPUID
//go:nosplit
func archCPUID() int { return int(thisCPU().id) }

//go:linkname archPutc lazymm/kernel/shim.archPutc
//go:nosplit
func archPutc(c byte) { putc(c) }

//go:linkname archIdle lazymm/kernel/shim.archIdle
//go:nosplit
func archIdle() { stihlt() }

//go:linkname archMayHalt lazymm/kernel/shim.archMayHalt
//go:nosplit
func archMayHalt() bool {
	var here byte
	sp := uintptr(unsafe.Pointer(&here))
	base := uintptr(unsafe.Pointer(&ist[thisCPU().id][0][0]))
	return sp-base >= istSize // interrupts (IST 1) restart their stack from its top
}

//go:linkname archCycles lazymm/kernel/shim.archCycles
//go:nosplit
func archCycles() uint64 { return machine.ReadCycles() }

//go:linkname archNsToCycles lazymm/kernel/shim.archNsToCycles
//go:nosplit
func archNsToCycles(ns uint64) uint64 { return nsToTSC(ns) }

//go:linkname archNanotime lazymm/kernel/shim.archNanotime
//go:nosplit
func archNanotime() uint64 { return nanotime() }

//go:linkname archWallOffset lazymm/kernel/shim.archWallOffset
//go:nosplit
func archWallOffset() int64 { return bootUnix }

// archSwitchTo makes t's FXSAVE area the one the exit path restores and loads its FS base.
//
//go:linkname archSwitchTo lazymm/kernel/shim.archSwitchTo
//go:nosplit
func archSwitchTo(t *shim.Thread) {
	c := thisCPU()
	if t == nil {
		c.curFX = c.idleFX.Addr()
		return
	}
	c.curFX = t.FP.Addr()
	wrmsr(msrFSBase, t.TLS)
}

//go:linkname archRandom lazymm/kernel/shim.archRandom
//go:nosplit
func archRandom() (uint64, bool) {
	if !hasRDRAND {
		return 0, false
	}
	return rdrand()
}

// These are the arch's own functions, linked under the port's names (no extra frame on the trap
// path, whose nosplit stack budget is tight).
//
//go:linkname machineExit lazymm/kernel/shim.archExit
//go:linkname crash lazymm/kernel/shim.archCrash

// archLeaf is the shim's leaf entry for a runtime page: global, NX unless executable.
//
//go:linkname archLeaf lazymm/kernel/shim.archLeaf
//go:nosplit
func archLeaf(frame uint64, prot uint32) uint64 {
	pte := frame<<12 | ptePresent | globalBits()
	if prot&mm.ProtWrite != 0 {
		pte |= pteWrite
	}
	if prot&mm.ProtExec == 0 {
		pte |= pteNX
	}
	return pte
}

// archShootdown flushes [start, end) here and, when remote is set, on every other CPU.
//
//go:linkname archShootdown lazymm/kernel/shim.archShootdown
//go:nosplit
func archShootdown(start, end uintptr, remote bool) {
	flushTLB(start, end)
	if shim.OnlineCPUs > 1 && remote {
		others := (uint64(1)<<uint(shim.OnlineCPUs) - 1) &^ (1 << thisCPU().id)
		shim.PostCall(others, callFlushTLB, 0, true)
	}
}

//go:linkname archIRQSave lazymm/kernel/shim.archIRQSave
//go:nosplit
func archIRQSave() uint64 { return irqSave() }

//go:linkname archIRQRestore lazymm/kernel/shim.archIRQRestore
//go:nosplit
func archIRQRestore(fl uint64) { irqRestore(fl) }
