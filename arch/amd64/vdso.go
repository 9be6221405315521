package amd64

import (
	"encoding/binary"
	"unsafe"
)

// A minimal vDSO, so the runtime reads the clock without a system call (clock_gettime was ~95% of all
// calls). The runtime finds it through AT_SYSINFO_EHDR and looks __vdso_clock_gettime up the way
// runtime/vdso_linux.go does: PT_LOAD for the load offset, PT_DYNAMIC for DT_HASH, DT_SYMTAB and
// DT_STRTAB, and DT_VERDEF naming LINUX_2.6 (the runtime walks the version definitions
// unconditionally; without DT_VERSYM it then checks no symbol's version). The function is vdsoClockGettime
// in vdso_amd64.s, in the kernel's text: it reads the TSC and the calibration (tscBoot, nsMult,
// bootUnix) that the syscall uses, so both clocks agree.
const (
	vdsoPhdrs  = 64
	vdsoDyn    = 176 // 7 entries
	vdsoHash   = 288
	vdsoSymtab = 312
	vdsoVerdef = 360 // one Elf64_Verdef (20 bytes) and its Verdaux (8)
	vdsoStrtab = 388
	vdsoSize   = 424

	vdsoVersionName = 22        // offset of "LINUX_2.6" in the string table
	vdsoVersionHash = 0x3ae75f6 // ELF hash of "LINUX_2.6"
)

const vdsoStrings = "\x00__vdso_clock_gettime\x00LINUX_2.6\x00"

var vdsoImage [vdsoSize]byte

// vdsoClockGettime is int clock_gettime(clockid_t, struct timespec *) in the C ABI.
func vdsoClockGettime()

func vdsoClockGettimeAddr() uintptr

//go:nosplit
func buildVDSO() uintptr {
	b := vdsoImage[:]
	le := binary.LittleEndian
	copy(b, "\x7fELF\x02\x01\x01")
	le.PutUint16(b[16:], 3)  // ET_DYN
	le.PutUint16(b[18:], 62) // EM_X86_64
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[32:], vdsoPhdrs)
	le.PutUint16(b[52:], 64) // e_ehsize
	le.PutUint16(b[54:], 56) // e_phentsize
	le.PutUint16(b[56:], 2)  // e_phnum

	ph := b[vdsoPhdrs:]
	le.PutUint32(ph[0:], 1) // PT_LOAD at offset 0, vaddr 0: load offset = the image's address
	le.PutUint32(ph[4:], 5)
	le.PutUint64(ph[32:], vdsoSize)
	le.PutUint64(ph[40:], vdsoSize)
	le.PutUint64(ph[48:], 4096)
	ph = b[vdsoPhdrs+56:]
	le.PutUint32(ph[0:], 2) // PT_DYNAMIC
	le.PutUint32(ph[4:], 4)
	le.PutUint64(ph[8:], vdsoDyn)
	le.PutUint64(ph[16:], vdsoDyn)
	le.PutUint64(ph[32:], vdsoHash-vdsoDyn)
	le.PutUint64(ph[40:], vdsoHash-vdsoDyn)

	const dtVerdef = 0x6ffffffc
	dyn := [7][2]uint64{{4, vdsoHash}, {5, vdsoStrtab}, {6, vdsoSymtab}, {10, uint64(len(vdsoStrings))}, {11, 24},
		{dtVerdef, vdsoVerdef}, {0, 0}}
	for i, d := range dyn {
		le.PutUint64(b[vdsoDyn+16*i:], d[0])
		le.PutUint64(b[vdsoDyn+16*i+8:], d[1])
	}
	// DT_HASH: one bucket holding symbol 1, chains ending at 0
	for i, v := range [5]uint32{1, 2, 1, 0, 0} {
		le.PutUint32(b[vdsoHash+4*i:], v)
	}
	sym := b[vdsoSymtab+24:] // symbol 0 stays zero
	le.PutUint32(sym[0:], 1) // name: "__vdso_clock_gettime"
	sym[4] = 1<<4 | 2        // STB_GLOBAL, STT_FUNC
	le.PutUint16(sym[6:], 1) // any defined section
	base := uintptr(unsafe.Pointer(&vdsoImage[0]))
	le.PutUint64(sym[8:], uint64(vdsoClockGettimeAddr()-base))
	vd := b[vdsoVerdef:]
	le.PutUint16(vd[0:], 1) // vd_version
	le.PutUint16(vd[4:], 2) // vd_ndx (flags 0: not the base definition)
	le.PutUint16(vd[6:], 1) // vd_cnt
	le.PutUint32(vd[8:], vdsoVersionHash)
	le.PutUint32(vd[12:], 20) // vd_aux: right after; vd_next 0 ends the list
	le.PutUint32(vd[20:], vdsoVersionName)
	copy(b[vdsoStrtab:], vdsoStrings)
	return base
}
