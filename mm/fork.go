package mm

// Fork is dup_mmap's copy (kernel/fork.c; mm/memory.c's copy_page_range → copy_present_pte, Linux
// 6.1) into child, a new address space: child gets as's VMAs, and every present page of as is
// mapped in child to the same frame, now shared; a writable one is write-protected in both
// (ptep_set_wrprotect in the parent, pte_wrprotect in the child: every area here is a COW mapping).
// The caller flushes as afterwards (dup_mmap's flush_tlb_mm(oldmm)): until then a CPU running as
// may keep a writable translation of a page the child now shares. It returns how many of as's
// entries lost write permission; ok is false when memory for the child's tables, or the share
// table, ran out (dup_mmap's ENOMEM: the child then holds what was copied, and is torn down).
//
//go:nosplit
func (as *AddrSpace) Fork(a *Allocator, child *AddrSpace) (wrprotected uint64, ok bool) {
	child.vmas = as.vmas
	for i := 0; i < as.vmas.n; i++ {
		v := as.vmas.v[i]
		for va := v.Start; va < v.End; {
			p, step := probe(as.Root, va)
			if p != nil && *p&PT.Present != 0 {
				w, ok := as.copyPTE(a, child, p, va)
				if !ok {
					return wrprotected, false
				}
				wrprotected += w
			}
			next := (va + step) &^ (step - 1)
			if next <= va {
				break
			}
			va = next
		}
	}
	return wrprotected, true
}

// copyPTE is copy_present_pte for the page at va, whose entry in as is p.
//
//go:nosplit
func (as *AddrSpace) copyPTE(a *Allocator, child *AddrSpace, p *uint64, va uintptr) (wrprotected uint64, ok bool) {
	before := a.Count(MMTable)
	q := walk(a, child.Root, va, true, MMTable)
	child.Tables += a.Count(MMTable) - before
	if q == nil || !shareFrame((*p&PT.AddrMask)>>PageShift) {
		return 0, false
	}
	if *p&PT.Write != 0 {
		*p &^= PT.Write
		wrprotected = 1
	}
	*q = *p
	child.Pages++
	return wrprotected, true
}

// WPKind is what do_wp_page makes of a write fault on a present page.
type WPKind uint8

const (
	WPNone     WPKind = iota // not a copy-on-write fault: no page, or its VMA is not writable (SIGSEGV)
	WPSpurious               // the entry is writable already: a stale read-only translation faulted
	WPReused                 // wp_page_reuse: the page is this mapping's alone, now writable
	WPCopy                   // wp_page_copy is needed: the page is shared
)

// WriteFault is do_wp_page's decision for a write to va in as, and wp_page_reuse where it applies
// (no flush: the faulting CPU drops its read-only translation itself, others may fault spuriously).
// p is va's entry.
//
//go:nosplit
func (as *AddrSpace) WriteFault(va uintptr) (p *uint64, kind WPKind) {
	v, ok := as.vmas.Find(va)
	if !ok || v.Prot&ProtWrite == 0 {
		return nil, WPNone
	}
	p, _ = probe(as.Root, va)
	switch {
	case p == nil || *p&PT.Present == 0:
		return nil, WPNone
	case *p&PT.Write != 0:
		return p, WPSpurious
	case !FrameShared((*p & PT.AddrMask) >> PageShift):
		*p |= PT.Write
		return p, WPReused
	}
	return p, WPCopy
}

// CopyOut is wp_page_copy's first half: the page p maps is copied to frame to (__wp_page_copy_user)
// and the entry cleared (ptep_clear_flush's clear: the caller flushes next). It returns the old frame.
//
//go:nosplit
func CopyOut(p *uint64, to uint64) (old uint64) {
	old = (*p & PT.AddrMask) >> PageShift
	src := (*[PageSize / 8]uint64)(Phys(old << PageShift))
	dst := (*[PageSize / 8]uint64)(Phys(to << PageShift))
	*dst = *src
	*p = 0
	return old
}

// CopyIn is wp_page_copy's second half, after the flush: p maps frame to, writable (set_pte_at),
// and the old frame loses this mapping (page_remove_rmap); true when that was its last one and the
// caller frees it.
//
//go:nosplit
func CopyIn(p *uint64, to, old uint64) (freeOld bool) {
	*p = to<<PageShift | PT.Present | PT.Leaf | PT.NoExec | PT.Write
	return !unshareFrame(old)
}
