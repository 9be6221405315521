package machine

import (
	"errors"

	"lazymm/mm"
)

// Paging is the machine's MMU as the TLB experiments drive it: address spaces built by mm/ in real page
// tables, loaded into the real page-table base register, flushed by the real shootdown protocol
// (mm/tlb.go's decisions, the arch's CR3 writes, INVLPGs and IPIs). Every method acts on the calling
// CPU; the caller is pinned (Pin, RunPinned).
type Paging interface {
	// AddressSpaces is nil when the arch has test address spaces (NewMM and the rest below), else why
	// not: the tests that need them are then skipped with that reason.
	AddressSpaces() error
	PCID() (supported, on bool) // the CPU has PCIDs; they are in use
	SetPCID(on bool) error      // every CPU to InitMM, PCIDs on or off, every TLB flushed
	NewMM() (*mm.AddrSpace, error)
	// FreeMM is exit_mmap and the final free: unmap everything with a flush that reaches lazy CPUs
	// too (freed tables), audit every CPU's CR3 (none may hold the root now), free tables and struct.
	FreeMM(as *mm.AddrSpace)
	// ExitMMap is exit_mmap alone: the user range's pages and tables go, with a flush of freed tables
	// (lazy CPUs too leave for InitMM; with unlazy they also drop the mm as active_mm: ShootLazy).
	ExitMMap(as *mm.AddrSpace, unlazy bool)
	// FreePGD is __mmdrop's end: audit every CPU's CR3, then free the root and the struct.
	FreePGD(as *mm.AddrSpace)
	IRQSave() uint64 // interrupts off on this CPU, returning what IRQRestore needs (local_irq_save)
	IRQRestore(flags uint64)
	AllocFrames(n int, k mm.Kind) ([]uint64, error)
	FreeFrames(f []uint64)
	Map(as *mm.AddrSpace, va uintptr, frame uint64, write bool) error
	// Unmap is munmap: it clears [start, end), frees the page tables no VMA needs any more and runs
	// flush_tlb_mm_range (freed tables: lazy CPUs too, on x86); the frames it returns may be reused.
	Unmap(as *mm.AddrSpace, start, end uintptr) []uint64
	// ForkMM is fork's dup_mmap: a new address space sharing as's pages copy-on-write (write-protected
	// in both), then flush_tlb_mm(as). Writes to them fault; the arch's fault handler copies.
	ForkMM(as *mm.AddrSpace) (*mm.AddrSpace, error)
	// UserStore writes v at va (a user address of the loaded mm) through the MMU, as a user store
	// would; false when it took a write fault on a present page (copy-on-write, or a real one), which
	// the fault handler handed back here (an exception-table fixup): WriteFault handles it, and the
	// caller retries.
	UserStore(va uintptr, v uint64) bool
	// WriteFault is handle_mm_fault for such a fault: do_wp_page; false when the fault is real.
	WriteFault(va uintptr) bool
	// Protect changes write permission on [start, end), flushing like Unmap; it returns the entries changed.
	Protect(as *mm.AddrSpace, start, end uintptr, write bool) int
	SwitchMM(as *mm.AddrSpace) // switch_mm_irqs_off; nil is InitMM
	// IRQsOffActivateMM is the arch's ARCH_WANT_IRQS_OFF_ACTIVATE_MM: exec's activate_mm runs with
	// interrupts off (powerpc), not after they are enabled again (x86).
	IRQsOffActivateMM() bool
	EnterLazy() // enter_lazy_tlb
	// AuditCR3 runs the freed-page-table detector on every CPU now (a cross-call) and returns what it
	// and the periodic (timer) audits found since the last call, with how many audits ran.
	AuditCR3() (findings []string, runs uint64)
	TLBStats(cpu int) mm.TLBStats
	// ProbeBroadcast remaps va of as to frame and invalidates it by one hardware broadcast alone (no
	// protocol, no injected bug): the frame mapped before, or false where flushes are not broadcast.
	ProbeBroadcast(as *mm.AddrSpace, va uintptr, frame uint64) (uint64, bool)
}

// TLBTotals sums the TLB counters of CPUs [0, n).
func TLBTotals(n int) mm.TLBStats {
	var s mm.TLBStats
	for cpu := 0; cpu < n; cpu++ {
		x := M.TLBStats(cpu)
		s.Add(&x)
	}
	return s
}

var errNoPaging = errors.New("not on bare metal: no MMU to drive")

// NoPaging is Paging for a machine without test address spaces (the host; an arch whose MMU half is
// still to come): AddressSpaces says why, every other call fails with that reason or does nothing.
type NoPaging struct{ Reason error }

func (p NoPaging) AddressSpaces() error                            { return p.Reason }
func (NoPaging) PCID() (bool, bool)                                { return false, false }
func (NoPaging) IRQsOffActivateMM() bool                           { return false }
func (p NoPaging) SetPCID(bool) error                              { return p.Reason }
func (p NoPaging) NewMM() (*mm.AddrSpace, error)                   { return nil, p.Reason }
func (NoPaging) FreeMM(*mm.AddrSpace)                              {}
func (NoPaging) ExitMMap(*mm.AddrSpace, bool)                      {}
func (NoPaging) FreePGD(*mm.AddrSpace)                             {}
func (NoPaging) IRQSave() uint64                                   { return 0 }
func (NoPaging) IRQRestore(uint64)                                 {}
func (p NoPaging) AllocFrames(int, mm.Kind) ([]uint64, error)      { return nil, p.Reason }
func (NoPaging) FreeFrames([]uint64)                               {}
func (p NoPaging) Map(*mm.AddrSpace, uintptr, uint64, bool) error  { return p.Reason }
func (NoPaging) Unmap(*mm.AddrSpace, uintptr, uintptr) []uint64    { return nil }
func (p NoPaging) ForkMM(*mm.AddrSpace) (*mm.AddrSpace, error)     { return nil, p.Reason }
func (NoPaging) UserStore(uintptr, uint64) bool                    { return false }
func (NoPaging) WriteFault(uintptr) bool                           { return false }
func (NoPaging) Protect(*mm.AddrSpace, uintptr, uintptr, bool) int { return 0 }
func (NoPaging) SwitchMM(*mm.AddrSpace)                            {}
func (NoPaging) EnterLazy()                                        {}
func (NoPaging) AuditCR3() ([]string, uint64)                      { return nil, 0 }
func (NoPaging) TLBStats(int) mm.TLBStats                          { return mm.TLBStats{} }
func (NoPaging) ProbeBroadcast(*mm.AddrSpace, uintptr, uint64) (uint64, bool) {
	return 0, false
}
