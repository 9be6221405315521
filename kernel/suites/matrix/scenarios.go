package matrix

import (
	"time"

	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
	"lazymm/mm"
)

// Each scenario is written as what every CPU does, phase by phase; e.bar separates the phases. CPU 0
// sets up what the phases share.

// switchStorm: every CPU owns a process and a thread of its neighbour's; it alternates them with a
// kernel thread and its idle thread (user → kernel → user of another mm → kernel → kernel), then both
// threads exit and the kernel thread ends.
func switchStorm(e *env, c *lazy.CPU) {
	p, t := e.newProc(4)
	e.mu.Lock()
	e.procs[c.ID] = p
	e.mu.Unlock()
	e.bar.wait()
	q := e.procs[(c.ID+1)%e.n]
	t2 := e.thread(c, q)
	k, err := lazy.NewTask(nil)
	if err != nil || p == nil || q == nil || t2 == nil {
		e.fail("switch-storm setup on CPU %d: %v", c.ID, err)
		return
	}
	e.bar.wait()
	for r := 0; r < 40; r++ {
		c.Switch(t)
		e.touch(c, p)
		c.Switch(k)
		spin(200)
		c.Switch(t2)
		e.touch(c, q)
		c.Switch(c.Idle)
		spin(100)
		c.Switch(k)
	}
	e.bar.wait()
	c.Switch(t)
	c.Exit()
	c.Switch(t2)
	c.Exit()
	c.Switch(k)
	spin(100)
	c.ExitKthread()
}

// exitWhileLazy: every CPU runs a thread of one process and then a kernel thread, lazy on its mm; the
// threads all exit on CPU 0 (the other CPUs' threads migrate there), the last one tearing the mm down
// while the other CPUs are still lazy on it; then the lazy CPUs work on and finally run a user task of
// a new process, which ends their lazy use.
func exitWhileLazy(e *env, c *lazy.CPU) {
	if p, k, ok := e.lazyOnShared(c, 8); ok {
		exitUnderLazy(e, c, p, k, false)
	}
}

// lazyOnShared is the opening exit-while-lazy and exec share: every CPU runs its thread of a shared
// process of so many pages, then the CPUs but 0 switch to a kernel thread, lazy on its mm.
func (e *env) lazyOnShared(c *lazy.CPU, pages int) (*proc, *lazy.Task, bool) {
	if c.ID == 0 {
		e.shareProc(c, pages)
	}
	e.bar.wait()
	p, k, ok := e.runFirstProc(c)
	if ok && c.ID != 0 {
		c.Switch(k) // lazy on p
	}
	return p, k, ok
}

// exitUnderLazy is the part exit-while-lazy and exit-nmi share, the other CPUs lazy on p: CPU 0 exits
// p's tasks here while the kernel threads work on, then the lazy CPUs come back to user tasks one at
// a time, CPU 0 last: under refcount the last lazy reference drops on one of them while the others
// are still lazy (and would be caught borrowing a freed mm, were a reference missing). With nmis the
// waiting CPUs send NMIs throughout and the returning tasks have stack pages for the NMIs to sample.
func exitUnderLazy(e *env, c *lazy.CPU, p *proc, k *lazy.Task, nmis bool) {
	e.bar.wait()
	if c.ID == 0 {
		e.exitAllHere(c, p, true)
		c.Switch(k)
	} else {
		for !e.flag.Load() {
			if nmis {
				e.nmiAll(c)
			}
			pause(100 * time.Microsecond)
		}
	}
	e.bar.wait()
	for i := 0; i < 20; i++ { // the kernel threads work on; the mm may be gone or still borrowed
		if nmis {
			e.nmiAll(c)
		}
		spin(200)
		if i%5 == 4 { // the kernel thread sleeps and wakes: active_mm is handed to idle and back
			c.Switch(c.Idle)
			c.Switch(k)
		}
	}
	e.bar.wait()
	for i := 1; i <= e.n; i++ {
		switch {
		case c.ID == i%e.n && nmis:
			e.sampledUserRun(c)
		case c.ID == i%e.n:
			e.userRun(c)
		case nmis:
			e.nmiAll(c)
		}
		e.bar.wait()
	}
	c.Switch(k)
	c.ExitKthread()
}

// kthreadUseMM: CPU 0 runs the owner of a process; a kernel thread on CPU 1 (CPU 0 too when alone)
// takes it over with kthread_use_mm, reads it, the owner exits, the kernel thread reads it again and
// lets go with kthread_unuse_mm, whose mmput is the last: __mmput runs in the kernel thread.
func kthreadUseMM(e *env, c *lazy.CPU) {
	user, kc := 0, 1%e.n
	if c.ID == 0 {
		p, t0 := e.newProc(4)
		e.procs = []*proc{p}
		e.tasks = []*lazy.Task{t0, nil}
	}
	e.bar.wait()
	p := e.procs[0]
	if p == nil {
		return
	}
	if c.ID == user {
		c.Switch(e.tasks[0])
		e.touch(c, p)
	}
	if c.ID == kc {
		k, err := lazy.NewTask(nil)
		if err != nil {
			e.fail("%v", err)
			return
		}
		e.tasks[1] = k
		c.Switch(k)
		if !c.UseMM(p.as, p.ctx) {
			e.fail("kthread_use_mm: the mm had no users left before its owner exited")
			return
		}
		e.touch(c, p)
	}
	e.bar.wait()
	if c.ID == user {
		c.Switch(e.tasks[0])
		c.Exit() // not the last user: the kernel thread holds one
	}
	e.bar.wait()
	if c.ID == kc {
		c.Switch(e.tasks[1])
		e.touch(c, p)
		c.UnuseMM() // the last mmput: exit_mmap under the kernel thread, which stays lazy on the mm
		spin(500)
	}
	e.bar.wait()
	if !e.userRun(c) {
		return
	}
	if c.ID == kc {
		c.Switch(e.tasks[1])
		c.ExitKthread()
	}
}

// temporaryMM: every CPU is lazy on a process's mm (its thread ran, then a kernel thread); the other
// CPUs keep poking through a temporary mm (use_temporary_mm with interrupts off, as text_poke does)
// while CPU 0 exits the process, so the lazy mm dies under them; at the end the temporary mm is
// freed right after the last poke.
func temporaryMM(e *env, c *lazy.CPU) {
	if c.ID == 0 {
		e.poke = nil
		if as, err := machine.M.NewMM(); err != nil {
			e.fail("%v", err)
		} else if f, err := machine.M.AllocFrames(1, mm.UserData); err != nil {
			e.fail("%v", err)
		} else {
			*(*uint64)(mm.Phys(f[0] << mm.PageShift)) = tokenMagic
			if err := machine.M.Map(as, mm.UserBase(), f[0], false); err != nil {
				e.fail("%v", err)
			}
			e.poke = as
		}
		e.shareProc(c, 4)
	}
	e.bar.wait()
	if e.poke == nil {
		return
	}
	p, k, ok := e.runFirstProc(c)
	if !ok {
		return
	}
	if c.ID != 0 {
		c.Switch(k)
	}
	e.bar.wait()
	poke := func() {
		if v := c.TextPoke(e.poke); v != tokenMagic {
			e.fail("temporary-mm|CPU %d read %#x through the temporary mm, not its token", c.ID, v)
		}
	}
	if c.ID == 0 {
		e.exitAllHere(c, p, false)
		c.Switch(k)
	} else {
		for !e.flag.Load() {
			poke()
			pause(100 * time.Microsecond)
		}
	}
	poke()
	e.bar.wait()
	if c.ID == 0 { // the temporary mm goes: no CPU may still have it loaded
		machine.M.FreeMM(e.poke)
	}
	e.bar.wait()
	if !e.userRun(c) {
		return
	}
	c.Switch(k)
	c.ExitKthread()
}

// forkExitStorm: every CPU forks short-lived processes, each running on this CPU, some with a second
// thread, and lets them exit, with its idle thread in between.
func forkExitStorm(e *env, c *lazy.CPU) {
	for i := 0; i < max(8, 96/e.n); i++ { // about 96 processes in all
		p, t := e.newProc(2)
		if p == nil {
			return
		}
		c.Switch(t)
		e.touch(c, p)
		if i%3 == 0 {
			t2 := e.thread(c, p)
			c.Switch(c.Idle)
			c.Switch(t2)
			e.touch(c, p)
			c.Exit()
			c.Switch(t)
		}
		c.Exit()
		spin(100)
	}
}

// membarrierScenario: every CPU runs a thread of one process; CPU 0 issues expedited membarriers while
// the even CPUs stay in the process and the odd ones keep switching to a kernel thread and back. Every
// CPU that ran the process across a membarrier must have executed its barrier.
func membarrierScenario(e *env, c *lazy.CPU) {
	if c.ID == 0 {
		e.shareProc(c, 2)
	}
	e.bar.wait()
	_, k, ok := e.runFirstProc(c)
	if !ok {
		return
	}
	me := e.tasks[c.ID]
	e.bar.wait()
	if c.ID == 0 {
		for i := 0; i < 40; i++ {
			c.Membarrier()
			pause(100 * time.Microsecond)
		}
		e.flag.Store(true)
	} else {
		for !e.flag.Load() {
			if c.ID%2 == 1 {
				c.Switch(k)
				spin(100)
				c.Switch(me)
			}
			pause(100 * time.Microsecond)
		}
	}
	e.bar.wait()
	sbPhases(e, c, me, k) // membarrier_sb.go
	c.Switch(me)
	c.Exit()
	c.Switch(k)
	c.ExitKthread()
}

// runFirstProc is the opening the scenarios share: c switches to its task of the first process and
// touches its memory, and gets the kernel thread it will go lazy on.
func (e *env) runFirstProc(c *lazy.CPU) (*proc, *lazy.Task, bool) {
	p := e.runShared(c)
	if p == nil {
		return nil, nil, false
	}
	k, err := lazy.NewTask(nil)
	if err != nil {
		e.fail("%v", err)
		return nil, nil, false
	}
	return p, k, true
}

// runShared runs this CPU's thread of the shared process (shareProc's) and has it read its pages;
// nil when the process could not be made.
func (e *env) runShared(c *lazy.CPU) *proc {
	p, me := e.procs[0], e.tasks[c.ID]
	if p == nil || me == nil {
		return nil
	}
	c.Switch(me)
	e.touch(c, p)
	return p
}

// execScenario: every CPU runs a thread of one process; the others go lazy on it (a kernel thread
// each); CPU 0 runs de_thread's part, the other threads exiting here, then its own thread execs
// (exec_mmap): its mmput is the last, and __mmput tears the old mm down while the other CPUs are lazy
// on it. Then CPU 1's kernel thread, a user-mode helper lazy on the dead mm, execs too and drops its
// borrow (CPU 0 plays it when alone), and the other lazy CPUs come back to a user task: the old mm is
// gone. Only then does each new program hand its mm to a kernel thread and back (the active_mm
// hand-off, where an active_mm left on the old mm is caught) and exit.
func execScenario(e *env, c *lazy.CPU) {
	_, k, ok := e.lazyOnShared(c, 4)
	if !ok {
		return
	}
	e.bar.wait()
	var progs []*lazy.Task
	if c.ID == 0 {
		for i := 1; i < e.n; i++ { // de_thread: the other threads die first
			c.Switch(e.tasks[i])
			c.Exit()
		}
		c.Switch(e.tasks[0])
		progs = append(progs, e.exec(c, "exec_mmap's task"))
	}
	e.bar.wait()
	switch {
	case c.ID == 1%e.n:
		c.Switch(k)
		progs = append(progs, e.exec(c, "the user-mode helper's exec")) // its borrow: mmdrop_lazy_tlb
		k = nil
	case c.ID != 0:
		e.userRun(c) // ends the lazy use of the old mm
	}
	e.bar.wait()
	for _, t := range progs {
		e.handOffAndExit(c, t)
	}
	if k != nil {
		c.Switch(k)
		c.ExitKthread()
	}
}

// exec execs the current task into a new two-page program, which reads its pages, checking each
// walk first (after exec the MMU must have the new mm); nil when the program could not be made.
func (e *env) exec(c *lazy.CPU, who string) *lazy.Task {
	q, tmp := e.newProc(2)
	if q == nil {
		return nil
	}
	lazy.DropTask(tmp) // exec takes over bprm->mm's user reference: the placeholder task goes
	c.Exec(q.as)
	e.touchWalked(c, q, who)
	return c.Curr()
}

// handOffAndExit runs t, hands its mm to a new kernel thread and back, and lets it exit (nil: the
// exec failed, and said so).
func (e *env) handOffAndExit(c *lazy.CPU, t *lazy.Task) {
	if t == nil {
		return
	}
	k, err := lazy.NewTask(nil)
	if err != nil {
		e.fail("exec: the program's kernel thread: %v", err)
		return
	}
	c.Switch(t)
	c.Switch(k)
	spin(100)
	c.Switch(t)
	c.Exit()
	c.Switch(k)
	c.ExitKthread()
}
