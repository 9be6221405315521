package ppc64

import (
	"unsafe"

	"lazymm/kernel/shim"
	"lazymm/mm"
)

// powernv: the kernel as OpenPOWER machines run it, on QEMU's powernv9 with skiboot (docs/PPC64.md).
// skiboot enters the image's e_entry (tools/mkimage's powernv path) in 64-bit hypervisor mode,
// big-endian, real mode, with the flattened device tree in r3. boot_ppc64.s tells the platform by
// MSR.HV at entry: a pseries guest never runs with it set, and with it set there is no hypervisor
// to call, so it is the one test that needs no memory and no firmware interface. Everything the
// pseries path asks of the hypervisor or RTAS comes from the device tree and OPAL here: the console
// (OPAL_CONSOLE_WRITE), power-off (OPAL_CEC_POWER_DOWN), the time of day (OPAL_RTC_READ), RAM and
// CPUs; the radix MMU runs from the kernel's own partition table (PTCR, LPID 0). The other CPUs
// start through OPAL_START_CPU (pnvStartCPU) and join in HV mode as the boot CPU set it up (pnvJoin).

// OPAL tokens and return codes (skiboot's include/opal-api.h).
const (
	opalConsoleWrite = 1
	opalRTCRead      = 3
	opalCECPowerDown = 5
	opalPollEvents   = 10
	opalStartCPU     = 41
	opalSuccess      = 0
	opalParameter    = -1
	opalBusy         = -2
	opalNoMem        = -9
	opalBusyEvent    = -12

	msrHV = 1 << 60

	// LPCR bits (Power ISA 3.0 Book III 2.2): alternate interrupt location, interrupts little-endian,
	// use the process table, host radix, wake from stop on external and decrementer, hypervisor
	// decrementer interrupts, wake from stop on hypervisor doorbells.
	lpcrAIL     = 3 << 39
	lpcrILE     = 1 << 41
	lpcrUPRT    = 1 << 22
	lpcrHR      = 1 << 20
	lpcrPECEDH  = 1 << 15
	lpcrEEE     = 1 << 14
	lpcrDEE     = 1 << 13
	lpcrHDICE   = 1 << 0
	patbHR      = 1 << 63 // partition-table entry: host radix
	patbGR      = 1 << 63 // its second doubleword: the partition's processes use radix
	maxReserved = 32

	vecHDoorbell = 0xe80 // the directed hypervisor doorbell: powernv's IPI
)

var (
	// powernv is set by boot_ppc64.s when entered in hypervisor mode (skiboot); msrHVBit is then
	// msrHV, kept in every MSR the kernel sets through rfid.
	powernv             bool
	msrHVBit            uint64
	opalBase, opalEntry uint64
	// opalLen is OPAL_CONSOLE_WRITE's in/out length: static, so its physical address is its
	// address (OPAL runs in real mode).
	opalLen  uint64
	opalYMD  uint32
	opalHMSM uint64
	// reserved are the firmware's ranges (address, size) the frame allocator must not hand out: the
	// device tree's memory reservations (skiboot's own memory among them) and the tree itself.
	reserved  [maxReserved][2]uint64
	nReserved int
	partTable uint64 // physical address of the partition table (PTCR)
)

// In opal_ppc64.s.
func opalCall6(token, a0, a1, a2, a3, a4, a5 uint64) int64
func opalWrite(p, n uint64)
func stopWait()
func getLPCR() uint64
func setLPCR(v uint64)
func setPTCR(v uint64)
func setPSSCR(v uint64)
func doorbell(pir uint32)
func pnvAPEntryAddr() uintptr
func readPIR() uint32

// opalCall is an OPAL call of up to three arguments.
//
//go:nosplit
func opalCall(token, a0, a1, a2 uint64) int64 { return opalCall6(token, a0, a1, a2, 0, 0, 0) }

// pnvFirmware reads what pseries asks VOF for from skiboot's device tree: OPAL's base and entry, the
// command line, RAM and its reservations, the timebase frequency, the CPUs. Without OPAL nothing can
// even be printed: it stops there.
//
//go:nosplit
func pnvFirmware() {
	if !fdtOK() {
		for {
		}
	}
	root := fdtRoot()
	opal := fdtChild(root, "ibm,opal")
	opalBase, opalEntry = fdtPropU64(opal, "opal-base-address"), fdtPropU64(opal, "opal-entry-address")
	if opal == 0 || opalEntry == 0 {
		for {
		}
	}
	if chosen := fdtChild(root, "chosen"); chosen != 0 {
		if v, n, ok := fdtGetProp(chosen, "bootargs"); ok {
			for i := uint64(0); i < uint64(n) && fdtByte(v+i) != 0; i++ {
				shim.CmdlineAppend(fdtByte(v + i))
			}
		}
	}
	pnvMemory(root)
	pnvCPUs(root)
}

// pnvMemory: RAM is the memory node at address 0 (#address-cells and #size-cells 2, as skiboot has
// them); the reservations are the blob's reservation block, which skiboot fills with its own ranges,
// and the root's reserved-ranges, where skiboot lists them too: a kexec (petitboot's) clears the
// block and keeps the property, as Linux's early_reserve_mem_dt reads it.
//
//go:nosplit
func pnvMemory(root uint64) {
	for c := fdtFirstChild(root); c != 0; c = fdtNextChild(c) {
		if v, n, ok := fdtGetProp(c, "device_type"); ok && n >= 7 && fdtStr(v, "memory") {
			if r, n, ok := fdtGetProp(c, "reg"); ok && n >= 16 && fdtU64(r) == 0 {
				memBytes = fdtU64(r + 8)
			}
		}
	}
	reserve(fdtAddr, uint64(fdtU32(4)))
	if v, n, ok := fdtGetProp(root, "reserved-ranges"); ok {
		for off := uint64(0); off+16 <= uint64(n); off += 16 {
			reserve(fdtU64(v+off), fdtU64(v+off+8))
		}
	}
	for off := uint64(fdtU32(16)); ; off += 16 {
		a, s := fdtU64(off), fdtU64(off+8)
		if a == 0 && s == 0 {
			break
		}
		reserve(a, s)
	}
}

//go:nosplit
func reserve(addr, size uint64) {
	if nReserved < maxReserved {
		reserved[nReserved] = [2]uint64{addr, size}
		nReserved++
	}
}

// pnvCPUs reads the first CPU's timebase frequency and the threads' hardware ids: each /cpus node
// is a core, its ibm,ppc-interrupt-server#s one PIR per thread (reg, the first thread's, if absent).
// The boot thread goes first (pnvBootFirst). IPIs are doorbells, msgsnd to a PIR.
//
//go:nosplit
func pnvCPUs(root uint64) {
	cpusNode := fdtChild(root, "cpus")
	n := 0
	for c := fdtFirstChild(cpusNode); cpusNode != 0 && c != 0 && n < maxCPUs; c = fdtNextChild(c) {
		if v, l, ok := fdtGetProp(c, "device_type"); !ok || l < 4 || !fdtStr(v, "cpu") {
			continue
		}
		if n == 0 {
			if f := fdtPropU64(c, "timebase-frequency"); f >= 1000000 {
				tbFreq, tbFromDT = f, true
			}
		}
		v, l, ok := fdtGetProp(c, "ibm,ppc-interrupt-server#s")
		if !ok || l < 4 {
			hwIDs[n] = uint32(fdtPropU64(c, "reg"))
			n++
			continue
		}
		for i := uint64(0); i < uint64(l/4) && n < maxCPUs; i++ {
			hwIDs[n] = fdtU32(v + 4*i)
			n++
		}
	}
	if n > 0 {
		firmwareCPUs = n
	}
	pnvBootFirst()
}

// pnvBootFirst puts the boot thread (its PIR) at index 0, should skiboot have booted another.
//
//go:nosplit
func pnvBootFirst() {
	me := readPIR()
	for i := 1; i < firmwareCPUs; i++ {
		if hwIDs[i] == me {
			hwIDs[0], hwIDs[i] = hwIDs[i], hwIDs[0]
		}
	}
}

// pnvStartCPU asks OPAL to start CPU i at pnvAPEntry (OPAL_START_CPU, by its server number, the
// PIR): skiboot's waiting thread runs it in real mode, HV, big-endian.
//
//go:nosplit
func pnvStartCPU(i int) bool {
	return opalCall(opalStartCPU, uint64(hwIDs[i]), uint64(pnvAPEntryAddr()), 0) == opalSuccess
}

// pnvJoin is what a started CPU sets up in HV mode before the MMU, as the boot CPU did (pnvLPCR,
// pnvRadix or pnvHash): LPCR and PSSCR are per thread, and PTCR is too on QEMU (on a real POWER9 it is per core).
//
//go:nosplit
func pnvJoin() {
	pnvLPCR()
	if hashMode {
		pnvHashJoin() // hpt_ppc64.go
		return
	}
	pnvRadixJoin()
}

// reserveFirmware marks the firmware's ranges reserved in the frame allocator (framesInit).
//
//go:nosplit
func reserveFirmware() {
	for _, r := range reserved[:nReserved] {
		first, end := r[0]>>12, (r[0]+r[1]+0xfff)>>12
		if first >= memBytes>>12 {
			continue
		}
		end = min(end, memBytes>>12)
		mm.Frames.SetRange(first, end-first, mm.Reserved)
	}
}

// opalPowerOff is powerOff on powernv (boot_ppc64.s branches here): OPAL_CEC_POWER_DOWN, retried
// while OPAL is busy, then OPAL's pollers until the machine is off, as Linux's pnv_power_off. It
// carries no status, like RTAS's: the console is the verdict.
//
//go:nosplit
func opalPowerOff() {
	for i := 0; i < 100; i++ {
		rc := opalCall(opalCECPowerDown, 0, 0, 0)
		if rc != opalBusy && rc != opalBusyEvent {
			break
		}
		opalCall(opalPollEvents, 0, 0, 0)
	}
	for {
		opalCall(opalPollEvents, 0, 0, 0)
	}
}

// pnvRadix is H_REGISTER_PROC_TBL's part on powernv: the kernel owns the partition table. Entry 0
// (LPID 0, the hypervisor's: quadrant 0 with MSR.HV translates through it with PIDR) points at the
// process table, radix; LPCR says host radix with a process table; PTCR points at the table (PATS 0:
// 4 KiB, 256 partitions).
//
//go:nosplit
func pnvRadix(root, procTable uint64) {
	partTable = allocTable()
	table(partTable)[0] = patbHR | prtbRTS | root | prtbRPDS
	table(partTable)[1] = patbGR | procTable // PRTS 0: a 4 KiB process table
	ptesync()
	pnvRadixJoin()
}

// pnvRadixJoin is a CPU's part: LPCR says host radix with a process table, PTCR the partition
// table; this CPU's TLB emptied.
//
//go:nosplit
func pnvRadixJoin() {
	setLPCR(getLPCR() | lpcrUPRT | lpcrHR)
	setPTCR(partTable)
	tlbielAll()
}

// pnvLPCR sets what the kernel needs of LPCR and PSSCR whatever skiboot left: interrupts at their
// real-mode vectors (AIL 0), big-endian, no hypervisor decrementer, XIVE's interrupts at 0xea0
// (HVICE), stop woken by the decrementer, external and XIVE interrupts and doorbells; stop level 0 with EC=0, so that a wake-up goes on after the
// stop instruction rather than as a system reset.
//
//go:nosplit
func pnvLPCR() {
	setLPCR(getLPCR()&^(lpcrAIL|lpcrILE|lpcrHDICE) | lpcrPECEDH | lpcrEEE | lpcrDEE | lpcrHVICE | lpcrHVEE)
	setPSSCR(0)
}

// pnvTimeOfDay is the wall clock at boot from OPAL_RTC_READ (BCD: year, month, day; hour, minute,
// second), retried while busy; 0 if it fails.
//
//go:nosplit
func pnvTimeOfDay() int64 {
	rc := int64(opalBusy)
	for i := 0; i < 20 && (rc == opalBusy || rc == opalBusyEvent); i++ {
		rc = opalCall(opalRTCRead, uint64(uintptr(unsafe.Pointer(&opalYMD))), uint64(uintptr(unsafe.Pointer(&opalHMSM))), 0)
		if rc != opalSuccess {
			opalCall(opalPollEvents, 0, 0, 0)
		}
	}
	if rc != opalSuccess {
		return 0
	}
	y, hm := uint64(opalYMD), opalHMSM
	return shim.UnixSeconds(bcd(y>>16, 4), bcd(y>>8, 2), bcd(y, 2), bcd(hm>>56, 2), bcd(hm>>48, 2), bcd(hm>>40, 2))
}

// isExternal says whether vector is an IPI's: 0x500 (XICS on pseries), or on powernv a doorbell or
// XIVE's (xive_ppc64.go).
//
//go:nosplit
func isExternal(vector uint64) bool {
	return vector == vecExternal || vector == vecHDoorbell || vector == vecHVirt
}

// bcd decodes the low digits BCD digits of v.
//
//go:nosplit
func bcd(v uint64, digits int) int64 {
	var r int64
	for i := digits - 1; i >= 0; i-- {
		r = r*10 + int64(v>>(4*i)&15)
	}
	return r
}

// hsrrVectors are the hypervisor interrupts, which save to HSRR0/HSRR1: on powernv their stubs copy
// those to SRR0/SRR1 first, so trapEntry's Frame holds them and the crash dump names them.
var hsrrVectors = [...]uint32{0x980, 0xe00, 0xe20, 0xe40, 0xe60, 0xe80, 0xea0}

// pnvVectors writes those stubs: mtspr SPRG1,r3; mfspr r3,HSRR0; mtspr SRR0,r3; mfspr r3,HSRR1;
// mtspr SRR1,r3; li r3,vector; ba trapEntry (28 bytes: they fit the 32-byte spacing).
//
//go:nosplit
func pnvVectors(entry uintptr) {
	for _, v := range hsrrVectors {
		p := (*[7]uint32)(unsafe.Add(nil, uintptr(v)))
		p[0], p[1], p[2], p[3], p[4] = 0x7c7143a6, 0x7c7a4aa6, 0x7c7a03a6, 0x7c7b4aa6, 0x7c7b03a6
		p[5] = 0x38600000 | v
		p[6] = 0x48000002 | uint32(entry)
		syncICache(uintptr(v), 28)
	}
}

// pnvLine prints what the platform gave, where pseries prints its CAS line.
//
//go:nosplit
func pnvLine() {
	shim.Puts("lazymm: ppc64 powernv: OPAL at 0x")
	putHex(opalBase)
	shim.Puts(", entry 0x")
	putHex(opalEntry)
	shim.Puts(", hypervisor mode, ")
	shim.PutDec(memBytes >> 20)
	shim.Puts(" MiB, ")
	shim.PutDec(uint64(nReserved))
	shim.Puts(" reserved ranges\n")
}

// pnvBoot is bootInit's powernv half: the firmware's facts, then the vectors (the pseries ones and
// the hypervisor interrupts'). nmi=reset needs a system reset OPAL cannot send on QEMU: refused here.
//
//go:nosplit
func pnvBoot() {
	pnvFirmware()
	if shim.CmdlineHas("nmi=reset") {
		// OPAL_SIGNAL_SYSTEM_RESET drives the core's direct controls through XSCOM, which QEMU 7.2's
		// powernv9 lacks: skiboot refuses a reset to self and the others never arrive (tried)
		shim.Puts("lazymm: ppc64 powernv: nmi=reset is not done on powernv (no sreset through OPAL on QEMU); the soft NMI is\n")
		powerOff()
	}
	pnvLPCR()
	installVectors()
	pnvVectors(trapEntryAddr())
	pnvLine()
}

// idle waits for an interrupt: H_CEDE on pseries, stop on powernv.
//
//go:nosplit
func idle() {
	if powernv {
		stopWait()
		return
	}
	idleWait()
}
