package amd64

import (
	"unsafe"

	"lazymm/kernel/ktest"
	"lazymm/kernel/machine"
	"lazymm/kernel/paging"
	"lazymm/kernel/shim"
	"lazymm/mm"
)

// The boot line reports the command line's true length: the loader's whole line, even past what the
// shim keeps.
func init() { ktest.CmdlineGiven = shim.CmdlineGiven }

// Boot: bootMain runs on the boot stack before the Go runtime exists (g is nil, nothing may allocate or
// check the stack), sets the machine up, and returns the initial stack pointer for _rt0_amd64_linux.
const (
	multibootMagic = 0x2badb002
	imageBase      = 0x400000 // Go's default amd64 link address; physical = virtual
)

var (
	bareMetal bool
	hasRDRAND bool
	memBytes  uint64
	ramRanges [32][2]uint64 // [start, end) of usable RAM from the memory map
	nRAM      int
)

// imageEnd is the end of the loaded image (runtime.end: past bss and noptrbss).
func imageEnd() uintptr

//go:nosplit
func bootMain(magic, info uintptr) uintptr {
	consoleInit()
	if magic != multibootMagic {
		shim.Puts("lazymm: not started by a multiboot loader (magic ")
		shim.PutHex(uint64(magic))
		shim.Puts(")\n")
		machineExit(exitCrashBase + 31)
	}
	bareMetal = true
	ebdaBase = uintptr(*(*uint16)(ptr(0x40e))) << 4 // BIOS data area, on page 0: read before it is unmapped
	readMultiboot(info)
	if shim.CmdlineHas("exit=boot") { // the floor: measures QEMU and firmware, not the kernel
		machineExit(0)
	}
	shim.InjectFromCmdline()
	paging.InjectFromCmdline()
	detectPaging()
	if shim.CmdlineHas("nopcid") { // as Linux's nopcid: run the same without PCIDs
		hasPCID = false
	}
	mm.X86Mainline = !shim.CmdlineHas("tlb=6.1")
	buildPageTables()
	setupIDT()
	setupCPU(0)
	cpus[0].arrived = 1
	_, _, ecx, _ := cpuid(1, 0)
	hasRDRAND = ecx&(1<<30) != 0
	timeInit()
	mm.TrimClock, mm.TrimPeriod = machine.ReadCycles, tscHz // should_trim_cpumask's jiffies and HZ
	// The runtime's main thread, before the APs exist: they must find it running here. Its FS base is
	// the one boot64 loaded: the runtime's arch_prctl replaces it, but if this thread is switched out
	// before that (another CPU may steal it), the switch must not load a zero FS base, or the next
	// kernel entry faults reading g at FS-8 in Go's ABI wrapper.
	t := shim.StartFirstThread(uint64(uintptr(unsafe.Pointer(&bootTLS[1]))))
	fxsave(t.FP.Addr()) // a valid initial FPU state (FNINIT, default MXCSR)
	findCPUs()
	if shim.CmdlineHas("inject=ap-missing") && firmwareCPUs > 1 {
		skipAP = firmwareCPUs - 1 // the last AP is never started
	}
	startAPs()
	aux := [...][2]uintptr{{0, 0}}
	if !shim.CmdlineHas("vdso=off") {
		aux[0] = [2]uintptr{shim.AuxSysinfoEhdr, buildVDSO()}
	}
	return shim.InitialStack(aux[:])
}

// readMultiboot copies the command line and turns the memory map into free mm.Frames.
//
//go:nosplit
func readMultiboot(info uintptr) {
	flags := *(*uint32)(ptr(info))
	mm.Frames.Init(frameKinds[:])
	if flags&(1<<2) != 0 { // cmdline: QEMU puts the kernel's path first, GRUB 2 may not; no boot word
		// has a '/' or a '.' without an '=', so a first word like that is the path and is dropped
		s := uintptr(*(*uint32)(ptr(info + 16)))
		i, eq, path := uintptr(0), false, false
		for ; *(*byte)(ptr(s + i)) != 0 && *(*byte)(ptr(s + i)) != ' '; i++ {
			c := *(*byte)(ptr(s + i))
			eq = eq || c == '='
			path = path || c == '/' || c == '.'
		}
		if eq || !path {
			i = 0
		}
		for *(*byte)(ptr(s + i)) == ' ' {
			i++
		}
		for ; *(*byte)(ptr(s + i)) != 0; i++ {
			shim.CmdlineAppend(*(*byte)(ptr(s + i)))
		}
	}
	if flags&(1<<6) != 0 { // memory map
		n := uintptr(*(*uint32)(ptr(info + 44)))
		p := uintptr(*(*uint32)(ptr(info + 48)))
		for end := p + n; p < end; p += uintptr(*(*uint32)(ptr(p))) + 4 {
			base := *(*uint64)(ptr(p + 4))
			length := *(*uint64)(ptr(p + 12))
			if *(*uint32)(ptr(p + 20)) != 1 { // available RAM only
				continue
			}
			first := (base + 0xfff) >> 12
			last := (base + length) >> 12
			if last > uint64(len(frameKinds)) {
				last = uint64(len(frameKinds))
			}
			if last > first {
				mm.Frames.SetRange(first, last-first, mm.Free)
				memBytes += (last - first) << 12
				addRAM(first<<12, last<<12)
			}
		}
	} else if flags&1 != 0 { // only mem_upper (KiB above 1 MiB)
		upper := uint64(*(*uint32)(ptr(info + 8)))
		mm.Frames.SetRange(0x100, upper>>2, mm.Free)
		memBytes = upper << 10
		addRAM(1<<20, 1<<20+upper<<10)
	}
	mm.Frames.SetRange(0, 0x100, mm.Reserved) // real-mode memory, BIOS, the loader's info
	img := (uint64(imageEnd()) + 0xfff) >> 12
	mm.Frames.SetRange(imageBase>>12, img-imageBase>>12, mm.Image)
}

//go:nosplit
func addRAM(start, end uint64) {
	if nRAM < len(ramRanges) {
		ramRanges[nRAM] = [2]uint64{start, end}
		nRAM++
	}
}

// identityMapped says whether the 2 MiB region at pa belongs in the identity map: RAM, and the
// LAPIC/IOAPIC MMIO. Holes stay unmapped so a wild pointer below 4 GiB faults instead of landing.
//
//go:nosplit
func identityMapped(pa uint64) bool {
	if pa>>21 == 0xfec00000>>21 || pa>>21 == 0xfee00000>>21 {
		return true
	}
	for i := 0; i < nRAM; i++ {
		if ramRanges[i][0] < pa+1<<21 && pa < ramRanges[i][1] {
			return true
		}
	}
	return false
}

// buildPageTables replaces boot32's tables: an identity map of RAM below 4 GiB and the APIC MMIO with
// 2 MiB pages, except the first 2 MiB, mapped with 4 KiB pages and page 0 left out so nil dereferences
// fault as Go expects.
//
//go:nosplit
func buildPageTables() {
	mm.PT = mm.Format{Levels: 4, Present: ptePresent, Write: pteWrite, NoExec: pteNX, Huge: pteHuge,
		Table: ptePresent | pteWrite, AddrMask: pteAddr, UserSlot: userSlot}
	glob := globalBits()
	pml4 := allocTable()
	pdpt := allocTable()
	tab(pml4)[0] = pdpt<<12 | ptePresent | pteWrite
	for g := uint64(0); g < 4; g++ {
		pd := allocTable()
		tab(pdpt)[g] = pd<<12 | ptePresent | pteWrite
		for i := uint64(0); i < 512; i++ {
			pa := g<<30 | i<<21
			if identityMapped(pa) {
				tab(pd)[i] = pa | ptePresent | pteWrite | pteHuge | glob
			}
		}
		if g == 0 {
			pt := allocTable()
			for i := uint64(1); i < 512; i++ {
				tab(pt)[i] = i<<12 | ptePresent | pteWrite | glob
			}
			tab(pd)[0] = pt<<12 | ptePresent | pteWrite
		}
	}
	kernelRoot = pml4 << 12
	mm.InitMM.Root = kernelRoot
	writeCR3(kernelRoot)
}

//go:nosplit
func allocTable() uint64 {
	f, ok := mm.Frames.Alloc(mm.PageTable)
	if !ok {
		shim.Puts("lazymm: out of memory building page tables\n")
		machineExit(exitCrashBase + 31)
	}
	mm.ZeroFrame(f)
	return f
}

//go:nosplit
func tab(frame uint64) *[512]uint64 { return (*[512]uint64)(mm.Phys(frame << 12)) }
