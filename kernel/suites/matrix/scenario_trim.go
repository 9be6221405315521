package matrix

import (
	"sync/atomic"

	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
	"lazymm/mm"
)

// tableSpan is the address range one last-level page table maps (2 MiB on both arches' radix and
// 4-level tables): unmapping a whole one empties that table, which munmap's free_pgtables frees.
const tableSpan = 512 * mm.PageSize

// maskTrim asks whether mm_cpumask still holds every CPU using an mm lazily once the mask is trimmed
// lazily (mainline x86, Rik van Riel's 6.13 series): every CPU runs a thread of a shared process, the
// CPUs but 0 then a kernel thread, lazy on it (exit-while-lazy's opening). CPU 0 maps a page in a page
// table of its own and munmaps it: free_pgtables frees the emptied table, and the flush of freed
// tables sends the lazy CPUs to init_mm (flush_tlb_func's lazy case) while their kernel threads keep
// active_mm. A second later (the mm's trim clock pushed back: should_trim_cpumask), CPU 0 unmaps a
// token page: under mainline's rules that flush reaches the CPUs that no longer run the mm, and each
// clears its bit (under 6.1's, the switch to init_mm cleared it already). Then the process exits
// under the lazy CPUs, as in exit-while-lazy. A scheme that finds lazy users through mm_cpumask
// misses them, and their kernel threads name a freed mm (freed-mm).
func maskTrim(e *env, c *lazy.CPU) {
	p, k, ok := e.lazyOnShared(c, 8)
	if !ok {
		return
	}
	e.bar.wait()
	if c.ID == 0 {
		e.freeTableThenTrim(p)
	}
	exitUnderLazy(e, c, p, k, false)
}

// freeTableThenTrim is CPU 0's part of mask-trim, on a task of p.
func (e *env) freeTableThenTrim(p *proc) {
	m := machine.M
	va := mm.UserBase() + tableSpan // the next table's first page: that table maps nothing else
	fr, err := m.AllocFrames(1, mm.UserData)
	if err != nil || m.Map(p.as, va, fr[0], true) != nil {
		e.fail("mask-trim: map %#x: %v", va, err)
		return
	}
	m.FreeFrames(m.Unmap(p.as, va, va+mm.PageSize)) // the table empties: freed, lazy CPUs leave
	atomic.StoreUint64(&p.as.NextTrim, 0)           // a second later
	last := mm.UserBase() + uintptr(p.pages-1)*mm.PageSize
	m.FreeFrames(m.Unmap(p.as, last, last+mm.PageSize)) // trims the mask
	p.pages--
}
