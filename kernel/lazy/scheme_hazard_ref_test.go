package lazy

import "testing"

// TestHazardRefSwap plays the race mm_unlazy_mm_count's cmpxchg settles, on the x86 model: a CPU
// whose drop_mm still holds an older mm's reference is lazy on the mm being scanned, so the scan
// swaps its reference in and drops the older one. CPU 1's kernel thread k is lazy on q when q's last
// thread exits on CPU 0 (the scan gives CPU 1 a reference on q); k execs into p (exec_mmap clears
// lazy_mm with no finish_task_switch, so drop_mm keeps q) and exits: p's scan finds CPU 1 naming p
// with q in drop_mm. Nothing may be reported or leak, and q must outlive CPU 0's lazy use.
func TestHazardRefSwap(t *testing.T) {
	w := newWorld(t, 2, hazardRef{})
	q, tq := w.newProc()
	k := w.kthread()
	w.step(1, func(c *CPU) { c.Switch(tq); w.touch(1, q); c.Switch(k) }) // lazy on q
	w.step(0, func(c *CPU) { c.Switch(tq); c.Exit() })                   // q's __mmput
	if got, want := rqs[1].dropMM, packRef(q.as.Handle(), q.ctx); got != want {
		t.Fatalf("after q's scan CPU 1's drop_mm is %#x, want q's %#x", got, want)
	}
	p, tp := w.newProc()
	DropTask(tp) // exec's new mm: its mm_users reference is the exec's
	w.step(1, func(c *CPU) { c.Exec(p.as) })
	if rqs[1].hazard != 0 || rqs[1].dropMM == 0 {
		t.Fatalf("after exec CPU 1 has lazy_mm %#x and drop_mm %#x, want none and q's", rqs[1].hazard, rqs[1].dropMM)
	}
	count := q.as.Count
	w.step(1, func(c *CPU) { c.Exit() }) // p's __mmput: CPU 1 names p, drop_mm holds q
	if got, want := rqs[1].dropMM, packRef(p.as.Handle(), p.ctx); got != want {
		t.Errorf("after p's scan CPU 1's drop_mm is %#x, want p's %#x", got, want)
	}
	if !q.as.Valid(q.ctx) || q.as.Count != count-1 {
		t.Errorf("q: valid %v, mm_count %d, want valid with %d (CPU 0's reference; CPU 1's swapped out)",
			q.as.Valid(q.ctx), q.as.Count, count-1)
	}
	w.expectNone(w.finish())
	w.expectNoLeaks()
}
