package lazy

import (
	"errors"
	"sync/atomic"

	"lazymm/kernel/machine"
	"lazymm/mm"
)

// CPU hotplug, as Linux 6.1 takes a CPU down (kernel/cpu.c, kernel/sched/core.c): the outgoing CPU's
// idle thread runs idle_task_exit, which switches the MMU to init_mm but keeps active_mm and its lazy
// reference; the CPU leaves cpu_online_mask and parks (machine.Hotplug); the control CPU, once it is
// dead, runs finish_cpu, which gives the idle thread init_mm and drops the reference. Where it differs:
// idle_task_exit runs before the CPU leaves the online mask, as mainline's sched_force_init_mm does
// (Piggin's 2023 "lazy tlb: fix hotplug exit race with MMU_LAZY_TLB_SHOOTDOWN"); in 6.1 it runs in
// play_dead after __cpu_disable, a window in which the schemes' IPIs, which skip offline CPUs,
// could free an mm the CPU still has loaded. powerpc's clear_tasks_mm_cpumask is left out: flushes
// skip the offline CPU by the online mask, and it flushes everything when it comes back.

// Injected bugs of CPU hotplug.
var (
	InjectHotplugNoIdleExit bool // idle_task_exit does not switch to init_mm: the dead CPU keeps the root
	InjectHotplugDropEarly  bool // the dying CPU drops its lazy reference but keeps active_mm: finish_cpu drops it again
)

// hotplugCPU is one CPU's hotplug state: machine.Hotplug's state word, and its idle thread for
// finish_cpu (idle_thread_get).
type hotplugCPU struct {
	state uint32
	idle  uintptr
}

var hotplug [mm.MaxCPUs]hotplugCPU

var errNoHotplug = errors.New("the machine cannot take a CPU offline")

// CPUDown takes this CPU offline from its idle thread and returns once BringUp brought it back
// (takedown_cpu on the outgoing side, then its bring-up). Its scheme state goes with the MMU: the
// hazard slot no longer holds the mm.
func (c *CPU) CPUDown() error {
	hp, ok := machine.M.(machine.Hotplug)
	if !ok {
		return errNoHotplug
	}
	if c.Curr() != c.Idle {
		return errors.New("CPUDown: idle_task_exit runs on the idle thread")
	}
	h := &hotplug[c.ID]
	atomic.StoreUint32(&h.state, 0)
	h.idle = c.Idle.handle()
	fl := machine.M.IRQSave()
	idleTaskExit(c.ID, c.r)
	machine.M.IRQRestore(fl)
	if InjectHotplugDropEarly && cfg.LazyRefcount { // mainline's mmdrop_lazy_tlb(mm), without its active_mm = &init_mm
		dropLazy(c.ID, c.Idle.ActiveMM, c.Idle.ActiveCtx, atDrop)
	}
	hp.PlayDead(&h.state)
	return nil
}

// idleTaskExit is idle_task_exit: switch_mm(mm, &init_mm), interrupts off (6.1 keeps active_mm and
// its reference: finish_cpu's).
//
//go:nosplit
func idleTaskExit(cpu int, r *runq) {
	if InjectHotplugNoIdleExit {
		return
	}
	machine.M.SwitchMM(&mm.InitMM)
	if cfg.Hazard {
		atomic.StoreUintptr(&r.hazard, 0) // the MMU no longer uses the lazy mm
	}
}

// CPUState is cpu's hotplug state: machine.CPUDead, CPUUp or CPUOnline (0 before it parked).
func CPUState(cpu int) uint32 { return atomic.LoadUint32(&hotplug[cpu].state) }

// FinishCPU is finish_cpu (kernel/cpu.c) on the control CPU c, cpu being dead: the dead CPU's idle
// thread gets init_mm as active_mm, and its lazy reference is dropped here, which may be the mm's
// last (mmdrop in 6.1, mmdrop_lazy_tlb since 6.2: dropLazy). Mainline (sched_force_init_mm) moves
// the reference on the dying CPU and drops init_mm's here.
func (c *CPU) FinishCPU(cpu int) {
	idle := taskAt(hotplug[cpu].idle)
	h, ctx := idle.ActiveMM, idle.ActiveCtx
	if h != 0 && h != initH {
		idle.ActiveMM, idle.ActiveCtx = initH, mm.InitMM.CtxID
	}
	dropLazy(c.ID, h, ctx, atDrop)
}

// BringUp is cpu_up's request: the parked CPU comes back (CPUState turns CPUOnline).
func BringUp(cpu int) { atomic.StoreUint32(&hotplug[cpu].state, machine.CPUUp) }
