package mm

import (
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// The TLB-shootdown protocol of Linux's arch/x86/mm/tlb.c, arch-neutral: the decisions (which ASID,
// whether to flush, whom to interrupt, how much to flush) are made here, on per-CPU state, and the arch
// layer carries them out (CR3 writes, INVLPG, IPIs). On the host the same decisions drive a simulated
// MMU (tlb_test.go).
//
// Every mm has a tlb_gen, bumped by each flush request. Every CPU remembers, per ASID slot, which mm
// (ctx_id) the slot holds and up to which tlb_gen its TLB entries are current. A flush sends IPIs only
// to the CPUs in mm_cpumask that are not lazy; a lazy CPU catches up when it leaves lazy mode by
// comparing its slot's tlb_gen with the mm's.

const (
	NumASIDs     = 6  // TLB_NR_DYN_ASIDS
	FlushCeiling = 33 // tlb_single_page_flush_ceiling: flushes of more pages flush everything
	MaxCPUs      = 64
)

// FlushAll as a range end means the whole address space.
const FlushAll = ^uintptr(0)

// Switching is a CPU's LoadedMM while its page-table base is being changed (LOADED_MM_SWITCHING).
const Switching = uintptr(1)

// ASIDSlot is one dynamic ASID of one CPU (struct tlb_context).
type ASIDSlot struct{ CtxID, TLBGen uint64 }

// TLBState is one CPU's view (cpu_tlbstate and cpu_tlbstate_shared).
type TLBState struct {
	LoadedMM   uintptr // the *AddrSpace in the MMU, or Switching; read by other CPUs' audits
	LoadedASID uint16
	NextASID   uint16
	Lazy       uint32 // is_lazy: running a kernel thread on a borrowed mm; read by flush senders
	Ctxs       [NumASIDs]ASIDSlot
	Stats      TLBStats
	// SlotCtx (PowerCPUMask) is, per live-table slot (POWER's PID), the ctx_id of the address space
	// this CPU last loaded from it: a slot given to another address space is flushed at its first load
	// here, so no entry of the old one survives, whatever the protocol did at its exit.
	SlotCtx [MaxAddrSpaces]uint64
}

// TLBStats counts one CPU's TLB work.
type TLBStats struct {
	IPIsSent, IPIsRecv      uint64 // flush IPIs
	LazySkipped             uint64 // CPUs a flush from here did not interrupt because they were lazy
	RangeFlushes, FullFlush uint64
	PagesFlushed            uint64 // by range flushes
	CR3Flush, CR3NoFlush    uint64 // page-table base writes that flushed the ASID, and that kept it
	LazyCatchups            uint64 // a lazy CPU found its TLB stale when it came back (and flushed)
	LeftLazy                uint64 // a lazy CPU sent to InitMM by a flush of freed tables
	Broadcasts              uint64 // flushes the hardware carried to every CPU (POWER's tlbie), no IPIs
	Trimmed                 uint64 // PowerCPUMask: this CPU's bit cleared from an mm's mask by a trim
	TrimIPIs                uint64 // PowerCPUMask with broadcast flushes: IPIs sent only to trim masks
	HPTERemoves             uint64 // HPTEs removed by flushes (POWER's hash MMU: H_REMOVE)
	AuditCycles             uint64 // spent in the lab's CR3 and lazy audits, which Linux has not: costs exclude them
}

// Add accumulates o into s.
func (s *TLBStats) Add(o *TLBStats) {
	s.IPIsSent += o.IPIsSent
	s.IPIsRecv += o.IPIsRecv
	s.LazySkipped += o.LazySkipped
	s.RangeFlushes += o.RangeFlushes
	s.FullFlush += o.FullFlush
	s.PagesFlushed += o.PagesFlushed
	s.CR3Flush += o.CR3Flush
	s.CR3NoFlush += o.CR3NoFlush
	s.LazyCatchups += o.LazyCatchups
	s.Broadcasts += o.Broadcasts
	s.HPTERemoves += o.HPTERemoves
	s.LeftLazy += o.LeftLazy
	s.Trimmed += o.Trimmed
	s.TrimIPIs += o.TrimIPIs
	s.AuditCycles += o.AuditCycles
}

// Sub takes o from s (for the counts of an interval: the end's totals minus the start's).
func (s *TLBStats) Sub(o *TLBStats) {
	s.IPIsSent -= o.IPIsSent
	s.IPIsRecv -= o.IPIsRecv
	s.LazySkipped -= o.LazySkipped
	s.RangeFlushes -= o.RangeFlushes
	s.FullFlush -= o.FullFlush
	s.PagesFlushed -= o.PagesFlushed
	s.CR3Flush -= o.CR3Flush
	s.CR3NoFlush -= o.CR3NoFlush
	s.LazyCatchups -= o.LazyCatchups
	s.LeftLazy -= o.LeftLazy
	s.Broadcasts -= o.Broadcasts
	s.Trimmed -= o.Trimmed
	s.TrimIPIs -= o.TrimIPIs
	s.HPTERemoves -= o.HPTERemoves
	s.AuditCycles -= o.AuditCycles
}

// TLB is every CPU's state, indexed by CPU.
var TLB [MaxCPUs]TLBState

// PowerCPUMask selects powerpc's mm_cpumask rules over x86's (the ppc64 port sets it at boot):
//   - switch_mm_irqs_off (arch/powerpc/mm/mmu_context.c) sets the CPU's bit in next's mask and never
//     clears prev's: a PID load does not flush, so the CPU may still hold prev's entries, and prev's
//     flushes must keep reaching it;
//   - a flush goes to every CPU in the mask, lazy or not, running the mm or not (radix_tlb.c's
//     _tlbiel_pid_multicast): there is no tlb_gen catch-up;
//   - the mask is trimmed by exit_lazy_flush_tlb: a CPU reached by a trimming flush that does not
//     run the mm clears its bit and flushes the mm's PID (FlushOther). flush_type_needed trims when
//     the initiator runs the mm's only user, and every TrimEvery flushes (the trim clock).
var PowerCPUMask bool

// LazyKeepsRoot (with PowerCPUMask) is Linux's radix at exit_mmap: a lazy CPU keeps its PID, and the
// root behind it, through the freed-tables flush (its TLB and page-walk cache flushed, the root left
// holding only the kernel's shared entries); only its scheme's cleanup moves it off before __mmdrop
// frees the root. Off, a lazy CPU leaves at that flush as on x86 (ppc64's radix-exitleave mode).
var LazyKeepsRoot bool

// MaskHoldsLazy says whether mm_cpumask is a superset of the CPUs using an mm lazily, what
// MMU_LAZY_TLB_SHOOTDOWN's cleanup_lazy_tlbs needs to IPI the mask alone: true where a lazy CPU keeps
// the root, and its bit, until its scheme moves it off (powerpc radix).
//
//go:nosplit
func MaskHoldsLazy() bool { return LazyKeepsRoot || !PowerCPUMask && X86Mainline }

// X86Mainline selects mainline's x86 rules over Linux 6.1's (the amd64 port sets it from the boot
// word tlb=, mainline by default), after Rik van Riel's "x86,tlb: update mm_cpumask lazily" (6.13)
// and its follow-ups:
//   - switch_mm_irqs_off marks LOADED_MM_SWITCHING before it reads the mask and tlb_gen, keeps the
//     CPU's bit in prev's mask, and sets next's only if it is clear;
//   - flush_tlb_func, remote or local, on a CPU that does not run the mm clears its bit instead
//     (TLB_REMOTE_WRONG_CPU);
//   - should_flush_tlb IPIs a CPU of the mask that does not run the mm only when the flush trims,
//     about once a second per mm (should_trim_cpumask);
//   - unuse_temporary_mm clears its own bit of the temporary mm.
//
// Left out: global ASIDs and INVLPGB (the CPUs QEMU emulates have neither).
var X86Mainline bool

// TrimClock and TrimPeriod are mainline x86's jiffies and HZ for should_trim_cpumask: the cycle
// counter and a second of it (the amd64 port sets them; nil: masks are never trimmed by time).
var (
	TrimClock  func() uint64
	TrimPeriod uint64
)

// TrimEvery is tlb_mm_cpumask_trim_timer: a CPU's every TrimEvery-th flush trims the mask.
const TrimEvery = 1073

// Reset puts a CPU's state back to boot: InitMM loaded in ASID 0, no other slot in use. The caller has
// flushed the whole TLB (every ASID) and loaded InitMM's root.
//
//go:nosplit
func (s *TLBState) Reset() {
	s.Ctxs = [NumASIDs]ASIDSlot{}
	s.Ctxs[0] = ASIDSlot{CtxID: InitMM.CtxID, TLBGen: atomic.LoadUint64(&InitMM.TLBGen)}
	s.LoadedASID, s.NextASID = 0, 1
	atomic.StoreUint32(&s.Lazy, 0)
	atomic.StoreUintptr(&s.LoadedMM, uintptr(unsafe.Pointer(&InitMM)))
}

// Loaded returns the address space in this CPU's MMU (nil while switching).
//
//go:nosplit
func (s *TLBState) Loaded() *AddrSpace {
	p := atomic.LoadUintptr(&s.LoadedMM)
	if p == Switching {
		return nil
	}
	return asAt(p)
}

// chooseASID picks next's ASID slot (choose_new_asid): the slot that already holds next, flushing only
// if that slot's tlb_gen is behind; else the next slot round-robin, flushed. Without PCIDs there is one
// slot, always flushed.
//
//go:nosplit
func (s *TLBState) chooseASID(next *AddrSpace, gen uint64, pcid bool) (asid uint16, flush bool) {
	if !pcid {
		return 0, true
	}
	if g := next.GlobalASID(); g != 0 { // kept current by INVLPGB
		return g, false
	}
	for i := range s.Ctxs {
		if s.Ctxs[i].CtxID == next.CtxID {
			return uint16(i), s.Ctxs[i].TLBGen < gen
		}
	}
	asid = s.NextASID
	s.NextASID = asid + 1
	if asid >= NumASIDs {
		asid, s.NextASID = 0, 1
	}
	return asid, true
}

// Switch is what switch_mm_irqs_off decided: load next's root into the MMU under ASID, with or without
// flushing that ASID's entries. Load false means nothing to do.
type Switch struct {
	Load  bool
	Flush bool
	ASID  uint16
}

// SwitchMM is switch_mm_irqs_off's bookkeeping on CPU cpu, interrupts off. After carrying out the
// returned Switch the arch calls SwitchDone. skipCatchup is an injected bug (inject=skip-lazy-catchup):
// a lazy CPU coming back to its mm trusts its TLB without checking tlb_gen.
//
//go:nosplit
func (s *TLBState) SwitchMM(cpu int, next *AddrSpace, pcid, skipCatchup bool) Switch {
	prev := s.Loaded()
	wasLazy := atomic.SwapUint32(&s.Lazy, 0) != 0 // a seq-cst swap: orders the flag before the tlb_gen read
	if PowerCPUMask {
		// powerpc's switch_mm_irqs_off: next's bit set (a seq-cst or: Linux's smp_mb after
		// cpumask_set_cpu, so a flush that clears a PTE and then reads the mask either sees the bit or
		// this CPU's walks see the cleared PTE), prev's kept. The load flushes nothing (but the first of
		// a reused slot, SlotCtx): every flush of next since this CPU's bit was set has reached it, and
		// a lazy CPU got them all too. Inline:
		// the trap path's nosplit budget has no frame to spare here.
		if prev == next {
			return Switch{}
		}
		sw := Switch{Load: true}
		if next != &InitMM {
			if bit := uint64(1) << uint(cpu); atomic.LoadUint64(&next.CPUMask)&bit == 0 {
				atomic.OrUint64(&next.CPUMask, bit)
			}
			if c := &s.SlotCtx[next.slot]; *c != next.CtxID {
				*c, sw.Flush = next.CtxID, true
			}
		}
		atomic.StoreUintptr(&s.LoadedMM, Switching)
		if sw.Flush {
			s.Stats.CR3Flush++
		} else {
			s.Stats.CR3NoFlush++
		}
		return sw
	}
	var asid uint16
	var flush bool
	var gen uint64
	if prev == next && needsGlobalReload(next, s.LoadedASID) { // moving to its global ASID
		atomic.StoreUintptr(&s.LoadedMM, Switching)
		s.Stats.CR3NoFlush++
		return Switch{Load: true, ASID: next.GlobalASID()}
	}
	if prev == next {
		if !wasLazy || skipCatchup || IsGlobalASID(s.LoadedASID) {
			return Switch{}
		}
		// Lazy CPUs get no flush IPIs: check whether flushes happened meanwhile.
		gen = atomic.LoadUint64(&next.TLBGen)
		if s.Ctxs[s.LoadedASID].TLBGen == gen {
			return Switch{}
		}
		s.Stats.LazyCatchups++
		asid, flush = s.LoadedASID, true
	} else {
		bit := uint64(1) << uint(cpu)
		if X86Mainline { // the window flushes and nmi_uaccess_okay must see, before the mask
			atomic.StoreUintptr(&s.LoadedMM, Switching)
		} else if prev != nil && prev != &InitMM {
			atomic.AndUint64(&prev.CPUMask, ^bit) // stop remote flushes for prev
		}
		if next != &InitMM && (!X86Mainline || atomic.LoadUint64(&next.CPUMask)&bit == 0) {
			atomic.OrUint64(&next.CPUMask, bit) // start remote flushes, then read tlb_gen
		}
		gen = atomic.LoadUint64(&next.TLBGen)
		asid, flush = s.chooseASID(next, gen, pcid)
		if !X86Mainline { // 6.1 marks the switch after the mask and tlb_gen; mainline did above
			atomic.StoreUintptr(&s.LoadedMM, Switching)
		}
	}
	if flush {
		s.Ctxs[asid] = ASIDSlot{CtxID: next.CtxID, TLBGen: gen}
		s.Stats.CR3Flush++
	} else {
		s.Stats.CR3NoFlush++
	}
	return Switch{Load: true, Flush: flush, ASID: asid}
}

// cpu is the index of s in TLB (a CPU's own state; the flush paths pass no more than it, for their
// nosplit budget).
//
//go:nosplit
func (s *TLBState) cpu() int {
	return int((uintptr(unsafe.Pointer(s)) - uintptr(unsafe.Pointer(&TLB[0]))) / unsafe.Sizeof(TLB[0]))
}

// Trim is the mask half of exit_lazy_flush_tlb on CPU cpu, which does not run as: its bit is cleared
// (the caller flushes as's PID, which is why the bit may go).
//
//go:nosplit
func (s *TLBState) Trim(cpu int, as *AddrSpace) {
	if bit := uint64(1) << uint(cpu); atomic.LoadUint64(&as.CPUMask)&bit != 0 {
		atomic.AndUint64(&as.CPUMask, ^bit)
		s.Stats.Trimmed++
	}
}

// UnuseTemporary is mainline x86's unuse_temporary_mm after its switch back: the CPU clears its own
// bit of the temporary mm (text_poke's poking_mm), "to indicate no TLB flushing is needed anywhere".
//
//go:nosplit
func UnuseTemporary(cpu int, tmp *AddrSpace) {
	if X86Mainline && !PowerCPUMask {
		atomic.AndUint64(&tmp.CPUMask, ^(uint64(1) << uint(cpu)))
	}
}

// SwitchDone records that next is in the MMU under asid (after the base register was written).
//
//go:nosplit
func (s *TLBState) SwitchDone(next *AddrSpace, asid uint16) {
	s.LoadedASID = asid
	atomic.StoreUintptr(&s.LoadedMM, uintptr(unsafe.Pointer(next)))
}

// EnterLazy is enter_lazy_tlb: the CPU runs a kernel thread and keeps the mm loaded.
//
//go:nosplit
func (s *TLBState) EnterLazy() {
	if s.Loaded() != &InitMM {
		atomic.StoreUint32(&s.Lazy, 1)
	}
}

// FlushInfo is one flush request (struct flush_tlb_info).
type FlushInfo struct {
	MM          uintptr // *AddrSpace
	Start, End  uintptr // End FlushAll: everything
	NewGen      uint64  // the mm's tlb_gen this request brought it to
	FreedTables bool    // page tables were freed: lazy CPUs must be interrupted too
	Unlazy      bool    // the lazy CPUs it reaches also drop the mm as active_mm (exit-flush-unlazy)
	Trim        bool    // CPUs it reaches that do not run the mm leave its mask (POWER, mainline x86)
	Initiator   int
}

// Pages returns how many pages a range request covers.
//
//go:nosplit
func (f *FlushInfo) Pages() uint64 {
	if f.End == FlushAll {
		return 0
	}
	return uint64(f.End-f.Start) >> PageShift
}

// NewFlush is flush_tlb_mm_range's first half: widen big ranges to a full flush and bump the mm's
// tlb_gen (inc_mm_tlb_gen).
//
//go:nosplit
func NewFlush(as *AddrSpace, start, end uintptr, freedTables bool, cpu int) FlushInfo {
	if end == FlushAll || (end-start)>>PageShift > FlushCeiling {
		start, end = 0, FlushAll
	}
	gen := atomic.AddUint64(&as.TLBGen, 1)
	return FlushInfo{MM: uintptr(unsafe.Pointer(as)), Start: start, End: end, NewGen: gen, FreedTables: freedTables, Initiator: cpu}
}

// IPITargets is native_flush_tlb_multi's choice: the CPUs of mm_cpumask among the first online, but
// self, and, unless page tables were freed, but the lazy ones (which catch up at their next switch).
//
//go:nosplit
func IPITargets(f *FlushInfo, self, online int) (targets, lazy uint64) {
	as := asAt(f.MM)
	mask := atomic.LoadUint64(&as.CPUMask) &^ (1 << uint(self))
	if online < 64 {
		mask &= 1<<uint(online) - 1
	}
	if PowerCPUMask {
		return mask, 0 // lazy CPUs too: they catch up by nothing else
	}
	if f.FreedTables || as.InASIDTransition() {
		return mask, 0
	}
	lazy = LazyIn(mask)
	if X86Mainline {
		return mask &^ lazy &^ notRunning(f, mask&^lazy), lazy
	}
	return mask &^ lazy, lazy
}

// notRunning is mainline's should_flush_tlb for the CPUs of mask that are not lazy: those that have
// neither f's mm loaded nor a switch under way, unless the flush trims the mask (they clear their
// bits then). Linux 6.1.192 has the same test, but its switch clears the bit, so it rarely matters.
//
//go:nosplit
func notRunning(f *FlushInfo, mask uint64) (out uint64) {
	if f.Trim {
		return 0
	}
	for m := mask; m != 0; m &= m - 1 {
		cpu := bits.TrailingZeros64(m)
		if p := atomic.LoadUintptr(&TLB[cpu].LoadedMM); p != f.MM && p != Switching {
			out |= 1 << uint(cpu)
		}
	}
	return out
}

// SelfFlush is whether the initiator flushes itself, as flush_tlb_mm_range (6.1) decides. With other
// CPUs in mm_cpumask, flush_tlb_multi treats it as one of them: it flushes when it is in the mask and
// not lazy, or page tables were freed (on_each_cpu_cond_mask's tlb_is_not_lazy; a lazy CPU's flush is
// the move to init_mm). Alone in the mask, it flushes when it has the mm loaded. POWER: whenever it
// has the mm loaded or its bit set (it may keep entries of an mm it left: on_each_cpu_mask).
//
//go:nosplit
func SelfFlush(f *FlushInfo, self int) bool {
	as := asAt(f.MM)
	mask := atomic.LoadUint64(&as.CPUMask)
	in, loaded := mask&(1<<uint(self)) != 0, TLB[self].Loaded() == as
	switch {
	case PowerCPUMask:
		return loaded || in
	case mask&^(1<<uint(self)) != 0 && X86Mainline:
		return in && (f.FreedTables || atomic.LoadUint32(&TLB[self].Lazy) == 0 && (loaded || f.Trim))
	case mask&^(1<<uint(self)) != 0:
		return in && (f.FreedTables || atomic.LoadUint32(&TLB[self].Lazy) == 0)
	}
	return loaded
}

// LazyIn is the CPUs of mask that are lazy.
//
//go:nosplit
func LazyIn(mask uint64) (lazy uint64) {
	for m := mask; m != 0; m &= m - 1 {
		cpu := bits.TrailingZeros64(m)
		if atomic.LoadUint32(&TLB[cpu].Lazy) != 0 {
			lazy |= 1 << uint(cpu)
		}
	}
	return lazy
}

// FlushKind is what flush_tlb_func decided for this CPU.
type FlushKind uint8

const (
	FlushNone      FlushKind = iota
	FlushRange               // invalidate [Start, End) in the loaded ASID
	FlushFull                // invalidate the loaded ASID
	FlushLeaveLazy           // lazy with freed tables: switch to InitMM
	FlushOther               // PowerCPUMask: invalidate the mm's context, which is not loaded here
)

// FlushFunc is flush_tlb_func on this CPU, interrupts off: from the flush IPI, or locally by the
// initiator. It brings the loaded ASID's tlb_gen up to the mm's, by a range flush when f is the only
// request this CPU missed, else by a full flush. Under mainline's rules a CPU that does not run f's
// mm clears its bit of the mm's mask instead ("the CPU was left in the mm_cpumask of the target mm").
//
//go:nosplit
func (s *TLBState) FlushFunc(f *FlushInfo) FlushKind {
	if PowerCPUMask {
		return s.flushPower(f)
	}
	p := atomic.LoadUintptr(&s.LoadedMM)
	if X86Mainline && f.MM != 0 && f.MM != p {
		s.Trim(s.cpu(), asAt(f.MM))
		return FlushNone
	}
	if p == Switching || p == uintptr(unsafe.Pointer(&InitMM)) || (f.MM != 0 && f.MM != p) {
		return FlushNone // nothing of f's mm is loaded here (any more)
	}
	if IsGlobalASID(s.LoadedASID) {
		return FlushNone // "Broadcast ASIDs are always kept up to date with INVLPGB"
	}
	if atomic.LoadUint32(&s.Lazy) != 0 {
		s.Stats.LeftLazy++
		return FlushLeaveLazy
	}
	loaded := asAt(p)
	slot := &s.Ctxs[s.LoadedASID]
	mmGen := atomic.LoadUint64(&loaded.TLBGen)
	local := slot.TLBGen
	if local == mmGen || f.NewGen != 0 && f.NewGen <= local {
		return FlushNone // an earlier flush covered it
	}
	if f.End != FlushAll && f.NewGen == local+1 && f.NewGen == mmGen {
		slot.TLBGen = f.NewGen
		s.Stats.RangeFlushes++
		s.Stats.PagesFlushed += f.Pages()
		return FlushRange
	}
	slot.TLBGen = mmGen
	s.Stats.FullFlush++
	return FlushFull
}

// flushPower is the IPI side of radix_tlb.c's flushes (do_tlbiel_pid, do_tlbiel_va_range) and of
// do_exit_flush_lazy_tlb. A lazy CPU leaves the mm at exit-flush-unlazy's exit flush; at a flush of
// freed tables it keeps the mm and flushes its PID (LazyKeepsRoot, Linux's radix) or leaves as on x86.
// A CPU not running the mm flushes its PID, the entries it may keep from before, and leaves the mask
// if the flush trims (the caller calls Trim when it has switched a lazy CPU away).
//
//go:nosplit
func (s *TLBState) flushPower(f *FlushInfo) FlushKind {
	if atomic.LoadUintptr(&s.LoadedMM) == f.MM {
		if atomic.LoadUint32(&s.Lazy) != 0 && (f.Unlazy || f.FreedTables && !LazyKeepsRoot) {
			s.Stats.LeftLazy++
			return FlushLeaveLazy
		}
		if f.End == FlushAll || f.FreedTables {
			s.Stats.FullFlush++
			return FlushFull
		}
		s.Stats.RangeFlushes++
		s.Stats.PagesFlushed += f.Pages()
		return FlushRange
	}
	s.Stats.FullFlush++
	return FlushOther
}

// Gather batches the ranges of one unmap or protect pass into one flush (struct mmu_gather): the
// union of the ranges is flushed once, or everything beyond the ceiling.
type Gather struct {
	Start, End  uintptr
	Pages       uint64 // pages whose entries changed
	FreedTables bool
	Unlazy      bool // see FlushInfo
}

// Add records that n entries in [start, end) changed.
//
//go:nosplit
func (g *Gather) Add(start, end uintptr, n uint64) {
	if n == 0 {
		return
	}
	if g.Pages == 0 || start < g.Start {
		g.Start = start
	}
	if g.Pages == 0 || end > g.End {
		g.End = end
	}
	g.Pages += n
}

// Empty reports whether nothing needs flushing.
//
//go:nosplit
func (g *Gather) Empty() bool { return g.Pages == 0 && !g.FreedTables && !g.Unlazy }
