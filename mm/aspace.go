package mm

import (
	"sync/atomic"
	"unsafe"
)

// An AddrSpace is one mm: a page-table root of its own whose top-level entries are the kernel's (the
// identity map, the Go runtime's heap, stacks and text), so any CPU runs Go whatever AddrSpace it has
// loaded, plus one top-level slot of its own, the user range, where tests map pages. It mirrors what
// Linux's pgd_alloc does: copy the kernel half, leave the user half empty.
//
// The struct lives in a frame of kind Object, not on the Go heap: freeing it poisons the frame, so a
// CPU that still uses a freed mm reads poison, not a plausible mm.
type AddrSpace struct {
	Magic   uint64 // asMagic while live
	Root    uint64 // physical address of the top-level table
	CtxID   uint64 // never reused (Linux's ctx_id): per-CPU ASID slots are matched by it
	TLBGen  uint64 // bumped by every flush request (inc_mm_tlb_gen); atomic
	CPUMask uint64 // mm_cpumask: CPUs that may hold translations of the user range; atomic
	Users   int64  // mm_users (the lazy-mm engine's)
	Count   int64  // mm_count (the lazy-mm engine's)
	Writer  int64  // the CPU that last wrote Users or Count: a write from another CPU moves the cache line
	Pages   uint64 // user pages mapped now
	Tables  uint64 // page-table pages of the user range, the root included
	// NextTrim is mainline x86's next_trim_cpumask, in cycles: a flush after it trims the mask.
	NextTrim uint64
	// globalASID and asidTransition are mainline x86's context.global_asid and asid_transition
	// (tlb_global.go).
	globalASID, asidTransition uint32
	slot                       uint64 // index in the live table
	vmas                       MMVMAs // the areas of the user range: Map makes them, Unmap removes them
}

const asMagic = 0x6c617a796d6d2121 // "lazymm!!"

// MaxAddrSpaces bounds the live table: the kernel's own (InitMM) is not in it.
const MaxAddrSpaces = 64

var (
	// InitMM is init_mm: the kernel's address space, what CPUs load when no test mm is needed. Its
	// Root is the boot page tables, set by the arch layer.
	InitMM = AddrSpace{Magic: asMagic, CtxID: 1} // ctx_id 0 marks an empty ASID slot

	live     [MaxAddrSpaces]uintptr     // live address spaces by slot, 0 when free
	nextCtx  uint64                 = 1 // last ctx_id handed out
	nLive    int64
	liveLock uint32
)

// UserBase returns the first address of the user range: the start of top-level slot PT.UserSlot.
//
//go:nosplit
func UserBase() uintptr { return uintptr(PT.UserSlot) << uint(PageShift+9*(PT.Levels-1)) }

// UserEnd returns the end of the user range (exclusive).
//
//go:nosplit
func UserEnd() uintptr { return UserBase() + 1<<uint(PageShift+9*(PT.Levels-1)) }

// InUserRange reports whether [start, end) lies in the user range.
//
//go:nosplit
func InUserRange(start, end uintptr) bool {
	return start >= UserBase() && end <= UserEnd() && start < end
}

// NewAddrSpace allocates an address space: its struct in an Object frame, its root in an MMTable frame
// holding a copy of InitMM's top-level entries but the user slot's.
//
//go:nosplit
func NewAddrSpace(a *Allocator) (*AddrSpace, bool) {
	of, ok := a.Alloc(Object)
	if !ok {
		return nil, false
	}
	rf, ok := a.AllocAligned(rootFrames(), MMTable)
	if !ok {
		a.Free(of)
		return nil, false
	}
	for f := rf; f < rf+rootFrames(); f++ {
		ZeroFrame(f)
	}
	ZeroFrame(of)
	as := (*AddrSpace)(Phys(of << PageShift))
	acquire(&liveLock)
	slot := -1
	for i := range live {
		if live[i] == 0 {
			slot = i
			break
		}
	}
	if slot < 0 {
		release(&liveLock)
		freeRoot(a, rf<<PageShift)
		a.Free(of)
		return nil, false
	}
	src := (*[512]uint64)(Phys(InitMM.Root))
	dst := (*[512]uint64)(Phys(rf << PageShift))
	for i := range dst {
		dst[i] = src[i]
	}
	dst[PT.UserSlot] = 0
	nextCtx++
	// the frame is zeroed: field by field, as a literal of this size would be built on the stack
	as.Magic, as.Root, as.CtxID, as.slot = asMagic, rf<<PageShift, nextCtx, uint64(slot)
	as.Users, as.Count, as.Tables = 1, 1, 1
	if TrimClock != nil { // init_new_context: next_trim_cpumask = jiffies + HZ
		as.NextTrim = TrimClock() + TrimPeriod
	}
	live[slot] = uintptr(unsafe.Pointer(as))
	nLive++
	release(&liveLock)
	return as, true
}

// Slot is the address space's index in the live table (0..MaxAddrSpaces-1), stable while it lives:
// an arch may name its hardware context after it (POWER radix: the PID).
//
//go:nosplit
func (as *AddrSpace) Slot() int { return int(as.slot) }

// LiveAddrSpaces returns how many address spaces (besides InitMM) exist: the leak check's count.
//
//go:nosplit
func LiveAddrSpaces() int { return int(atomic.LoadInt64(&nLive)) }

// Live reports whether as is a live address space (InitMM included).
//
//go:nosplit
func Live(as *AddrSpace) bool {
	if as == &InitMM {
		return true
	}
	p := uintptr(unsafe.Pointer(as))
	for i := range live {
		if atomic.LoadUintptr(&live[i]) == p {
			return atomic.LoadUint64(&as.Magic) == asMagic
		}
	}
	return false
}

// LiveRoot reports whether root is the top-level table of a live address space: what a CPU's
// page-table base register may hold. The freed-page-table detector checks each CPU's real register
// against it.
//
//go:nosplit
func LiveRoot(root uint64) (*AddrSpace, bool) {
	if root == InitMM.Root {
		return &InitMM, true
	}
	for i := range live {
		p := atomic.LoadUintptr(&live[i])
		if p == 0 {
			continue
		}
		as := asAt(p)
		if as.Root == root && atomic.LoadUint64(&as.Magic) == asMagic {
			return as, true
		}
	}
	return nil, false
}

// SyncKernelEntry copies InitMM's top-level entry covering va into every live address space: the arch
// calls it when the runtime's memory grew a new top-level entry (as Linux's sync_global_pgds).
//
//go:nosplit
func SyncKernelEntry(va uintptr) {
	i := index(va, 0, PT.Levels)
	if int(i) == PT.UserSlot {
		return
	}
	e := (*[512]uint64)(Phys(InitMM.Root))[i]
	acquire(&liveLock)
	for s := range live {
		if p := live[s]; p != 0 {
			(*[512]uint64)(Phys(asAt(p).Root))[i] = e
		}
	}
	release(&liveLock)
}

// Map maps one page at va (in the user range) to frame: mmap(MAP_FIXED) of that page, populated. Its
// VMA is made (merged with neighbours of the same protection, as vma_merge does). It reports false
// when va is outside the user range, already mapped, or memory for a page table or a VMA is
// exhausted. No flush is needed: the entry was not present, and x86 and POWER radix cache no
// non-present entries.
//
//go:nosplit
func (as *AddrSpace) Map(a *Allocator, va uintptr, frame uint64, write bool) bool {
	if !InUserRange(va, va+PageSize) || va&(PageSize-1) != 0 {
		return false
	}
	prot := uint32(ProtRead)
	if write {
		prot |= ProtWrite
	}
	if v, ok := as.vmas.Find(va); (!ok || v.Prot != prot) && !as.vmas.Set(va, va+PageSize, prot) {
		return false
	}
	before := a.Count(MMTable)
	p := walk(a, as.Root, va, true, MMTable)
	as.Tables += a.Count(MMTable) - before // approximate under concurrent maps of other spaces; the leak check counts frames
	if p == nil || *p&PT.Present != 0 {
		return false
	}
	e := frame<<PageShift | PT.Present | PT.Leaf | PT.NoExec
	if write {
		e |= PT.Write
	}
	*p = e
	as.Pages++
	return true
}

// Protect is mprotect on [start, end): the VMAs there lose or gain PROT_WRITE (split where cut), and
// so do their mapped pages, but for a page shared since fork, which stays read-only (a write breaks
// the sharing first: can_change_pte_writable). It returns how many entries it changed (each needs a
// flush: a writable translation may be cached).
//
//go:nosplit
func (as *AddrSpace) Protect(start, end uintptr, write bool) (changed uint64) {
	if !InUserRange(start, end) {
		return 0
	}
	as.protectVMAs(start, end, write)
	for va := start; va < end; {
		p, step := probe(as.Root, va)
		if p != nil && *p&PT.Present != 0 {
			old := *p
			if !write {
				*p &^= PT.Write
			} else if !FrameShared((old & PT.AddrMask) >> PageShift) {
				*p |= PT.Write
			}
			if *p != old {
				changed++
			}
		}
		next := (va + step) &^ (step - 1)
		if next <= va {
			break
		}
		va = next
	}
	return changed
}

// protectVMAs is mprotect_fixup on each VMA piece in [start, end).
//
//go:nosplit
func (as *AddrSpace) protectVMAs(start, end uintptr, write bool) {
	for at := start; at < end; {
		lo, hi, ok := as.vmas.Span(at, end)
		if !ok {
			return
		}
		v, _ := as.vmas.Find(lo)
		hi = min(hi, v.End)
		prot := v.Prot &^ ProtWrite
		if write {
			prot |= ProtWrite
		}
		if !as.vmas.Set(lo, hi, prot) {
			return
		}
		at = hi
	}
}

// Translate returns the physical address va maps to in as.
//
//go:nosplit
func (as *AddrSpace) Translate(va uintptr) (uint64, bool) { return Translate(as.Root, va) }

// Retire takes as out of the live table: from now on a CPU whose page-table base still names its root
// fails the audit. FreeAddrSpace retires as if the caller has not.
//
//go:nosplit
func Retire(as *AddrSpace) {
	if atomic.LoadUint64(&as.Magic) != asMagic {
		return
	}
	acquire(&liveLock)
	live[as.slot] = 0
	nLive--
	release(&liveLock)
	atomic.StoreUint64(&as.Magic, 0)
	FreeGlobalASID(as) // destroy_context
}

// FreeAddrSpace frees as: the frames still mapped in its user range (onto out, for the caller to free
// once no TLB can hold them), its page-table pages and its root (poisoned, at once: the caller has
// flushed every CPU that had as loaded and none has it loaded now), and its struct. leakTables is an
// injected bug (inject=leak-pagetable): that many page-table pages are forgotten, not freed.
//
//go:nosplit
func FreeAddrSpace(a *Allocator, as *AddrSpace, out *FrameList, leakTables int) {
	Retire(as)
	root := (*[512]uint64)(Phys(as.Root))
	if e := root[PT.UserSlot]; e&PT.Present != 0 {
		freeTables(a, e&PT.AddrMask, out, leakTables, false)
	}
	freeRoot(a, as.Root)
	a.Free(uint64(uintptr(unsafe.Pointer(as))-uintptr(DirectMap)) >> PageShift)
}

// freeRoot frees a root's frames.
//
//go:nosplit
func freeRoot(a *Allocator, root uint64) {
	for f := root >> PageShift; f < root>>PageShift+rootFrames(); f++ {
		a.Free(f)
	}
}

// freeTables frees the table at pa (one level below the root) and every table under it, depth first
// without recursion (nosplit code may not recurse); mapped frames go onto out, and the tables too
// when deferTables is set.
//
//go:nosplit
func freeTables(a *Allocator, pa uint64, out *FrameList, leak int, deferTables bool) {
	var stack [8]struct {
		pa uint64
		i  int
	}
	stack[0].pa = pa
	depth := 0 // stack[depth] is a table at level depth+1
	for depth >= 0 {
		top := &stack[depth]
		if top.i == 512 {
			switch {
			case leak > 0:
				leak--
			case !deferTables || !out.Push(top.pa>>PageShift):
				a.Free(top.pa >> PageShift)
			}
			depth--
			continue
		}
		e := (*[512]uint64)(Phys(top.pa))[top.i]
		top.i++
		if e&PT.Present == 0 {
			continue
		}
		if depth+1 == PT.Levels-1 || e&PT.Huge != 0 {
			dropFrame(a, (e&PT.AddrMask)>>PageShift, out)
			continue
		}
		depth++
		stack[depth].pa, stack[depth].i = e&PT.AddrMask, 0
	}
}

//go:nosplit
func acquire(l *uint32) {
	for !atomic.CompareAndSwapUint32(l, 0, 1) {
		Relax()
	}
}

//go:nosplit
func release(l *uint32) { atomic.StoreUint32(l, 0) }

// asAt turns an address-space handle (the struct's address, as kept in the live table and in
// TLBState.LoadedMM) back into a pointer. Handles are uintptrs so that trap code storing them runs no
// write barrier; the structs are in frames, which the garbage collector never moves or frees.
//
//go:nosplit
func asAt(p uintptr) *AddrSpace { return (*AddrSpace)(unsafe.Add(nil, p)) }

// Valid reports whether as is a live address space whose ctx_id is ctx: neither freed (poisoned) nor
// freed and reused for another address space.
//
//go:nosplit
func (as *AddrSpace) Valid(ctx uint64) bool {
	return atomic.LoadUint64(&as.Magic) == asMagic && as.CtxID == ctx
}

// Handle is an address space as a plain word (what per-CPU state and task structs keep).
//
//go:nosplit
func (as *AddrSpace) Handle() uintptr { return uintptr(unsafe.Pointer(as)) }

// At turns a handle back into the address space (which may be freed: check Valid).
//
//go:nosplit
func At(h uintptr) *AddrSpace { return asAt(h) }
