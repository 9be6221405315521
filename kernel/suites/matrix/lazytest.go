// Package matrix runs the lazy-mm scenarios under each scheme on real CPUs: one pinned scheduler
// loop per CPU drives tasks through the engine's switch paths (kernel/lazy/context_switch.go), with real
// page tables, CR3 writes, flush and shootdown IPIs and NMIs, and the detectors judge the result.
package matrix

import (
	"lazymm/kernel/catalog"

	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"lazymm/kernel/ktest"
	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
	"lazymm/mm"
)

// Scenario is one hazard, played on every CPU at once: run is each CPU's part.
type Scenario struct {
	Name string
	Doc  string
	run  func(e *env, c *lazy.CPU)
	nmis bool // sends NMIs to busy CPUs: needs machine.SMP.NMIAnywhere
}

// Scenarios lists them in report order; munmap-shootdown is the mm issue's, run under each scheme.
var Scenarios = []Scenario{
	{catalog.SwitchStorm, "user tasks and kernel threads alternate on every CPU", switchStorm, false},
	{catalog.ExitWhileLazy, "a process exits while the other CPUs are lazy on its mm", exitWhileLazy, false},
	{catalog.ExitNMI, "NMIs on every CPU dereference the CPU's mm during and after the exit", exitNMI, true},
	{catalog.KthreadUseMM, "a kernel thread uses an mm with kthread_use_mm while its owner exits", kthreadUseMM, false},
	{catalog.TemporaryMM, "text_poke-style temporary mm while lazy, the lazy mm dying meanwhile", temporaryMM, false},
	{catalog.Exec, "a process execs while the other CPUs are lazy on its mm; a lazy kernel thread execs", execScenario, false},
	{catalog.MaskTrim, "lazy CPUs leave at a freed-tables flush and, a second later, a flush trims mm_cpumask; then the process exits", maskTrim, false},
	{catalog.ForkExitStorm, "many short-lived processes on every CPU", forkExitStorm, false},
	{catalog.ForkCOW, "fork while CPUs run and are lazy on the parent; copy-on-write in parent and child", forkCOW, false},
	{catalog.Membarrier, "expedited membarrier over the CPUs running the mm, while some switch away and back", membarrierScenario, false},
	{catalog.CPUHotplug, "a CPU lazy on a dying mm goes offline, the mm is torn down, the CPU comes back", cpuHotplug, false},
	{catalog.IdleLeaveMM, "lazy CPUs in a deep idle state (leave_mm) while another CPU unmaps and exits the mm", idleLeaveMM, false},
	{catalog.RTDelayedMMDrop, "PREEMPT_RT's mmdrop_sched: the last lazy drop's __mmdrop deferred to an RCU callback", rtDelayedMMDrop, false},
	{catalog.Torture, "a seeded random mix of all of the above, with NMIs and random delays", torture, true},
	{catalog.MunmapShootdown, "the TLB-shootdown protocol (docs/MM.md)", nil, false},
}

// Tests returns every scheme × scenario.
func Tests(schemes []lazy.Scheme, scenarios []Scenario) []ktest.Test {
	var out []ktest.Test
	for _, s := range schemes {
		for _, sc := range scenarios {
			out = append(out, ktest.Test{Name: "lazy/" + s.Name() + "/" + sc.Name, Scheme: s.Name(), Scenario: sc.Name,
				Run: func(t *ktest.T) { Run(t, s, sc) }})
		}
	}
	return out
}

// ScenarioByName finds a scenario.
func ScenarioByName(name string) (Scenario, bool) {
	for _, s := range Scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// env is what a scenario's CPUs share.
type env struct {
	t    *ktest.T
	n    int
	bar  barrier
	mu   sync.Mutex
	errs []string
	// shared objects, set up by CPU 0 between barriers
	procs  []*proc
	tasks  []*lazy.Task
	poke   *mm.AddrSpace
	reg    *registry
	flag   atomic.Bool
	stale  atomic.Int64
	reads  atomic.Int64
	seed   uint64
	rounds int
}

// proc is a process: its mm, and token pages mapped in it.
type proc struct {
	as    *mm.AddrSpace
	ctx   uint64
	pages int
}

const tokenMagic = 0x6c617a792d746f6b // "lazy-tok"

func (e *env) fail(format string, a ...any) {
	e.mu.Lock()
	e.errs = append(e.errs, fmt.Sprintf(format, a...))
	e.mu.Unlock()
}

// newProc makes a process with its first thread (mm_users 1, mm_count 1) and pages mapped with tokens.
func (e *env) newProc(pages int) (*proc, *lazy.Task) {
	m := machine.M
	as, err := m.NewMM()
	if err != nil {
		e.fail("fork: %v", err)
		return nil, nil
	}
	fr, err := m.AllocFrames(pages, mm.UserData)
	if err != nil {
		e.fail("fork: %v", err)
		return nil, nil
	}
	for i, f := range fr {
		p := (*[2]uint64)(mm.Phys(f << mm.PageShift))
		p[0], p[1] = tokenMagic, as.CtxID<<16|uint64(i)
		if err := m.Map(as, mm.UserBase()+uintptr(i)*mm.PageSize, f, true); err != nil {
			e.fail("fork: %v", err)
		}
	}
	t, err := lazy.NewTask(as)
	if err != nil {
		e.fail("fork: %v", err)
		return nil, nil
	}
	return &proc{as: as, ctx: as.CtxID, pages: pages}, t
}

// thread adds a thread to p (mmget).
func (e *env) thread(c *lazy.CPU, p *proc) *lazy.Task {
	t, err := lazy.NewThread(c, p.as, p.ctx)
	if err != nil {
		e.fail("clone: %v", err)
	}
	return t
}

// shareProc, run by CPU 0 before a barrier, makes a process with one thread per CPU: e.procs[0], and
// e.tasks[cpu] for each CPU's thread (CPU 0's is the first); e.flag is lowered.
func (e *env) shareProc(c *lazy.CPU, pages int) {
	p, t0 := e.newProc(pages)
	e.procs = []*proc{p}
	e.tasks = make([]*lazy.Task, e.n)
	e.tasks[0] = t0
	for i := 1; i < e.n && p != nil; i++ {
		e.tasks[i] = e.thread(c, p)
	}
	e.flag.Store(false)
}

// exitAllHere, on CPU 0, runs every thread of the shared process p and lets it exit, the other CPUs'
// threads first (they migrate here; with touch each reads p once more), CPU 0's last: that exit is the
// last mmput (__mmput, and under most schemes __mmdrop). Then it raises e.flag.
func (e *env) exitAllHere(c *lazy.CPU, p *proc, touch bool) {
	for i := 1; i < e.n; i++ {
		c.Switch(e.tasks[i])
		if touch {
			e.touch(c, p)
		}
		c.Exit()
	}
	c.Switch(e.tasks[0])
	c.Exit()
	e.flag.Store(true)
}

// userRun runs a task of a new two-page process on c and lets it exit, which ends whatever the CPU
// borrowed lazily; false when the process could not be made.
func (e *env) userRun(c *lazy.CPU) bool {
	q, tq := e.newProc(2)
	if q == nil {
		return false
	}
	c.Switch(tq)
	e.touch(c, q)
	c.Exit()
	return true
}

// touch reads every token page of p through the MMU: the current task must be p's. A kernel thread
// using p's mm checks each walk first (uaccessOK), as copy_from_user would fault.
func (e *env) touch(c *lazy.CPU, p *proc) {
	who := ""
	if t := c.Curr(); t.MM != 0 && t.IsKthread() {
		who = "kthread_use_mm's access"
	}
	e.touchWalked(c, p, who)
}

// touchWalked is touch with each page's walk through the loaded root checked first where who names
// the access (uaccessOK): for a task whose mm was just loaded, a read would fault rather than find a
// stale token.
func (e *env) touchWalked(c *lazy.CPU, p *proc, who string) {
	for i := 0; i < p.pages; i++ {
		w := (*[2]uint64)(unsafe.Add(nil, mm.UserBase()+uintptr(i)*mm.PageSize))
		if who != "" && !e.uaccessOK(c, p, i, uintptr(unsafe.Pointer(w)), who) {
			return
		}
		e.reads.Add(1)
		if atomic.LoadUint64(&w[0]) != tokenMagic || atomic.LoadUint64(&w[1]) != p.ctx<<16|uint64(i) {
			if e.stale.Add(1) <= 4 {
				e.fail("stale-tlb|CPU %d read page %d of mm ctx %d and found %#x %#x, not its token", c.ID, i, p.ctx, w[0], w[1])
			}
		}
	}
}

// uaccessOK is the fault copy_from_user would take in a kernel thread using p's mm, found by walking
// the loaded root first (machine state): a page of a live mm that does not translate, or a walk
// through a freed table, means the address space was torn down under its user.
func (e *env) uaccessOK(c *lazy.CPU, p *proc, i int, va uintptr, who string) bool {
	present, level := lazy.WalkLoaded(va)
	switch {
	case level >= 0:
		e.fail("poison-walk|CPU %d: %s to page %d of mm ctx %d walked a freed table at level %d", c.ID, who, i, p.ctx, level)
	case !present:
		e.fail("user-fault|CPU %d: %s to page %d of mm ctx %d faulted: it does not translate", c.ID, who, i, p.ctx)
	}
	return present && level < 0
}

// nmiAll sends an NMI to every other CPU.
func (e *env) nmiAll(c *lazy.CPU) {
	for cpu := 0; cpu < e.n; cpu++ {
		if cpu != c.ID {
			machine.M.SendNMI(cpu)
		}
	}
}

// spin keeps the CPU busy for about n iterations (a kernel thread's work).
func spin(n int) {
	var x atomic.Uint64
	for i := 0; i < n; i++ {
		x.Add(1)
	}
}

// barrier is a rendezvous of the CPUs' loops. Waiters block (their CPU halts): the engine's state
// does not depend on the thread running, and with more virtual CPUs than host cores, spinning
// waiters would starve the CPUs doing the work.
type barrier struct {
	mu       sync.Mutex
	n, count int
	ch       chan struct{}
}

func (b *barrier) wait() {
	b.mu.Lock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	ch := b.ch
	if b.count++; b.count == b.n {
		b.count, b.ch = 0, nil
		b.mu.Unlock()
		close(ch)
		return
	}
	b.mu.Unlock()
	<-ch
}

// pause lets a CPU that waits for another to progress give its time up for about d.
func pause(d time.Duration) { time.Sleep(d) }
