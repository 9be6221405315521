package matrix

import (
	"sync/atomic"
	"time"
	"unsafe"

	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
	"lazymm/mm"
)

// idleLeaveMM: every CPU runs a thread of one process; the others then go to their idle thread, lazy
// on the mm, enter a deep idle state (lazy.DeepIdle: leave_mm where the arch has it) and wait in it
// (lazy.IdleCycle: mwait's loop, interrupts off from the thread's last access to its first) while CPU 0
// unmaps a page of the process and maps a new one there. They come back to their threads, which
// must read the new page, and go deep idle again while CPU 0 exits every thread of the process (the
// mm is torn down under them); then each runs a user task.
func idleLeaveMM(e *env, c *lazy.CPU) {
	if c.ID == 0 {
		e.shareProc(c, 2)
		if e.procs[0] != nil {
			e.mapIdlePage(e.procs[0], 0)
		}
		idlers, idleWake = 0, 0
	}
	e.bar.wait()
	p := e.runShared(c)
	if p == nil {
		return
	}
	if c.ID == 0 {
		e.checkIdlePage(c, p, 0, e.readIdlePage())
		for atomic.LoadInt32(&idlers) != int32(e.n-1) {
			pause(100 * time.Microsecond)
		}
		e.mapIdlePage(p, 1)
		e.checkIdlePage(c, p, 1, e.readIdlePage())
		atomic.StoreUint32(&idleWake, 1)
	} else {
		before, after := c.IdleCycle(&idlers, &idleWake, idlePage())
		e.checkIdlePage(c, p, 0, before)
		e.checkIdlePage(c, p, 1, after)
	}
	e.bar.wait()
	if c.ID != 0 {
		c.Switch(c.Idle)
		c.DeepIdle()
	}
	e.bar.wait() // the other CPUs wait here, deep idle, while CPU 0 exits the process
	if c.ID == 0 {
		e.exitAllHere(c, p, false)
	}
	e.bar.wait()
	if c.ID != 0 {
		e.userRun(c)
	}
}

// idlers counts the CPUs in idleLeaveMM's first deep idle; idleWake ends it.
var (
	idlers   int32
	idleWake uint32
)

// idlePage is where idleLeaveMM maps the page it unmaps and maps anew: a page number whose low bits are
// not all zero, so that in a TLB indexed by them (QEMU's) it does not share a set with the hottest
// kernel pages (the first of the image, of the heap), which would evict it while the CPU idles.
func idlePage() uintptr { return mm.UserBase() + 0x155*mm.PageSize }

// idleToken is the second word of the idle page of p: gen 0 as mapped first, 1 once mapped anew.
func idleToken(p *proc, gen uint64) uint64 { return p.ctx<<16 | gen<<15 | 0x155 }

// mapIdlePage maps a new frame at the idle page of p, with gen's token; the old frame, if any, was
// unmapped first (munmap: flush_tlb_mm_range) and is freed.
func (e *env) mapIdlePage(p *proc, gen uint64) {
	m, va := machine.M, idlePage()
	if gen > 0 {
		m.FreeFrames(m.Unmap(p.as, va, va+mm.PageSize))
	}
	f, err := m.AllocFrames(1, mm.UserData)
	if err != nil {
		e.fail("idle-leave-mm: %v", err)
		return
	}
	w := (*[2]uint64)(mm.Phys(f[0] << mm.PageShift))
	w[0], w[1] = tokenMagic, idleToken(p, gen)
	if err := m.Map(p.as, va, f[0], true); err != nil {
		e.fail("idle-leave-mm: %v", err)
	}
}

// readIdlePage reads the idle page through the MMU.
func (e *env) readIdlePage() [2]uint64 {
	w := (*[2]uint64)(unsafe.Add(nil, idlePage()))
	return [2]uint64{atomic.LoadUint64(&w[0]), atomic.LoadUint64(&w[1])}
}

// checkIdlePage: what was read at the idle page of p must be gen's token, not an older page's (a
// stale translation) or a freed frame's poison.
func (e *env) checkIdlePage(c *lazy.CPU, p *proc, gen uint64, w [2]uint64) {
	e.reads.Add(1)
	if w[0] != tokenMagic || w[1] != idleToken(p, gen) {
		e.fail("stale-tlb|CPU %d read a page of mm ctx %d, unmapped and mapped anew while it idled, and found %#x %#x, not the new token: a stale translation", c.ID, p.ctx, w[0], w[1])
	}
}
