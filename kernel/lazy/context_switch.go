package lazy

import (
	"lazymm/kernel/machine"

	"fmt"
	"sync/atomic"
	"unsafe"

	"lazymm/mm"
)

// The switch paths of kernel/sched/core.c, kernel/exit.c and kernel/kthread.c, with the scheme's
// choices where Linux has CONFIG options: context_switch (enter_lazy_tlb or switch_mm_irqs_off, the
// active_mm hand-off), finish_task_switch, exit_mm, kthread_use_mm / kthread_unuse_mm and
// use_temporary_mm. Interrupts are off where Linux has them off, so the schemes' IPIs land between
// switches, never inside one; that code is nosplit and allocation-free.

// CPU is one CPU's scheduler as a scenario drives it: the goroutine pinned to that CPU calls its
// methods, and the task they name is current on that CPU.
type CPU struct {
	ID   int
	Idle *Task // swapper/ID: the kernel thread the CPU runs when it has nothing else
	r    *runq
}

// NewCPU sets up CPU id's run queue with its idle thread current; InitMM must be loaded there.
func NewCPU(id int) (*CPU, error) {
	idle, err := NewTask(nil)
	if err != nil {
		return nil, err
	}
	idle.CPU = int64(id)
	if cfg.ActiveMM {
		idle.ActiveMM, idle.ActiveCtx = initH, mm.InitMM.CtxID
	}
	r := &rqs[id]
	atomic.StoreUintptr(&r.curr, idle.handle())
	return &CPU{ID: id, Idle: idle, r: r}, nil
}

// Curr returns the task current on the CPU.
func (c *CPU) Curr() *Task { return taskAt(atomic.LoadUintptr(&c.r.curr)) }

// Switch makes next current: context_switch, then finish_task_switch.
func (c *CPU) Switch(next *Task) {
	prev := c.Curr()
	if prev == next {
		return
	}
	next.CPU = int64(c.ID)
	contextSwitch(c.ID, c.r, prev, next)
	finishTaskSwitch(c.ID, c.r, prev)
}

// contextSwitch is context_switch from prepare_task_switch to switch_to, interrupts off.
//
//go:nosplit
func contextSwitch(cpu int, r *runq, prev, next *Task) {
	fl := machine.M.IRQSave()
	t0 := machine.M.Cycles()
	r.stats.Switches++
	if next.MM == 0 { // to a kernel thread: it keeps the previous mm loaded (lazy TLB)
		if prev.MM != 0 {
			r.stats.LazyEntries++
			enterLazy(cpu, r, prev.MM, prev.MMCtx, !InjectRefcountNoGrab)
		} else if cfg.ActiveIsRef && prev.ActiveMM != 0 {
			checkMM(cpu, prev.ActiveMM, prev.ActiveCtx, atActive) // the reference moves on: it must be live
		}
		if cfg.ActiveMM && !(InjectExitMMNoHandoff && prev.Flags&(taskDead|taskKthread) == taskDead) {
			// the active_mm hand-off; from a task that died in exit_mm, it carries the lazy
			// reference exit_mm took (exit-mm-no-handoff drops it on the floor)
			next.ActiveMM, next.ActiveCtx = prev.ActiveMM, prev.ActiveCtx
		}
		if prev.MM == 0 {
			prev.ActiveMM = 0
		}
	} else { // to a user task
		if checkMM(cpu, next.MM, next.MMCtx, atSwitch) {
			machine.M.SwitchMM(mm.At(next.MM))
		}
		if cfg.Hazard && !InjectHazardNoClear {
			atomic.StoreUintptr(&r.hazard, 0) // the MMU no longer uses the lazy mm
		}
		if prev.MM == 0 { // the lazy reference, if any, is dropped in finish_task_switch
			r.prevMM, r.prevCtx = prev.ActiveMM, prev.ActiveCtx
			prev.ActiveMM = 0
		}
	}
	if InjectMembarrierCurrPlain {
		*(*uintptr)(unsafe.Pointer(&r.curr)) = next.handle() // no barrier after the rq->curr update
	} else {
		atomic.StoreUintptr(&r.curr, next.handle()) // rq->curr, and the full barrier membarrier needs after it
	}
	record(cpu, EvSwitch, next.ID, ctxOf(next.MM), ctxOf(next.ActiveMM))
	r.swCyc[r.nSw%uint64(len(r.swCyc))] = machine.M.Cycles() - t0
	r.nSw++
	machine.M.IRQRestore(fl)
}

// enterLazy is what a CPU does when it keeps mm h loaded for a task that does not own it:
// mmgrab_lazy_tlb (if the scheme counts lazy users; grab is false for the injected refcount-no-grab),
// the hazard slot, and enter_lazy_tlb. Interrupts off.
//
//go:nosplit
func enterLazy(cpu int, r *runq, h uintptr, ctx uint64, grab bool) {
	record(cpu, EvLazy, ctx, 0, 0)
	if cfg.LazyRefcount && grab {
		mmgrab(cpu, h, ctx, atGrab)
	}
	if cfg.Hazard && !InjectHazardNoPublish {
		atomic.StoreUintptr(&r.hazard, h)
	}
	machine.M.EnterLazy()
	if InjectLoadedMMStaleMask { // as if the CPU had switched away: its bit goes, its CR3 stays
		atomic.AndUint64(&mm.At(h).CPUMask, ^(uint64(1) << uint(cpu)))
	}
}

// finishTaskSwitch drops the lazy reference a kernel thread handed back (mmdrop_lazy_tlb_sched) and
// frees a dead task's struct, interrupts on.
func finishTaskSwitch(cpu int, r *runq, prev *Task) {
	if pm := r.prevMM; pm != 0 {
		ctx := r.prevCtx
		r.prevMM = 0
		if !(cfg.LazyRefcount && InjectRefcountNoDrop) {
			dropLazySched(cpu, pm, ctx) // mmdrop_lazy_tlb_sched (rt_mmdrop.go)
		}
	}
	mmdropLazy(cpu, r) // hazard-ref's drop_mm; empty under the other schemes
	if prev.Flags&taskDead != 0 {
		freeTask(prev)
	}
}

// Exit ends the current user task: exit_mm (it stays lazy on its mm, mmgrab_lazy_tlb), mmput (which
// may tear the mm down: __mmput, exit_mmap, and the scheme's hooks), then the CPU switches to its idle
// thread and the task struct is freed.
func (c *CPU) Exit() {
	t := c.Curr()
	if t.MM == 0 {
		panic(fmt.Sprintf("CPU %d: Exit of task %d, which has no mm", c.ID, t.ID))
	}
	t0, a0 := machine.M.Cycles(), auditCycles(c.ID)
	h, ctx := t.MM, t.MMCtx
	record(c.ID, EvExit, t.ID, ctx, 0)
	fl := machine.M.IRQSave()
	exitMM(c.ID, c.r, t, !InjectRefcountExitNoGrab)
	machine.M.IRQRestore(fl)
	mmput(c.ID, h, ctx)
	if InjectMMPutTwice {
		mmput(c.ID, h, ctx) // another user's reference: __mmput tears the mm down under it
	}
	c.r.stats.Exits++
	c.r.stats.ExitCycles += machine.M.Cycles() - t0 - (auditCycles(c.ID) - a0)
	t.Flags |= taskDead
	c.Switch(c.Idle)
}

// exitMM is exit_mm's (and kthread_unuse_mm's) lazy part: current->mm = NULL, mmgrab_lazy_tlb (grab
// false: the injected refcount-exit-no-grab), enter_lazy_tlb; active_mm still names the mm.
//
//go:nosplit
func exitMM(cpu int, r *runq, t *Task, grab bool) {
	h, ctx := t.MM, t.MMCtx
	t.MM = 0
	if !cfg.ActiveMM {
		t.ActiveMM = 0
	}
	enterLazy(cpu, r, h, ctx, grab)
}

// UseMM is kthread_use_mm on the current kernel thread, with the user reference its caller takes
// (mmget_not_zero); false when the mm has no users left.
func (c *CPU) UseMM(as *mm.AddrSpace, ctx uint64) bool {
	t := c.Curr()
	h := as.Handle()
	if !mmgetNotZero(c.ID, h, ctx) {
		return false
	}
	fl := machine.M.IRQSave()
	prevH, prevCtx := useMM(c.ID, c.r, t, h, ctx)
	machine.M.IRQRestore(fl)
	if cfg.LazyRefcount && prevH != 0 && prevH != initH {
		mmdrop(c.ID, prevH, prevCtx, atDrop) // mmdrop_lazy_tlb(active_mm)
	}
	return true
}

//go:nosplit
func useMM(cpu int, r *runq, t *Task, h uintptr, ctx uint64) (uintptr, uint64) {
	mmgrab(cpu, h, ctx, atUseMM)
	prevH, prevCtx := t.ActiveMM, t.ActiveCtx
	t.MMCtx = ctx
	atomic.StoreUintptr(&t.MM, h)
	mbUseMM(cpu)
	t.ActiveMM, t.ActiveCtx = h, ctx
	t.Flags |= taskUseMM
	if checkMM(cpu, h, ctx, atUseMM) {
		machine.M.SwitchMM(mm.At(h))
	}
	if cfg.Hazard {
		atomic.StoreUintptr(&r.hazard, 0)
	}
	return prevH, prevCtx
}

// UnuseMM is kthread_unuse_mm: the kernel thread stays lazy on the mm, then drops kthread_use_mm's
// reference and its caller's user reference (which may be the last: __mmput runs here).
func (c *CPU) UnuseMM() {
	t := c.Curr()
	h, ctx := t.MM, t.MMCtx
	fl := machine.M.IRQSave()
	t.Flags &^= taskUseMM
	exitMM(c.ID, c.r, t, true)
	machine.M.IRQRestore(fl)
	mmdrop(c.ID, h, ctx, atDrop)
	if !InjectUnuseMMNoMMPut {
		mmput(c.ID, h, ctx)
	}
}

// TextPoke is use_temporary_mm / unuse_temporary_mm around one access through tmp's user range, with
// interrupts off throughout, as text_poke and EFI runtime calls do: a lazy CPU first leaves its lazy
// mm (leave_mm), then tmp is loaded, read, and the previously loaded mm is restored. It returns the
// word it read.
func (c *CPU) TextPoke(tmp *mm.AddrSpace) uint64 {
	fl := machine.M.IRQSave()
	v := textPoke(c.ID, tmp)
	machine.M.IRQRestore(fl)
	return v
}

//go:nosplit
func textPoke(cpu int, tmp *mm.AddrSpace) uint64 {
	s := &mm.TLB[cpu]
	if atomic.LoadUint32(&s.Lazy) != 0 && !InjectTempMMNoLeave {
		lazyH := atomic.LoadUintptr(&s.LoadedMM)
		machine.M.SwitchMM(&mm.InitMM) // leave_mm
		if !cfg.LazyRefcount {
			// the CPU stops using the mm here: where lazy users hold no reference, it stops being one
			// (else a kick aimed at the CPUs that have the mm loaded would miss it)
			unlazy(&rqs[cpu], lazyH, true)
		}
	}
	prev := s.Loaded()
	var v uint64
	if checkMM(cpu, tmp.Handle(), tmp.CtxID, atTempMM) {
		machine.M.SwitchMM(tmp)
		v = atomic.LoadUint64((*uint64)(unsafe.Add(nil, mm.UserBase()))) // through tmp's page tables
	}
	if !InjectTempMMNoRestore && prev != nil {
		machine.M.SwitchMM(prev)
		mm.UnuseTemporary(cpu, tmp)
	}
	return v
}

// NewThread is clone(CLONE_VM): a new task of as, with its mm_users reference.
func NewThread(c *CPU, as *mm.AddrSpace, ctx uint64) (*Task, error) {
	mmget(c.ID, as.Handle(), ctx)
	return NewTask(as)
}

// ExitKthread ends the current kernel thread: the CPU switches to its idle thread (the kernel thread's
// borrowed mm, and any lazy reference with it, moves along) and the task struct is freed.
func (c *CPU) ExitKthread() {
	t := c.Curr()
	if t == c.Idle || t.MM != 0 {
		panic(fmt.Sprintf("CPU %d: ExitKthread of task %d, not a kernel thread of its own", c.ID, t.ID))
	}
	t.Flags |= taskDead
	c.Switch(c.Idle)
}

// Drain ends the CPU's part in a scenario: its idle thread gives back the mm it borrows (as a switch
// to a user task of init_mm would: the lazy reference is dropped), the MMU goes to InitMM, and the
// idle task struct is freed. The CPU must be running its idle thread.
func (c *CPU) Drain() {
	idle := c.Curr()
	if idle != c.Idle {
		panic(fmt.Sprintf("CPU %d: Drain while task %d runs", c.ID, idle.ID))
	}
	fl := machine.M.IRQSave()
	machine.M.SwitchMM(&mm.InitMM)
	if cfg.Hazard {
		atomic.StoreUintptr(&c.r.hazard, 0)
	}
	c.r.prevMM, c.r.prevCtx = idle.ActiveMM, idle.ActiveCtx
	idle.ActiveMM = 0
	atomic.StoreUintptr(&c.r.curr, 0)
	machine.M.IRQRestore(fl)
	idle.Flags |= taskDead
	finishTaskSwitch(c.ID, c.r, idle)
}

// EngineOn lets NMIs and IPIs look at the engine's state (while a scenario runs).
func EngineOn(on bool) {
	v := uint32(0)
	if on {
		v = 1
	}
	atomic.StoreUint32(&engineOn, v)
}

// TryNewThread is clone(CLONE_VM) of an mm the caller knows only by a reference to its struct: it
// fails once the mm has no users left (mmget_not_zero).
func TryNewThread(c *CPU, as *mm.AddrSpace, ctx uint64) (*Task, bool, error) {
	if !mmgetNotZero(c.ID, as.Handle(), ctx) {
		return nil, false, nil
	}
	t, err := NewTask(as)
	return t, err == nil, err
}

// GrabMM and DropMM are mmgrab and mmdrop for code that keeps an mm struct around without using it
// (a registry of processes, as /proc or a driver would hold).
func GrabMM(c *CPU, as *mm.AddrSpace, ctx uint64) { mmgrab(c.ID, as.Handle(), ctx, atGrab) }

// DropMM: see GrabMM.
func DropMM(c *CPU, as *mm.AddrSpace, ctx uint64) { mmdrop(c.ID, as.Handle(), ctx, atDrop) }

var delaySink uint64

// DelayIRQs keeps interrupts off on this CPU for about n iterations, so that IPIs aimed at it wait,
// as behind a long interrupts-off section (the torture scenario's delayed IPI handling).
//
//go:nosplit
func DelayIRQs(n int) {
	fl := machine.M.IRQSave()
	for i := 0; i < n; i++ {
		atomic.AddUint64(&delaySink, 1)
	}
	machine.M.IRQRestore(fl)
}
