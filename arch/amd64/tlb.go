package amd64

import (
	_ "unsafe" // for go:linkname

	"lazymm/kernel/paging"
	"lazymm/kernel/shim"
	"lazymm/mm"
)

// The x86 half of the TLB-shootdown protocol (lazymm/kernel/paging carries it out, mm/tlb.go decides): CR3
// writes with PCIDs and the NOFLUSH bit, INVLPG, global pages, and what the paging core's port
// (paging/port.go) asks of the machine. Everything here runs with interrupts off.

const (
	cr4PGE     = 1 << 7
	cr4PCIDE   = 1 << 17
	cr3NoFlush = 1 << 63
	pteGlobal  = 1 << 8
)

// hasPGE, hasPCID, hasINVPCID are the CPU's; paging.PCIDOn says whether CR4.PCIDE is on on every
// CPU: ASIDs are then PCIDs (ASID+1; PCID 0 is boot's).
var hasPGE, hasPCID, hasINVPCID bool

// detectPaging reads the CPU's paging features and turns on global pages (kernel and runtime
// mappings survive CR3 writes and are shared by every PCID, as Linux's _PAGE_GLOBAL).
//
//go:nosplit
func detectPaging() {
	_, _, ecx, edx := cpuid(1, 0)
	hasPGE = edx&(1<<13) != 0
	hasPCID = ecx&(1<<17) != 0
	_, ebx, _, _ := cpuid(7, 0)
	hasINVPCID = ebx&(1<<10) != 0
}

// setupPaging is each CPU's part: CR4.PGE, and its TLB state at boot (InitMM in ASID 0).
//
//go:nosplit
func setupPaging(id int) {
	if hasPGE {
		writeCR4(readCR4() | cr4PGE)
	}
	mm.TLB[id].Reset()
}

// globalBits are the bits of every kernel and runtime leaf entry.
//
//go:nosplit
func globalBits() uint64 {
	if hasPGE {
		return pteGlobal
	}
	return 0
}

// archFlushContext: x86's protocol (mm.PowerCPUMask off) never asks for it; were it to, flushing
// everything would be correct.
//
//go:linkname archFlushContext lazymm/kernel/paging.archFlushContext
//go:nosplit
func archFlushContext(*mm.AddrSpace) { flushGlobal() }

// flushGlobal flushes every translation, global ones and every PCID's included (__flush_tlb_all). It
// is paging's archFlushEverything too.
//
//go:linkname flushGlobal lazymm/kernel/paging.archFlushEverything
//go:nosplit
func flushGlobal() {
	switch {
	case hasINVPCID && paging.PCIDOn:
		invpcid(2, 0, 0) // all contexts, globals included
	case hasPGE:
		cr4 := readCR4()
		writeCR4(cr4 &^ cr4PGE)
		writeCR4(cr4)
	default:
		writeCR3(readCR3())
	}
}

// cr3For is the CR3 value that loads root under asid (build_cr3 / build_cr3_noflush).
//
//go:nosplit
func cr3For(root uint64, asid uint16, flush bool) uint64 {
	if !paging.PCIDOn {
		return root
	}
	v := root | uint64(asid) + 1
	if !flush {
		v |= cr3NoFlush
	}
	return v
}

// setPCIDMode turns PCIDs on or off on this CPU (a cross-call to all): back to InitMM under PCID 0,
// CR4.PCIDE changed (only legal with CR3's PCID 0), every translation flushed, ASID slots forgotten.
//
//go:nosplit
func setPCIDMode(cpu int, on bool) {
	writeCR3(kernelRoot)
	cr4 := readCR4()
	if on {
		cr4 |= cr4PCIDE
	} else {
		cr4 &^= cr4PCIDE
	}
	writeCR4(cr4)
	if hasPGE {
		writeCR4(cr4 &^ cr4PGE)
		writeCR4(cr4)
	}
	mm.TLB[cpu].Reset()
}

//go:linkname archLoadRoot lazymm/kernel/paging.archLoadRoot
//go:nosplit
func archLoadRoot(as *mm.AddrSpace, asid uint16, flush bool) {
	writeCR3(cr3For(as.Root, asid, flush))
}

//go:linkname archLoadedRoot lazymm/kernel/paging.archLoadedRoot
//go:nosplit
func archLoadedRoot() uint64 { return readCR3() & pteAddr }

// archFlushPage: the loaded PCID's entry (and a global one: there is none in the user range).
//
//go:linkname archFlushPage lazymm/kernel/paging.archFlushPage
//go:nosplit
func archFlushPage(va uintptr) { invlpg(va) }

// archFlushLoaded: a CR3 reload, NOFLUSH clear: the loaded PCID's non-global entries go.
//
//go:linkname archFlushLoaded lazymm/kernel/paging.archFlushLoaded
//go:nosplit
func archFlushLoaded() { writeCR3(readCR3()) }

// archBroadcastPage: as archFlushBroadcast, never reached on amd64.
//
//go:linkname archBroadcastPage lazymm/kernel/paging.archBroadcastPage
//go:nosplit
func archBroadcastPage(as *mm.AddrSpace, va uintptr, local bool) {
	archFlushBroadcast(as, va, va+mm.PageSize)
}

// archFlushBroadcast: x86 has no broadcast invalidation here (AMD's INVLPGB is not used), and
// paging.Broadcast stays off on amd64: reaching this is a bug, said before the machine stops.
//
//go:linkname archFlushBroadcast lazymm/kernel/paging.archFlushBroadcast
//go:nosplit
func archFlushBroadcast(as *mm.AddrSpace, start, end uintptr) {
	shim.ConsoleLockForce()
	shim.Puts("lazymm: paging.Broadcast is on, but amd64 has no broadcast TLB invalidation\n")
	machineExit(exitCrashBase + 31)
}
