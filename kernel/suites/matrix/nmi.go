package matrix

import (
	"time"

	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
	"lazymm/mm"
)

// The exit-nmi scenario gives perf's NMI something to read: every process it makes maps a user stack
// page (lazy.UserStackVA) holding its mm's stack token, and the NMIs land on user tasks as well as on
// lazy kernel threads. HandleNMI (kernel/lazy/nmi.go) reads that page through the MMU wherever
// nmi_uaccess_okay allows it. A poking mm, whose page at the same address holds its own token, is
// loaded from user tasks' context (text_poke from a system call) while NMIs land: there current->mm
// is not the loaded mm, and a handler that reads anyway returns the poking mm's stack (nmi-uaccess).

// mapStack maps as's user stack page with its token; false (after e.fail) when it could not.
func (e *env) mapStack(as *mm.AddrSpace) bool {
	f, err := machine.M.AllocFrames(1, mm.UserData)
	if err != nil {
		e.fail("stack page: %v", err)
		return false
	}
	w := (*[3]uint64)(mm.Phys(f[0] << mm.PageShift))
	w[0], w[1], w[2] = lazy.StackMagic, lazy.StackToken(as.CtxID), ^lazy.StackToken(as.CtxID)
	if err := machine.M.Map(as, lazy.UserStackVA(), f[0], true); err != nil {
		e.fail("stack page: %v", err)
		return false
	}
	return true
}

// nmiPokes is how many text_poke batches each CPU makes from its user task in the sampling phase,
// and pokeHold how long at most each keeps the poking mm loaded waiting for an NMI (iterations with
// interrupts off).
const (
	nmiPokes = 4
	pokeHold = 2000000
)

// exitNMI is exit-while-lazy under perf's NMIs, which read the user stacks of the tasks they land on:
// CPU 0 makes a process with a thread per CPU (stack page mapped) and a poking mm. First
// every CPU runs its thread and, in turns, either sends NMIs to the others or pokes through the
// poking mm from its user task; then the exit of exit-while-lazy, the lazy CPUs sending NMIs
// throughout, and after it; then the lazy CPUs come back to user tasks of new processes (stack pages
// mapped too) one at a time, sampled by the others' NMIs.
func exitNMI(e *env, c *lazy.CPU) {
	if c.ID == 0 {
		lazy.ResetNMI(e.n)
		e.poke = nil
		e.shareProc(c, 8)
		if p := e.procs[0]; p != nil && e.mapStack(p.as) {
			if as, err := machine.M.NewMM(); err != nil {
				e.fail("%v", err)
			} else if e.mapStack(as) {
				e.poke = as
			} else {
				machine.M.FreeMM(as)
			}
		}
	}
	e.bar.wait()
	if e.poke == nil {
		return
	}
	p, k, ok := e.runFirstProc(c)
	if !ok {
		return
	}
	e.bar.wait()
	nmiSample(e, c)
	e.bar.wait()
	if c.ID == 0 {
		machine.M.FreeMM(e.poke) // no CPU has it loaded: every poke switched back
	} else {
		c.Switch(k) // lazy on p
	}
	exitUnderLazy(e, c, p, k, true)
	if c.ID == 0 {
		e.nmiReport()
	}
}

// nmiSample is the sampling phase, every CPU on its user task of the shared process: in turns a CPU
// pokes through the poking mm (use_temporary_mm from its user task, interrupts off until an NMI came)
// while the others send it NMIs; the others' NMIs land on user tasks running their own mm.
func nmiSample(e *env, c *lazy.CPU) {
	for round := 0; round < nmiPokes*e.n; round++ {
		poker := round % e.n
		if poker == c.ID {
			if v := c.PokeFromUser(e.poke, pokeHold); v != lazy.StackMagic {
				e.fail("exit-nmi|CPU %d read %#x through the poking mm, not its stack", c.ID, v)
			}
			e.nmiAll(c)
		} else {
			// until the poker's poke of this round is over (its count passes the round's), NMIs
			// while it holds the poking mm: a slow host delays the NMI, never skips it
			for want := uint64(round/e.n + 1); lazy.PokesDone(poker) < want; {
				if lazy.PokeHeld(poker) {
					machine.M.SendNMI(poker)
				}
				spin(200)
			}
		}
		e.touch(c, e.procs[0])
		e.bar.wait()
	}
}

// sampledUserRun is userRun with a stack page: a task of a new process runs on c while the others'
// NMIs sample it, then exits.
func (e *env) sampledUserRun(c *lazy.CPU) {
	q, tq := e.newProc(2)
	if q == nil || !e.mapStack(q.as) {
		return
	}
	c.Switch(tq)
	for i := 0; i < 8; i++ {
		e.touch(c, q)
		pause(50 * time.Microsecond)
	}
	c.Exit()
}

// nmiReport turns the NMI's findings into failures and gives its figures.
func (e *env) nmiReport() {
	for _, f := range lazy.TakeNMIFindings(e.n) {
		e.fail("%s", f)
	}
	reads, faults, refused := lazy.NMIReads(e.n)
	e.t.Metric("nmi_reads", float64(reads))
	e.t.Metric("nmi_read_faults", float64(faults))
	e.t.Metric("nmi_refused", float64(refused))
	if reads == 0 && e.n > 1 { // NMIs go to the other CPUs: alone, a CPU gets none
		e.fail("exit-nmi: no NMI read a user stack (%d refused, %d found no translation)", refused, faults)
	}
}
