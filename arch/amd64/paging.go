package amd64

import (
	"errors"
	"fmt"
	"sync/atomic"

	"lazymm/mm"
	"lazymm/shim"
)

// kernel.Paging on amd64: thread-context wrappers that take interrupts off (the frame allocator's
// spinlock is also taken in trap context) and serialize address-space edits under mmLock, then call
// the nosplit machinery of tlb.go and mm/.

var (
	mmLock     uint32
	zapped     mm.FrameList    // frames unmapped by Unmap/FreeMM, held until the flush is done
	exitUnlazy bool            // this exit_mmap's flush also makes lazy CPUs drop the mm (ExitMMap)
	auditSeen  [maxCPUs]uint64 // bad audits already reported, per CPU
	errNoPCID  = errors.New("this CPU has no PCID (QEMU's TCG models none: run with -kvm on a host that has it)")
	errNoFrame = errors.New("out of physical frames")
)

//go:nosplit
func lockMM() uint64 {
	fl := irqSave()
	for !atomic.CompareAndSwapUint32(&mmLock, 0, 1) {
		shim.RunCrossCalls() // a CPU waiting here must still answer flush IPIs
		pause()
	}
	return fl
}

//go:nosplit
func unlockMM(fl uint64) {
	atomic.StoreUint32(&mmLock, 0)
	irqRestore(fl)
}

func (machine) AddressSpaces() error { return nil }

func (machine) PCID() (bool, bool) { return hasPCID, pcidOn }

func (machine) SetPCID(on bool) error {
	if on && !hasPCID {
		return errNoPCID
	}
	fl := lockMM()
	pcidOn = on
	arg := uint64(0)
	if on {
		arg = 1
	}
	shim.PostCall(1<<uint(shim.OnlineCPUs)-1, callSetPCID, arg, true)
	unlockMM(fl)
	return nil
}

func (machine) NewMM() (*mm.AddrSpace, error) {
	fl := lockMM()
	as, ok := mm.NewAddrSpace(&mm.Frames)
	unlockMM(fl)
	if !ok {
		return nil, fmt.Errorf("new address space: out of frames or more than %d live", mm.MaxAddrSpaces)
	}
	return as, nil
}

func (machine) FreeMM(as *mm.AddrSpace) {
	fl := lockMM()
	exitMMap(as)
	freePGD(as)
	unlockMM(fl)
}

func (machine) ExitMMap(as *mm.AddrSpace, unlazy bool) {
	fl := lockMM()
	exitUnlazy = unlazy
	exitMMap(as)
	exitUnlazy = false
	unlockMM(fl)
}

func (machine) FreePGD(as *mm.AddrSpace) {
	fl := lockMM()
	freePGD(as)
	unlockMM(fl)
}

// exitMMap is exit_mmap: unhook and collect the user range's pages and tables, flush with freed
// tables (x86 then interrupts lazy CPUs too, which leave for InitMM: flush_tlb_func's is_lazy case),
// then free what was collected.
//
//go:nosplit
func exitMMap(as *mm.AddrSpace) {
	leak := 0
	if leakTables {
		leak = 1
	}
	as.ExitTables(&mm.Frames, &zapped, leak)
	g := mm.Gather{Start: 0, End: mm.FlushAll, FreedTables: true, Unlazy: exitUnlazy}
	if !skipExitFlush {
		flushMMRange(as, &g)
	}
	zapped.FreeAll(&mm.Frames)
}

// freePGD is __mmdrop's end (mm_free_pgd, free_mm): take the mm out of the live table, audit every
// CPU (none may have its root in CR3 any more: the on-demand half of the freed-page-table detector),
// then free the root and the struct, poisoned.
//
//go:nosplit
func freePGD(as *mm.AddrSpace) {
	mm.Retire(as)
	shim.PostCall(1<<uint(shim.OnlineCPUs)-1, callAudit, 0, true)
	mm.FreeAddrSpace(&mm.Frames, as, &zapped, 0)
	zapped.FreeAll(&mm.Frames)
}

func (machine) AllocFrames(n int, k mm.Kind) ([]uint64, error) {
	f := make([]uint64, 0, n)
	for len(f) < n {
		fl := irqSave()
		x, ok := mm.Frames.Alloc(k)
		if ok {
			mm.ZeroFrame(x)
		}
		irqRestore(fl)
		if !ok {
			machine{}.FreeFrames(f)
			return nil, errNoFrame
		}
		f = append(f, x)
	}
	return f, nil
}

func (machine) FreeFrames(f []uint64) {
	for _, x := range f {
		fl := irqSave()
		mm.Frames.Free(x)
		irqRestore(fl)
	}
}

func (machine) Map(as *mm.AddrSpace, va uintptr, frame uint64, write bool) error {
	fl := lockMM()
	ok := as.Map(&mm.Frames, va, frame, write)
	unlockMM(fl)
	if !ok {
		return fmt.Errorf("map %#x: outside the user range, already mapped, or out of frames", va)
	}
	return nil
}

func (machine) Unmap(as *mm.AddrSpace, start, end uintptr) []uint64 {
	fl := lockMM()
	var g mm.Gather
	g.Add(start, end, as.Unmap(&mm.Frames, start, end, &zapped))
	flushMMRange(as, &g)
	if freeLinkedTable {
		freeLinkedTable = false
		freeLiveTable(as, start)
	}
	unlockMM(fl)
	out := make([]uint64, 0, 64)
	fl = lockMM()
	for {
		f, ok := zapped.Pop()
		if !ok {
			break
		}
		if len(out) == cap(out) { // no allocation with interrupts off: grow outside
			unlockMM(fl)
			out = append(make([]uint64, 0, 2*cap(out)), out...)
			fl = lockMM()
		}
		out = append(out, f)
	}
	unlockMM(fl)
	return out
}

// freeLiveTable is an injected bug (inject=free-linked-table): the last-level table that maps va is
// freed (poisoned) while its parent entry still points to it, and the TLBs are flushed, so the next
// access walks into it. The poison-walk detector must name it.
//
//go:nosplit
func freeLiveTable(as *mm.AddrSpace, va uintptr) {
	t := as.Root
	for level := 0; level < 3; level++ {
		e := (*[512]uint64)(mm.Phys(t))[(va>>(39-9*uint(level)))&511]
		if e&ptePresent == 0 {
			return
		}
		t = e & pteAddr
	}
	mm.Frames.Free(t >> 12)
	g := mm.Gather{Start: 0, End: mm.FlushAll, FreedTables: true}
	flushMMRange(as, &g)
}

func (machine) Protect(as *mm.AddrSpace, start, end uintptr, write bool) int {
	fl := lockMM()
	var g mm.Gather
	n := as.Protect(start, end, write)
	g.Add(start, end, n)
	flushMMRange(as, &g)
	unlockMM(fl)
	return int(n)
}

// SwitchMM and EnterLazy are nosplit: the lazy-mm engine calls them with interrupts off.
//
//go:nosplit
func (machine) SwitchMM(as *mm.AddrSpace) {
	if as == nil {
		as = &mm.InitMM
	}
	switchMM(as)
}

//go:nosplit
func (machine) EnterLazy() {
	fl := irqSave()
	mm.TLB[thisCPU().id].EnterLazy()
	irqRestore(fl)
}

//go:nosplit
func (machine) IRQSave() uint64 { return irqSave() }

//go:nosplit
func (machine) IRQRestore(fl uint64) { irqRestore(fl) }

func (machine) AuditCR3() ([]string, uint64) {
	shim.PostCall(1<<uint(shim.OnlineCPUs)-1, callAudit, 0, true)
	var out []string
	var runs uint64
	why := map[uint32]string{auditNotLive: "is not the root of a live address space", auditMismatch: "is not the root of the mm the CPU's TLB state says is loaded"}
	from := map[uint32]string{auditTimer: "timer", auditCall: "cross-call"}
	for cpu := 0; cpu < shim.OnlineCPUs; cpu++ {
		a := &audit[cpu]
		runs += atomic.LoadUint64(&a.runs)
		bad := atomic.LoadUint64(&a.bad)
		if bad == auditSeen[cpu] {
			continue
		}
		out = append(out, fmt.Sprintf("CPU %d: CR3 root %#x (frame kind %s) %s (%s audit; %d bad audits)",
			cpu, a.root, a.kind, why[a.why], from[a.from], bad-auditSeen[cpu]))
		auditSeen[cpu] = bad
		atomic.StoreUint32(&a.why, 0) // the next finding is recorded in detail again
	}
	return out, runs
}

func (machine) TLBStats(cpu int) mm.TLBStats { return mm.TLB[cpu].Stats }
