package amd64

import (
	"lazymm/mm"
	"lazymm/shim"
)

// The hosted runtime's memory: mmap reserves virtual ranges (VMAs), pages are allocated on first touch
// by the #PF handler, munmap and MADV_DONTNEED really drop them (the GC relies on zero refaults).
// All of it lives in the kernel's one address space, above the identity map of physical memory.
const (
	mmapLo    = 1 << 32          // below: identity map of RAM and MMIO
	mmapHi    = 0x7fff_0000_0000 // canonical lower half
	mmapAnyLo = 0x7e00_0000_0000 // where mmap(nil) allocations go
	protMask  = mm.ProtRead | mm.ProtWrite | mm.ProtExec

	// userSlot is the PML4 entry each test address space owns (0x4000_0000_0000, 512 GiB): between
	// the runtime's heap hints (odd slots from 1) and mmap(nil)'s range, and never handed out by mmap.
	userSlot = 128
)

// inUserRange reports whether [a, a+n) overlaps the test address spaces' user range.
//
//go:nosplit
func inUserRange(a, n uintptr) bool { return a < mm.UserEnd() && a+n > mm.UserBase() }

// x86-64 PTE bits
const (
	ptePresent = 1 << 0
	pteWrite   = 1 << 1
	pteHuge    = 1 << 7
	pteNX      = 1 << 63
	pteAddr    = 0x000f_ffff_ffff_f000
)

var (
	frames      mm.Allocator
	frameKinds  [1 << 20]mm.Kind // 4 GiB of frames
	vmas        mm.VMAs
	pendingFree mm.FrameList // frames unmapped, waiting for the TLB shootdown before they are freed

	// skipShootdown is an injected bug (inject=no-shootdown): other CPUs keep stale translations
	// after munmap/MADV_DONTNEED. smp/shootdown must catch it.
	skipShootdown bool
	// writeAfterFree is an injected bug (inject=write-after-free): one write into the first frame
	// freed after boot. The quarantine's poison check must catch it.
	writeAfterFree bool
	// leakTables is an injected bug (inject=leak-pagetable): freeing an address space forgets one of
	// its page-table pages. The leak check must catch it.
	leakTables bool
	kernelRoot uint64 // PML4 of InitMM, whose top-level entries every address space shares
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
		return -shim.EINVAL
	}
	n = pageAlign(n)
	switch {
	case flags&mapFixed != 0:
		if addr < mmapLo || addr+n > mmapHi || addr+n < addr || inUserRange(addr, n) {
			return -shim.EINVAL
		}
		dropPages(addr, addr+n)
	case addr >= mmapLo && addr+n <= mmapHi && addr+n > addr && !inUserRange(addr, n) && !vmas.Overlaps(addr, addr+n):
		// the hint is free: take it (the runtime's heap arena hints depend on this)
	default:
		a, ok := vmas.FindFree(n, mmapAnyLo, mmapHi)
		if !ok {
			return -shim.ENOMEM
		}
		addr = a
	}
	if !vmas.Set(addr, addr+n, prot&protMask) {
		return -shim.ENOMEM
	}
	return int64(addr)
}

//go:nosplit
func munmap(addr, n uintptr) int64 {
	if addr&0xfff != 0 || n == 0 {
		return -shim.EINVAL
	}
	n = pageAlign(n)
	dropPages(addr, addr+n)
	vmas.Remove(addr, addr+n)
	return 0
}

//go:nosplit
func madvise(addr, n uintptr, advice int64) int64 {
	const dontNeed = 4
	if advice == dontNeed {
		dropPages(addr, addr+pageAlign(n))
	}
	return 0 // others (hugepage hints, MADV_FREE's laziness) are performance hints
}

// dropPages unmaps [start, end), shoots the translations down on every CPU, and frees the frames.
// The frames are freed only after every other CPU has flushed: until then one of them could still
// read or write the old frame through a stale TLB entry (and a refault must read zeroes).
//
//go:nosplit
func dropPages(start, end uintptr) {
	if mm.ClearRange(&frames, kernelRoot, start, end, &pendingFree) == 0 {
		return
	}
	flushTLB(start, end)
	if shim.OnlineCPUs > 1 && !skipShootdown {
		others := (uint64(1)<<uint(shim.OnlineCPUs) - 1) &^ (1 << thisCPU().id)
		postCall(others, callFlushTLB, 0, true)
	}
	first, ok := pendingFree.First()
	pendingFree.FreeAll(&frames)
	if ok && writeAfterFree {
		writeAfterFree = false
		*(*uint64)(mm.Phys(first<<12 + 64)) = 0x5eed // into a quarantined frame
	}
}

//go:nosplit
func flushTLB(start, end uintptr) {
	if end-start <= 32*0x1000 {
		for va := start; va < end; va += 0x1000 {
			invlpg(va)
		}
		return
	}
	flushGlobal() // the runtime's mappings are global: a CR3 write would keep them
}

// ensurePage makes va present if its VMA allows the access, allocating a zeroed frame (demand paging).
//
//go:nosplit
func ensurePage(va uintptr, write bool) bool {
	v, ok := vmas.Find(va)
	if !ok {
		// not an mmap region: the identity-mapped kernel image and RAM are always present
		_, present := mm.Translate(kernelRoot, va)
		return present
	}
	if v.Prot == 0 || write && v.Prot&mm.ProtWrite == 0 {
		return false
	}
	top := &(*[512]uint64)(mm.Phys(kernelRoot))[va>>39&511]
	hadTop := *top&ptePresent != 0
	p := mm.Walk(&frames, kernelRoot, va&^0xfff, true)
	if !hadTop && *top&ptePresent != 0 {
		mm.SyncKernelEntry(va) // a new top-level entry: every address space must see it (sync_global_pgds)
	}
	if p == nil {
		return false
	}
	if *p&ptePresent != 0 {
		return true
	}
	f, ok := frames.Alloc(mm.Runtime)
	if !ok {
		return false
	}
	mm.ZeroFrame(f)
	pte := f<<12 | ptePresent | globalBits()
	if v.Prot&mm.ProtWrite != 0 {
		pte |= pteWrite
	}
	if v.Prot&mm.ProtExec == 0 {
		pte |= pteNX
	}
	*p = pte
	return true
}

// pageFault handles #PF: demand paging inside a VMA; false means a real fault (crash dump).
//
//go:nosplit
func pageFault(f *Frame) bool {
	const errPresent, errWrite = 1, 2
	if f.Err&errPresent != 0 {
		return false // protection violation on a present page
	}
	va := uintptr(readCR2())
	if level, table := poisonWalk(va); level >= 0 {
		// the freed-page-table detector, in trap context: a fail line for the running test (the
		// runner charges name=- to it), then the crash dump
		shim.ConsoleLock()
		shim.Puts("LZ1 fail name=- check=poison-walk cpu=")
		shim.PutDec(thisCPU().id)
		shim.Puts(" loc=pageFault detail=\"the page walk for ")
		shim.PutHex(uint64(va))
		shim.Puts(" went through freed page-table frame ")
		shim.PutHex(table)
		shim.Puts(" (level ")
		shim.PutDec(uint64(level))
		shim.Puts(" below the root; its poisoned entries are not present)\"\n")
		shim.ConsoleUnlock()
		return false
	}
	if inUserRange(va, 1) {
		return false // test pages are mapped by the tests, never on demand
	}
	if ensurePage(va, f.Err&errWrite != 0) {
		return true
	}
	if _, inVMA := vmas.Find(va); inVMA && frames.Count(mm.Free) == 0 {
		shim.ConsoleLock() // say why before the crash dump: the fault itself was legitimate
		shim.Puts("lazymm: out of physical memory demand-paging ")
		shim.PutHex(uint64(va))
		shim.Puts("\n")
		shim.ConsoleUnlock()
	}
	return false
}
