// Package amd64 is lazymm's x86-64 machine layer: boot, descriptor tables, traps, the system-call shim
// that hosts the Go runtime, the thread scheduler, the LAPIC timer and the COM1 console. The arch-neutral
// kernel sees it only through machine.Machine.
package amd64

import (
	"unsafe"

	"lazymm/kernel/shim"
)

const (
	maxCPUs  = shim.MaxCPUs
	istSize  = 16 << 10 // each IST stack
	kstkSize = 32 << 10 // each CPU's syscall stack

	selCode = 0x08
	selData = 0x10
	selTSS  = 0x18 // + 16*cpu
)

// percpu is reached through GS base (the runtime never touches GS on linux/amd64). The first fields are
// read by trap_amd64.s at fixed offsets.
type percpu struct {
	self    uintptr     // 0
	scratch uintptr     // 8: caller's RSP at SYSCALL
	kstack  uintptr     // 16: top of the syscall stack
	curFX   uintptr     // 24: FXSAVE area of the thread whose registers are live
	id      uint64      // 32
	nmiFX   uintptr     // 40: FXSAVE area of NMI entries, which may nest inside any other entry
	idleFX  shim.FPArea // FXSAVE area while idle
	nmiArea shim.FPArea

	arrived uint32 // the CPU reached apMain (the boot CPU: always)
}

var (
	cpus [maxCPUs]percpu

	gdt  [3 + 2*maxCPUs]uint64
	tss  [maxCPUs]taskState
	idt  [256][2]uint64
	ist  [maxCPUs][3][istSize]byte
	kstk [maxCPUs][kstkSize]byte

	bootStack [64 << 10]byte
	bootTLS   [2]uint64
	bootPT    [8 * 4096]byte // boot32's identity page tables (7 pages + alignment)
)

// taskState is the 64-bit TSS (104 bytes, packed: its 64-bit fields sit at 4-byte offsets, so it is
// kept as 32-bit words). Only the IST pointers matter: no ring change ever happens.
type taskState [26]uint32

//go:nosplit
func (t *taskState) setIST(n int, sp uintptr) { // n is 1-based, as in the IDT gate
	t[9+2*(n-1)] = uint32(sp)
	t[10+2*(n-1)] = uint32(uint64(sp) >> 32)
}

// pseudoDesc is the packed 10-byte operand of LGDT/LIDT: limit, then base.
type pseudoDesc [5]uint16

//go:nosplit
func (p *pseudoDesc) set(base uintptr, size uintptr) {
	p[0] = uint16(size - 1)
	for i := 0; i < 4; i++ {
		p[1+i] = uint16(uint64(base) >> (16 * i))
	}
}

// setupCPU loads this CPU's GDT slot, TSS with IST stacks, the shared IDT, GS base and syscall MSRs.
//
//go:nosplit
func setupCPU(id int) {
	c := &cpus[id]
	c.self = uintptr(unsafe.Pointer(c))
	c.id = uint64(id)
	c.kstack = uintptr(unsafe.Pointer(&kstk[id][0])) + kstkSize
	shim.InitCPU(id)
	c.curFX = c.idleFX.Addr()
	c.nmiFX = c.nmiArea.Addr()

	gdt[0] = 0
	gdt[1] = 0x00af9a000000ffff // 64-bit code, DPL 0
	gdt[2] = 0x00cf92000000ffff // data
	t := &tss[id]
	for i := 0; i < 3; i++ {
		t.setIST(i+1, uintptr(unsafe.Pointer(&ist[id][i][0]))+istSize)
	}
	t[25] = uint32(unsafe.Sizeof(*t)) << 16 // I/O map base past the end: no I/O bitmap
	base := uint64(uintptr(unsafe.Pointer(t)))
	limit := uint64(unsafe.Sizeof(*t) - 1)
	gdt[3+2*id] = limit&0xffff | (base&0xffffff)<<16 | 0x89<<40 | (limit>>16&0xf)<<48 | (base>>24&0xff)<<56
	gdt[4+2*id] = base >> 32

	var gp pseudoDesc
	gp.set(uintptr(unsafe.Pointer(&gdt[0])), unsafe.Sizeof(gdt))
	lgdt(uintptr(unsafe.Pointer(&gp)))
	ltr(uint16(selTSS + 16*id))

	var ip pseudoDesc
	ip.set(uintptr(unsafe.Pointer(&idt[0])), unsafe.Sizeof(idt))
	lidt(uintptr(unsafe.Pointer(&ip)))

	wrmsr(msrGSBase, uint64(c.self))
	wrmsr(msrEFER, rdmsr(msrEFER)|1) // SCE: SYSCALL enabled
	wrmsr(msrSTAR, uint64(selCode)<<32)
	wrmsr(msrLSTAR, uint64(syscallEntryAddr()))
	wrmsr(msrFMASK, 0x47700) // clear IF, TF, DF, AC, NT, IOPL on SYSCALL
	// CR0.WP, as Linux sets it: the kernel's writes obey read-only entries, so a write to a page
	// shared copy-on-write since fork faults (cow.go) instead of landing in the shared page
	writeCR0(readCR0() | cr0WP)
	setupPaging(id)
}

// setupIDT fills the IDT once: interrupt gates to the 16-byte stubs in vectors_amd64.s. NMI, #DF and
// #MC get IST stacks of their own so they can arrive on top of any other entry.
//
//go:nosplit
func setupIDT() {
	base := uint64(vectorsBase())
	for v := 0; v < 256; v++ {
		h := base + uint64(16*v)
		istIdx := uint64(1)
		switch v {
		case 2:
			istIdx = 2
		case 8, 18:
			istIdx = 3
		}
		idt[v][0] = h&0xffff | uint64(selCode)<<16 | istIdx<<32 | 0x8e<<40 | (h>>16&0xffff)<<48
		idt[v][1] = h >> 32
	}
}

const (
	msrAPICBase = 0x1b
	msrEFER     = 0xc0000080
	msrSTAR     = 0xc0000081
	msrLSTAR    = 0xc0000082
	msrFMASK    = 0xc0000084
	msrFSBase   = 0xc0000100
	msrGSBase   = 0xc0000101

	cr0WP = 1 << 16
)

// Implemented in cpu_amd64.s.
func outb(port uint16, v uint8)
func inb(port uint16) uint8
func outl(port uint16, v uint32)
func rdmsr(msr uint32) uint64
func wrmsr(msr uint32, v uint64)
func cpuid(leaf, sub uint32) (a, b, c, d uint32)
func readCR0() uint64
func writeCR0(v uint64)
func readCR2() uint64
func readCR3() uint64
func readCR4() uint64
func writeCR3(v uint64)
func invlpg(va uintptr)
func writeCR4(v uint64)
func invpcid(typ, pcid uint64, va uintptr)
func lgdt(p uintptr)
func lidt(p uintptr)
func ltr(sel uint16)
func fxsave(p uintptr)
func stihlt()
func cli()
func rdrand() (uint64, bool)
func vectorsBase() uintptr
func syscallEntryAddr() uintptr
func haltForever()

// Entry points in boot_amd64.s, trap_amd64.s and vectors_amd64.s (referenced so the linker keeps them).
func boot32()
func boot64()
func vectors()
func syscallEntry()
func trapCommon()
func nmiCommon()
