package lazy

import (
	"errors"
	"lazymm/kernel/machine"

	"fmt"
	"math/bits"
	"sync/atomic"
	"syscall"
	"testing"
	"unsafe"

	"lazymm/mm"
)

// simMachine is a HOST-SIDE MODEL of the machine, not the machine: a machine.Machine for host unit tests of
// the lazy-mm engine. It has n simulated CPUs but no threads: the test says which CPU runs next (cur),
// and every call the engine makes "on the current CPU" acts on that CPU, so an interleaving is a fixed
// sequence of steps and replays exactly. Memory is a byte slice posing as RAM (mm.DirectMap) under an
// mm.Allocator; each CPU's page-table base register is a recorded root. The x86 parts the engine relies
// on are modelled after arch/amd64 (paging.go, tlb.go, ipi.go), with mm/tlb.go's real decisions:
//
//   - SwitchMM is switch_mm_irqs_off without PCIDs: TLBState.SwitchMM, the root "written", SwitchDone.
//   - ExitMMap is exit_mmap: ExitTables, then the flush of freed tables (lazy CPUs included) through
//     NewFlush, IPITargets and FlushFunc; a lazy CPU it reaches goes to InitMM and, with unlazy, runs
//     ShootLazy (powerpc's exit flush).
//   - FreePGD is __mmdrop's end: Retire, the CR3 audit (a CPU whose root register still holds the
//     mm's root is recorded as a "cr3-audit" finding and moved to InitMM, as the real audit does),
//     then FreeAddrSpace.
//   - CrossCall runs the handler on each target CPU synchronously, in CPU order, with cur set to the
//     target; a handler that asks to leave the lazy mm gets the CPU switched to InitMM.
//   - SendNMI runs HandleNMI at once on the target.
//
// Other CPUs act only between a CPU's steps, as IPIs do (the engine takes them with interrupts on),
// or at the hook points a test sets (hook): "switching" (mid-CR3-switch, where only an NMI may land),
// "exit-mmap" and "exit-mmap-flushed", "shoot-lazy:N" (before CPU N runs a shoot IPI), "free-pgd" and
// "freed". The model and the engine are global state: these tests must not run in parallel.
//
// There are no TLBs here (mm/tlb_test.go models those); read translates through a CPU's root. For
// text_poke, which loads a word from the user range through the current CPU's MMU, mapUserPage maps
// one host page at mm.UserBase() whose contents the model keeps equal to the page the current CPU's
// loaded root maps there (zeroes when none).
type simMachine struct {
	machine.Hosted
	t    *testing.T
	n    int
	cur  int // the CPU the engine runs on now
	ram  []byte
	a    *mm.Allocator
	root [mm.MaxCPUs]uint64 // each CPU's page-table base register (a root's physical address)

	zapped *mm.FrameList // frames waiting for a flush before they are freed
	cycles uint64
	audits []string        // cr3-audit findings of FreePGD's audit
	mms    []*mm.AddrSpace // every mm created, to retire leftovers when the test ends
	user   []byte          // the host page at mm.UserBase() (nil: not mapped)
	hook   func(at string) // called at the model's interleaving points (see the callers)
	calls  map[string]int  // how often each hook point was reached
	ipis   int             // flush IPIs of exit_mmap's freed-tables flushes
}

// simFrames is 2 MiB of fake RAM: more than a test allocates in all, so the allocator's quarantine
// (1024 frames) never hands a freed frame out again within a test, and a stale handle meets poison.
const simFrames = 512

// simPT is an x86-64-like 4-level format with the user range at top-level slot 128 (as mm/aspace_test.go).
var simPT = mm.Format{Levels: 4, Present: 1, Write: 2, NoExec: 1 << 63, Huge: 1 << 7, Table: 3,
	AddrMask: 0x000f_ffff_ffff_f000, UserSlot: 128}

// newSim installs a simulated machine of n CPUs as machine.M, with fake RAM, an InitMM with a few kernel
// top-level entries, every CPU on InitMM, and the engine reset; everything global it touches (machine.M, mm's
// format, InitMM, TLB states, the direct map, the engine's per-CPU state, findings, scheme and
// injections) is restored when the test ends.
func newSim(t *testing.T, n int) *simMachine {
	t.Helper()
	s := &simMachine{t: t, n: n, zapped: new(mm.FrameList), calls: map[string]int{}}

	savedM, savedPT, savedInit, savedTLB, savedDM := machine.M, mm.PT, mm.InitMM, mm.TLB, mm.DirectMap
	savedRqs, savedFindings, savedN := rqs, findings, atomic.LoadUint64(&nFindings)
	savedScheme, savedCfg, savedOn := scheme, cfg, atomic.LoadUint32(&engineOn)
	savedInject := map[*bool]bool{} // every switch of inject.go's map
	for _, p := range injections {
		savedInject[p] = *p
	}
	t.Cleanup(func() {
		for _, as := range s.mms { // a leaked mm must not stay in mm's live table past its fake RAM
			if mm.Live(as) {
				mm.Retire(as)
			}
		}
		s.unmapUserPage()
		machine.M, mm.PT, mm.InitMM, mm.TLB, mm.DirectMap = savedM, savedPT, savedInit, savedTLB, savedDM
		rqs, findings = savedRqs, savedFindings
		atomic.StoreUint64(&nFindings, savedN)
		scheme, cfg = savedScheme, savedCfg
		atomic.StoreUint32(&engineOn, savedOn)
		for p, v := range savedInject {
			*p = v
		}
	})

	// fake RAM: frame 0 stays reserved (a zero handle is "none")
	s.ram = make([]byte, (simFrames+1)*mm.PageSize)
	off := -uintptr(unsafe.Pointer(&s.ram[0])) & (mm.PageSize - 1)
	mm.DirectMap = unsafe.Pointer(&s.ram[off])
	mm.PT = simPT
	s.a = new(mm.Allocator)
	s.a.Init(make([]mm.Kind, simFrames))
	s.a.SetRange(1, simFrames-1, mm.Free)

	// InitMM: a root whose kernel half holds a few top-level entries, each an empty kernel table
	root := s.zeroed(mm.PageTable)
	mm.InitMM.Root = root << mm.PageShift
	mm.InitMM.CPUMask, mm.InitMM.TLBGen = 0, 0
	for _, slot := range []int{0, 256, 511} {
		kt := s.zeroed(mm.PageTable)
		(*[512]uint64)(mm.Phys(mm.InitMM.Root))[slot] = kt<<mm.PageShift | mm.PT.Table
	}
	mm.TLB = [mm.MaxCPUs]mm.TLBState{}
	for c := range mm.TLB {
		mm.TLB[c].Reset()
		s.root[c] = mm.InitMM.Root
	}

	rqs = [mm.MaxCPUs]runq{}
	atomic.StoreUint64(&nFindings, 0)
	machine.M = s
	EngineOn(true)
	return s
}

func (s *simMachine) zeroed(k mm.Kind) uint64 {
	s.t.Helper()
	f, ok := s.a.Alloc(k)
	if !ok {
		s.t.Fatalf("fake RAM exhausted allocating %v", k)
	}
	mm.ZeroFrame(f)
	return f
}

// at calls the hook of an interleaving point, if any.
func (s *simMachine) at(point string) {
	s.calls[point]++
	if s.hook != nil {
		s.hook(point)
	}
}

// setCPU makes cpu the running one (the host page at mm.UserBase() then shows its view).
func (s *simMachine) setCPU(cpu int) {
	s.cur = cpu
	s.syncUserPage()
}

// onCPU runs f with cpu running, as an interrupt or a step of that CPU, then goes back.
func (s *simMachine) onCPU(cpu int, f func()) {
	saved := s.cur
	s.setCPU(cpu)
	defer s.setCPU(saved)
	f()
}

// switchMM is switch_mm_irqs_off on cpu (without PCIDs every load flushes).
func (s *simMachine) switchMM(cpu int, as *mm.AddrSpace) {
	if as == nil {
		as = &mm.InitMM
	}
	st := &mm.TLB[cpu]
	sw := st.SwitchMM(cpu, as, false, false)
	if sw.Load {
		s.at("switching") // LoadedMM is mm.Switching: only an NMI can land here
		s.root[cpu] = as.Root
		st.SwitchDone(as, sw.ASID)
	}
	if cpu == s.cur {
		s.syncUserPage()
	}
}

// read is a load through cpu's root register (a page walk; the model has no TLB).
func (s *simMachine) read(cpu int, va uintptr) (uint64, bool) {
	pa, ok := mm.Translate(s.root[cpu], va)
	if !ok {
		return 0, false
	}
	return atomic.LoadUint64((*uint64)(mm.Phys(pa))), true
}

// takeAudits returns (and forgets) the cr3-audit findings.
func (s *simMachine) takeAudits() []string {
	a := s.audits
	s.audits = nil
	return a
}

// --- machine.Machine ---

func (s *simMachine) BareMetal() bool         { return true }
func (s *simMachine) CPUs() int               { return s.n }
func (s *simMachine) FirmwareCPUs() int       { return s.n }
func (s *simMachine) CPUOnline(cpu int) bool  { return cpu < s.n }
func (s *simMachine) CPUSource() string       { return "host-model" }
func (s *simMachine) NMIAnywhere() error      { return nil }
func (s *simMachine) CPU() int                { return s.cur }
func (s *simMachine) Cycles() uint64          { s.cycles++; return s.cycles }
func (s *simMachine) IRQSave() uint64         { return 0 }
func (s *simMachine) IRQRestore(uint64)       {}
func (s *simMachine) PCID() (bool, bool)      { return false, false }
func (s *simMachine) IRQsOffActivateMM() bool { return false }
func (s *simMachine) SetPCID(on bool) error {
	if on {
		return errors.New("no PCIDs in the model")
	}
	return nil
}
func (s *simMachine) TLBStats(cpu int) mm.TLBStats { return mm.TLB[cpu].Stats }

func (s *simMachine) SendNMI(cpu int) { s.onCPU(cpu, func() { HandleNMI(cpu) }) }

func (s *simMachine) CrossCall(mask uint64, op machine.CrossCallOp, arg uint64, wait bool) {
	mask &= onlineMask()
	for cpu := 0; cpu < s.n; cpu++ {
		if mask&(1<<uint(cpu)) == 0 {
			continue
		}
		if op == machine.CallShootLazy {
			s.at(fmt.Sprintf("shoot-lazy:%d", cpu)) // the IPI is about to run on cpu
		}
		s.onCPU(cpu, func() {
			if HandleCrossCall(cpu, op, arg) {
				s.switchMM(cpu, &mm.InitMM)
			}
		})
	}
}

func (s *simMachine) Memory(drain bool) machine.MemReport {
	if drain {
		s.a.Drain()
	}
	r := machine.MemReport{Frames: map[string]uint64{}}
	for k := mm.Kind(0); k < mm.NumKinds; k++ {
		r.Frames[k.String()] = s.a.Count(k)
	}
	n, v := s.a.Violations()
	r.Violations = n
	for i := 0; i < int(n) && i < len(v); i++ {
		r.First = append(r.First, fmt.Sprintf("frame %d offset %d value %#x", v[i].Frame, v[i].Offset, v[i].Value))
	}
	return r
}

func (s *simMachine) AllocFrames(n int, k mm.Kind) ([]uint64, error) {
	out := make([]uint64, 0, n)
	for len(out) < n {
		f, ok := s.a.Alloc(k)
		if !ok {
			s.FreeFrames(out)
			return nil, fmt.Errorf("fake RAM exhausted")
		}
		mm.ZeroFrame(f)
		out = append(out, f)
	}
	return out, nil
}

func (s *simMachine) FreeFrames(f []uint64) {
	for _, x := range f {
		if !s.a.Free(x) {
			s.t.Errorf("model: double free (or free of an unallocated frame) %d", x)
		}
	}
}

func (s *simMachine) NewMM() (*mm.AddrSpace, error) {
	as, ok := mm.NewAddrSpace(s.a)
	if !ok {
		return nil, fmt.Errorf("new address space: out of fake RAM or live slots")
	}
	s.mms = append(s.mms, as)
	return as, nil
}

func (s *simMachine) Map(as *mm.AddrSpace, va uintptr, frame uint64, write bool) error {
	if !as.Map(s.a, va, frame, write) {
		return fmt.Errorf("map %#x failed", va)
	}
	return nil
}

func (s *simMachine) SwitchMM(as *mm.AddrSpace) { s.switchMM(s.cur, as) }

func (s *simMachine) EnterLazy() { mm.TLB[s.cur].EnterLazy() }

// ExitMMap is exit_mmap: the user range's tables and pages go onto the list, the flush of freed
// tables reaches every CPU of mm_cpumask, lazy ones too (flushMMRange with FreedTables), and only then
// are the frames freed. Hook points: "exit-mmap" before anything, "exit-mmap-flushed" after the flush.
func (s *simMachine) ExitMMap(as *mm.AddrSpace, unlazy bool) {
	s.at("exit-mmap")
	as.ExitTables(s.a, s.zapped, 0)
	s.flushFreedTables(as, unlazy)
	s.at("exit-mmap-flushed")
	s.zapped.FreeAll(s.a)
}

func (s *simMachine) flushFreedTables(as *mm.AddrSpace, unlazy bool) {
	me := s.cur
	f := mm.NewFlush(as, 0, mm.FlushAll, true, me)
	f.Unlazy = unlazy
	targets, lazy := mm.IPITargets(&f, me, s.n)
	mm.TLB[me].Stats.LazySkipped += uint64(popcount(lazy))
	mm.TLB[me].Stats.IPIsSent += uint64(popcount(targets))
	s.ipis += popcount(targets)
	for cpu := 0; cpu < s.n; cpu++ {
		if targets&(1<<uint(cpu)) != 0 {
			mm.TLB[cpu].Stats.IPIsRecv++
			s.flushFunc(cpu, &f)
		}
	}
	if mm.TLB[me].Loaded() == as {
		s.flushFunc(me, &f)
	}
}

// flushFunc is flush_tlb_func on cpu (paging/tlb.go's, on the model).
func (s *simMachine) flushFunc(cpu int, f *mm.FlushInfo) {
	s.onCPU(cpu, func() {
		if mm.TLB[cpu].FlushFunc(f) == mm.FlushLeaveLazy {
			s.switchMM(cpu, &mm.InitMM)
			if UnlazyOnFlush(f.Unlazy) {
				ShootLazy(cpu, f.MM)
			}
		}
	})
}

// FreePGD is mm_free_pgd and free_mm: retire the mm, audit every CPU's root register (none may hold
// the mm's root: a finding, and the CPU goes to InitMM before the root is poisoned), free the root
// and the struct. Hook points: "free-pgd" before anything, "freed" after the free.
func (s *simMachine) FreePGD(as *mm.AddrSpace) {
	s.at("free-pgd")
	root := as.Root
	mm.Retire(as)
	for cpu := 0; cpu < s.n; cpu++ {
		if s.root[cpu] == root {
			s.audits = append(s.audits, fmt.Sprintf("CPU %d: the root register holds %#x, the root of freed mm %#x (ctx %d)",
				cpu, root, as.Handle(), as.CtxID))
			s.root[cpu] = mm.InitMM.Root
			mm.TLB[cpu].Reset()
			if cpu == s.cur {
				s.syncUserPage()
			}
		}
	}
	mm.FreeAddrSpace(s.a, as, s.zapped, 0)
	s.zapped.FreeAll(s.a)
	s.at("freed")
}

// FreeMM is exit_mmap and the final free at once (the arch's, for mms the engine does not count).
func (s *simMachine) FreeMM(as *mm.AddrSpace) {
	s.ExitMMap(as, false)
	s.FreePGD(as)
}

// mapUserPage maps the host page at mm.UserBase() that stands for the current CPU's view of the first
// user page (text_poke's load goes through it). It reports false when the address is taken.
func (s *simMachine) mapUserPage() bool {
	const mapFixedNoReplace = 0x100000
	base := mm.UserBase()
	p, _, e := syscall.Syscall6(syscall.SYS_MMAP, base, mm.PageSize, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|mapFixedNoReplace, ^uintptr(0), 0)
	if e != 0 {
		return false
	}
	if p != base { // a kernel without MAP_FIXED_NOREPLACE took it as a hint
		syscall.Syscall(syscall.SYS_MUNMAP, p, mm.PageSize, 0)
		return false
	}
	s.user = unsafe.Slice((*byte)(unsafe.Add(nil, p)), mm.PageSize)
	s.syncUserPage()
	return true
}

func (s *simMachine) unmapUserPage() {
	if s.user != nil {
		syscall.Syscall(syscall.SYS_MUNMAP, mm.UserBase(), mm.PageSize, 0)
		s.user = nil
	}
}

// syncUserPage makes the host page show what the current CPU's root maps at mm.UserBase().
func (s *simMachine) syncUserPage() {
	if s.user == nil {
		return
	}
	pa, ok := mm.Translate(s.root[s.cur], mm.UserBase())
	if !ok {
		clear(s.user)
		return
	}
	copy(s.user, unsafe.Slice((*byte)(mm.Phys(pa)), mm.PageSize))
}

func popcount(m uint64) int { return bits.OnesCount64(m) }
