package amd64

import (
	"math/bits"
	"sync/atomic"
	"unsafe"

	"lazymm/kernel"
	"lazymm/mm"
	"lazymm/shim"
)

// The x86 half of the TLB-shootdown protocol (mm/tlb.go makes the decisions): CR3 writes with PCIDs and
// the NOFLUSH bit, INVLPG for ranges, flush IPIs, and the audit of what each CPU's CR3 really holds.
// Everything here runs with interrupts off; flushFunc and auditCR3 run in interrupt context.

const (
	cr4PGE     = 1 << 7
	cr4PCIDE   = 1 << 17
	cr3NoFlush = 1 << 63
	pteGlobal  = 1 << 8
)

var (
	hasPGE, hasPCID, hasINVPCID bool
	pcidOn                      bool // CR4.PCIDE on every CPU: ASIDs are PCIDs (ASID+1; PCID 0 is boot's)

	flushInfos [maxCPUs]mm.FlushInfo // each CPU's flush request, read by the CPUs it interrupts

	// injected bugs of the shootdown protocol, each caught by a named detector (docs/MM.md)
	skipFlushIPI    bool // inject=skip-flush-ipi: flush_tlb_mm_range sends no IPIs
	skipLazyCatchup bool // inject=skip-lazy-catchup: a lazy CPU does not check tlb_gen coming back
	skipExitFlush   bool // inject=skip-exit-flush: freeing an mm does not flush (lazy CPUs keep its root)
	freeLinkedTable bool // inject=free-linked-table: a page table is freed while still linked (paging.go)

	audit [maxCPUs]cr3Audit
)

// cr3Audit is one CPU's findings of the freed-page-table detector.
type cr3Audit struct {
	runs uint64 // audits run (timer and cross-call)
	bad  uint64 // audits that found a bad CR3
	// the first bad finding, for the report
	root uint64
	kind mm.Kind
	why  uint32 // auditNotLive, auditMismatch
	from uint32 // auditTimer, auditCall
}

const (
	auditNotLive  = 1 // CR3 names no live address space's root
	auditMismatch = 2 // CR3 is not the root of the mm the CPU's bookkeeping says is loaded
	auditTimer    = 1
	auditCall     = 2
	auditEvery    = 8 // timer ticks between periodic audits
)

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

// flushGlobal flushes every translation, global ones and every PCID's included (__flush_tlb_all).
//
//go:nosplit
func flushGlobal() {
	switch {
	case hasINVPCID && pcidOn:
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
	if !pcidOn {
		return root
	}
	v := root | uint64(asid) + 1
	if !flush {
		v |= cr3NoFlush
	}
	return v
}

// switchMM is switch_mm_irqs_off on this CPU.
//
//go:nosplit
func switchMM(next *mm.AddrSpace) {
	fl := irqSave()
	switchMMIrqsOff(int(thisCPU().id), next)
	irqRestore(fl)
}

//go:nosplit
func switchMMIrqsOff(cpu int, next *mm.AddrSpace) {
	s := &mm.TLB[cpu]
	sw := s.SwitchMM(cpu, next, pcidOn, skipLazyCatchup)
	if !sw.Load {
		return
	}
	writeCR3(cr3For(next.Root, sw.ASID, sw.Flush))
	s.SwitchDone(next, sw.ASID)
}

// flushMMRange is flush_tlb_mm_range: bump the mm's tlb_gen, interrupt the CPUs that have it loaded
// and are not lazy, flush here if it is loaded here; it returns when every interrupted CPU has flushed.
//
//go:nosplit
func flushMMRange(as *mm.AddrSpace, g *mm.Gather) {
	if g.Empty() {
		return
	}
	fl := irqSave()
	me := int(thisCPU().id)
	s := &mm.TLB[me]
	f := &flushInfos[me]
	*f = mm.NewFlush(as, g.Start, g.End, g.FreedTables, me)
	f.Unlazy = g.Unlazy
	targets, lazy := mm.IPITargets(f, me, shim.OnlineCPUs)
	s.Stats.LazySkipped += uint64(bits.OnesCount64(lazy))
	if skipFlushIPI {
		targets = 0
	}
	if targets != 0 {
		s.Stats.IPIsSent += uint64(bits.OnesCount64(targets))
		shim.PostCall(targets, callFlushMM, uint64(uintptr(unsafe.Pointer(f))), true)
	}
	if s.Loaded() == as {
		flushFunc(me, f)
	}
	irqRestore(fl)
}

// flushFunc is flush_tlb_func on this CPU, interrupts off.
//
//go:nosplit
func flushFunc(cpu int, f *mm.FlushInfo) {
	switch mm.TLB[cpu].FlushFunc(f) {
	case mm.FlushRange:
		for va := f.Start; va < f.End; va += mm.PageSize {
			invlpg(va) // the loaded PCID's entry (and a global one: there is none in the user range)
		}
	case mm.FlushFull:
		writeCR3(readCR3()) // NOFLUSH clear: the loaded PCID's non-global entries go
	case mm.FlushLeaveLazy:
		switchMMIrqsOff(cpu, &mm.InitMM)
		if f.Unlazy {
			kernel.ShootLazy(cpu, f.MM)
		}
	}
}

// flushIPI runs a flush request another CPU posted (the cross-call handler's part).
//
//go:nosplit
func flushIPI(cpu int, arg uint64) {
	mm.TLB[cpu].Stats.IPIsRecv++
	flushFunc(cpu, (*mm.FlushInfo)(unsafe.Add(nil, uintptr(arg))))
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

// auditCR3 is the freed-page-table detector on this CPU: the root in CR3 must be a live address
// space's, and the one the TLB bookkeeping says is loaded. A bad CR3 is recorded and the CPU is moved
// to InitMM, so it does not walk freed (poisoned) tables; the report says what was found.
//
//go:nosplit
func auditCR3(cpu int, from uint32) {
	a := &audit[cpu]
	atomic.AddUint64(&a.runs, 1)
	root := readCR3() & pteAddr
	as, live := mm.LiveRoot(root)
	why := uint32(0)
	switch {
	case !live || mm.Frames.KindOf(root>>12) != mm.PageTable && mm.Frames.KindOf(root>>12) != mm.MMTable:
		why = auditNotLive
	default:
		if l := mm.TLB[cpu].Loaded(); l != nil && l != as {
			why = auditMismatch
		}
	}
	if why == 0 {
		return
	}
	atomic.AddUint64(&a.bad, 1)
	if atomic.LoadUint32(&a.why) == 0 {
		a.root, a.kind, a.from = root, mm.Frames.KindOf(root>>12), from
		atomic.StoreUint32(&a.why, why)
	}
	writeCR3(kernelRoot) // PCID 0 (or no PCID)
	flushGlobal()        // every PCID: the ASID slots are forgotten below
	mm.TLB[cpu].Reset()
}

// periodicAudit runs the audit every auditEvery ticks (from the timer interrupt).
//
//go:nosplit
func periodicAudit(c *percpu) {
	if shim.CPUs[c.id].Ticks%auditEvery == 0 {
		auditCR3(int(c.id), auditTimer)
	}
}

// poisonWalk explains a page fault whose walk went through a freed page-table page: the walk from
// this CPU's CR3 meets a quarantined table or a poisoned entry (mm.Poison has the present bit clear,
// so the hardware walk faults there). It returns the level (0: the root itself) and the table frame,
// or -1.
//
//go:nosplit
func poisonWalk(va uintptr) (level int, table uint64) {
	t := readCR3() & pteAddr
	for level = 0; level < mm.PT.Levels; level++ {
		if mm.Frames.KindOf(t>>12) == mm.Quarantined {
			return level, t >> 12
		}
		e := (*[512]uint64)(mm.Phys(t))[(va>>(12+9*(3-uint(level))))&511]
		if e == mm.Poison {
			return level, t >> 12
		}
		if e&ptePresent == 0 || e&pteHuge != 0 {
			return -1, 0
		}
		t = e & pteAddr
	}
	return -1, 0
}
