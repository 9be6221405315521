package shim

import (
	"unsafe"

	"lazymm/mm"
)

// The hosted runtime's memory: mmap reserves virtual ranges (VMAs), pages are allocated on first touch
// (EnsurePage, from the arch's fault handler or before the kernel dereferences a runtime pointer),
// munmap and MADV_DONTNEED really drop them (the GC relies on zero refaults). All of it lives in
// InitMM's tables, above the arch's mapping of physical memory, in the same 48-bit layout on amd64
// (4-level x86-64 tables) and ppc64 (a 4-level radix tree with a 512-entry root).
const (
	mmapLo    = 1 << 32          // below: the map of RAM and MMIO
	mmapHi    = 0x7fff_0000_0000 // the 48-bit lower half
	mmapAnyLo = 0x7e00_0000_0000 // where mmap(nil) allocations go
	protMask  = mm.ProtRead | mm.ProtWrite | mm.ProtExec
)

// InUserRange reports whether [a, a+n) overlaps the test address spaces' user range, which mmap never
// hands out and the fault handler never pages in.
//
//go:nosplit
func InUserRange(a, n uintptr) bool { return a < mm.UserEnd() && a+n > mm.UserBase() }

var (
	vmas        mm.VMAs
	pendingFree mm.FrameList // frames unmapped, waiting for the TLB shootdown before they are freed

	// SkipShootdown is an injected bug (inject=no-shootdown): other CPUs keep stale translations
	// after munmap/MADV_DONTNEED. smp/shootdown must catch it.
	SkipShootdown bool
	// WriteAfterFree is an injected bug (inject=write-after-free): one write into the first frame
	// freed after boot. The quarantine's poison check must catch it.
	WriteAfterFree bool
)

//go:nosplit
func pageAlign(n uintptr) uintptr { return (n + 0xfff) &^ 0xfff }

//go:nosplit
func mmap(addr, n uintptr, prot, flags uint32) int64 {
	const mapFixed, mapAnon = 0x10, 0x20
	if flags&mapAnon == 0 {
		return -19 // ENODEV: only anonymous memory
	}
	if n == 0 || addr&0xfff != 0 {
		return -eINVAL
	}
	n = pageAlign(n)
	switch {
	case flags&mapFixed != 0:
		if addr < mmapLo || addr+n > mmapHi || addr+n < addr || InUserRange(addr, n) {
			return -eINVAL
		}
		deferDrop(addr, addr+n)
	case addr >= mmapLo && addr+n <= mmapHi && addr+n > addr && !InUserRange(addr, n) && !vmas.Overlaps(addr, addr+n):
		// the hint is free: take it (the runtime's heap arena hints depend on this)
	default:
		a, ok := vmas.FindFree(n, mmapAnyLo, mmapHi)
		if !ok {
			return -eNOMEM
		}
		addr = a
	}
	if !vmas.Set(addr, addr+n, prot&protMask) {
		return -eNOMEM
	}
	return int64(addr)
}

//go:nosplit
func munmap(addr, n uintptr) int64 {
	if addr&0xfff != 0 || n == 0 {
		return -eINVAL
	}
	n = pageAlign(n)
	deferDrop(addr, addr+n)
	vmas.Remove(addr, addr+n)
	return 0
}

//go:nosplit
func madvise(addr, n uintptr, advice int64) int64 {
	const dontNeed = 4
	if advice == dontNeed {
		deferDrop(addr, addr+pageAlign(n))
	}
	return 0 // others (hugepage hints, MADV_FREE's laziness) are performance hints
}

// The range the memory call in progress unmaps: mmap, munmap and madvise only note it, and Syscall
// drops it when the call is done, one frame up (the trap path's nosplit stack budget is tight, and
// the drop's shootdown is its deepest path). One system call at a time runs: the kernel lock.
var dropStart, dropEnd uintptr

//go:nosplit
func deferDrop(start, end uintptr) { dropStart, dropEnd = start, end }

// dropDeferred drops the range a memory call noted, if any.
//
//go:nosplit
func dropDeferred() {
	if dropEnd != 0 {
		start, end := dropStart, dropEnd
		dropStart, dropEnd = 0, 0
		dropPages(start, end)
	}
}

// dropPages unmaps [start, end), shoots the translations down on every CPU, and frees the frames.
// The frames are freed only after every other CPU has flushed: until then one of them could still
// read or write the old frame through a stale TLB entry (and a refault must read zeroes). Its steps
// are separate functions so the deepest, the shootdown, starts from a small frame (the trap path's
// nosplit stack budget is tight).
//
//go:nosplit
func dropPages(start, end uintptr) {
	if clearPages(start, end) {
		archShootdown(start, end, !SkipShootdown)
		freePending()
	}
}

//go:nosplit
func clearPages(start, end uintptr) bool {
	return mm.ClearRange(&mm.Frames, mm.InitMM.Root, start, end, &pendingFree) != 0
}

//go:nosplit
func freePending() {
	first, ok := pendingFree.First()
	pendingFree.FreeAll(&mm.Frames)
	if ok && WriteAfterFree {
		WriteAfterFree = false
		*(*uint64)(mm.Phys(first<<12 + 64)) = 0x5eed // into a quarantined frame
	}
}

// EnsurePage makes va present if its VMA allows the access, allocating a zeroed frame (demand paging).
//
//go:nosplit
func EnsurePage(va uintptr, write bool) bool {
	v, ok := vmas.Find(va)
	if !ok {
		// not an mmap region: the identity-mapped kernel image and RAM are always present
		_, present := mm.Translate(mm.InitMM.Root, va)
		return present
	}
	if v.Prot == 0 || write && v.Prot&mm.ProtWrite == 0 {
		return false
	}
	top := &(*[512]uint64)(mm.Phys(mm.InitMM.Root))[va>>39&511]
	hadTop := *top&mm.PT.Present != 0
	p := mm.Walk(&mm.Frames, mm.InitMM.Root, va&^0xfff, true)
	if !hadTop && *top&mm.PT.Present != 0 {
		mm.SyncKernelEntry(va) // a new top-level entry: every address space must see it (sync_global_pgds)
	}
	if p == nil {
		return false
	}
	if *p&mm.PT.Present != 0 {
		return true
	}
	if !mapZeroed(p, v.Prot) {
		return false
	}
	faultAround(p, va, v)
	return true
}

// faultAroundPages is the aligned block a fault fills (64 KiB, as an anonymous fault with a 64 KiB
// mTHP folio size enabled in Linux): the runtime touches its heap in order, and every trap saved is
// most of a page's cost under QEMU's TCG.
const faultAroundPages = 16

// faultAround maps the absent pages of va's aligned block that lie in v, beside the one at p (va's
// leaf). A block never straddles a page table: 16 leaves of 512.
//
//go:nosplit
func faultAround(p *uint64, va uintptr, v mm.VMA) {
	idx := int(va >> 12 % faultAroundPages)
	base := va&^0xfff - uintptr(idx)<<12
	for i := 0; i < faultAroundPages; i++ {
		a := base + uintptr(i)<<12
		q := (*uint64)(unsafe.Add(unsafe.Pointer(p), (i-idx)*8))
		if i == idx || a < v.Start || a >= v.End || *q&mm.PT.Present != 0 {
			continue
		}
		if !mapZeroed(q, v.Prot) {
			return // out of frames: the faulting page is mapped, the rest can fault
		}
	}
}

// mapZeroed points leaf p at a new zeroed frame.
//
//go:nosplit
func mapZeroed(p *uint64, prot uint32) bool {
	f, ok := mm.Frames.Alloc(mm.Runtime)
	if !ok {
		return false
	}
	mm.ZeroFrame(f)
	*p = archLeaf(f, prot)
	return true
}

// InVMA says whether va is inside a mapping of the runtime's.
//
//go:nosplit
func InVMA(va uintptr) bool {
	_, ok := vmas.Find(va)
	return ok
}
