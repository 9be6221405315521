package lazy

import (
	"lazymm/kernel/catalog"

	"lazymm/kernel/machine"

	"fmt"
	"slices"
	"strings"
	"testing"

	"lazymm/mm"
)

// Host unit tests of the lazy-mm engine's scheme logic: the engine's own code (context_switch.go,
// mm_refs.go, scheme*.go) runs unchanged against simMachine (engine_sim_test.go), a host-side model of
// the machine with simulated CPUs. Each test is one deterministic interleaving, written as steps of
// named CPUs; the engine's detectors (TakeFindings) and the model's CR3 audit judge it, and the
// allocator's counts and poison judge leaks and writes after free.

// world is one interleaving's machine: the model and its CPUs' schedulers.
type world struct {
	t    *testing.T
	s    *simMachine
	cpus []*CPU
	nmis bool // every step ends with an NMI to every CPU (perf sampling everywhere)
	base map[mm.Kind]uint64
	live int
}

// newWorld boots n simulated CPUs under scheme sch with the injected bugs set (before UseScheme: a
// scheme's Config may read them).
func newWorld(t *testing.T, n int, sch Scheme, injects ...*bool) *world {
	t.Helper()
	s := newSim(t, n)
	for _, p := range injects {
		*p = true
	}
	UseScheme(sch)
	w := &world{t: t, s: s, nmis: true, base: map[mm.Kind]uint64{}, live: mm.LiveAddrSpaces()}
	for _, k := range []mm.Kind{mm.MMTable, mm.Object, mm.UserData} {
		w.base[k] = s.a.Count(k)
	}
	for c := 0; c < n; c++ {
		s.setCPU(c)
		cpu, err := NewCPU(c)
		if err != nil {
			t.Fatalf("NewCPU(%d): %v", c, err)
		}
		w.cpus = append(w.cpus, cpu)
	}
	s.setCPU(0)
	return w
}

// endLazy ends cpu's lazy use as the scenarios do: a user task of a new process runs and exits, then
// the kernel thread k ends.
func (w *world) endLazy(cpu int, k *Task) {
	w.step(cpu, func(c *CPU) {
		q, tq := w.newProc()
		c.Switch(tq)
		w.touch(cpu, q)
		c.Exit()
		c.Switch(k)
		c.ExitKthread()
	})
}

// on makes cpu the one running and returns its scheduler.
func (w *world) on(cpu int) *CPU {
	w.s.setCPU(cpu)
	return w.cpus[cpu]
}

// step runs one step of cpu's, then (with nmis) an NMI on every CPU.
func (w *world) step(cpu int, f func(c *CPU)) {
	f(w.on(cpu))
	if w.nmis {
		w.nmiAll()
	}
}

func (w *world) nmiAll() {
	for c := range w.cpus {
		w.s.SendNMI(c)
	}
}

// proc is a process: its mm and the token each of its user pages holds.
type proc struct {
	as  *mm.AddrSpace
	ctx uint64
}

const (
	procPages  = 2
	tokenMagic = 0x6c617a792d746f6b // "lazy-tok"
)

func (p *proc) token(i int) uint64 { return tokenMagic ^ p.ctx<<8 ^ uint64(i) }

// newProc forks a process (mm_users 1, mm_count 1) with token pages mapped, and its first task.
func (w *world) newProc() (*proc, *Task) {
	w.t.Helper()
	as, err := machine.M.NewMM()
	if err != nil {
		w.t.Fatalf("fork: %v", err)
	}
	if as.Users != 1 || as.Count != 1 {
		w.t.Fatalf("a new mm has users %d count %d, want 1 1", as.Users, as.Count)
	}
	p := &proc{as: as, ctx: as.CtxID}
	fr, err := machine.M.AllocFrames(procPages, mm.UserData)
	if err != nil {
		w.t.Fatalf("fork: %v", err)
	}
	for i, f := range fr {
		*(*uint64)(mm.Phys(f << mm.PageShift)) = p.token(i)
		if err := machine.M.Map(as, mm.UserBase()+uintptr(i)*mm.PageSize, f, true); err != nil {
			w.t.Fatalf("fork: %v", err)
		}
	}
	t, err := NewTask(as)
	if err != nil {
		w.t.Fatalf("fork: %v", err)
	}
	return p, t
}

// thread is clone(CLONE_VM) on cpu.
func (w *world) thread(cpu int, p *proc) *Task {
	w.t.Helper()
	t, err := NewThread(w.on(cpu), p.as, p.ctx)
	if err != nil {
		w.t.Fatalf("clone: %v", err)
	}
	return t
}

func (w *world) kthread() *Task {
	w.t.Helper()
	k, err := NewTask(nil)
	if err != nil {
		w.t.Fatalf("kthread: %v", err)
	}
	return k
}

// touch reads every token page of p through cpu's MMU (its root register): p's task runs there.
func (w *world) touch(cpu int, p *proc) {
	w.t.Helper()
	for i := 0; i < procPages; i++ {
		if v, ok := w.s.read(cpu, mm.UserBase()+uintptr(i)*mm.PageSize); !ok || v != p.token(i) {
			w.t.Errorf("stale-tlb: CPU %d read %#x (mapped %v) at page %d of mm ctx %d, want its token", cpu, v, ok, i, p.ctx)
		}
	}
}

// tempMM makes a temporary mm (text_poke's poking_mm) whose first user page holds token.
func (w *world) tempMM(token uint64) *mm.AddrSpace {
	w.t.Helper()
	tmp, err := machine.M.NewMM()
	if err != nil {
		w.t.Fatal(err)
	}
	f, err := machine.M.AllocFrames(1, mm.UserData)
	if err != nil {
		w.t.Fatal(err)
	}
	*(*uint64)(mm.Phys(f[0] << mm.PageShift)) = token
	if err := machine.M.Map(tmp, mm.UserBase(), f[0], false); err != nil {
		w.t.Fatal(err)
	}
	return tmp
}

// event is one detector's report: the engine's findings and the model's cr3-audit.
type event struct{ check, detail string }

func (w *world) events() []event {
	var out []event
	fs, lost := TakeFindings()
	for _, f := range fs {
		out = append(out, event{f.Check, f.Detail})
	}
	if lost > 0 {
		out = append(out, event{"lost", fmt.Sprintf("%d findings beyond the table", lost)})
	}
	for _, a := range w.s.takeAudits() {
		out = append(out, event{"cr3-audit", a})
	}
	return out
}

// finish ends the interleaving: every CPU must be back on its idle thread, and drains; it returns what
// the detectors reported over the whole run.
func (w *world) finish() []event {
	w.t.Helper()
	for id := range w.cpus {
		c := w.on(id)
		if c.Curr() != c.Idle {
			w.t.Errorf("CPU %d ends running task %d, not its idle thread", id, c.Curr().ID)
			c.Switch(c.Idle)
		}
		c.Drain()
	}
	w.on(0)
	for id := range w.cpus {
		if w.s.root[id] != mm.InitMM.Root || mm.TLB[id].Loaded() != &mm.InitMM {
			w.t.Errorf("CPU %d ends with root %#x loaded, not InitMM's", id, w.s.root[id])
		}
	}
	return w.events()
}

// expectNone fails the test for every event.
func (w *world) expectNone(evs []event) {
	w.t.Helper()
	for _, e := range evs {
		w.t.Errorf("%s: %s", e.check, e.detail)
	}
}

// expectCaught fails the test unless some event is of check.
func (w *world) expectCaught(evs []event, check string) {
	w.t.Helper()
	if !slices.ContainsFunc(evs, func(e event) bool { return e.check == check }) {
		w.t.Errorf("no %s finding; the detectors reported %v", check, evs)
	}
}

// expectNoLeaks checks that every mm, task and page is gone and no freed frame was written to.
func (w *world) expectNoLeaks() {
	w.t.Helper()
	rep := w.s.Memory(true)
	for k, n := range w.base {
		if got := w.s.a.Count(k); got != n {
			w.t.Errorf("leak: %d %v frames, %d before the interleaving", got, k, n)
		}
	}
	if got := mm.LiveAddrSpaces(); got != w.live {
		w.t.Errorf("leak: %d live address spaces, %d before (an mm_count never reached zero)", got, w.live)
	}
	if rep.Violations != 0 {
		w.t.Errorf("poison: %d writes into freed frames: %v", rep.Violations, rep.First)
	}
}

// exitObs is what exitWhileLazy saw along the way.
type exitObs struct {
	freedAtExit bool // the mm was freed by the last thread's exit
}

// exitWhileLazy, on 3 CPUs (the matrix scenario exit-while-lazy, made deterministic):
//
//	CPU 0: fork p (thread 1); clone thread 2; run thread 1
//	CPU 1: run thread 2, then kernel thread k (lazy on p)
//	CPU 0: thread 2 migrates here and exits; thread 1 exits: the last mmput, with CPU 1 still lazy
//	CPU 1: k switches to a user task of a new process q, which exits; k ends
//	all:   drain
//
// CPU 2 only idles: a shootdown that broadcasts reaches it for nothing.
func exitWhileLazy(w *world) exitObs {
	w.t.Helper()
	w.on(0)
	p, t1 := w.newProc()
	t2 := w.thread(0, p)
	k := w.kthread()
	w.step(0, func(c *CPU) { c.Switch(t1); w.touch(0, p) })
	w.step(1, func(c *CPU) { c.Switch(t2); w.touch(1, p) })
	w.step(1, func(c *CPU) { c.Switch(k) })
	w.step(0, func(c *CPU) { c.Switch(t2); w.touch(0, p); c.Exit() })
	w.step(0, func(c *CPU) { c.Switch(t1); c.Exit() })
	obs := exitObs{freedAtExit: !p.as.Valid(p.ctx)}
	w.step(1, func(c *CPU) { c.Switch(c.Idle); c.Switch(k) }) // the kernel thread sleeps and wakes
	w.endLazy(1, k)
	return obs
}

// TestExitWhileLazy: under every scheme the exit-while-lazy interleaving is clean (no finding, no
// CR3 left on a freed root, nothing leaked), and each scheme pays its own price.
func TestExitWhileLazy(t *testing.T) {
	const n = 3
	cost := map[string]SchedStats{}
	for _, sch := range Schemes {
		t.Run(sch.Name(), func(t *testing.T) {
			w := newWorld(t, n, sch)
			obs := exitWhileLazy(w)
			w.expectNone(w.finish())
			w.expectNoLeaks()
			st := EngineStats(n)
			cost[sch.Name()] = st
			t.Logf("count atomics %d (line transfers %d), shoot IPIs %d sent %d received %d unneeded, flush IPIs %d",
				st.CountAtomics, st.LineTransfers, st.ShootSent, st.ShootRecv, st.ShootUnneeded, w.s.ipis)
			if st.Exits != 3 || st.LazyEntries == 0 || st.NMIs == 0 {
				t.Errorf("the interleaving did not run as written: %+v", st)
			}
			// refcount and hazard-ref: the lazy references (hazard-ref's made by its scan) keep the
			// mm until the lazy CPUs let go; every other scheme frees it at the last exit, with CPU 1
			// still running the kernel thread
			if want := sch.Name() != "refcount" && sch.Name() != "hazard-ref"; obs.freedAtExit != want {
				t.Errorf("mm freed by the last exit: %v, want %v", obs.freedAtExit, want)
			}
		})
	}
	rc, sd, hz := cost["refcount"], cost["shootdown"], cost["hazard"]
	for name, st := range cost {
		if name != "refcount" && rc.CountAtomics <= st.CountAtomics {
			t.Errorf("refcount did %d mm_count/mm_users atomics, %s %d: the lazy references cost nothing?", rc.CountAtomics, name, st.CountAtomics)
		}
	}
	if sd.ShootSent < n-1 || sd.ShootUnneeded == 0 {
		t.Errorf("shootdown sent %d shoot IPIs (%d unneeded), want at least %d, some unneeded", sd.ShootSent, sd.ShootUnneeded, n-1)
	}
	if rc.ShootSent != 0 || rc.ShootRecv != 0 {
		t.Errorf("refcount sent %d shoot IPIs (%d received), want none", rc.ShootSent, rc.ShootRecv)
	}
	if len(cost) == len(Schemes) && hz.ShootSent >= sd.ShootSent {
		t.Errorf("hazard sent %d shoot IPIs, shootdown %d: the scan should target only the lazy CPUs", hz.ShootSent, sd.ShootSent)
	}
}

// simulatedBugs are the catalogue's engine bugs that exitWhileLazy's interleaving shows on the x86
// model, whose rules are Linux 6.1's (mm.X86Mainline off) (the exit-nmi ones included: the model's NMIs land during the exit), by the detectors the
// model has. Left to the bare-metal run: mmput-twice, whose second mmput there meets a live lazy
// reference rather than the model's freed struct; the leaks (the bare-metal leak check sees them at
// the scenario's end); nmi-uaccess, a read through a real MMU; and the bugs only ppc64's kept root shows.
func simulatedBugs() (out []catalog.Injection) {
	modelled := []string{catalog.DetectFreedMM, catalog.DetectLazyFreedMM, catalog.DetectCR3Audit}
	for _, in := range catalog.Injections {
		if in.Scheme != "" && in.Equivalent == "" && in.AppliesTo("amd64", catalog.Linux61) && slices.Contains(modelled, in.Catch) &&
			(in.Scenario == catalog.ExitWhileLazy || in.Scenario == catalog.ExitNMI) {
			out = append(out, in)
		}
	}
	return out
}

// TestEquivalentMutants: a mutant the catalogue calls equivalent leaves exitWhileLazy clean on the x86
// model, without a finding or a leak.
func TestEquivalentMutants(t *testing.T) {
	for _, in := range catalog.Injections {
		if in.Equivalent == "" || in.Scenario != catalog.ExitWhileLazy {
			continue
		}
		sch, err := SchemeByName(in.Scheme)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(in.Name, func(t *testing.T) {
			w := newWorld(t, 3, sch, injections[in.Name])
			exitWhileLazy(w)
			w.expectNone(w.finish())
			w.expectNoLeaks()
		})
	}
}

// TestInjectedBugs: each injected bug makes exitWhileLazy fail with its detector, and the same
// interleaving without it passes (the test can fail, and the fix passes).
func TestInjectedBugs(t *testing.T) {
	for _, in := range simulatedBugs() {
		sch, err := SchemeByName(in.Scheme)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(in.Name+"/injected", func(t *testing.T) {
			w := newWorld(t, 3, sch, injections[in.Name])
			exitWhileLazy(w)
			evs := w.finish()
			for _, e := range evs {
				t.Logf("caught %s: %s", e.check, e.detail)
			}
			w.expectCaught(evs, in.Catch)
		})
		t.Run(in.Name+"/control", func(t *testing.T) {
			w := newWorld(t, 3, sch)
			exitWhileLazy(w)
			w.expectNone(w.finish())
			w.expectNoLeaks()
		})
	}
}

// TestStaleMaskDependence: which schemes rely on mm_cpumask being exact? With the loaded-mm-stale-mask
// bug (a CPU's bit cleared on going lazy while its CR3 keeps the mm), the schemes that aim their IPIs
// at mm_cpumask (mmput-unlazy, loaded-mm, exit-flush-unlazy) leave CPU 1 on the freed root; the others
// find the lazy CPU by a reference, every CPU, its hazard slot or its loaded mm, and their IPI's
// answer (ShootLazy: "this CPU has the mm loaded") must move it off before the free.
func TestStaleMaskDependence(t *testing.T) {
	usesMask := map[string]bool{"mmput-unlazy": true, "loaded-mm": true, "exit-flush-unlazy": true}
	for _, sch := range Schemes {
		t.Run(sch.Name(), func(t *testing.T) {
			w := newWorld(t, 3, sch, &InjectLoadedMMStaleMask)
			exitWhileLazy(w)
			evs := w.finish()
			if usesMask[sch.Name()] {
				w.expectCaught(evs, "cr3-audit")
				return
			}
			w.expectNone(evs)
			w.expectNoLeaks()
		})
	}
}

// TestNMIBetweenMMPutAndMMDrop (Lutomirski's NMI case): NMIs hit every CPU at each point from the last
// mmput to the end of __mmdrop: before and after exit_mmap's flush, before each CPU's shoot IPI,
// before the free and right after it, with CPU 1 lazy on the dying mm. No user task runs anywhere
// then, so nmi_uaccess_okay refuses every one: no dereference, no finding. The NMI handler without
// its check (nmi-no-check) finds loaded-mm's active_mm live, since the flush IPI unlazies (Lutomirski's
// unlazy_mm_irqs_off); the control removes that step too (loaded-mm-keep-active), and shows the window
// is real: the NMI right after the free dereferences the freed mm.
func TestNMIBetweenMMPutAndMMDrop(t *testing.T) {
	type tc struct {
		name    string
		sch     Scheme
		injects []*bool
		catch   string
	}
	var cases []tc
	for _, sch := range Schemes {
		cases = append(cases, tc{name: sch.Name(), sch: sch})
	}
	cases = append(cases, tc{"loaded-mm/nmi-no-check", loadedMM{}, []*bool{&InjectNMINoCheck}, ""},
		tc{"loaded-mm/nmi-no-check+keep-active", loadedMM{}, []*bool{&InjectNMINoCheck, &InjectLoadedMMKeepActive}, "freed-mm"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, 3, c.sch, c.injects...)
			w.nmis = false // NMIs only inside the window
			var sent, derefs uint64
			w.s.hook = func(at string) {
				if at == "switching" { // not in the window: a CPU changing CR3 on its own
					return
				}
				before := EngineStats(3).NMIDerefs
				w.nmiAll()
				sent += 3
				derefs += EngineStats(3).NMIDerefs - before
			}
			exitWhileLazy(w)
			w.s.hook = nil
			evs := w.finish()
			if sent == 0 || w.s.calls["free-pgd"] == 0 || w.s.calls["exit-mmap"] == 0 {
				t.Fatalf("the window was never reached: %v", w.s.calls)
			}
			if c.catch != "" {
				w.expectCaught(evs, c.catch)
				return
			}
			w.expectNone(evs)
			w.expectNoLeaks()
			if derefs != 0 && c.injects == nil { // nmi-no-check dereferences active_mm, now live
				t.Errorf("%d of %d NMIs in the window dereferenced an mm", derefs, sent)
			}
		})
	}
}

// TestKthreadUseMMWhileOwnerExits (Lutomirski's kthread_use_mm case): a kernel thread on CPU 1 takes
// the process's mm over with kthread_use_mm, the owner exits on CPU 0, and the kernel thread's
// kthread_unuse_mm does the last mmput (__mmput under a kernel thread, which then stays lazy on the
// mm); it then runs a user task. NMIs follow every step (while the kernel thread uses the mm they may
// walk it). No finding, no leak.
func TestKthreadUseMMWhileOwnerExits(t *testing.T) {
	for _, sch := range Schemes {
		t.Run(sch.Name(), func(t *testing.T) {
			w := newWorld(t, 2, sch)
			w.on(0)
			p, t1 := w.newProc()
			k := w.kthread()
			w.step(0, func(c *CPU) { c.Switch(t1); w.touch(0, p) })
			w.step(1, func(c *CPU) {
				c.Switch(k)
				if !c.UseMM(p.as, p.ctx) {
					t.Fatal("kthread_use_mm: no users left before the owner exited")
				}
				w.touch(1, p)
			})
			if rqs[1].stats.NMIDerefs == 0 {
				t.Error("an NMI on the kernel thread using the mm did not walk it (nmi_uaccess_okay should allow it)")
			}
			w.step(0, func(c *CPU) { c.Exit() })
			if !p.as.Valid(p.ctx) || p.as.Users != 1 {
				t.Fatalf("after the owner's exit the mm is valid %v with %d users, want valid with 1 (the kernel thread's)", p.as.Valid(p.ctx), p.as.Users)
			}
			w.step(1, func(c *CPU) { w.touch(1, p); c.UnuseMM() })
			if p.as.Valid(p.ctx) && p.as.Users != 0 {
				t.Errorf("after kthread_unuse_mm the mm still has %d users", p.as.Users)
			}
			w.endLazy(1, k)
			w.expectNone(w.finish())
			w.expectNoLeaks()
		})
	}
}

// TestTemporaryMMWhileLazyMMFreed (Lutomirski's use_temporary_mm case): CPU 1 is lazy on p and pokes
// through a temporary mm (text_poke: leave the lazy mm, load the temporary one, read, restore) before
// p's exit, during its exit_mmap and right after its free, and after; then the temporary mm is freed.
// Every poke must read the temporary mm's token, and nothing may be reported. With
// InjectTempMMNoRestore CPU 1 stays on the temporary mm, and freeing it finds CPU 1's root register
// on its freed root (cr3-audit).
func TestTemporaryMMWhileLazyMMFreed(t *testing.T) {
	for _, sch := range Schemes {
		for _, inject := range []bool{false, true} {
			name := sch.Name()
			if inject {
				name += "/temporary-mm-no-restore"
			}
			t.Run(name, func(t *testing.T) {
				var injects []*bool
				if inject {
					injects = append(injects, &InjectTempMMNoRestore)
				}
				w := newWorld(t, 3, sch, injects...)
				if !w.s.mapUserPage() {
					t.Skipf("cannot map a host page at %#x for text_poke's load", mm.UserBase())
				}
				w.on(0)
				const tokTmp = 0x74656d702d6d6d21 // "temp-mm!"
				tmp := w.tempMM(tokTmp)
				pokes := 0
				poke := func(c *CPU, when string) {
					t.Helper()
					pokes++
					if v := c.TextPoke(tmp); v != tokTmp {
						t.Errorf("text_poke on CPU %d %s read %#x through the temporary mm, want %#x", c.ID, when, v, uint64(tokTmp))
					}
				}

				p, t1 := w.newProc()
				t2 := w.thread(0, p)
				k := w.kthread()
				w.step(0, func(c *CPU) { c.Switch(t1) })
				w.step(1, func(c *CPU) { c.Switch(t2); w.touch(1, p); c.Switch(k) }) // lazy on p
				w.step(1, func(c *CPU) { poke(c, "while lazy") })
				w.s.hook = func(at string) { // CPU 1 pokes while CPU 0 tears p down
					if at == "exit-mmap" || at == "freed" {
						w.s.onCPU(1, func() { poke(w.cpus[1], "during the exit ("+at+")") })
					}
				}
				w.step(0, func(c *CPU) { c.Switch(t2); c.Exit() })
				w.step(0, func(c *CPU) { c.Switch(t1); c.Exit() })
				w.s.hook = nil
				w.step(1, func(c *CPU) { poke(c, "after the exit") })
				if pokes < 3 {
					t.Fatalf("only %d pokes ran", pokes)
				}
				w.step(0, func(c *CPU) { machine.M.FreeMM(tmp) })
				audits := w.s.takeAudits()
				if inject {
					if len(audits) != 1 || !strings.HasPrefix(audits[0], "CPU 1:") {
						t.Errorf("freeing the temporary mm: cr3-audit %q, want one finding on CPU 1", audits)
					}
				} else {
					for _, a := range audits {
						t.Errorf("cr3-audit: %s", a)
					}
				}
				w.endLazy(1, k)
				w.expectNone(w.finish())
				w.expectNoLeaks()
			})
		}
	}
}

// TestAllInterleavings plays every interleaving of two CPUs' programs under every scheme, with an NMI
// on every CPU after each step and at every point the model offers (CR3 mid-switch, exit_mmap before
// and after its flush, before each shoot IPI, before and after the free). A process p has thread 1
// on CPU 0 and thread 2 on CPU 1, and a kernel thread on CPU 1 uses p with kthread_use_mm: the last
// mmput is thread 1's exit or the kthread_unuse_mm, whichever comes last, with the other CPU anywhere
// in its program; the lazy CPUs poke through a temporary mm. No order may produce a finding, a stale
// read, a wrong poke or a leak.
func TestAllInterleavings(t *testing.T) {
	var orders [][]int
	interleave(nil, 4, 5, &orders)
	for _, sch := range Schemes {
		t.Run(sch.Name(), func(t *testing.T) {
			for _, order := range orders {
				if !t.Run(orderName(order), func(t *testing.T) { playOrder(t, sch, order) }) {
					return // the first failing order says enough
				}
			}
		})
	}
}

// playOrder runs the two programs of TestAllInterleavings in one order (order[i] is the CPU whose
// next step is the i-th).
func playOrder(t *testing.T, sch Scheme, order []int) {
	const tokTmp = 0x74656d702d6d6d21 // "temp-mm!"
	w := newWorld(t, 3, sch)
	if !w.s.mapUserPage() {
		t.Skipf("cannot map a host page at %#x for text_poke's load", mm.UserBase())
	}
	w.on(0)
	tmp := w.tempMM(tokTmp)
	poke := func(c *CPU) {
		if v := c.TextPoke(tmp); v != tokTmp {
			t.Errorf("text_poke on CPU %d read %#x through the temporary mm, want %#x", c.ID, v, uint64(tokTmp))
		}
	}
	p, t1 := w.newProc()
	t2 := w.thread(0, p)
	k0, k1 := w.kthread(), w.kthread()
	progs := [2][]func(c *CPU){{
		func(c *CPU) { c.Switch(t1); w.touch(0, p) },
		func(c *CPU) { c.Switch(k0); poke(c) }, // lazy on p, then off it for the poke
		func(c *CPU) { c.Switch(t1); w.touch(0, p); c.Exit() },
		func(c *CPU) { c.Switch(k0); poke(c); c.ExitKthread() },
	}, {
		func(c *CPU) { c.Switch(t2); w.touch(1, p) },
		func(c *CPU) {
			c.Switch(k1)
			if !c.UseMM(p.as, p.ctx) { // thread 2 is still a user
				t.Fatal("kthread_use_mm failed while thread 2 lives")
			}
			w.touch(1, p)
		},
		func(c *CPU) { c.Switch(t2); w.touch(1, p); c.Exit() },
		func(c *CPU) { c.Switch(k1); w.touch(1, p); c.UnuseMM() },
		func(c *CPU) { poke(c); c.ExitKthread() },
	}}
	w.s.hook = func(string) { w.nmiAll() }
	var pc [2]int
	for _, cpu := range order {
		w.step(cpu, progs[cpu][pc[cpu]])
		pc[cpu]++
	}
	w.s.hook = nil
	w.step(0, func(*CPU) { machine.M.FreeMM(tmp) })
	w.expectNone(w.finish())
	w.expectNoLeaks()
}

// interleave appends to out every sequence of a 0s and b 1s (after prefix): the orders in which two
// CPUs' programs of a and b steps can run.
func interleave(prefix []int, a, b int, out *[][]int) {
	if a == 0 && b == 0 {
		*out = append(*out, slices.Clone(prefix))
		return
	}
	if a > 0 {
		interleave(append(prefix, 0), a-1, b, out)
	}
	if b > 0 {
		interleave(append(prefix, 1), a, b-1, out)
	}
}

// orderName is an order as the CPUs' digits, e.g. "011010110".
func orderName(order []int) string {
	var b strings.Builder
	for _, c := range order {
		b.WriteByte(byte('0' + c))
	}
	return b.String()
}
