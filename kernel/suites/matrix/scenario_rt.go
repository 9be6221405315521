package matrix

import "lazymm/kernel/lazy"

// rtDelayedMMDrop plays exit-while-lazy's tail under PREEMPT_RT's mmdrop_sched (lazy.SetPreemptRT):
// the CPUs go lazy on one process's mm, CPU 0 exits it, and the lazy CPUs come back to user tasks
// one at a time, CPU 0 last. Under refcount CPU 0's finish_task_switch drops the last reference and
// queues __mmdrop_delayed (call_rcu) instead of freeing: the mm must still be allocated then. After a
// grace period (a barrier, which every CPU reaches idle or through a switch: a quiescent state) each
// CPU runs its callbacks, and the mm must be gone; a second batch (rcu_barrier's) finds nothing.
// Under the schemes without lazy references nothing is deferred: the mm died at its last mmput.
func rtDelayedMMDrop(e *env, c *lazy.CPU) {
	if c.ID == 0 {
		lazy.SetPreemptRT(true)
	}
	p, k, ok := e.lazyOnShared(c, 2)
	if !ok {
		return
	}
	e.bar.wait()
	if c.ID == 0 {
		e.exitAllHere(c, p, false)
		c.Switch(k)
	}
	e.bar.wait()
	for i := 1; i <= e.n; i++ {
		if c.ID == i%e.n {
			e.userRun(c)
		}
		e.bar.wait()
	}
	e.checkDeferred(c, p, lazy.DefersMMDrop())
	e.bar.wait() // the grace period
	c.RCUCallbacks()
	e.bar.wait()
	e.checkDeferred(c, p, false)
	c.RCUCallbacks() // rcu_barrier's batch
	e.bar.wait()
	if c.ID == 0 {
		lazy.SetPreemptRT(false)
	}
	e.bar.wait()
	c.Switch(k)
	c.ExitKthread()
}

// checkDeferred checks, on CPU 0, that p's mm is still allocated (deferred: its __mmdrop_delayed
// has not run) or gone, and on every CPU that the callbacks still queued name allocated mms.
func (e *env) checkDeferred(c *lazy.CPU, p *proc, deferred bool) {
	if _, allocated := c.RCUPending(); !allocated {
		e.fail("rt-delayed-mmdrop: CPU %d: a queued __mmdrop_delayed names an mm already freed, or with references", c.ID)
	}
	if c.ID != 0 {
		return
	}
	if freed := lazy.MMFreed(p.as.Handle(), p.ctx); freed == deferred {
		e.fail("rt-delayed-mmdrop: mm ctx %d freed: %v, want %v (PREEMPT_RT defers the last lazy drop's __mmdrop to an RCU callback)", p.ctx, freed, !deferred)
	}
}
