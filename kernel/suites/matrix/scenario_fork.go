package matrix

import (
	"sync/atomic"
	"unsafe"

	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
	"lazymm/mm"
)

// fork-cow: fork while other CPUs run the parent's threads and others are lazy on it, then
// copy-on-write breaks in the parent and in the child while other CPUs hold translations of the old
// pages, some of them lazily; then both exit under lazy CPUs.
//
// The writes are real stores through the MMU (machine.Paging.UserStore): a store to a page fork
// write-protected takes a real write fault (CR0.WP on amd64; POWER's protection fault), which the
// fault handler hands back to the writer, which runs do_wp_page (WriteFault) and stores again. So the
// MMU decides whether a write faults: a CPU that kept a writable translation of a page fork shared
// writes into the child's page without a fault.
//
// The parent's pages come in four groups of forkGroup: A, written by every parent thread after the
// fork (the child must still read what they held at the fork: else a writable translation outlived
// dup_mmap's flush_tlb_mm, stale-tlb); B, copied by CPU 0's parent thread while the others hold read
// translations of them, running or lazy (they must then read CPU 0's new page: else one outlived
// wp_page_copy's flush, stale-tlb); C, the same in the child, its second thread on CPU 1 reading,
// lazy on the child in even rounds; D, never written, still shared when the child exits. Two rounds,
// a fork each, swap which CPUs are lazy on the parent ((cpu + round) odd).

const (
	forkGroup  = 4
	forkPages  = 4 * forkGroup
	forkRounds = 2
	forkPre    = 0x70726500_00000000 // "pre": a parent thread's write before the fork
	forkPost   = 0x706f7374_00000000 // "post": after it
)

// forkRun is what a round's CPUs share (set by CPU 0 between barriers).
var forkRun struct {
	child        *proc
	main, thread *lazy.Task // the child, and the second thread it clones
	faults       atomic.Int64
}

// word is word w of page i (0: the token's magic, 1: its id, 2+cpu: what CPU cpu writes).
func word(i, w int) *uint64 {
	return (*uint64)(unsafe.Add(nil, mm.UserBase()+uintptr(i)*mm.PageSize+uintptr(w)*8))
}

// slot is the word CPU cpu writes in page i.
func slot(i, cpu int) *uint64 { return word(i, 2+cpu) }

func forkVal(base uint64, r, cpu int) uint64 { return base | uint64(r)<<16 | uint64(cpu) }

// forkCOW is the scenario: CPU 0 makes the parent (a thread per CPU), the rounds run, and the
// parent's threads exit on CPU 0 while the others are lazy on it.
func forkCOW(e *env, c *lazy.CPU) {
	if c.ID == 0 {
		e.shareProc(c, forkPages)
		forkRun.faults.Store(0)
	}
	e.bar.wait()
	p, k, ok := e.runFirstProc(c)
	if !ok {
		return
	}
	for r := 0; r < forkRounds; r++ {
		forkRound(e, c, k, r)
	}
	if c.ID != 0 {
		c.Switch(k) // lazy on the parent
	}
	e.bar.wait()
	if c.ID == 0 {
		e.exitAllHere(c, p, false) // exit_mmap under the lazy CPUs
		if n := mm.SharedFrames(); n != 0 {
			e.fail("leak|%d frames still shared after the parent and every child exited", n)
		}
		c.Switch(k)
		e.t.Metric("cow_faults", float64(forkRun.faults.Load()))
	}
	e.bar.wait()
	if e.userRun(c) { // a user task of its own ends the lazy use
		c.Switch(k)
		c.ExitKthread()
	}
}

// forkRound is one fork: the parent's threads write A and B (writable translations), the lazy ones
// leave for a kernel thread, CPU 0 forks, then the checks of A, B and C, and the child exits.
func forkRound(e *env, c *lazy.CPU, k *lazy.Task, r int) {
	me, lazyP := e.tasks[c.ID], c.ID != 0 && (c.ID+r)%2 == 1
	c.Switch(me)
	for i := 0; i < 2*forkGroup; i++ {
		e.userWrite(c, i, forkVal(forkPre, r, c.ID))
	}
	if lazyP {
		c.Switch(k)
	}
	e.bar.wait()
	if c.ID == 0 {
		e.fork(c)
	}
	e.bar.wait()
	if forkRun.child == nil {
		return
	}
	c.Switch(me) // a lazy CPU comes back: x86's tlb_gen catch-up, unless fork's flush sent it off
	for i := 0; i < forkGroup; i++ {
		e.userWrite(c, i, forkVal(forkPost, r, c.ID)) // faults and copies, unless a translation is stale
	}
	e.forkRead(c, forkGroup, 2*forkGroup) // read translations of B, the pages fork shared
	if lazyP {
		c.Switch(k)
	}
	e.bar.wait()
	if c.ID == 0 {
		e.forkCheckChild(c, r)
		c.Switch(me)
		for i := forkGroup; i < 2*forkGroup; i++ {
			e.userWrite(c, i, forkVal(forkPost, r, 0)) // wp_page_copy in the parent
		}
	}
	e.bar.wait()
	c.Switch(me)
	e.forkCheckCopied(c, forkGroup, forkVal(forkPost, r, 0), lazyP, "the parent's")
	e.bar.wait()
	e.childCOW(c, k, r)
}

// fork is CPU 0's fork of its parent thread, and the child's clone of a second thread.
func (e *env) fork(c *lazy.CPU) {
	forkRun.child, forkRun.main, forkRun.thread = nil, nil, nil
	t, err := c.Fork()
	if err != nil {
		e.fail("fork: %v", err)
		return
	}
	forkRun.child = &proc{as: mm.At(t.MM), ctx: t.MMCtx, pages: forkPages}
	forkRun.main = t
	forkRun.thread = e.thread(c, forkRun.child)
}

// childCOW is C's part and the child's exit: the child's second thread on CPU 1 (CPU 0 alone: CPU 0)
// reads C, and in even rounds goes lazy on the child; the child's first thread, on CPU 0, writes C
// (wp_page_copy in the child); the second thread reads C again. Then the child's threads exit on
// CPU 0, CPU 1 lazy on the child.
func (e *env) childCOW(c *lazy.CPU, k *lazy.Task, r int) {
	kc, lazyC := 1%e.n, r%2 == 0 && e.n > 1
	if c.ID == kc {
		c.Switch(forkRun.thread)
		e.forkRead(c, 2*forkGroup, 3*forkGroup)
		if lazyC {
			c.Switch(k)
		}
	}
	e.bar.wait()
	if c.ID == 0 {
		c.Switch(forkRun.main)
		for i := 2 * forkGroup; i < 3*forkGroup; i++ {
			e.userWrite(c, i, forkVal(forkPost, r, 0))
		}
	}
	e.bar.wait()
	if c.ID == kc {
		c.Switch(forkRun.thread)
		e.forkCheckCopied(c, 2*forkGroup, forkVal(forkPost, r, 0), lazyC, "the child's")
		if kc != 0 {
			c.Switch(k) // lazy on the child as it exits
		}
	}
	e.bar.wait()
	if c.ID == 0 {
		c.Switch(forkRun.thread)
		c.Exit()
		c.Switch(forkRun.main)
		c.Exit() // the last mmput: exit_mmap, the pages still shared (D) only lose a mapping
	}
	e.bar.wait()
}

// userWrite stores v in page i's slot of this CPU, through the MMU, as the current task: a write
// fault is handled as Linux's handler would (WriteFault: do_wp_page) and the store made again.
func (e *env) userWrite(c *lazy.CPU, i int, v uint64) {
	va := uintptr(unsafe.Pointer(slot(i, c.ID)))
	for try := 0; try < 8; try++ {
		if machine.M.UserStore(va, v) {
			return
		}
		forkRun.faults.Add(1)
		if !machine.M.WriteFault(va) {
			e.fail("CPU %d: the write to %#x faulted, and do_wp_page refused it", c.ID, va)
			return
		}
	}
	e.fail("CPU %d: the write to %#x still faults after 8 copy-on-write faults", c.ID, va)
}

// forkRead reads pages [from, to) through the MMU (their tokens), filling this CPU's TLB.
func (e *env) forkRead(c *lazy.CPU, from, to int) {
	for i := from; i < to; i++ {
		e.reads.Add(1)
		if w := atomic.LoadUint64(word(i, 0)); w != tokenMagic {
			e.fail("CPU %d: page %d holds %#x, not its token", c.ID, i, w)
		}
	}
}

// forkCheckChild is the child's read of A through its own mapping, on CPU 0: every parent thread's
// word must hold what it wrote before the fork. Its post-fork value means that CPU wrote into the
// page the child shares, through a writable translation dup_mmap's flush_tlb_mm(oldmm) should have
// dropped (a stale TLB: the write took no fault).
func (e *env) forkCheckChild(c *lazy.CPU, r int) {
	c.Switch(forkRun.main)
	for i := 0; i < forkGroup; i++ {
		for cpu := 0; cpu < e.n; cpu++ {
			e.reads.Add(1)
			switch got := atomic.LoadUint64(slot(i, cpu)); got {
			case forkVal(forkPre, r, cpu):
			case forkVal(forkPost, r, cpu):
				e.forkStale("the child (mm ctx %d) read CPU %d's post-fork write %#x in page %d through its own mapping: "+
					"CPU %d wrote into the shared page through a writable translation that outlived fork's flush_tlb_mm",
					forkRun.child.ctx, cpu, got, i, cpu)
			default:
				e.fail("the child read %#x in page %d, CPU %d's word: neither its write before the fork nor after", got, i, cpu)
			}
		}
	}
}

// forkCheckCopied is a re-read of the group from (B: the parent's, C: the child's) after CPU 0's
// copy-on-write of it: CPU 0's word must hold want, its write to the new page. The old page's value
// means this CPU still translated the address to the old page: its translation outlived
// wp_page_copy's ptep_clear_flush (a lazy CPU: by the tlb_gen catch-up on its way back).
func (e *env) forkCheckCopied(c *lazy.CPU, from int, want uint64, wasLazy bool, whose string) {
	how := "running"
	if wasLazy {
		how = "lazy during the copy"
	}
	for i := from; i < from+forkGroup; i++ {
		e.reads.Add(1)
		if got := atomic.LoadUint64(slot(i, 0)); got != want {
			e.forkStale("CPU %d (%s) read %#x, not %#x, through %#x after %s copy-on-write of page %d by CPU 0: "+
				"it still translates to the old page, past wp_page_copy's flush", c.ID, how, got, want,
				uintptr(unsafe.Pointer(slot(i, 0))), whose, i)
		}
	}
}

// forkStale reports a stale-TLB finding (the first few in full).
func (e *env) forkStale(format string, a ...any) {
	if e.stale.Add(1) <= 4 {
		e.fail("stale-tlb|"+format, a...)
	}
}
