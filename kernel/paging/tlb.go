package paging

import (
	"math/bits"
	"sync/atomic"
	"unsafe" // also for go:linkname

	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
	"lazymm/kernel/shim"
	"lazymm/mm"
)

// The protocol's execution (mm/tlb.go makes the decisions): root loads, flush requests and their
// IPIs, flush_tlb_func, and the audit of what each CPU's MMU really uses.

// The cross-call ops of this package, above the kernel's and the arch's own.
const (
	ArchOps     = 1 << 31             // the arch's own ops are ArchOps + 0..15
	CallFlushMM = ArchOps + 16 + iota // flush_tlb_func for the mm.FlushInfo at arg
	CallAudit                         // the root audit (freed-page-table detector)
)

var (
	flushInfos [shim.MaxCPUs]mm.FlushInfo // each CPU's flush request, read by the CPUs it interrupts
	audit      [shim.MaxCPUs]rootAudit
)

// rootAudit is one CPU's findings of the freed-page-table detector.
type rootAudit struct {
	runs uint64 // audits run (timer and cross-call)
	bad  uint64 // audits that found a bad root
	// the first bad finding, for the report
	root uint64
	kind mm.Kind
	why  uint32 // auditNotLive, auditMismatch
	from uint32 // AuditTimer, AuditCall
}

const (
	auditNotLive  = 1 // the root names no live address space
	auditMismatch = 2 // the root is not the one of the mm the CPU's bookkeeping says is loaded
	AuditTimer    = 1
	AuditCall     = 2
	auditEvery    = 8 // timer ticks between periodic audits
)

// runOp runs one cross-call op on this CPU: this package's, the arch's own (ops from 1<<31 below
// this package's: archRunOp), or the kernel's (lazy.HandleCrossCall). It is the shim's archRunOp,
// linked from here rather than from the arch: one frame less on the deepest trap path (a flush
// answered while spinning on the kernel lock), whose nosplit budget is tight.
//
//go:linkname runOp lazymm/kernel/shim.archRunOp
//go:nosplit
func runOp(cpu int, op uint32, arg uint64) {
	switch {
	case op == CallFlushMM:
		mm.TLB[cpu].Stats.IPIsRecv++
		flushFunc(cpu, (*mm.FlushInfo)(unsafe.Add(nil, uintptr(arg))))
	case op == CallAudit:
		AuditCPU(cpu, AuditCall)
	case op >= ArchOps:
		archRunOp(cpu, op, arg)
	default:
		if lazy.HandleCrossCall(cpu, machine.CrossCallOp(op), arg) {
			SwitchMMIrqsOff(cpu, &mm.InitMM) // the kernel's op asked this CPU to leave its lazy mm
		}
	}
}

// SwitchMM and EnterLazy are nosplit: the lazy-mm engine calls them with interrupts off.
//
//go:nosplit
func (Core) SwitchMM(as *mm.AddrSpace) {
	if as == nil {
		as = &mm.InitMM
	}
	fl := shim.IRQSave()
	SwitchMMIrqsOff(shim.CPUID(), as)
	shim.IRQRestore(fl)
}

// SwitchMMIrqsOff is switch_mm_irqs_off on this CPU.
//
//go:nosplit
func SwitchMMIrqsOff(cpu int, next *mm.AddrSpace) {
	s := &mm.TLB[cpu]
	sw := s.SwitchMM(cpu, next, PCIDOn, SkipLazyCatchup)
	if !sw.Load {
		return
	}
	archLoadRoot(next, sw.ASID, sw.Flush)
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
	fl := shim.IRQSave()
	me := shim.CPUID()
	s := &mm.TLB[me]
	f := &flushInfos[me]
	*f = mm.NewFlush(as, g.Start, g.End, g.FreedTables, me)
	f.Unlazy = g.Unlazy
	f.Trim = mm.PowerCPUMask && trimNeeded(as, me) || mm.X86Mainline && !mm.PowerCPUMask && shouldTrim(as)
	targets, lazy := mm.IPITargets(f, me, shim.OnlineCPUs)
	self := mm.SelfFlush(f, me) // decided on the mask as the flush found it, as flush_tlb_multi does
	if mm.PowerCPUMask && SkipLazyCatchup {
		lazy = mm.LazyIn(targets) // the injected bug: x86's lazy skip, without x86's catch-up
		targets &^= lazy
	}
	s.Stats.LazySkipped += uint64(bits.OnesCount64(lazy))
	if Broadcast {
		// the hardware flushes every CPU (POWER's tlbie); IPIs only make lazy CPUs leave an mm
		// whose tables are freed, and trim the mask
		if !SkipBroadcast {
			archFlushBroadcast(as, f.Start, f.End)
		}
		s.Stats.Broadcasts++
		switch {
		case f.Trim || f.Unlazy && mm.PowerCPUMask:
			s.Stats.TrimIPIs += uint64(bits.OnesCount64(targets))
		case f.FreedTables && !mm.LazyKeepsRoot: // with the root kept, tlbie has done it all
			targets = mm.LazyIn(targets)
		default:
			targets = 0
		}
	}
	if SkipFlushIPI {
		targets = 0
	}
	if targets != 0 {
		s.Stats.IPIsSent += uint64(bits.OnesCount64(targets))
		shim.PostCall(targets, CallFlushMM, uint64(uintptr(unsafe.Pointer(f))), true)
	}
	if self {
		flushFunc(me, f)
	}
	shim.IRQRestore(fl)
}

// shouldTrim is mainline x86's should_trim_cpumask: a flush trims when the mm's next_trim_cpumask
// (set at its creation, mm.NewAddrSpace's init_new_context) has passed, and sets it a second on.
// Linux reads jiffies; this reads the cycle counter.
//
//go:nosplit
func shouldTrim(as *mm.AddrSpace) bool {
	now := machine.ReadCycles()
	if mm.TrimClock == nil || now <= atomic.LoadUint64(&as.NextTrim) {
		return false
	}
	atomic.StoreUint64(&as.NextTrim, now+mm.TrimPeriod)
	return true
}

// trimClock is each CPU's mm_cpumask_trim_clock.
var trimClock [shim.MaxCPUs]uint32

// trimNeeded is flush_type_needed's choice to trim mm_cpumask (exit_flush_lazy_tlbs): when this CPU
// runs the mm's only user (the other bits are CPUs it ran on before, or lazy ones), and on every
// mm.TrimEvery-th flush from this CPU (tick_and_test_trim_clock).
//
//go:nosplit
func trimNeeded(as *mm.AddrSpace, me int) bool {
	s := &mm.TLB[me]
	if s.Loaded() == as && atomic.LoadUint32(&s.Lazy) == 0 && atomic.LoadInt64(&as.Users) == 1 {
		return true
	}
	if trimClock[me]++; trimClock[me] >= mm.TrimEvery {
		trimClock[me] = 0
		return true
	}
	return false
}

// flushFunc is flush_tlb_func on this CPU, interrupts off.
//
//go:nosplit
func flushFunc(cpu int, f *mm.FlushInfo) {
	switch mm.TLB[cpu].FlushFunc(f) {
	case mm.FlushRange:
		for va := f.Start; va < f.End; va += mm.PageSize {
			archFlushPage(va)
		}
	case mm.FlushFull:
		archFlushLoaded()
	case mm.FlushLeaveLazy:
		SwitchMMIrqsOff(cpu, &mm.InitMM)
		if lazy.UnlazyOnFlush(f.Unlazy) {
			lazy.ShootLazy(cpu, f.MM)
		}
		if mm.PowerCPUMask { // exit_lazy_flush_tlb: off the mask, and the PID it kept flushed
			exitLazyFlush(cpu, f)
		}
	case mm.FlushOther:
		if f.Trim || f.Unlazy {
			exitLazyFlush(cpu, f)
		} else {
			archFlushContext(mm.At(f.MM))
		}
	}
}

// exitLazyFlush is exit_lazy_flush_tlb's end on a CPU that does not run f's mm: its bit is cleared,
// then the mm's PID flushed (always_flush), so a flush that no longer reaches it misses nothing.
//
//go:nosplit
func exitLazyFlush(cpu int, f *mm.FlushInfo) {
	as := mm.At(f.MM)
	mm.TLB[cpu].Trim(cpu, as)
	archFlushContext(as)
}

// AuditCPU is the freed-page-table detector on this CPU: the root its MMU uses must be a live address
// space's, and the one the TLB bookkeeping says is loaded. A bad root is recorded and the CPU is moved
// to InitMM, so it does not walk freed (poisoned) tables; the report says what was found.
//
//go:nosplit
func AuditCPU(cpu int, from uint32) {
	a := &audit[cpu]
	atomic.AddUint64(&a.runs, 1)
	root := archLoadedRoot()
	as, live := mm.LiveRoot(root)
	why := uint32(0)
	switch {
	case !live || mm.Frames.KindOf(root>>12) != mm.PageTable && mm.Frames.KindOf(root>>12) != mm.MMTable && as != &mm.InitMM:
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
	archLoadRoot(&mm.InitMM, 0, true)
	archFlushEverything() // every ASID: the slots are forgotten below
	mm.TLB[cpu].Reset()
}

// PeriodicAudit runs the audit every auditEvery ticks (from the arch's timer interrupt).
//
//go:nosplit
func PeriodicAudit(cpu int, ticks uint64) {
	if ticks%auditEvery == 0 {
		AuditCPU(cpu, AuditTimer)
	}
}

// ReportPoisonWalk is the freed-page-table detector on a page fault at va, in trap context: if the
// walk went through a freed table (PoisonWalk), a fail line for the running test (the runner charges
// name=- to it) before the arch's crash dump.
//
//go:nosplit
func ReportPoisonWalk(va uintptr) bool {
	level, table := PoisonWalk(va)
	if level < 0 {
		return false
	}
	shim.ConsoleLock()
	shim.Puts("LZ1 fail name=- check=poison-walk cpu=")
	shim.PutDec(uint64(shim.CPUID()))
	shim.Puts(" loc=pageFault detail=\"the page walk for ")
	shim.PutHex(uint64(va))
	shim.Puts(" went through freed page-table frame ")
	shim.PutHex(table)
	shim.Puts(" (level ")
	shim.PutDec(uint64(level))
	shim.Puts(" below the root; its poisoned entries are not present)\"\n")
	shim.ConsoleUnlock()
	return true
}

// PoisonWalk explains a page fault whose walk went through a freed page-table page: the walk from
// this CPU's root meets a quarantined table or a poisoned entry (mm.Poison is not present in either
// format), so the hardware walk faults there. It returns the level (0: the root itself) and the table
// frame, or -1.
//
//go:nosplit
func PoisonWalk(va uintptr) (level int, table uint64) {
	t := archLoadedRoot()
	for level = 0; level < mm.PT.Levels; level++ {
		if mm.Frames.KindOf(t>>12) == mm.Quarantined {
			return level, t >> 12
		}
		e := (*[512]uint64)(mm.Phys(t))[(va>>(12+9*uint(mm.PT.Levels-1-level)))&511]
		if e == mm.Poison {
			return level, t >> 12
		}
		if e&mm.PT.Present == 0 || e&mm.PT.Huge != 0 {
			return -1, 0
		}
		t = e & mm.PT.AddrMask
	}
	return -1, 0
}
