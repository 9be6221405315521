package lazy

import (
	"sync/atomic"
	"unsafe"

	"lazymm/kernel/machine"
	"lazymm/mm"
)

// InjectIdleLeaveNoSwitch is an injected bug: the deep-idle entry's leave_mm clears the CPU's bit of
// the mm's mm_cpumask and its lazy state, but does not switch to init_mm.
var InjectIdleLeaveNoSwitch bool

// DeepIdle is the entry of a deep idle state on this CPU's idle thread, before it halts:
// cpuidle_enter_state's leave_mm for a state flagged CPUIDLE_FLAG_TLB_FLUSHED (drivers/cpuidle/
// cpuidle.c, Linux 6.1; intel_idle's C6 and deeper, which lose the TLB anyway): a lazy CPU leaves the
// mm (x86's switch_mm to init_mm; in 6.1 that clears its mm_cpumask bit, mainline keeps it), so flush
// IPIs stop waking it. Where it differs: the lab's halt keeps the TLB, and under the schemes that do
// not count lazy users leave_mm also ends the CPU's lazy use, as the lab's other leave_mm does
// (TextPoke). powerpc has no such step (its idle states keep the PID loaded): there the CPU idles
// lazily on the mm, woken by the mask's flushes, and this does nothing.
func (c *CPU) DeepIdle() {
	fl := machine.M.IRQSave()
	idleLeaveMM(c.ID, c.r)
	machine.M.IRQRestore(fl)
}

// IdleCycle is one trip of the current user task's CPU through a deep idle state, interrupts off
// from the task's last user access to its first, so that no other thread runs on the CPU and its TLB
// is as the idle state left it: the task reads the two words at va, the CPU switches to its idle
// thread (lazy), enters the state (DeepIdle's leave_mm), adds one to *idlers and waits until *wake
// is non-zero (the machine's mwait-like loop, machine.Idler), then switches back and the task reads
// va again. finish_task_switch of the first switch, which has nothing to drop, is left
// to the second.
func (c *CPU) IdleCycle(idlers *int32, wake *uint32, va uintptr) (before, after [2]uint64) {
	m, ok := machine.M.(machine.Idler)
	if !ok {
		panic("IdleCycle: the machine has no mwait-like idle loop (machine.Idler)")
	}
	me := c.Curr()
	fl := machine.M.IRQSave()
	before = readUser(va)
	contextSwitch(c.ID, c.r, me, c.Idle)
	idleLeaveMM(c.ID, c.r)
	atomic.AddInt32(idlers, 1)
	m.IdleWait(wake)
	contextSwitch(c.ID, c.r, c.Idle, me)
	after = readUser(va)
	machine.M.IRQRestore(fl)
	finishTaskSwitch(c.ID, c.r, c.Idle)
	return before, after
}

// readUser reads two words at va through the MMU.
//
//go:nosplit
func readUser(va uintptr) (w [2]uint64) {
	w[0] = atomic.LoadUint64((*uint64)(unsafe.Add(nil, va)))
	w[1] = atomic.LoadUint64((*uint64)(unsafe.Add(nil, va+8)))
	return w
}

//go:nosplit
func idleLeaveMM(cpu int, r *runq) {
	s := &mm.TLB[cpu]
	h := atomic.LoadUintptr(&s.LoadedMM)
	switch {
	case h == initH || h == mm.Switching:
		return
	case InjectIdleLeaveNoSwitch: // as if the CPU had switched: off the mask, not lazy; CR3 stays
		atomic.AndUint64(&mm.At(h).CPUMask, ^(uint64(1) << uint(cpu)))
		atomic.StoreUint32(&s.Lazy, 0)
	case mm.PowerCPUMask:
		return
	default:
		machine.M.SwitchMM(&mm.InitMM) // leave_mm
	}
	if !cfg.LazyRefcount {
		unlazy(r, h, true)
	}
}
