// Package paging is machine.Paging over mm: test address spaces and the TLB-shootdown protocol of
// Linux's arch/x86/mm/tlb.c (mm/tlb.go makes its decisions), carried out with the arch's root loads
// and flushes (port.go), the shim's cross-calls and the kernel's lazy-mm hooks. It is arch-neutral:
// amd64 loads CR3 and flushes with INVLPG; a POWER radix port loads PIDR and flushes with tlbiel.
// Everything below the machine.Paging methods runs with interrupts off, flushFunc and auditCPU in
// interrupt context: nosplit, no allocation, no runtime locks.
package paging

import (
	"errors"
	"fmt"
	"sync/atomic"

	"lazymm/kernel/machine"
	"lazymm/kernel/shim"
	"lazymm/mm"
)

// Core is machine.Paging's address-space half; an arch's machine embeds it (and adds PCID and
// SetPCID, which are the arch's).
type Core struct{}

var (
	mmLock     uint32
	zapped     mm.FrameList         // frames unmapped by Unmap/FreeMM, held until the flush is done
	exitUnlazy bool                 // this exit_mmap's flush also makes lazy CPUs drop the mm (ExitMMap)
	auditSeen  [shim.MaxCPUs]uint64 // bad audits already reported, per CPU
	errNoFrame = errors.New("out of physical frames")

	// PCIDOn says whether ASIDs are in use (x86 PCIDs); the arch sets it.
	PCIDOn bool
	// Broadcast makes flushes of an mm the hardware's, on every CPU at once (POWER's tlbie), instead
	// of IPIs to the CPUs in mm_cpumask; the arch sets it where it has such an instruction.
	Broadcast bool
	// RootName is what the audit calls a CPU's translation root in its reports ("CR3").
	RootName = "CR3"

	// Injected bugs of the protocol, each caught by a named detector (docs/MM.md); the arch sets
	// them from the command line.
	SkipFlushIPI    bool // flush_tlb_mm_range sends no IPIs
	SkipLazyCatchup bool // a lazy CPU does not check tlb_gen coming back
	SkipExitFlush   bool // freeing an mm does not flush (lazy CPUs keep its root)
	LeakTables      bool // freeing an address space forgets one of its page-table pages
	FreeLinkedTable bool // a page table is freed while still linked
	SkipBroadcast   bool // in Broadcast mode, the broadcast flush is skipped
	// probeLocal is the kernel word noprobebroadcast: ProbeBroadcast invalidates on its own CPU only
	probeLocal bool
)

// InjectFromCmdline sets the injected bugs of the protocol from the boot command line's inject= word.
//
//go:nosplit
func InjectFromCmdline() {
	SkipFlushIPI = shim.CmdlineHas("inject=skip-flush-ipi")
	SkipLazyCatchup = shim.CmdlineHas("inject=skip-lazy-catchup")
	SkipExitFlush = shim.CmdlineHas("inject=skip-exit-flush")
	LeakTables = shim.CmdlineHas("inject=leak-pagetable")
	FreeLinkedTable = shim.CmdlineHas("inject=free-linked-table")
	SkipBroadcast = shim.CmdlineHas("inject=skip-tlbie")
	UnmapFreeNoFlush = shim.CmdlineHas("inject=unmap-free-no-flush")
	probeLocal = shim.CmdlineHas("noprobebroadcast")
}

// Lock and Unlock serialize address-space edits (and an arch's own paging mode changes: SetPCID),
// interrupts off in between; a CPU waiting here still answers flush IPIs.
//
//go:nosplit
func Lock() uint64 {
	fl := shim.IRQSave()
	for !atomic.CompareAndSwapUint32(&mmLock, 0, 1) {
		shim.RunCrossCalls() // a CPU waiting here must still answer flush IPIs
		mm.Relax()
	}
	return fl
}

//go:nosplit
func Unlock(fl uint64) {
	atomic.StoreUint32(&mmLock, 0)
	shim.IRQRestore(fl)
}

func (Core) AddressSpaces() error { return nil }

func (Core) NewMM() (*mm.AddrSpace, error) {
	fl := Lock()
	as, ok := mm.NewAddrSpace(&mm.Frames)
	Unlock(fl)
	if !ok {
		return nil, fmt.Errorf("new address space: out of frames or more than %d live", mm.MaxAddrSpaces)
	}
	return as, nil
}

// FreeMM is exit_mmap and __mmdrop at once, for code outside the lazy-mm engine (the TLB scenario).
// Where lazy CPUs keep the root through exit_mmap (mm.LazyKeepsRoot), its __mmdrop first sends them
// off, as MMU_LAZY_TLB_SHOOTDOWN's cleanup_lazy_tlbs does on powerpc: the engine's schemes do their own.
func (Core) FreeMM(as *mm.AddrSpace) {
	fl := Lock()
	exitMMap(as)
	if mm.LazyKeepsRoot {
		flushMMRange(as, &mm.Gather{Start: 0, End: mm.FlushAll, Unlazy: true})
	}
	Unlock(fl)
	freePGD(as)
}

func (Core) ExitMMap(as *mm.AddrSpace, unlazy bool) {
	fl := Lock()
	exitUnlazy = unlazy
	exitMMap(as)
	exitUnlazy = false
	Unlock(fl)
}

func (Core) FreePGD(as *mm.AddrSpace) { freePGD(as) }

// exitMMap is exit_mmap: zap the user range's pages, free its tables, flush with freed tables (x86
// then interrupts lazy CPUs too, which leave for InitMM: flush_tlb_func's is_lazy case), then free
// what was collected; a teardown big enough to fill the gather's batch flushes on the way too
// (teardown). An mm that never mapped anything is not flushed (exit_mmap finds no VMA).
//
//go:nosplit
func exitMMap(as *mm.AddrSpace) {
	as.BeginExit(&unmapping)
	if LeakTables {
		unmapping.Leak = 1
	}
	teardown(as, &unmapping, true)
}

// freePGD is __mmdrop's end (mm_free_pgd, free_mm): take the mm out of the live table, audit every
// CPU, then free the root and the struct, poisoned.
func freePGD(as *mm.AddrSpace) {
	fl := Lock()
	mm.Retire(as)
	Unlock(fl)
	auditCR3()
	auditParked(as.Root) // hotplug.go
	fl = Lock()
	mm.FreeAddrSpace(&mm.Frames, as, &zapped, 0)
	zapped.FreeAll(&mm.Frames)
	Unlock(fl)
}

// auditCR3 has every CPU check that no retired root is in its CR3 (the on-demand half of the
// freed-page-table detector). It waits for every CPU, so it runs without the paging lock, which
// would otherwise make the lab's audit every other CPU's page-table cost; the wait is counted as
// the audit's (AuditCycles), not the caller's.
func auditCR3() {
	fl := shim.IRQSave() // the wait is this CPU's
	t0 := machine.ReadCycles()
	shim.PostCall(1<<uint(shim.OnlineCPUs)-1, CallAudit, 0, true)
	mm.TLB[shim.CPUID()].Stats.AuditCycles += machine.ReadCycles() - t0
	shim.IRQRestore(fl)
}

func (Core) AllocFrames(n int, k mm.Kind) ([]uint64, error) {
	f := make([]uint64, 0, n)
	for len(f) < n {
		fl := shim.IRQSave()
		x, ok := mm.Frames.Alloc(k)
		if ok {
			mm.ZeroFrame(x)
		}
		shim.IRQRestore(fl)
		if !ok {
			Core{}.FreeFrames(f)
			return nil, errNoFrame
		}
		f = append(f, x)
	}
	return f, nil
}

func (Core) FreeFrames(f []uint64) {
	for _, x := range f {
		fl := shim.IRQSave()
		mm.Frames.Free(x)
		shim.IRQRestore(fl)
	}
}

func (Core) Map(as *mm.AddrSpace, va uintptr, frame uint64, write bool) error {
	fl := Lock()
	ok := as.Map(&mm.Frames, va, frame, write)
	Unlock(fl)
	if !ok {
		return fmt.Errorf("map %#x: outside the user range, already mapped, or out of frames", va)
	}
	return nil
}

func (Core) Unmap(as *mm.AddrSpace, start, end uintptr) []uint64 {
	fl := Lock()
	if as.BeginUnmap(&unmapping, start, end) { // unmap_region: the pages, then the tables no VMA needs now
		teardown(as, &unmapping, false)
	}
	if FreeLinkedTable {
		FreeLinkedTable = false
		freeLiveTable(as, start)
	}
	Unlock(fl)
	out := make([]uint64, 0, 64)
	fl = Lock()
	for {
		f, ok := zapped.Pop()
		if !ok {
			break
		}
		if len(out) == cap(out) { // no allocation with interrupts off: grow outside
			Unlock(fl)
			out = append(make([]uint64, 0, 2*cap(out)), out...)
			fl = Lock()
		}
		out = append(out, f)
	}
	Unlock(fl)
	return out
}

// ProbeBroadcast remaps va of as to frame and invalidates it by one hardware broadcast, with no
// protocol around it and no injected bug in its way (the tlb suite's probe of whether the broadcast
// reaches the other CPUs at all); noprobebroadcast on the command line makes it this CPU's own
// invalidation only, a broadcast that reaches no other CPU: the probe's negative control. It returns
// the frame mapped before, or false (nothing done) where flushes are not broadcast.
func (Core) ProbeBroadcast(as *mm.AddrSpace, va uintptr, frame uint64) (uint64, bool) {
	if !Broadcast {
		return 0, false
	}
	fl := Lock()
	as.Zap(&mm.Frames, va, va+mm.PageSize, &zapped)
	old, _ := zapped.Pop()
	ok := as.Map(&mm.Frames, va, frame, true)
	archBroadcastPage(as, va, probeLocal)
	Unlock(fl)
	return old, ok
}

// freeLiveTable is an injected bug (inject=free-linked-table): the last-level table that maps va is
// freed (poisoned) while its parent entry still points to it, and the TLBs are flushed, so the next
// access walks into it. The poison-walk detector must name it.
//
//go:nosplit
func freeLiveTable(as *mm.AddrSpace, va uintptr) {
	t := as.Root
	for level := 0; level < mm.PT.Levels-1; level++ {
		e := (*[512]uint64)(mm.Phys(t))[(va>>(39-9*uint(level)))&511]
		if e&mm.PT.Present == 0 {
			return
		}
		t = e & mm.PT.AddrMask
	}
	mm.Frames.Free(t >> 12)
	g := mm.Gather{Start: 0, End: mm.FlushAll, FreedTables: true}
	flushMMRange(as, &g)
}

func (Core) Protect(as *mm.AddrSpace, start, end uintptr, write bool) int {
	fl := Lock()
	var g mm.Gather
	n := as.Protect(start, end, write)
	g.Add(start, end, n)
	flushMMRange(as, &g)
	Unlock(fl)
	return int(n)
}

// EnterLazy is nosplit: the lazy-mm engine calls it with interrupts off.
//
//go:nosplit
func (Core) EnterLazy() {
	fl := shim.IRQSave()
	mm.TLB[shim.CPUID()].EnterLazy()
	shim.IRQRestore(fl)
}

//go:nosplit
func (Core) IRQSave() uint64 { return shim.IRQSave() }

//go:nosplit
func (Core) IRQRestore(fl uint64) { shim.IRQRestore(fl) }

func (Core) AuditCR3() ([]string, uint64) {
	shim.PostCall(1<<uint(shim.OnlineCPUs)-1, CallAudit, 0, true)
	var out []string
	var runs uint64
	why := map[uint32]string{auditNotLive: "is not the root of a live address space", auditMismatch: "is not the root of the mm the CPU's TLB state says is loaded"}
	from := map[uint32]string{AuditTimer: "timer", AuditCall: "cross-call", AuditOffline: "offline", AuditOnline: "bring-up"}
	for cpu := 0; cpu < shim.OnlineCPUs; cpu++ {
		a := &audit[cpu]
		runs += atomic.LoadUint64(&a.runs)
		bad := atomic.LoadUint64(&a.bad)
		if bad == auditSeen[cpu] {
			continue
		}
		out = append(out, fmt.Sprintf("CPU %d: %s root %#x (frame kind %s) %s (%s audit; %d bad audits)",
			cpu, RootName, a.root, a.kind, why[a.why], from[a.from], bad-auditSeen[cpu]))
		auditSeen[cpu] = bad
		atomic.StoreUint32(&a.why, 0) // the next finding is recorded in detail again
	}
	return out, runs
}

func (Core) TLBStats(cpu int) mm.TLBStats { return mm.TLB[cpu].Stats }
