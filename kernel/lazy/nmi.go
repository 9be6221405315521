package lazy

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	_ "unsafe" // go:linkname

	"lazymm/kernel/machine"
	"lazymm/mm"
)

// The NMI's user access, as perf's user callchain does it (perf_callchain_user → the user stack read
// with copy_from_user_nmi, arch/x86/lib/usercopy.c), guarded by nmi_uaccess_okay
// (arch/x86/include/asm/tlbflush.h):
//
//   - current->mm must be the mm this CPU has loaded (cpu_tlbstate.loaded_mm). A kernel thread has no
//     mm and gets no user callchain; a CPU in the middle of switch_mm_irqs_off has loaded_mm =
//     LOADED_MM_SWITCHING; a user task under use_temporary_mm (text_poke from a system call) has the
//     poking mm loaded. In all three the NMI must not touch user memory.
//   - The root the MMU really uses (CR3; on POWER radix PIDR's process-table entry, on hash the root
//     of the context in the SLB's user segment) must be current->mm's. Linux only warns here
//     (VM_WARN_ON_ONCE(current_mm->pgd != __va(read_cr3_pa())), since reading CR3 is slow under
//     shadow paging); the engine checks it.
//
// Then it reads a few words of the task's user stack through the MMU. copy_from_user_nmi relies on the
// exception table to survive a fault; trap code here has none, so the translation is walked first
// (mm's walk, on the root the MMU uses) and the load is made only where it is present: a walk that
// meets a freed (quarantined or poisoned) table is the poison-walk detector's, a read that returns
// another mm's stack is the nmi-uaccess detector's. On POWER hash a missing HPTE is still served by
// the arch's hash_page at any depth, the NMI's too (Linux's hash fault path is not NMI-safe that way).

// StackMagic is the first word of a process's user stack page (UserStackVA): "nmi-stak".
const StackMagic = 0x6e6d692d7374616b

// UserStackVA is where a process of the scenarios maps its user stack page: the last 4 KiB page of
// the user range's first 2 MiB (token pages are at its start; the first segment, which POWER hash
// preloads into the SLB on a switch). Every thread of a process shares it (Linux's threads have a
// stack each in the shared mm: one page is enough for the NMI's check).
//
//go:nosplit
func UserStackVA() uintptr { return mm.UserBase() + 511*mm.PageSize }

// StackToken is the second word of mm ctx's stack page; the third is its complement.
//
//go:nosplit
func StackToken(ctx uint64) uint64 { return ctx<<16 | 0x57ac }

// archLoadedRoot is the arch's: the root this CPU's MMU uses now (kernel/paging/port.go). Host tests
// of this package, which link no arch, provide one that returns 0: no MMU to read through.
//
//go:linkname archLoadedRoot lazymm/kernel/paging.archLoadedRoot
func archLoadedRoot() uint64

// InjectNMINoUaccessCheck is an injected bug: nmi_uaccess_okay always says yes (neither loaded_mm nor
// the MMU's root is compared with current->mm), so an NMI on a user task reads its stack address
// through whatever root is loaded.
var InjectNMINoUaccessCheck bool

// nmiCPU is one CPU's record of the NMI's user reads, kept without allocation in NMI context.
type nmiCPU struct {
	reads, faults, refused uint64 // stack reads made; walks that found no translation; nmi_uaccess_okay refusals
	bad                    uint64 // detector findings
	kind                   uint32 // the first finding: nmiForeign or nmiPoison
	level                  int32
	ctx                    uint64 // current->mm's ctx_id
	root                   uint64 // the root the walk went through
	got                    [3]uint64
	_                      [64]byte
}

const (
	nmiForeign = 1 // the stack read returned words that are not current->mm's stack
	nmiPoison  = 2 // the walk met a freed table
)

var nmiState [mm.MaxCPUs]nmiCPU

// HandleNMI is the engine's NMI work, perf's user-stack sample: on a user task whose mm is the one
// the MMU runs (nmiUaccessOkay) it dereferences current->mm and reads the task's user stack through
// the MMU (copyFromUserNMI). The injected nmi-no-check takes active_mm (or, without active_mm, the
// loaded mm) unchecked, kernel threads included; nmi-no-uaccess-check skips nmi_uaccess_okay.
//
//go:nosplit
func HandleNMI(cpu int) {
	if atomic.LoadUint32(&engineOn) == 0 {
		return
	}
	r := &rqs[cpu]
	atomic.AddUint64(&r.stats.NMIs, 1)
	record(cpu, EvNMI, 0, 0, 0)
	t := taskAt(atomic.LoadUintptr(&r.curr))
	if t == nil {
		return
	}
	loaded := atomic.LoadUintptr(&mm.TLB[cpu].LoadedMM)
	h, ctx := t.MM, t.MMCtx
	switch {
	case InjectNMINoCheck && cfg.ActiveMM:
		h, ctx = t.ActiveMM, t.ActiveCtx
	case InjectNMINoCheck:
		if loaded == mm.Switching {
			return
		}
		h, ctx = loaded, mm.At(loaded).CtxID
	case h == 0:
		return // a kernel thread: no user callchain (current->mm is NULL)
	case InjectNMINoUaccessCheck:
	case loaded != h:
		atomic.AddUint64(&nmiState[cpu].refused, 1)
		return // nmi_uaccess_okay: loaded_mm != current->mm (switching, or a temporary mm)
	}
	if h == 0 || h == initH {
		return
	}
	atomic.AddUint64(&r.stats.NMIDerefs, 1)
	record(cpu, EvNMI, ctx, 1, 0)
	if !checkMM(cpu, h, ctx, atNMI) {
		return
	}
	root := archLoadedRoot()
	if root == 0 {
		return // the host model: no MMU to read through
	}
	if !InjectNMINoUaccessCheck && !InjectNMINoCheck && root != atomic.LoadUint64(&mm.At(h).Root) {
		atomic.AddUint64(&nmiState[cpu].refused, 1)
		return // the MMU does not run current->mm (Linux's VM_WARN_ON_ONCE, a check here)
	}
	copyFromUserNMI(cpu, root, ctx)
}

// copyFromUserNMI reads three words of the user stack at UserStackVA through the MMU, whose root is
// root, after walking root for it (no fault may be taken here), and checks they are mm ctx's stack.
//
//go:nosplit
func copyFromUserNMI(cpu int, root, ctx uint64) {
	s := &nmiState[cpu]
	va := UserStackVA()
	present, level := walkNMI(root, va)
	if level >= 0 {
		nmiFinding(s, nmiPoison, int32(level), ctx, root, 0, 0, 0)
		return
	}
	if !present {
		atomic.AddUint64(&s.faults, 1) // copy_from_user_nmi would return short
		return
	}
	w := (*[3]uint64)(unsafe.Add(nil, va))
	w0, w1, w2 := atomic.LoadUint64(&w[0]), atomic.LoadUint64(&w[1]), atomic.LoadUint64(&w[2])
	atomic.AddUint64(&s.reads, 1)
	if want := StackToken(ctx); w0 != StackMagic || w1 != want || w2 != ^want {
		nmiFinding(s, nmiForeign, -1, ctx, root, w0, w1, w2)
	}
}

// WalkLoaded walks the root the MMU has loaded for va, as the MMU will, for a kernel thread's user
// access (copy_from_user under kthread_use_mm would take the fault; this port takes none in kernel
// code, so it looks first): present says a leaf maps va; level is the level of a freed table met, or
// -1. With no MMU (the host model) every address is present.
func WalkLoaded(va uintptr) (present bool, level int) {
	root := archLoadedRoot()
	if root == 0 {
		return true, -1
	}
	return walkNMI(root, va)
}

// walkNMI walks root for va as the MMU will: present says a leaf maps it; level is the level (0: the
// root) of a freed table the walk met (quarantined, or an entry holding mm.Poison), else -1.
//
//go:nosplit
func walkNMI(root uint64, va uintptr) (present bool, level int) {
	table := root
	for l := 0; l < mm.PT.Levels; l++ {
		if mm.Frames.KindOf(table>>mm.PageShift) == mm.Quarantined {
			return false, l
		}
		shift := uint(mm.PageShift + 9*(mm.PT.Levels-1-l))
		e := atomic.LoadUint64(&(*[512]uint64)(mm.Phys(table))[(va>>shift)&511])
		if e == mm.Poison {
			return false, l
		}
		if e&mm.PT.Present == 0 {
			return false, -1
		}
		if l == mm.PT.Levels-1 || e&mm.PT.Huge != 0 {
			return true, -1
		}
		table = e & mm.PT.AddrMask
	}
	return false, -1
}

//go:nosplit
func nmiFinding(s *nmiCPU, kind uint32, level int32, ctx, root, w0, w1, w2 uint64) {
	if atomic.AddUint64(&s.bad, 1) == 1 {
		s.kind, s.level, s.ctx, s.root = kind, level, ctx, root
		s.got = [3]uint64{w0, w1, w2}
	}
}

// NMIReads returns, summed over CPUs [0, n), the NMIs' user stack reads, the walks that found no
// translation, and nmi_uaccess_okay's refusals.
func NMIReads(n int) (reads, faults, refused uint64) {
	for c := 0; c < n; c++ {
		reads += atomic.LoadUint64(&nmiState[c].reads)
		faults += atomic.LoadUint64(&nmiState[c].faults)
		refused += atomic.LoadUint64(&nmiState[c].refused)
	}
	return
}

// TakeNMIFindings returns the NMI detectors' findings as "check|detail" and clears every CPU's record.
func TakeNMIFindings(n int) []string {
	var out []string
	for c := 0; c < n; c++ {
		s := &nmiState[c]
		if k := atomic.LoadUint64(&s.bad); k != 0 {
			switch s.kind {
			case nmiPoison:
				out = append(out, fmt.Sprintf("poison-walk|CPU %d: %d NMI user reads walked a freed table; the first, for mm ctx %d's stack at %#x through root %#x, met it at level %d",
					c, k, s.ctx, UserStackVA(), s.root, s.level))
			default:
				out = append(out, fmt.Sprintf("nmi-uaccess|CPU %d: %d NMI user reads returned another mm's memory; the first, of mm ctx %d's stack at %#x through root %#x, read %#x %#x %#x (the stack of ctx %d), not its own",
					c, k, s.ctx, UserStackVA(), s.root, s.got[0], s.got[1], s.got[2], s.got[1]>>16))
			}
		}
		s.bad = 0
	}
	return out
}

// ResetNMI clears the NMI records of CPUs [0, n) before a scenario.
func ResetNMI(n int) {
	for c := 0; c < n; c++ {
		nmiState[c] = nmiCPU{}
		atomic.StoreUint64(&pokesDone[c], 0)
	}
}

// PokeFromUser is text_poke called from a user task's system call (use_temporary_mm /
// unuse_temporary_mm with interrupts off, as TextPoke, but from a task that owns its mm): the
// poking mm tmp is loaded while current->mm stays the task's, until an NMI has landed or for at most
// hold iterations (a batch of pokes), and the word at tmp's UserStackVA is read through it. An NMI meanwhile has loaded_mm =
// tmp: nmi_uaccess_okay exists for this window. The caller runs a user task of its own mm.
func (c *CPU) PokeFromUser(tmp *mm.AddrSpace, hold int) uint64 {
	fl := machine.M.IRQSave()
	v := pokeHold(c.ID, tmp, hold)
	atomic.AddUint64(&pokesDone[c.ID], 1) // after every poke, even one refused
	machine.M.IRQRestore(fl)
	return v
}

//go:nosplit
func pokeHold(cpu int, tmp *mm.AddrSpace, hold int) uint64 {
	s := &mm.TLB[cpu]
	prev := s.Loaded()
	if prev == nil || atomic.LoadUint32(&s.Lazy) != 0 || !checkMM(cpu, tmp.Handle(), tmp.CtxID, atTempMM) {
		return 0
	}
	machine.M.SwitchMM(tmp)
	v := atomic.LoadUint64((*uint64)(unsafe.Add(nil, UserStackVA())))
	n0 := atomic.LoadUint64(&rqs[cpu].stats.NMIs)
	atomic.StoreUint32(&pokeHeld[cpu], 1)
	for i := 0; i < hold && atomic.LoadUint64(&rqs[cpu].stats.NMIs) == n0; i++ {
		atomic.AddUint64(&delaySink, 1)
		if i%64 == 63 {
			mm.Relax() // under one-threaded TCG, the NMI's sender gets its turn
		}
	}
	atomic.StoreUint32(&pokeHeld[cpu], 0)
	machine.M.SwitchMM(prev)
	mm.UnuseTemporary(cpu, tmp)
	return v
}

// pokeHeld says a CPU is inside PokeFromUser with the poking mm loaded; pokesDone counts the pokes
// it has finished (a sender waits for the poke of its round to end, not for a guessed time).
var (
	pokeHeld  [mm.MaxCPUs]uint32
	pokesDone [mm.MaxCPUs]uint64
)

// PokesDone is how many PokeFromUser calls cpu has finished since ResetNMI.
func PokesDone(cpu int) uint64 { return atomic.LoadUint64(&pokesDone[cpu]) }

// PokeHeld reports whether cpu is inside PokeFromUser now, with the poking mm loaded.
func PokeHeld(cpu int) bool { return atomic.LoadUint32(&pokeHeld[cpu]) != 0 }
