package ppc64

import (
	"unsafe"

	"lazymm/kernel/shim"
	"lazymm/mm"
)

// The POWER radix MMU (Power ISA 3.0 Book III, 6.7), as a pseries guest uses it: the hypervisor owns
// the partition table; the guest registers a process table (H_REGISTER_PROC_TBL) whose entry for the
// PID in PIDR points at a radix tree. The hardware's (and QEMU's) geometry for 4 KiB pages is
// Linux's: 52 bits, an 8192-entry root, then three levels of 512. lazymm uses addresses below 2^48
// only, so just the root's first 512 entries are ever used and the walk is x86-64's four levels of 512:
// mm's walks serve both, only the entry bits differ (mm.Format). The root is 64 KiB, aligned to its
// size, so it lives in the image (rootArea) rather than in one frame. RAM is mapped one to one with 1 GiB leaves (the kernel
// image, its tables, every frame); the runtime's memory is paged in on demand above 4 GiB by the shim.
// The MMU is registered after client-architecture-support has agreed on radix with GTSE (or hash)
// with the hypervisor at boot (cas_ppc64.go), as Linux's prom_init does before early_init_mmu.
const (
	rpteValid = 1 << 63 // V
	rpteLeaf  = 1 << 62 // L: a PTE (or a huge leaf at an upper level), not a directory
	rpteAddr  = 0x01ff_ffff_ffff_f000
	rpteRef   = 0x100 // R: set, so the MMU never needs to update it (it would fault instead)
	rpteChg   = 0x080 // C
	rptePriv  = 0x8   // privileged access only: everything here runs with MSR.PR = 0
	rpteRead  = 0x4
	rpteRW    = 0x2
	rpteExec  = 0x1
	rpdeNLS   = 9 // a directory entry's next-level size: 512 entries

	// The process-table entry's radix tree size: RTS = 52 - 31 = 21, split as RTS1 (2 bits) and RTS2
	// (3 bits); RPDS is the root's size, 2^13 entries.
	prtbRTS  = 2<<61 | 5<<5
	prtbRPDS = 13
	rootSize = 8 << prtbRPDS

	hRegisterProcTbl             = 0x37c
	ptblNew, ptblRadix, ptblGTSE = 0x18, 0x04, 0x01
	hSuccess                     = 0
	kernelPID                    = 1 // quadrant 0 translates through PIDR; PID 0 also serves quadrant 3
	userSlot                     = 128
	msrIR, msrDR                 = 1 << 5, 1 << 4
	kernelLeaf                   = rpteValid | rpteLeaf | rpteRef | rpteChg | rptePriv | rpteRead | rpteRW | rpteExec
	tlbFlushPages                = 32 // a larger range flushes the whole PID
	imageBase                    = 0x10000
	maxRAM                       = 4 << 30
)

var (
	frameKinds [maxRAM >> 12]mm.Kind
	memBytes   uint64
	procTable  uint64 // physical address of the process table
	// trapMSR is ORed into the MSR for trap context (trapEntry) once the Frame is saved: FP, VMX, VSX
	// and RI, and once the MMU is on, IR and DR, so trap's Go code reaches the runtime's memory.
	trapMSR uint64 = msrFP | msrVEC | msrVSX | msrRI
	// rootArea holds InitMM's 64 KiB root, aligned inside it.
	rootArea [2 * rootSize]byte
)

// In mmu_ppc64.s.
func hcall(op, a0, a1, a2, a3 uint64) int64
func hcall2(op, a0, a1, a2, a3 uint64) (int64, uint64)
func setPIDR(pid uint64)
func setMSR(msr uint64)
func tlbielPage(va uintptr, pid uint64)
func tlbielPID(pid uint64)
func tlbielPIDAll(pid uint64)
func tlbielAll()
func getPIDR() uint64
func tlbiePage(va uintptr, pid uint64)
func tlbiePIDAll(pid uint64)
func tlbSync()
func ptesync()
func imageEnd() uintptr

//go:nosplit
func allocTable() uint64 {
	f, ok := mm.Frames.Alloc(mm.PageTable)
	if !ok {
		shim.Puts("lazymm: ppc64 out of memory building the page tables\n")
		powerOff()
	}
	mm.ZeroFrame(f)
	return f << 12
}

//go:nosplit
func table(pa uint64) *[512]uint64 { return (*[512]uint64)(unsafe.Add(nil, uintptr(pa))) }

// framesInit hands RAM [image end, memBytes) to the frame allocator; below is the vectors, the
// firmware's scratch and the image.
//
//go:nosplit
func framesInit() {
	mm.Frames.Init(frameKinds[:])
	n := memBytes >> 12
	if n > uint64(len(frameKinds)) {
		n = uint64(len(frameKinds))
		memBytes = maxRAM
	}
	mm.Frames.SetRange(0, n, mm.Free)
	mm.Frames.SetRange(0, imageBase>>12, mm.Reserved)
	img := (uint64(imageEnd()) + 0xfff) >> 12
	mm.Frames.SetRange(imageBase>>12, img-imageBase>>12, mm.Image)
	reserveFirmware() // powernv: skiboot's memory
}

// mmuInit builds InitMM's tree (RAM one to one), registers the process table and turns translation
// on for this CPU and for trap context. False (and a console line) if the hypervisor refuses.
//
//go:nosplit
func mmuInit() bool {
	mm.PT = mm.Format{Levels: 4, Present: rpteValid, Write: rpteRW, Huge: rpteLeaf,
		Leaf:  rpteLeaf | rpteRef | rpteChg | rptePriv | rpteRead,
		Table: rpteValid | rpdeNLS, AddrMask: rpteAddr, UserSlot: userSlot, RootFrames: rootSize >> 12}
	root := (uint64(uintptr(unsafe.Pointer(&rootArea[0]))) + rootSize - 1) &^ (rootSize - 1)
	pud := allocTable()
	table(root)[0] = pud | rpteValid | rpdeNLS
	// the first GiB in 2 MiB leaves, and its first 2 MiB in pages, so that page 0 stays unmapped: a
	// nil dereference faults (SIGSEGV for the runtime). The vectors there run in real mode.
	pmd, pte := allocTable(), allocTable()
	table(pud)[0] = pmd | rpteValid | rpdeNLS
	table(pmd)[0] = pte | rpteValid | rpdeNLS
	for i := uint64(1); i < 512; i++ {
		table(pte)[i] = i<<12 | kernelLeaf
		table(pmd)[i] = i<<21 | kernelLeaf
	}
	for gib := uint64(1); gib<<30 < memBytes; gib++ {
		table(pud)[gib] = gib<<30 | kernelLeaf
	}
	mm.InitMM.Root = root
	mm.PowerCPUMask = true
	// radix keeps a lazy CPU on its mm's root until the scheme moves it off, as Linux's radix does;
	// exitleave (runner -mmu radix-exitleave) sends it off at exit_mmap, as x86 does
	mm.LazyKeepsRoot = !hashMode && !shim.CmdlineHas("exitleave")
	if hashMode {
		// the table first (the hypervisor's, or on powernv the kernel's own), then what is bolted in it
		if powernv && !pnvHash() || !powernv && !pseriesHash() || !hashInit() {
			return false
		}
		trapMSR |= msrIR | msrDR
		setMSR(readMSR() | msrIR | msrDR)
		return true
	}
	procTable = allocTable()
	table(procTable)[2*kernelPID] = prtbRTS | root | prtbRPDS
	if powernv {
		pnvRadix(root, procTable) // no hypervisor: the kernel's own partition table
	} else if r := hcall(hRegisterProcTbl, ptblNew|ptblRadix|ptblGTSE, procTable, 0, 0); r != hSuccess {
		shim.Puts("lazymm: ppc64 H_REGISTER_PROC_TBL failed: ")
		shim.PutDec(uint64(-r))
		shim.Puts(" (the radix MMU is needed: the runtime's heap lies far above RAM)\n")
		return false
	}
	setPIDR(kernelPID)
	tlbielPID(kernelPID)
	trapMSR |= msrIR | msrDR
	setMSR(readMSR() | msrIR | msrDR)
	return true
}

// archLeaf is the shim's leaf entry for a runtime page.
//
//go:linkname archLeaf lazymm/kernel/shim.archLeaf
//go:nosplit
func archLeaf(frame uint64, prot uint32) uint64 {
	pte := frame<<12 | rpteValid | rpteLeaf | rpteRef | rpteChg | rptePriv | rpteRead
	if prot&mm.ProtWrite != 0 {
		pte |= rpteRW
	}
	if prot&mm.ProtExec != 0 {
		pte |= rpteExec
	}
	return pte
}

// archShootdown flushes the runtime's [start, end) from every TLB: this CPU's, and if remote every
// other CPU's by cross-call (tlbiel on each, not a broadcast tlbie). The runtime's translations are
// cached under whichever PID was loaded when they were used (it lives in quadrant 0, not quadrant 3
// as Linux's kernel does), so the flush is of every PID.
//
//go:linkname archShootdown lazymm/kernel/shim.archShootdown
//go:nosplit
func archShootdown(start, end uintptr, remote bool) {
	if hashMode {
		// H_REMOVE is global: no cross-call. Without remote (inject=no-shootdown) nothing is removed,
		// so every CPU keeps the stale entries
		if remote {
			hashFlush(kernelCtx, start, end, flushGlobal)
		}
		return
	}
	tlbielAll()
	if remote && shim.OnlineCPUs > 1 {
		others := (uint64(1)<<uint(shim.OnlineCPUs) - 1) &^ (1 << thisCPU().id)
		shim.PostCall(others, callFlushTLB, 0, true)
	}
}

// paging's port (paging/port.go): an address space's root is loaded through its PID, one per live
// address space (pidOf); the process-table entry is written when the PID is loaded with a new root.
// mm/tlb.go runs powerpc's protocol (mm.PowerCPUMask): a load flushes nothing, since every flush of
// the mm reaches the CPUs in its mask, which a CPU leaves only by flushing the PID; but a PID's first
// load on a CPU since its slot was given to another address space does (mm.TLBState.SlotCtx).

// pidOf is as's PID: 1 for InitMM, 2 + the live slot for a test address space.
//
//go:nosplit
func pidOf(as *mm.AddrSpace) uint64 {
	if as == &mm.InitMM {
		return kernelPID
	}
	return uint64(as.Slot()) + 2
}

//go:linkname archLoadRoot lazymm/kernel/paging.archLoadRoot
//go:nosplit
func archLoadRoot(as *mm.AddrSpace, asid uint16, flush bool) {
	pid := pidOf(as)
	if hashMode {
		// switch_slb (hash_ppc64.go), inline: this is the end of the trap path's deepest chain
		c := thisCPU()
		if as == &mm.InitMM {
			c.userCtx, c.userRoot = 0, 0
			slbSwitch(nBolted, 0, 0)
			return
		}
		c.userCtx, c.userRoot = pid, as.Root
		ctxRoot[pid] = as.Root
		slbSwitch(nBolted, vsidOf(pid, userESID)<<12, userESID<<segShift|slbV|nBolted)
		return
	}
	e := &table(procTable)[2*pid]
	if want := prtbRTS | as.Root | prtbRPDS; *e != want {
		*e = want
		ptesync()
	}
	setPIDR(pid)
	if flush {
		tlbielPIDAll(pid) // the TLB, the page-walk cache and the cached process-table entry
	}
}

//go:linkname archFlushContext lazymm/kernel/paging.archFlushContext
//go:nosplit
func archFlushContext(as *mm.AddrSpace) { tlbielPIDAll(pidOf(as)) }

//go:linkname archLoadedRoot lazymm/kernel/paging.archLoadedRoot
//go:nosplit
func archLoadedRoot() uint64 {
	if hashMode {
		return hashLoadedRoot()
	}
	return table(procTable)[2*getPIDR()] & rpteAddr &^ (rootSize - 1)
}

//go:linkname archFlushPage lazymm/kernel/paging.archFlushPage
//go:nosplit
func archFlushPage(va uintptr) { tlbielPage(va, getPIDR()) }

//go:linkname archFlushLoaded lazymm/kernel/paging.archFlushLoaded
//go:nosplit
func archFlushLoaded() { tlbielPIDAll(getPIDR()) }

//go:linkname archFlushEverything lazymm/kernel/paging.archFlushEverything
//go:nosplit
func archFlushEverything() { tlbielAll() }

// archBroadcastPage is one page's broadcast invalidation alone (paging.ProbeBroadcast): the HPTE's
// removal on hash, a tlbie of the page under as's PID on radix. local makes it tlbiel, this CPU's
// (powernv's hash removes the HPTE and tlbiels it; pseries's H_REMOVE is global, so there nothing
// is removed and this CPU keeps the translation too).
//
//go:linkname archBroadcastPage lazymm/kernel/paging.archBroadcastPage
//go:nosplit
func archBroadcastPage(as *mm.AddrSpace, va uintptr, local bool) {
	switch {
	case hashMode && local && !powernv:
	case hashMode && local:
		hashFlush(pidOf(as), va, va+1<<12, flushLocal)
	case hashMode:
		hashFlush(pidOf(as), va, va+1<<12, flushGlobal)
	case local:
		tlbielPage(va, pidOf(as))
	default:
		tlbiePage(va, pidOf(as))
		tlbSync()
	}
}

// archFlushBroadcast is paging's flush in its Broadcast mode (the kernel word `tlbie`): tlbie for each
// page of [start, end) under as's PID, or the PID with RIC=2 (TLB, page-walk cache, process-table
// entry) for a larger range, then eieio; tlbsync; ptesync, so every CPU has dropped them on return.
//
//go:linkname archFlushBroadcast lazymm/kernel/paging.archFlushBroadcast
//go:nosplit
func archFlushBroadcast(as *mm.AddrSpace, start, end uintptr) {
	if hashMode {
		how := flushGlobal
		if skipHPTERemove {
			how = flushForget
		}
		hashFlush(pidOf(as), start, end, how) // the context is the PID
		return
	}
	pid := pidOf(as)
	if end-start > tlbFlushPages<<12 {
		tlbiePIDAll(pid)
	} else {
		for va := start; va < end; va += 1 << 12 {
			tlbiePage(va, pid)
		}
	}
	tlbSync()
}
