package amd64

import (
	"lazymm/kernel/machine"

	"sync/atomic"
	"unsafe"

	"github.com/usbarmory/tamago/amd64/lapic"
	"lazymm/kernel/shim"
	"lazymm/mm"
)

// SMP bring-up, as Linux's do_boot_cpu: find the CPUs in the ACPI MADT, then start every AP with
// INIT-SIPI-SIPI through a real-mode trampoline below 1 MiB. Each AP comes up in apMain with its own
// GDT slot, TSS/IST stacks, GS area, LAPIC and tick, and joins the scheduler idle.

// apTrampoline is copied to physical 0x8000 (SIPI vector 0x08). 16-bit: load the GDT at 0x8e00, enter
// protected mode; 32-bit: PAE, CR3 from 0x8f00, EFER.LME|NXE|SCE, paging; 64-bit: jump to the address
// at 0x8f08 (ap64). Reference assembly in docs/SMP.md.
var apTrampoline = [...]byte{
	0xfa, 0xfc, 0x31, 0xc0, 0x8e, 0xd8, 0x66, 0x0f, 0x01, 0x16, 0xf0, 0x8e,
	0x0f, 0x20, 0xc0, 0x66, 0x83, 0xc8, 0x01, 0x0f, 0x22, 0xc0, 0x66, 0xea,
	0x1e, 0x80, 0x00, 0x00, 0x18, 0x00, 0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8,
	0x8e, 0xc0, 0x8e, 0xd0, 0x0f, 0x20, 0xe0, 0x0d, 0x20, 0x06, 0x00, 0x00,
	0x0f, 0x22, 0xe0, 0xa1, 0x00, 0x8f, 0x00, 0x00, 0x0f, 0x22, 0xd8, 0xb9,
	0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d, 0x01, 0x09, 0x00, 0x00, 0x0f,
	0x30, 0x0f, 0x20, 0xc0, 0x83, 0xe0, 0xfb, 0x0d, 0x22, 0x00, 0x00, 0x80,
	0x0f, 0x22, 0xc0, 0xea, 0x5e, 0x80, 0x00, 0x00, 0x08, 0x00, 0x66, 0xb8,
	0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0x8e, 0xe0, 0x8e, 0xe8,
	0x48, 0x8b, 0x04, 0x25, 0x08, 0x8f, 0x00, 0x00, 0xff, 0xe0,
}

const (
	trampBase  = 0x8000
	trampGDT   = 0x8e00
	trampGDTR  = 0x8ef0
	trampCR3   = 0x8f00
	trampEntry = 0x8f08
	sipiVector = trampBase >> 12

	apStackSize = 16 << 10
)

var (
	apicIDs      [maxCPUs]uint32 // by CPU index; index 0 is the boot CPU
	apicToIndex  [256]uint8      // read by ap64 to pick its stack
	firmwareCPUs int             // CPUs the MADT lists (enabled or online-capable)
	apStacks     [maxCPUs][apStackSize]byte
	apOnline     uint32
	smpReady     uint32 // set once the boot CPU has settled which CPUs are online
	skipAP       = -1   // inject=ap-missing: this CPU index is never started
)

func ap64()

func ap64Addr() uintptr

// findRSDP scans the BIOS area for the ACPI root pointer.
//
//go:nosplit
func findRSDP() uintptr {
	for p := uintptr(0xe0000); p < 0x100000; p += 16 {
		if *(*uint64)(ptr(p)) == 0x2052545020445352 { // "RSD PTR "
			return p
		}
	}
	for p := ebdaBase; ebdaBase != 0 && p < ebdaBase+1024; p += 16 {
		if *(*uint64)(ptr(p)) == 0x2052545020445352 {
			return p
		}
	}
	return 0
}

// CPU sources, as reported by machine.M.CPUSource.
const (
	srcBootOnly = iota
	srcMADT
	srcMPTable
)

var (
	cpuSource int
	ebdaBase  uintptr // extended BIOS data area, from the BIOS data area at boot
)

// findCPUs fills apicIDs, boot CPU first, from the ACPI MADT, or from the MP table where ACPI is
// missing (or disabled with acpi=off, which is how the fallback is tested).
//
//go:nosplit
func findCPUs() {
	apicIDs[0] = lapicRead(lapic.LAPIC_ID) >> 24
	firmwareCPUs = 1
	if !shim.CmdlineHas("acpi=off") && readMADT() {
		cpuSource = srcMADT
		return
	}
	if readMPTable() {
		cpuSource = srcMPTable
		return
	}
	shim.Puts("lazymm: neither an ACPI MADT nor an MP table: only the boot CPU runs\n")
}

//go:nosplit
func addCPU(id uint32) {
	if id != apicIDs[0] && firmwareCPUs < maxCPUs {
		apicIDs[firmwareCPUs] = id
		firmwareCPUs++
	}
}

// readMPTable reads the processor entries of the Intel MultiProcessor table (the "_MP_" floating
// pointer in the EBDA or the BIOS ROM, then its configuration table).
//
//go:nosplit
func readMPTable() bool {
	fp := uintptr(0)
	for _, r := range [2][2]uintptr{{ebdaBase, ebdaBase + 1024}, {0xe0000, 0x100000}} {
		for p := r[0]; r[0] != 0 && p < r[1] && fp == 0; p += 16 {
			if *(*uint32)(ptr(p)) == 0x5f504d5f { // "_MP_"
				fp = p
			}
		}
	}
	if fp == 0 || *(*uint32)(ptr(fp + 4)) == 0 {
		return false
	}
	cfg := uintptr(*(*uint32)(ptr(fp + 4)))
	identityMap(cfg)
	if *(*uint32)(ptr(cfg)) != 0x504d4350 { // "PCMP"
		return false
	}
	n := uintptr(*(*uint16)(ptr(cfg + 34)))
	e := cfg + 44
	for i := uintptr(0); i < n; i++ {
		if *(*byte)(ptr(e)) != 0 { // not a processor: every other entry type is 8 bytes
			e += 8
			continue
		}
		if *(*byte)(ptr(e + 3))&1 != 0 { // enabled
			addCPU(uint32(*(*byte)(ptr(e + 1))))
		}
		e += 20
	}
	return true
}

// readMADT reads the MADT's processor-local-APIC entries; false without ACPI or an MADT.
//
//go:nosplit
func readMADT() bool {
	rsdp := findRSDP()
	if rsdp == 0 {
		return false
	}
	root, entry := uintptr(*(*uint32)(ptr(rsdp + 16))), uintptr(4)
	if *(*byte)(ptr(rsdp + 15)) >= 2 && *(*uint64)(ptr(rsdp + 24)) != 0 {
		root, entry = uintptr(*(*uint64)(ptr(rsdp + 24))), 8
	}
	identityMap(root)
	n := (uintptr(*(*uint32)(ptr(root + 4))) - 36) / entry
	for i := uintptr(0); i < n; i++ {
		var t uintptr
		if entry == 8 {
			t = uintptr(*(*uint64)(ptr(root + 36 + 8*i)))
		} else {
			t = uintptr(*(*uint32)(ptr(root + 36 + 4*i)))
		}
		identityMap(t)
		if *(*uint32)(ptr(t)) != 0x43495041 { // "APIC"
			continue
		}
		end := t + uintptr(*(*uint32)(ptr(t + 4)))
		for e := t + 44; e+2 <= end; e += uintptr(*(*byte)(ptr(e + 1))) {
			if *(*byte)(ptr(e + 1)) == 0 {
				break
			}
			if *(*byte)(ptr(e)) != 0 { // processor local APIC entries only
				continue
			}
			if *(*uint32)(ptr(e + 4))&3 != 0 { // enabled or online-capable
				addCPU(uint32(*(*byte)(ptr(e + 3))))
			}
		}
		return true
	}
	return false
}

// identityMap makes sure the 2 MiB page holding pa (an ACPI table below 4 GiB) is mapped.
//
//go:nosplit
func identityMap(pa uintptr) {
	if pa >= 1<<32 {
		return
	}
	pdpt := tab(kernelRoot >> 12)[0] & pteAddr
	pd := tab(pdpt >> 12)[pa>>30] & pteAddr
	e := &tab(pd >> 12)[(pa>>21)&511]
	if *e&ptePresent == 0 {
		*e = uint64(pa)&^(1<<21-1) | ptePresent | pteWrite | pteHuge | pteNX
		invlpg(pa)
	}
}

// startAPs sends INIT to every AP, then two SIPIs, all in parallel (one INIT delay in total: initDelay),
// and waits for them to check in: until all have, or apWaitSeconds passed. The bound is Linux's
// (do_boot_cpu gives an AP 10 s to come alive), not what a fast host needs: a virtual CPU is a host
// thread that may not run for a long while when the host is oversubscribed, and an AP that misses
// the wait is a CPU missing from the run. The AP inject=ap-missing never starts is not waited for.
//
//go:nosplit
func startAPs() {
	shim.OnlineCPUs = 1
	if firmwareCPUs == 1 {
		return
	}
	for i := range apTrampoline {
		*(*byte)(ptr(trampBase + uintptr(i))) = apTrampoline[i]
	}
	gdt := (*[4]uint64)(ptr(trampGDT))
	gdt[0], gdt[1], gdt[2], gdt[3] = 0, 0x00af9a000000ffff, 0x00cf92000000ffff, 0x00cf9a000000ffff
	*(*uint16)(ptr(trampGDTR)) = 31
	*(*uint32)(ptr(trampGDTR + 2)) = trampGDT
	*(*uint64)(ptr(trampCR3)) = kernelRoot
	*(*uint64)(ptr(trampEntry)) = uint64(ap64Addr())
	for i := 0; i < firmwareCPUs; i++ {
		apicToIndex[apicIDs[i]&255] = uint8(i)
	}
	for i := 1; i < firmwareCPUs; i++ {
		if i != skipAP {
			icrSend(apicIDs[i], lapic.ICR_DLV_INIT|1<<lapic.ICR_INIT)
		}
	}
	delayTSC(initDelay())
	for round := 0; round < 2; round++ {
		for i := 1; i < firmwareCPUs; i++ {
			if i != skipAP {
				icrSend(apicIDs[i], lapic.ICR_DLV_SIPI|sipiVector)
			}
		}
		delayTSC(tscHz / 5000)
	}
	want := uint32(firmwareCPUs - 1)
	if skipAP > 0 {
		want--
	}
	deadline := machine.ReadCycles() + apWaitSeconds*tscHz
	for atomic.LoadUint32(&apOnline) < want && machine.ReadCycles() < deadline {
		mm.Relax()
	}
	n := 1
	for n < firmwareCPUs && atomic.LoadUint32(&cpus[n].arrived) != 0 {
		n++
	}
	shim.OnlineCPUs = n
	atomic.StoreUint32(&smpReady, 1)
}

// initDelay is the wait between INIT and the SIPIs, as Linux's smp_quirk_init_udelay: the MP
// specification's 10 ms, except on the families that do not need it (Intel family 6 and later, AMD
// 0xF and later), where Linux waits none.
//
//go:nosplit
func initDelay() uint64 {
	_, b, c, d := cpuid(0, 0)
	a, _, _, _ := cpuid(1, 0)
	family := a >> 8 & 0xf
	if family == 0xf {
		family += a >> 20 & 0xff
	}
	intel := b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e // "GenuineIntel"
	amd := b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163   // "AuthenticAMD"
	if intel && family >= 6 || amd && family >= 0xf {
		return 0
	}
	return tscHz / 100
}

// apWaitSeconds bounds the wait for the APs to check in.
const apWaitSeconds = 10

//go:nosplit
func delayTSC(d uint64) {
	for end := machine.ReadCycles() + d; machine.ReadCycles() < end; {
		mm.Relax()
	}
}

// icrSend writes the interrupt command register (destination first) and waits for delivery.
//
//go:nosplit
func icrSend(apicID uint32, low uint32) {
	lapicWrite(lapic.LAPIC_ICRH, apicID<<24)
	lapicWrite(lapic.LAPIC_ICRL, low)
	for i := 0; i < 1<<20 && lapicRead(lapic.LAPIC_ICRL)&(1<<lapic.ICR_DLV_STATUS) != 0; i++ {
		mm.Relax()
	}
}

// apMain is where each AP arrives from ap64, on its own stack, g nil, interrupts off. It joins only
// if it is within the contiguous prefix of CPUs the boot CPU settled on; a latecomer beyond a CPU that
// never came up parks, so "online" always means CPUs 0..shim.OnlineCPUs-1.
//
//go:nosplit
func apMain(idx int) {
	setupCPU(idx)
	c := &cpus[idx]
	atomic.StoreUint32(&c.arrived, 1)
	atomic.AddUint32(&apOnline, 1)
	for atomic.LoadUint32(&smpReady) == 0 {
		mm.Relax()
	}
	if idx >= shim.OnlineCPUs {
		haltForever()
	}
	lapicStart()
	f := (*Frame)(ptr(c.kstack - unsafe.Sizeof(Frame{})))
	shim.Idle(f) // until a thread is runnable here; then it is loaded into f
	enterFrame(f)
}

// enterFrame leaves the kernel into the thread whose registers are in f (on this CPU's syscall stack),
// through the common exit path.
func enterFrame(f *Frame)
