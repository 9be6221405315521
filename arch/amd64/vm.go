package amd64

import (
	"lazymm/kernel/paging"
	"lazymm/kernel/shim"
	"lazymm/mm"
)

// The runtime's memory is the shim's (shim/vm.go); here are the x86 parts: the leaf entries it
// writes, the shootdown, and the #PF handler that pages in.
const (
	// userSlot is the PML4 entry each test address space owns (0x4000_0000_0000, 512 GiB): between
	// the runtime's heap hints (odd slots from 1) and mmap(nil)'s range, and never handed out by mmap.
	userSlot = 128
)

// x86-64 PTE bits
const (
	ptePresent = 1 << 0
	pteWrite   = 1 << 1
	pteHuge    = 1 << 7
	pteNX      = 1 << 63
	pteAddr    = 0x000f_ffff_ffff_f000
)

var (
	frameKinds [1 << 20]mm.Kind // 4 GiB of frames

	kernelRoot uint64 // PML4 of InitMM, whose top-level entries every address space shares
)

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

// pageFault handles #PF: demand paging inside a VMA; false means a real fault (crash dump).
//
//go:nosplit
func pageFault(f *Frame) bool {
	const errPresent, errWrite = 1, 2
	if f.Err&errPresent != 0 { // a protection violation: copy-on-write (UserStore's), or real
		return f.Err&errWrite != 0 && userStoreFixup(f)
	}
	va := uintptr(readCR2())
	if paging.ReportPoisonWalk(va) {
		return false // then the crash dump
	}
	if shim.InUserRange(va, 1) { // test pages are mapped by the tests, never on demand; but a
		return userStoreFixup(f) // UserStore may meet a page whose entry another CPU's copy cleared
	}
	if shim.EnsurePage(va, f.Err&errWrite != 0) {
		return true
	}
	if shim.InVMA(va) && mm.Frames.Count(mm.Free) == 0 {
		shim.ConsoleLock() // say why before the crash dump: the fault itself was legitimate
		shim.Puts("lazymm: out of physical memory demand-paging ")
		shim.PutHex(uint64(va))
		shim.Puts("\n")
		shim.ConsoleUnlock()
	}
	return false
}
