package mm

import "testing"

// Host tests of munmap's and exit_mmap's teardown: which page tables free_pgtables frees between the
// neighbouring VMAs, that MADV_DONTNEED frees none, and how often the gather's batch makes a
// teardown flush.

// unmapSteps runs munmap(start, end) (exit: exit_mmap) step by step and returns each step's flush
// (the gather), with the pages and tables that went.
func unmapSteps(t *testing.T, a *Allocator, as *AddrSpace, start, end uintptr, exit bool) (flushes []Gather, pages, tables *FrameList) {
	t.Helper()
	pages, tables = new(FrameList), new(FrameList)
	var u Unmapping
	if exit {
		as.BeginExit(&u)
	} else if !as.BeginUnmap(&u, start, end) {
		return nil, pages, tables
	}
	for {
		done := as.UnmapStep(a, &u, pages, tables)
		if !u.G.Empty() {
			flushes = append(flushes, u.G)
		}
		if done {
			return flushes, pages, tables
		}
	}
}

// free_pgtables keeps a table while a VMA beside the range still uses its span (floor, ceiling), and
// frees it, up to the user range's top table, when none does.
func TestUnmapFreesEmptiedTables(t *testing.T) {
	a := setupMM(t, 256)
	as := newAS(t, a)
	base := UserBase()
	mapFresh(t, a, as, base, 4, true)       // VMA A: pages 0-3, PTE table 1
	mapFresh(t, a, as, base+4<<20, 1, true) // VMA B: 4 MiB on, PTE table 2, the same PMD table
	all := userTables(as)                   // PDPT, PD, PT 1, PT 2
	steps := []struct {
		start, end  uintptr
		freed       int  // tables
		freedTables bool // the flush says so (x86: lazy CPUs interrupted)
		rootEntry   bool // the root's user entry is still there
	}{
		{base, base + PageSize, 0, false, true},                 // A's rest is in the PTE table
		{base + PageSize, base + 4*PageSize, 1, true, true},     // A's PTE table; B keeps the PMD table
		{base + 8<<20, base + 9<<20, 0, false, true},            // no VMA there: nothing, no flush
		{base + 4<<20, base + 4<<20 + PageSize, 3, true, false}, // the last VMA: PT, PD, PDPT
	}
	wantTables := uint64(len(all) + 1)
	for i, s := range steps {
		flushes, pages, tables := unmapSteps(t, a, as, s.start, s.end, false)
		if wantTables -= uint64(s.freed); tables.n != s.freed || as.Tables != wantTables {
			t.Errorf("step %d: %d tables freed (Tables %d), want %d (%d)", i, tables.n, as.Tables, s.freed, wantTables)
		}
		if s.freed == 0 && s.start == base+8<<20 && len(flushes) != 0 {
			t.Errorf("step %d: munmap of no VMA flushed: %+v", i, flushes)
		}
		if len(flushes) > 0 && flushes[0].FreedTables != s.freedTables {
			t.Errorf("step %d: flush %+v, want FreedTables %v", i, flushes[0], s.freedTables)
		}
		if got := table(as.Root)[PT.UserSlot] != 0; got != s.rootEntry {
			t.Errorf("step %d: root's user entry present %v, want %v", i, got, s.rootEntry)
		}
		pages.FreeAll(a)
		tables.FreeAll(a)
	}
	for _, f := range all {
		if a.KindOf(f) != Quarantined || !poisoned(f) {
			t.Errorf("table frame %d is %v after the last munmap, want quarantined and poisoned", f, a.KindOf(f))
		}
	}
}

// MADV_DONTNEED zaps the pages but keeps the VMA and every table (zap_page_range).
func TestZapKeepsTables(t *testing.T) {
	a := setupMM(t, 64)
	as := newAS(t, a)
	mapFresh(t, a, as, UserBase(), 2, true)
	before := userTables(as)
	out := new(FrameList)
	if n := as.Zap(a, UserBase(), UserBase()+2*PageSize, out); n != 2 || out.n != 2 {
		t.Fatalf("Zap cleared %d pages (%d listed), want 2", n, out.n)
	}
	if got := userTables(as); !sameSet(got, before) || as.Tables != 4 {
		t.Errorf("tables after Zap %v (Tables %d), want %v", got, as.Tables, before)
	}
	if _, ok := as.vmas.Find(UserBase()); !ok {
		t.Error("Zap removed the VMA")
	}
}

// The gather's batch (GatherBatch entries, pages and tables alike) bounds what one flush covers: a
// teardown of more flushes mid-way, as zap_pte_range's force_flush does.
func TestTeardownBatchFlushes(t *testing.T) {
	cases := []struct {
		pages   int
		flushes []bool // FreedTables of each flush
	}{
		{100, []bool{true}},                    // 100 pages + 3 tables: one flush at the end
		{GatherBatch, []bool{false, true}},     // the last page fills the batch: pages, then tables
		{GatherBatch - 5, []bool{true, true}},  // the 5th table fills it: 21 tables in all
		{GatherBatch + 1, []bool{false, true}}, // one page after the mid-way flush, then tables
	}
	for _, c := range cases {
		a := setupMM(t, GatherBatch+200)
		as := newAS(t, a)
		mapFresh(t, a, as, UserBase(), c.pages, true)
		flushes, pages, tables := unmapSteps(t, a, as, 0, 0, true)
		var got []bool
		for _, g := range flushes {
			got = append(got, g.FreedTables)
			if g.Start != 0 || g.End != FlushAll {
				t.Errorf("%d pages: exit_mmap flush %+v is not of everything", c.pages, g)
			}
		}
		if len(got) != len(c.flushes) || pages.n != c.pages || as.Pages != 0 || as.Tables != 1 {
			t.Errorf("%d pages: flushes (FreedTables) %v, want %v; %d pages and %d tables listed, Pages %d, Tables %d",
				c.pages, got, c.flushes, pages.n, tables.n, as.Pages, as.Tables)
			continue
		}
		for i := range got {
			if got[i] != c.flushes[i] {
				t.Errorf("%d pages: flushes (FreedTables) %v, want %v", c.pages, got, c.flushes)
				break
			}
		}
	}
}
