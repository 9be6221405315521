package lazy

import (
	"sync/atomic"

	"lazymm/kernel/machine"
	"lazymm/mm"
)

// Injected bugs of exec_mmap (the exec scenario).
var (
	InjectExecKeepActive bool // exec_mmap sets tsk->mm but leaves tsk->active_mm on the old mm
	InjectExecNoActivate bool // exec_mmap skips activate_mm: the MMU keeps the old mm loaded
)

// Exec is exec_mmap (fs/exec.c, Linux 6.1) on the current task, which takes as (a new mm whose
// mm_users reference it owns, as bprm->mm's): with interrupts off, tsk->active_mm and tsk->mm become
// as; activate_mm loads it, still with interrupts off where the arch selects
// ARCH_WANT_IRQS_OFF_ACTIVATE_MM (powerpc), after enabling them elsewhere (x86, whose switch_mm
// disables them itself). Then the old mm goes: a user task's with mmput (its last user, de_thread
// having killed the other threads: __mmput runs here while other CPUs may be lazy on it); a task
// without one (a user-mode helper started as a kernel thread, lazy on a borrowed active_mm) drops
// that: mmdrop in 6.1, mmdrop_lazy_tlb since 6.2 (dropLazy). It leaves out what is not the mm's: the
// exec_update_lock, mmap_lock, membarrier_exec_mmap and the RSS high-water mark.
func (c *CPU) Exec(as *mm.AddrSpace) {
	t := c.Curr()
	old, oldCtx := t.MM, t.MMCtx
	irqsOff := machine.M.IRQsOffActivateMM()
	fl := machine.M.IRQSave()
	active, activeCtx := execMMap(t, as)
	if !irqsOff {
		machine.M.IRQRestore(fl)
	}
	activateMM(c.ID, c.r, t, as)
	if irqsOff {
		machine.M.IRQRestore(fl)
	}
	if old != 0 {
		mmput(c.ID, old, oldCtx)
		return
	}
	dropLazy(c.ID, active, activeCtx, atDrop)
}

// DropTask frees a task that never ran; its mm_users reference passes to the caller (exec's new mm is
// made as a process's, then exec_mmap takes it over).
func DropTask(t *Task) { freeTask(t) }

// execMMap is exec_mmap's part with interrupts off: the task's mm and active_mm become as; it returns
// the active_mm the task had.
//
//go:nosplit
func execMMap(t *Task, as *mm.AddrSpace) (uintptr, uint64) {
	active, activeCtx := t.ActiveMM, t.ActiveCtx
	if !InjectExecKeepActive {
		t.ActiveMM, t.ActiveCtx = as.Handle(), as.CtxID
	}
	t.MMCtx = as.CtxID
	atomic.StoreUintptr(&t.MM, as.Handle())
	t.Flags &^= taskKthread
	return active, activeCtx
}

// activateMM is activate_mm: switch_mm to the task's new mm, interrupts off for the switch itself.
func activateMM(cpu int, r *runq, t *Task, as *mm.AddrSpace) {
	fl := machine.M.IRQSave()
	if !InjectExecNoActivate && checkMM(cpu, t.MM, t.MMCtx, atSwitch) {
		machine.M.SwitchMM(as)
	}
	if cfg.Hazard {
		atomic.StoreUintptr(&r.hazard, 0) // the MMU no longer uses the lazy mm
	}
	machine.M.IRQRestore(fl)
}

// dropLazy is mmdrop_lazy_tlb: the lazy reference where the scheme counts them (the atomic is a full
// barrier), else smp_mb(), which membarrier needs between a kernel thread's lazy mm and the next
// user task (membarrier-lazy-no-mb leaves it out).
func dropLazy(cpu int, h uintptr, ctx uint64, where uint8) {
	switch {
	case h == 0:
	case cfg.LazyRefcount:
		if h != initH {
			mmdrop(cpu, h, ctx, where)
		}
	case !InjectMembarrierLazyNoMB:
		smpMB(cpu)
	}
}
