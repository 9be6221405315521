package matrix

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
	"lazymm/mm"
)

// torture is a seeded random mix of everything the other scenarios do, on every CPU at once: fork,
// clone into other CPUs' processes, switches between user tasks, kernel threads and idle (lazy
// entries), exits, NMIs to every CPU, temporary-mm pokes, kthread_use_mm, membarriers, interrupts-off
// windows (IPIs aimed at the CPU wait: delayed IPI handling) and random delays (the other CPUs run on
// meanwhile, as after a preemption). Each CPU
// draws from its own generator, seeded by the run's seed and its number, so a seed names a run (the
// interleaving across CPUs still varies). Boot words seed=N and duration=D (runner -seed, -duration)
// set them; the default is seed 1, 400 steps per CPU, at most 2 s.
func torture(e *env, c *lazy.CPU) {
	seed, steps, limit := tortureParams()
	rng := rand.New(rand.NewPCG(seed, uint64(c.ID)+1))
	if c.ID == 0 {
		e.poke = newPokeMM(e)
		e.reg = &registry{}
	}
	e.bar.wait()
	if e.poke == nil {
		return
	}
	k, err := lazy.NewTask(nil)
	if err != nil {
		e.fail("%v", err)
		return
	}
	tt := &torturer{e: e, c: c, rng: rng, k: k}
	deadline := time.Now().Add(limit)
	for step := 0; step < steps && time.Now().Before(deadline); step++ {
		tt.step()
	}
	tt.exitAll()
	e.bar.wait()
	if c.ID == 0 {
		e.reg.clear(c)
		machine.M.FreeMM(e.poke)
	}
}

// torturer is one CPU's state in the torture scenario: its generator, its kernel thread and the user
// tasks it made (each with its process).
type torturer struct {
	e    *env
	c    *lazy.CPU
	rng  *rand.Rand
	k    *lazy.Task
	mine []own
}

type own struct {
	t *lazy.Task
	p *proc
}

// step draws one operation and does it. The draws, and the order of the cases (an operation whose
// condition fails falls through to a later case), are what a seed replays: change neither.
func (tt *torturer) step() {
	e, c, rng := tt.e, tt.c, tt.rng
	switch op := rng.IntN(12); {
	case op == 0 && len(tt.mine) < 6: // fork
		if p, t := e.newProc(2); p != nil {
			tt.mine = append(tt.mine, own{t, p})
			e.reg.add(c, p)
		}
	case op == 1 && len(tt.mine) < 6: // clone into some process
		tt.clone()
	case op <= 3 && len(tt.mine) > 0: // run a user task
		o := tt.mine[rng.IntN(len(tt.mine))]
		c.Switch(o.t)
		e.touch(c, o.p)
	case op == 4: // a kernel thread, or idle
		if rng.IntN(2) == 0 {
			c.Switch(tt.k)
		} else {
			c.Switch(c.Idle)
		}
		spin(rng.IntN(300))
	case op == 5: // the current user task exits
		if i, ok := tt.cur(); ok {
			c.Exit()
			tt.mine = append(tt.mine[:i], tt.mine[i+1:]...)
		}
	case op == 6:
		e.nmiAll(c)
	case op == 7:
		c.TextPoke(e.poke)
	case op == 8 && c.Curr() == tt.k: // kthread_use_mm of some process
		tt.useMM()
	case op == 9:
		if _, ok := tt.cur(); ok {
			c.Membarrier()
		}
	case op == 10: // the registry forgets a process
		e.reg.drop(c, rng)
	case op == 11 && rng.IntN(2) == 0: // interrupts off for a while: IPIs aimed at this CPU wait
		lazy.DelayIRQs(rng.IntN(2000))
	default:
		pause(time.Duration(rng.IntN(200)) * time.Microsecond)
	}
}

// cur is the index in mine of the current task, if it is one of this CPU's user tasks.
func (tt *torturer) cur() (int, bool) {
	for i, o := range tt.mine {
		if o.t == tt.c.Curr() {
			return i, true
		}
	}
	return -1, false
}

// clone makes a new thread in some registered process, on this CPU.
func (tt *torturer) clone() {
	p := tt.e.reg.pick(tt.rng)
	if p == nil {
		return
	}
	if t, ok, err := lazy.TryNewThread(tt.c, p.as, p.ctx); err != nil {
		tt.e.fail("%v", err)
	} else if ok {
		tt.mine = append(tt.mine, own{t, p})
	}
	tt.e.reg.put(tt.c, p)
}

// useMM is kthread_use_mm of some registered process by this CPU's kernel thread, which reads it.
func (tt *torturer) useMM() {
	p := tt.e.reg.pick(tt.rng)
	if p == nil {
		return
	}
	if tt.c.UseMM(p.as, p.ctx) {
		tt.e.touch(tt.c, p)
		tt.c.UnuseMM()
	}
	tt.e.reg.put(tt.c, p)
}

// exitAll ends the run on this CPU: each of its user tasks exits, then its kernel thread.
func (tt *torturer) exitAll() {
	for _, o := range tt.mine {
		tt.c.Switch(o.t)
		tt.c.Exit()
	}
	tt.c.Switch(tt.k)
	tt.c.ExitKthread()
}

// tortureParams reads seed=, steps= and duration= from the boot command line.
func tortureParams() (seed uint64, steps int, limit time.Duration) {
	seed, steps, limit = 1, 400, 2*time.Second
	for _, w := range strings.Fields(machine.M.Cmdline()) {
		k, v, _ := strings.Cut(w, "=")
		switch k {
		case "seed":
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				seed = n
			}
		case "duration":
			if d, err := time.ParseDuration(v); err == nil {
				limit, steps = d, 1<<30
			}
		}
	}
	return
}

// newPokeMM makes the temporary mm text_poke uses (poking_mm): one read-only page holding the token.
func newPokeMM(e *env) *mm.AddrSpace {
	as, err := machine.M.NewMM()
	if err != nil {
		e.fail("%v", err)
		return nil
	}
	f, err := machine.M.AllocFrames(1, mm.UserData)
	if err != nil {
		e.fail("%v", err)
		machine.M.FreeMM(as)
		return nil
	}
	*(*uint64)(mm.Phys(f[0] << mm.PageShift)) = tokenMagic
	if err := machine.M.Map(as, mm.UserBase(), f[0], false); err != nil {
		e.fail("%v", err)
	}
	return as
}

// registry is a list of processes that holds an mm_count reference on each (so their structs stay
// valid to look at after their last thread exits), as a driver or /proc would.
type registry struct {
	mu    sync.Mutex
	procs []*proc
	inUse map[*proc]int
}

func (r *registry) add(c *lazy.CPU, p *proc) {
	lazy.GrabMM(c, p.as, p.ctx)
	r.mu.Lock()
	r.procs = append(r.procs, p)
	r.mu.Unlock()
}

// pick returns a registered process, pinned in the registry until put.
func (r *registry) pick(rng *rand.Rand) *proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.procs) == 0 {
		return nil
	}
	p := r.procs[rng.IntN(len(r.procs))]
	if r.inUse == nil {
		r.inUse = map[*proc]int{}
	}
	r.inUse[p]++
	return p
}

func (r *registry) put(c *lazy.CPU, p *proc) {
	r.mu.Lock()
	r.inUse[p]--
	r.mu.Unlock()
}

// drop forgets a process that nobody is using through the registry, dropping its reference.
func (r *registry) drop(c *lazy.CPU, rng *rand.Rand) {
	r.mu.Lock()
	if len(r.procs) == 0 {
		r.mu.Unlock()
		return
	}
	i := rng.IntN(len(r.procs))
	p := r.procs[i]
	if r.inUse[p] > 0 {
		r.mu.Unlock()
		return
	}
	r.procs = append(r.procs[:i], r.procs[i+1:]...)
	r.mu.Unlock()
	lazy.DropMM(c, p.as, p.ctx)
}

func (r *registry) clear(c *lazy.CPU) {
	r.mu.Lock()
	ps := r.procs
	r.procs = nil
	r.mu.Unlock()
	for _, p := range ps {
		lazy.DropMM(c, p.as, p.ctx)
	}
}
