package ppc64

import (
	"sync/atomic"
	"unsafe"

	"lazymm/kernel/shim"
	"lazymm/mm"
)

// The hashed page table's entries, written by whoever owns the table: the hypervisor on pseries
// (H_ENTER, H_REMOVE), the kernel itself on powernv, where there is no hypervisor (Linux's
// native_hpte_insert and native_hpte_invalidate, arch/powerpc/mm/book3s64/hash_native.c). Callers
// hold hashLock, which stands in for Linux's per-HPTE lock bit: every insert and removal is under it.
// On powernv the table is the kernel's: partition-table entry 0 points at it (HTABORG, HTABSIZE),
// LPCR says hash (HR and UPRT clear), and a removal is the kernel's tlbie, broadcast in hardware.

// In hash_ppc64.s.
func tlbieHash(rb uint64)
func tlbielHash(rb uint64)
func tlbielHashAll()

var (
	htab uint64 // powernv: the HPT's physical address
	// hptNoTLBIE is the injected bug hpt-no-tlbie: a removal clears the HPTE and invalidates nothing
	hptNoTLBIE bool
)

//go:nosplit
func hptEntry(ptex uint64) *[2]uint64 {
	return (*[2]uint64)(unsafe.Add(nil, uintptr(htab+ptex*16)))
}

// hptEnter puts (v, r) in the first free slot of the group at ptex group (8 slots): H_ENTER, or
// native_hpte_insert's order: dword 1, eieio, dword 0 with V, ptesync. The slot, or false if full.
//
//go:nosplit
func hptEnter(group, v, r uint64) (uint64, bool) {
	if !powernv {
		rc, ptex := hcall2(hEnter, 0, group, v, r)
		return ptex, rc == hSuccess
	}
	for i := group; i < group+8; i++ {
		e := hptEntry(i)
		if atomic.LoadUint64(&e[0])&hpteV == 0 {
			e[1] = r
			atomic.StoreUint64(&e[0], v) // a sync first: r is visible before V
			ptesync()
			return i, true
		}
	}
	return 0, false
}

// hptRemove empties slot ptex if it holds a valid entry whose AVPN is avpn (0: any) and, with
// unbolted, which is not bolted: H_REMOVE with H_AVPN or H_ANDCOND, or natively dword 0 cleared
// and the translation's tlbie (native_hpte_invalidate; local: tlbiel, powernv only). The caller
// ends a batch with hptSync.
//
//go:nosplit
func hptRemove(ptex, avpn uint64, unbolted, local bool) bool {
	if !powernv {
		if unbolted {
			return hcall(hRemove, hAndCond, ptex, hpteBolted, 0) == hSuccess
		}
		return hcall(hRemove, hAVPN, ptex, avpn, 0) == hSuccess
	}
	e := hptEntry(ptex)
	v := atomic.LoadUint64(&e[0])
	if v&hpteV == 0 || avpn != 0 && v&^0x7f != avpn || unbolted && v&hpteBolted != 0 {
		return false
	}
	atomic.StoreUint64(&e[0], 0)
	switch {
	case hptNoTLBIE:
	case local:
		tlbielHash(hpteVA(v, ptex))
	default:
		tlbieHash(hpteVA(v, ptex))
	}
	return true
}

// hpteVA is the virtual address tlbie takes for the 4 KiB page the HPTE v in slot ptex maps
// (hpte_decode): the VSID and the page's address bits 23-27 are in the AVPN; bits 12-22 come back
// from the hash, the group's number XOR the VSID (inverted for the secondary group). The VA is 65
// bits; RB holds its low 64, as Linux's vpn << 12 does.
//
//go:nosplit
func hpteVA(v, ptex uint64) uint64 {
	vsid := v >> 12
	hash := ptex >> 3
	if v&hpteH != 0 {
		hash = ^hash
	}
	ea := (v>>7&0x1f)<<23 | (hash^vsid)&0x7ff<<12
	return vsid<<segShift | ea
}

// hptSync ends a batch of removals: on powernv eieio; tlbsync; ptesync (every CPU has dropped the
// translations); on pseries ptesync (QEMU drops every CPU's at it after H_REMOVE).
//
//go:nosplit
func hptSync() {
	if powernv {
		tlbSync()
		return
	}
	ptesync()
}

// hptShift is the HPT's size, log2 bytes, for RAM of mem bytes: 1/128 of it rounded up to a power
// of two, at least 256 KiB (Linux's htab_shift_for_mem_size).
//
//go:nosplit
func hptShift(mem uint64) uint {
	s := uint(0)
	for uint64(1)<<s < mem {
		s++
	}
	return max(s-7, 18)
}

// pnvHash is H_REGISTER_PROC_TBL's hash part on powernv (Linux's hash__init_partition_table): the
// HPT from the frame allocator, aligned to its size and zeroed; partition-table entry 0 with its
// origin and size and no process table; LPCR for hash; PTCR. False if RAM has no aligned run.
//
//go:nosplit
func pnvHash() bool {
	shift := hptShift(memBytes)
	n := uint64(1) << (shift - 12)
	first, ok := mm.Frames.AllocAligned(n, mm.PageTable)
	if !ok {
		shim.Puts("lazymm: ppc64 powernv: no room for the hashed page table\n")
		return false
	}
	for f := first; f < first+n; f++ {
		mm.ZeroFrame(f)
	}
	htab, htabMask = first<<12, uint64(1)<<(shift-7)-1
	partTable = allocTable()
	table(partTable)[0] = htab | uint64(shift-18)
	table(partTable)[1] = 0
	ptesync()
	pnvHashJoin()
	return true
}

// pnvHashJoin is a CPU's part: LPCR says hash, PTCR the partition table; this CPU's TLB emptied.
//
//go:nosplit
func pnvHashJoin() {
	setLPCR(getLPCR() &^ (lpcrUPRT | lpcrHR))
	setPTCR(partTable)
	tlbielHashAll()
}
