package lazy

import (
	"lazymm/kernel/machine"

	"fmt"
	"math/bits"
	"sync/atomic"

	"lazymm/mm"
)

// Scheme is one answer to "who keeps a lazily used mm alive, and how are lazy CPUs kicked off it?"
// (docs/DESIGN.md#schemes). What the switch path needs is data (SchemeConfig), read with interrupts off
// without a call; what the exit path does is code (the methods), run in thread context.
type Scheme interface {
	Name() string
	Config() SchemeConfig
	// MMPut runs in __mmput, when the last mm_users reference is gone, before exit_mmap.
	MMPut(cpu int, as *mm.AddrSpace)
	// MMDrop runs in __mmdrop, when mm_count reached zero, before the root and the struct are freed
	// (cleanup_lazy_tlbs).
	MMDrop(cpu int, as *mm.AddrSpace)
}

// mmputExited is a scheme hook that runs in __mmput after exit_mmap, before the users' mmdrop
// (hazard-ref's mm_unlazy_mm_count); a scheme has it or not.
type mmputExited interface {
	MMPutExited(cpu int, as *mm.AddrSpace)
}

// SchemeConfig is what context_switch, exit_mm and the interrupt handlers need to know of a scheme.
type SchemeConfig struct {
	// LazyRefcount: a kernel thread borrowing an mm holds an mm_count reference on it
	// (mmgrab_lazy_tlb / mmdrop_lazy_tlb count: CONFIG_MMU_LAZY_TLB_REFCOUNT).
	LazyRefcount bool
	// ActiveMM: kernel threads carry active_mm (false: no-active-mm, only the MMU knows).
	ActiveMM bool
	// ActiveIsRef: a kernel thread's active_mm must never name a freed mm. False where only the
	// MMU's loaded mm is tracked (loaded-mm): a stale active_mm is then never dereferenced.
	ActiveIsRef bool
	// Hazard: a CPU going lazy publishes the mm in its hazard slot; the freeing side scans them.
	Hazard bool
	// ExitUnlazy: exit_mmap's flush (freed tables, lazy CPUs included) also drops the mm as their
	// active_mm (the powerpc radix exit flush).
	ExitUnlazy bool
	// FlushUnlazy: any flush that moves a lazy CPU to init_mm also ends its lazy use, active_mm and
	// hazard slot (unlazy_mm_irqs_off in flush_tlb_func, Lutomirski 2022: loaded-mm).
	FlushUnlazy bool
}

// Schemes lists every scheme, in the order of reports.
var Schemes = []Scheme{refcount{}, shootdown{}, mmputUnlazy{}, loadedMM{}, hazard{}, exitFlushUnlazy{}, noActiveMM{},
	hazardRef{}, shootdownAll{}}

// SchemeByName finds a scheme.
func SchemeByName(name string) (Scheme, error) {
	for _, s := range Schemes {
		if s.Name() == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unknown scheme %q", name)
}

var (
	scheme Scheme = refcount{}
	cfg           = refcount{}.Config()
)

// UseScheme selects the scheme for the next scenario (no engine task may exist).
func UseScheme(s Scheme) {
	scheme, cfg = s, s.Config()
}

// Injected bugs of the lazy-mm engine (SetInjection turns them on by name; kernel/catalog says
// which scheme and scenario each breaks).
var (
	InjectRefcountNoGrab    bool // a kernel thread borrows active_mm without mmgrab
	InjectShootdownNoIPI    bool // the final __mmdrop skips the shootdown
	InjectMMPutUnlazySkip   bool // the last mmput does not kick lazy CPUs
	InjectLoadedMMStaleMask bool // mm_cpumask cleared on going lazy, before the CPU really switched
	InjectHazardNoScan      bool // the freeing side ignores the hazard slots
	InjectNMINoCheck        bool // the NMI handler dereferences active_mm without the scheme's check
	InjectTempMMNoRestore   bool // unuse_temporary_mm does not switch back
	InjectExitFlushNoUnlazy bool // exit_mmap's flush moves lazy CPUs' CR3 but leaves their active_mm
	InjectMMPutTwice        bool // the exit of a process's last task drops its mm_users reference twice

	InjectRefcountExitNoGrab  bool // exit_mm skips mmgrab_lazy_tlb
	InjectRefcountNoDrop      bool // finish_task_switch skips mmdrop_lazy_tlb_sched
	InjectShootdownCPUMask    bool // cleanup_lazy_tlbs shoots mm_cpumask, not every CPU
	InjectShootKeepActive     bool // do_shoot_lazy_tlb leaves active_mm alone
	InjectShootNoLeave        bool // do_shoot_lazy_tlb does not switch_mm to init_mm
	InjectMMPutUnlazyLate     bool // __mmput's kick runs after exit_mmap, not before
	InjectLoadedMMNoIPI       bool // the loaded-mm __mmdrop sends no IPI to mm_cpumask
	InjectHazardNoPublish     bool // enter_lazy_tlb does not publish the hazard slot
	InjectHazardNoClear       bool // a switch to a user task does not clear the hazard slot
	InjectExitFlushNoBackstop bool // exit-flush-unlazy's __mmdrop sends no backstop shootdown
	InjectNoActiveMMNoScan    bool // no-active-mm's __mmdrop does not scan loaded_mm
	InjectTempMMNoLeave       bool // use_temporary_mm does not leave_mm a lazy mm first
	InjectUnuseMMNoMMPut      bool // kthread_unuse_mm does not mmput
	InjectExitMMNoHandoff     bool // the dead task's active_mm (and lazy reference) is not handed on

	InjectHazardRefNoConvert bool // mm_unlazy_mm_count skips the lazy_mm slots
	InjectHazardRefDropInUse bool // mmdrop_lazy drops drop_mm while lazy_mm still names it
	InjectLoadedMMKeepActive bool // a flush moves a lazy CPU to init_mm but leaves its active_mm
	InjectShootAllNotSelf    bool // shootdown-all's IPIs skip the freeing CPU
)

// shoot sends the scheme's IPI to the CPUs in mask (this one included, directly): each leaves the mm
// if it uses it lazily (ShootLazy), and the call returns when all have.
func shoot(cpu int, mask uint64, as *mm.AddrSpace) {
	mask &= onlineMask()
	if mask == 0 {
		return
	}
	rqs[cpu].stats.ShootSent += uint64(bits.OnesCount64(mask)) // this CPU's own call included
	record(cpu, EvShootSend, mask, as.CtxID, 0)
	machine.M.CrossCall(mask, machine.CallShootLazy, uint64(as.Handle()), true)
}

func onlineMask() uint64 {
	n := machine.M.CPUs()
	if n >= 64 {
		return ^mm.OfflineMask()
	}
	return (1<<uint(n) - 1) &^ mm.OfflineMask() // cpu_online_mask: hotplug.go takes CPUs out
}

// ShootLazy is the scheme's IPI on this CPU (do_shoot_lazy_tlb), in interrupt context: a kernel
// thread running on the borrowed mm h gets InitMM as active_mm, the hazard slot is cleared, and the
// return value asks the arch to switch the MMU to InitMM if it has h loaded. It counts IPIs that found
// nothing to do.
//
//go:nosplit
func ShootLazy(cpu int, h uintptr) bool {
	r := &rqs[cpu]
	atomic.AddUint64(&r.stats.ShootRecv, 1)
	held := unlazy(r, h, !InjectShootKeepActive)
	loaded := atomic.LoadUintptr(&mm.TLB[cpu].LoadedMM) == h
	r.shotHeld = held || loaded // for the trace (HandleCrossCall records: this frame is deep enough)
	if !held && !loaded {
		atomic.AddUint64(&r.stats.ShootUnneeded, 1)
	}
	return loaded && !InjectShootNoLeave // switch_mm(init_mm)
}

// UnlazyOnFlush says whether a flush that has just moved this lazy CPU to init_mm must also end its
// lazy use (the arch then calls ShootLazy): when the flush asks (unlazy: exit-flush-unlazy's exit
// flush), and under FlushUnlazy always, as flush_tlb_func's unlazy_mm_irqs_off (loaded-mm).
//
//go:nosplit
func UnlazyOnFlush(unlazy bool) bool {
	return unlazy || cfg.FlushUnlazy && atomic.LoadUint32(&engineOn) != 0
}

// unlazy ends this CPU's lazy use of mm h: a kernel thread borrowing it gets InitMM as active_mm
// (unless active is false: the injected shoot-keep-active) and the hazard slot is cleared. It reports
// whether there was anything to end.
//
//go:nosplit
func unlazy(r *runq, h uintptr, active bool) bool {
	held := false
	if t := taskAt(atomic.LoadUintptr(&r.curr)); active && t != nil && t.MM == 0 && t.ActiveMM == h {
		t.ActiveMM, t.ActiveCtx = initH, mm.InitMM.CtxID
		held = true
	}
	if atomic.LoadUintptr(&r.hazard) == h {
		atomic.StoreUintptr(&r.hazard, 0)
		held = true
	}
	return held
}

// auditLazy is the lazy-freed-mm detector on this CPU (a cross-call after every free): nothing here
// may still name the freed mm h (the DEBUG_VM_SHOOT_LAZIES check of cleanup_lazy_tlbs).
//
//go:nosplit
func auditLazy(cpu int, h uintptr) {
	r := &rqs[cpu]
	if t := taskAt(atomic.LoadUintptr(&r.curr)); t != nil && cfg.ActiveIsRef && t.MM == 0 && t.ActiveMM == h {
		report(chkLazyFreedMM, atActive, cpu, h, t.ActiveCtx, 0)
	}
	if atomic.LoadUintptr(&r.hazard) == h {
		report(chkLazyFreedMM, atHazard, cpu, h, 0, 0)
	}
	if cfg.LazyRefcount && r.prevMM == h {
		report(chkLazyFreedMM, atPrevMM, cpu, h, r.prevCtx, 0)
	}
	// No check of the MMU's loaded mm here: FreePGD's root audit ran on every CPU first, after the
	// mm was retired, and moved any CPU whose loaded_mm (or root register) still named it to init_mm,
	// reporting cr3-audit. That holds where a lazy CPU keeps the root through exit_mmap too (radix):
	// shoot-no-leave, loaded-mm-no-ipi and no-active-mm-no-scan are reported by cr3-audit alone.
}
