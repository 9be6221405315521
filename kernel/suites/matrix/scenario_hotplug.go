package matrix

import (
	"time"

	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
)

// cpuHotplug: every CPU runs a thread of one process, then its idle thread, lazy on the mm. The last
// CPU goes offline from there (lazy.CPUDown: idle_task_exit, then parked with interrupts off); once it
// is dead, CPU 0 exits every thread of the process, so the mm is torn down while that CPU is offline
// and its IPIs skip it; CPU 0 runs finish_cpu and brings the CPU back, which audits its root and
// flushes everything as it comes up; then every CPU but 0 runs a user task. Linux keeps one CPU
// online: with one, CPU 0 only exits the process.
func cpuHotplug(e *env, c *lazy.CPU) {
	if c.ID == 0 {
		e.shareProc(c, 2)
	}
	e.bar.wait()
	p := e.runShared(c)
	if p == nil {
		return
	}
	if c.ID != 0 {
		c.Switch(c.Idle) // lazy on p
	}
	e.bar.wait()
	down := e.n - 1
	switch {
	case e.n == 1:
		e.exitAllHere(c, p, false)
	case c.ID == down:
		if err := c.CPUDown(); err != nil {
			e.fail("cpu-hotplug: CPU %d: %v", c.ID, err)
		}
	case c.ID == 0:
		e.hotplugControl(c, p, down)
	}
	e.bar.wait()
	if c.ID != 0 {
		e.userRun(c)
	}
}

// hotplugControl is the control CPU's part (takedown_cpu, then cpu_up): it waits for cpu to die
// (cpu_wait_death), tears p down with every thread exiting here, runs finish_cpu and brings cpu back,
// waiting until it is online (bringup_wait_for_ap_online).
func (e *env) hotplugControl(c *lazy.CPU, p *proc, cpu int) {
	dead := e.waitCPU(cpu, machine.CPUDead)
	e.exitAllHere(c, p, false)
	if !dead {
		return
	}
	c.FinishCPU(cpu)
	lazy.BringUp(cpu)
	e.waitCPU(cpu, machine.CPUOnline)
}

// waitCPU waits, giving the CPU up, until cpu's hotplug state is want; false (and a failure) after
// 10 s.
func (e *env) waitCPU(cpu int, want uint32) bool {
	for t0 := time.Now(); lazy.CPUState(cpu) != want; pause(100 * time.Microsecond) {
		if time.Since(t0) > 10*time.Second {
			e.fail("cpu-hotplug: CPU %d never reached hotplug state %d (it is in %d)", cpu, want, lazy.CPUState(cpu))
			return false
		}
	}
	return true
}
