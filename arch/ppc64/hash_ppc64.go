package ppc64

import (
	"sync/atomic"

	"lazymm/kernel/shim"
	"lazymm/mm"
)

// The hash MMU (Power ISA 3.0 Book III 5.7.7-5.7.8), the kernel word `hash` (runner -mmu hash). On
// pseries the hypervisor owns the hashed page table (HPT): the guest fills it with H_ENTER and
// empties it with H_REMOVE; on powernv the kernel owns it (hpt_ppc64.go). Either way the kernel
// keeps its own segment table (the SLB). mm's radix-shaped
// tree stays the source of truth, as Linux's hash code keeps its page tables: the HPT is a cache of it,
// filled on a miss (hash_page) and emptied when a PTE is cleared or changed (flush_hash_page).
//
// Segments are 256 MiB. A virtual segment ID is vsid_scramble(context<<20 | ESID) (Linux's: the
// proto-VSID times a prime, modulo 2^37-1; a bijection, so every (context, ESID) has its own VSID and
// the hash spreads contexts over the table). Context 1 is the kernel's (everything but the user slot:
// the image, RAM, the runtime's memory); a test address space's is 2 + its live slot, as radix's PID.
// Kernel RAM is bolted: SLB entries 0..nBolted-1 (the first segment with 4 KiB pages, so page 0 stays
// unmapped and a nil dereference faults; the others with 64 KiB pages: QEMU's pseries allows no larger
// by default, cap-hpt-max-page-size) and HPTEs marked bolted, so the
// trap path, its stacks and the page-table frames never take a segment or hash miss. Entry nBolted is
// the user slot's first segment, loaded on a switch (Linux's switch_slb preloads too); the rest take
// other ESIDs round-robin on segment misses (slb_allocate).
//
// Every HPTE inserted from the tree is recorded in its context's ring (entry address and slot), under
// hashLock: a flush of [start, end) removes the recorded entries in the range (H_REMOVE with the AVPN,
// so an entry that was meanwhile evicted and replaced is left alone), a full ring removes its oldest
// first. So any HPTE of a context is in its ring, and removing a context's range needs no search of the
// table. A removal is global (H_REMOVE, or powernv's tlbie): no IPIs.
const (
	hEnter, hRemove = 0x08, 0x04
	hExact          = 1 << 39 // H_EXACT (not used: QEMU takes the group's first free slot)
	hAVPN           = 1 << 31 // H_AVPN: remove only if the AVPN matches
	hAndCond        = 1 << 30 // H_ANDCOND: remove only if (dword 0 & avpn) == 0: not bolted
	hParameter      = -4
	hPTEGFull       = -6
	hNotFound       = -7

	hpteV, hpteH, hpteL, hpteBolted = 0x1, 0x2, 0x4, 0x10                // dword 0: valid, secondary, large, bolted (software)
	hpteR, hpteC, hpteM, hpteN      = 0x100, 0x080, 0x010, 0x004         // dword 1: referenced, changed, coherent, no-execute
	hptePPRO                        = 0x3                                // pp = 11 with key 0: read only
	slbV, slb64K                    = 0x08000000, 0x110                  // ESID valid; VSID word: 64 KiB base pages (L=1, LP=01)
	hpte64K                         = 0x1000                             // dword 1: a 64 KiB page in a 64 KiB segment (LP encoding 1)
	slbEntries                      = 32                                 // POWER9's (QEMU's) SLB size
	segShift, segMask               = 28, 1<<28 - 1                      // 256 MiB segments
	kernelCtx                       = 1                                  // the kernel's context
	vsidMult, vsidMod               = 12538073, 1<<37 - 1                // Linux's VSID_MULTIPLIER_256M, VSID_MODULUS for 37 bits
	ringKernel, ringUser            = 16384, 512                         // HPTEs recorded per context (powers of two)
	userCtxs                        = mm.MaxAddrSpaces                   // contexts 2 .. 2+userCtxs-1
	hptePerm                        = hpteR | hpteC | hpteM              // every HPTE: R and C preset (no updates), memory coherence
	userESID                        = uint64(userSlot) << 39 >> segShift // the user slot's first segment
)

// hashEnt is one recorded HPTE: the page's address | 1 (0: empty) and its slot in the HPT.
type hashEnt struct{ ea, ptex uint64 }

var (
	hashMode       bool   // the kernel word hash
	skipHPTERemove bool   // injected (inject=skip-hpte-remove): a flush of an address space removes no HPTE
	htabMask       uint64 // PTEGs - 1
	nBolted        uint64 // SLB entries of kernel RAM; entry nBolted is the user preload
	hashLock       uint32
	evictNext      uint64
	kernelRing     [ringKernel]hashEnt
	userRing       [userCtxs][ringUser]hashEnt
	ringHead       [2 + userCtxs]uint64
	ctxRoot        [2 + userCtxs]uint64 // the root of the address space a context was last loaded with
	hashBoltedN    uint64               // bolted HPTEs (boot)
)

// In hash_ppc64.s.
func slbmte(rs, rb uint64)
func slbie(rb uint64)
func slbmfee(i uint64) uint64
func slbmfev(i uint64) uint64
func slbSwitch(first, rs, rb uint64)

//go:nosplit
func vsidOf(ctx, esid uint64) uint64 { return (ctx<<20 | esid) * vsidMult % vsidMod }

// avpnOf is an HPTE's dword 0 without its low bits: B = 0 (256 MiB), the VSID and the page's
// address in the segment above bit 23 (what QEMU compares, with V and H).
//
//go:nosplit
func avpnOf(vsid uint64, ea uintptr) uint64 {
	return (vsid<<12 | uint64(ea&segMask)>>16) &^ 0x7f
}

// hashLockTake hard-disables interrupts (MSR.EE) before it spins: a flush holds the lock from soft-
// masked code, where a soft NMI may land, and an NMI handler's hash miss would spin on the lock.
//
//go:nosplit
func hashLockTake() uint64 {
	fl := irqSave()
	for !atomic.CompareAndSwapUint32(&hashLock, 0, 1) {
		mm.Relax()
	}
	return fl
}

//go:nosplit
func hashLockDrop(fl uint64) {
	atomic.StoreUint32(&hashLock, 0)
	irqRestore(fl)
}

// hpteInsert enters an HPTE for the page at ea (in the segment of vsid) with dword 1 r: the primary
// group, then the secondary, then the primary again after evicting a non-bolted entry of it
// (Linux's hpte_insert_repeating, and hpte_remove's skipping of bolted entries). It returns the
// slot, or false.
//
//go:nosplit
func hpteInsert(vsid uint64, ea uintptr, r uint64, shift uint, flags uint64) (uint64, bool) {
	hash := vsid ^ uint64(ea&segMask)>>shift
	v := avpnOf(vsid, ea) | hpteV | flags
	if ptex, ok := hptEnter((hash&htabMask)*8, v, r); ok {
		return ptex, true
	}
	if ptex, ok := hptEnter((^hash&htabMask)*8, v|hpteH, r); ok {
		return ptex, true
	}
	g := (hash & htabMask) * 8
	for i := uint64(0); i < 8; i++ {
		evictNext++
		if hptRemove(g+evictNext&7, 0, true, false) {
			hptSync()
			if ptex, ok := hptEnter(g, v, r); ok {
				return ptex, true
			}
		}
	}
	return 0, false
}

// ringOf is ctx's record of inserted HPTEs.
//
//go:nosplit
func ringOf(ctx uint64) []hashEnt {
	if ctx == kernelCtx {
		return kernelRing[:]
	}
	return userRing[ctx-2][:]
}

// hpteRemove removes the recorded HPTE e of ctx if it is still the one entered (Linux's
// flush_hash_page: the removal checks the AVPN), and counts it; local: tlbiel, not tlbie.
//
//go:nosplit
func hpteRemove(ctx uint64, e *hashEnt, local bool) {
	ea := uintptr(e.ea &^ 1)
	if hptRemove(e.ptex, avpnOf(vsidOf(ctx, uint64(ea)>>segShift), ea), false, local) {
		mm.TLB[thisCPU().id].Stats.HPTERemoves++
	}
	e.ea = 0
}

// hashFault is hash_page (__hash_page_4K): a DSI or ISI found no HPTE for ea. If the tree has a
// present leaf for it (the loaded address space's for the user slot, InitMM's otherwise), enter an
// HPTE from it and record it; false sends the fault on to what radix does (demand paging, SIGSEGV,
// the crash dump). In trap context at any depth: no kernel lock, only bolted memory under hashLock.
// hashLock orders it against a flush: a PTE cleared before the flush takes the lock is not seen here,
// an HPTE entered here before is in the ring the flush scans (Linux uses the PTE's busy bit).
//
//go:nosplit
func hashFault(c *percpu, ea uintptr) bool {
	ctx, root := uint64(kernelCtx), mm.InitMM.Root
	if uint64(ea)>>segShift>>11 == userESID>>11 && c.userCtx != 0 {
		ctx, root = c.userCtx, c.userRoot
	}
	fl := hashLockTake()
	pte, size := mm.Leaf(root, ea)
	ok := false
	if pte&rpteValid != 0 {
		r := pte&rpteAddr&^(size-1) | uint64(ea)&(size-1)&^0xfff | hptePerm
		if pte&rpteRW == 0 {
			r |= hptePPRO
		}
		if pte&rpteExec == 0 {
			r |= hpteN
		}
		var ptex uint64
		ptex, ok = hpteInsert(vsidOf(ctx, uint64(ea)>>segShift), ea&^0xfff, r, 12, 0)
		if ok {
			ringAdd(ctx, ea&^0xfff, ptex)
		}
	}
	hashLockDrop(fl)
	return ok
}

// ringAdd records an HPTE of ctx, removing the oldest recorded one if the ring is full.
//
//go:nosplit
func ringAdd(ctx uint64, ea uintptr, ptex uint64) {
	ring := ringOf(ctx)
	e := &ring[ringHead[ctx]&uint64(len(ring)-1)] // a power of two: no division (its check panics)
	ringHead[ctx]++
	if e.ea != 0 {
		hpteRemove(ctx, e, false)
		hptSync()
	}
	e.ea, e.ptex = uint64(ea)|1, ptex
}

// hpteFlush is what a flush does with the HPTEs it finds.
type hpteFlush uint8

const (
	flushGlobal hpteFlush = iota // removed, and every CPU's translation with them (tlbie, H_REMOVE)
	flushLocal                   // removed, this CPU's translation only (tlbiel: the probe's control)
	flushForget                  // forgotten, not removed: the injected bug skip-hpte-remove
)

// hashFlush removes ctx's HPTEs of pages in [start, end) (Linux's flush_hash_range, from
// hpte_need_flush), then hptSync: every CPU has dropped the translations (how says otherwise).
//
//go:nosplit
func hashFlush(ctx uint64, start, end uintptr, how hpteFlush) {
	fl := hashLockTake()
	ring := ringOf(ctx)
	for i := range ring {
		e := &ring[i]
		if e.ea == 0 || uintptr(e.ea) < start || uintptr(e.ea&^1) >= end {
			continue
		}
		if how == flushForget {
			e.ea = 0
		} else {
			hpteRemove(ctx, e, how == flushLocal)
		}
	}
	hptSync()
	hashLockDrop(fl)
}

// slbMiss is slb_allocate: a segment interrupt at ea loads its segment into a non-bolted SLB entry,
// round-robin, with the kernel's VSID or, in the user slot, the loaded address space's.
//
//go:nosplit
func slbMiss(c *percpu, ea uintptr) {
	esid := uint64(ea) >> segShift
	ctx := uint64(kernelCtx)
	if esid>>11 == userESID>>11 && c.userCtx != 0 {
		ctx = c.userCtx
	}
	i := c.slbNext
	if i <= nBolted || i >= slbEntries {
		i = nBolted + 1
	}
	c.slbNext = i + 1
	if old := slbmfee(i); old&slbV != 0 {
		slbie(old &^ segMask)
	}
	slbmte(vsidOf(ctx, esid)<<12, esid<<segShift|slbV|i)
}

// switch_slb is archLoadRoot's hash half (mmu_ppc64.go): the old context's user segments go (slbie,
// so no translation made with its VSID is used again), the new one's first user segment is
// preloaded, in one frameless call (slbSwitch). No HPT or TLB flush: VSIDs differ.

// hashLoadedRoot is the root audit's view on hash: the context of the user segment in this CPU's real
// SLB (its VSID matched against each context's), and the root that context was loaded with; InitMM's
// when no user segment is loaded.
//
//go:nosplit
func hashLoadedRoot() uint64 {
	for i := nBolted; i < slbEntries; i++ {
		e := slbmfee(i)
		if e&slbV == 0 || e>>segShift>>11 != userESID>>11 {
			continue
		}
		vsid := slbmfev(i) >> 12
		for ctx := uint64(2); ctx < 2+userCtxs; ctx++ {
			if vsidOf(ctx, e>>segShift) == vsid {
				return ctxRoot[ctx]
			}
		}
	}
	return mm.InitMM.Root
}

// slbBolt loads this CPU's SLB: kernel RAM's segments in entries 0..nBolted-1, the rest invalid.
//
//go:nosplit
func slbBolt() {
	for i := uint64(0); i < slbEntries; i++ {
		slbmte(0, i)
	}
	for seg := uint64(0); seg < nBolted; seg++ {
		rs := vsidOf(kernelCtx, seg) << 12
		if seg > 0 {
			rs |= slb64K
		}
		slbmte(rs, seg<<segShift|slbV|seg)
	}
	thisCPU().slbNext = nBolted + 1
}

// pseriesHash registers the hash MMU (H_REGISTER_PROC_TBL without RADIX: "hash with SLB", as Linux's
// hash__early_init_mmu on ISA 3.00 pseries) and finds the HPT's size. CAS has made QEMU allocate the
// HPT already (patb_entry 0, LPCR.HR and UPRT clear), so the registration changes nothing; without
// CAS it is what allocates it. False (and a console line) if the hypervisor refuses.
//
//go:nosplit
func pseriesHash() bool {
	if r := hcall(hRegisterProcTbl, ptblNew, 0, 0, 0); r != hSuccess {
		shim.Puts("lazymm: ppc64 H_REGISTER_PROC_TBL (hash) failed: ")
		shim.PutDec(uint64(-r))
		shim.Puts("\n")
		return false
	}
	// the HPT's size: ibm,pft-size as CAS left it (read while VOF was there), checked with H_REMOVE:
	// its last entry exists (H_NOT_FOUND: empty), the next does not (H_PARAMETER). Else the probe:
	// the largest group H_REMOVE does not call a bad parameter (QEMU sizes the HPT from RAM: 1/128,
	// at least 256 KiB). QEMU 7.2 has no H_READ (H_FUNCTION).
	htabMask = 0
	if s := casHPTShift; s != 0 {
		if hcall(hRemove, 0, uint64(1)<<(s-4)-1, 0, 0) == hNotFound && hcall(hRemove, 0, uint64(1)<<(s-4), 0, 0) == hParameter {
			htabMask = uint64(1)<<(s-7) - 1
		} else {
			shim.Puts("lazymm: ppc64 hash: ibm,pft-size disagrees with H_REMOVE; probing the HPT's size\n")
		}
	}
	for shift := uint(46); shift >= 18 && htabMask == 0; shift-- {
		if hcall(hRemove, 0, uint64(1)<<(shift-4)-8, 0, 0) == hNotFound {
			htabMask = uint64(1)<<(shift-7) - 1
		}
	}
	if htabMask == 0 {
		shim.Puts("lazymm: ppc64 hash: no hashed page table after H_REGISTER_PROC_TBL: H_REMOVE(0) ")
		shim.PutDec(uint64(-hcall(hRemove, 0, 0, 0, 0)))
		shim.Puts("\n")
		return false
	}
	return true
}

// hashInit bolts kernel RAM in the hashed page table, once pseriesHash or pnvHash (hpt_ppc64.go)
// has set it up, and loads this CPU's SLB. False (and a console line) if a bolted entry finds no slot.
//
//go:nosplit
func hashInit() bool {
	nBolted = (memBytes + segMask) >> segShift
	if nBolted > slbEntries/2 {
		nBolted = slbEntries / 2
	}
	// the first segment in 4 KiB pages from page 1; the others in 64 KiB pages
	v0 := vsidOf(kernelCtx, 0)
	for pa := uint64(1 << 12); pa < memBytes && pa < 1<<segShift; pa += 1 << 12 {
		if _, ok := hpteInsert(v0, uintptr(pa), pa|hptePerm, 12, hpteBolted); !ok {
			return hashBoltFailed(pa)
		}
		hashBoltedN++
	}
	for pa := uint64(1 << segShift); pa < memBytes && pa < nBolted<<segShift; pa += 1 << 16 {
		if _, ok := hpteInsert(vsidOf(kernelCtx, pa>>segShift), uintptr(pa), pa|hpte64K|hptePerm, 16, hpteBolted|hpteL); !ok {
			return hashBoltFailed(pa)
		}
		hashBoltedN++
	}
	slbBolt()
	return true
}

//go:nosplit
func hashBoltFailed(pa uint64) bool {
	shim.Puts("lazymm: ppc64 hash: no HPT slot for the bolted entry of ")
	shim.PutHex(pa)
	shim.Puts("\n")
	return false
}

// hashMiss serves a segment interrupt, or a storage interrupt that found no HPTE, from any depth of
// trap context: true if it did (the access is retried).
//
//go:nosplit
func hashMiss(c *percpu, f *Frame) bool {
	switch f.Vector {
	case vecDSeg:
		slbMiss(c, uintptr(f.DAR))
		return true
	case vecISeg:
		slbMiss(c, uintptr(f.PC))
		return true
	case vecDSI:
		return f.DSISR&dsisrNoTranslation != 0 && hashFault(c, uintptr(f.DAR))
	case vecISI:
		return f.MSR&srr1NoTranslation != 0 && hashFault(c, uintptr(f.PC))
	}
	return false
}
