package matrix

import (
	"sync/atomic"
	"time"
	"unsafe"

	"lazymm/kernel/lazy"
	"lazymm/mm"
)

// The store-buffering test of the membarrier scenario, in user memory of the process (its token page
// 1, x and y on separate cache lines): CPU 0 is the slow side (y = 1; membarrier(); r2 = x), the fast
// side (x = 1; r1 = y, no barrier) is CPU 1, which stays in the process (membarrier's IPI is its
// barrier), or CPU 2, which first switches to a kernel thread and back (no IPI when the scan saw the
// kernel thread: the switch path's barriers are its barrier). r1 == 0 && r2 == 0 is forbidden. The
// control runs the same with no membarrier: its forbidden outcomes show that the machine lets a store
// pass a later load at all.
//
// One pair plays at a time, the other CPUs halted in the barrier (off the mm: no IPIs for them): both sides spin on a shared start
// counter, so with two host cores both run at once, then store and load with no call in between. The
// side that arrives last goes first: a varying delay on each side sweeps the offset between them.

var sb struct {
	start, done atomic.Int64
	_           [48]byte
	r1          atomic.Uint64
}

// sbCtlIters and sbIters are the iterations of each control round and each membarrier round (an
// iteration of the latter costs an IPI: up to milliseconds under TCG on a loaded host). Measuring a
// mutation wants more (docs/LAZY.md: 2000 each).
const (
	sbCtlIters = 500
	sbIters    = 100
)

// sbSweep is CPU 0's delay range per fast CPU: CPU 2's side starts with a switch, so CPU 0 waits longer.
var sbSweep = [3]int64{0, 15, 127}

// sbVars are the test's words in p's page 1, user addresses, on lines of their own.
func sbVars() (x, y *uint64) {
	base := mm.UserBase() + mm.PageSize + 0x100
	return (*uint64)(unsafe.Add(nil, base)), (*uint64)(unsafe.Add(nil, base+0x100))
}

// sbDelay is a short spin of a varying length, no calls: it sweeps the offset between the sides.
//
//go:nosplit
func sbDelay(i, salt, mask int64) {
	n := (i*salt ^ i>>3) & mask
	var s uint64
	for j := int64(0); j < n; j++ {
		atomic.AddUint64(&s, 1)
	}
}

// sbRun plays a round of CPU 0 against fast (1 or 2), the others halted in the barrier on their
// kernel thread, and returns the forbidden outcomes seen. me is the CPU's task of the process, k its kernel thread.
func sbRun(e *env, c *lazy.CPU, me, k *lazy.Task, fast int, control bool) (forbidden int) {
	if c.ID == 0 {
		sb.start.Store(0)
		sb.done.Store(0)
	}
	e.bar.wait()
	if c.ID != 0 && c.ID != fast {
		c.Switch(k) // off the mm while halted: the membarriers send it no IPI
		e.bar.wait()
		c.Switch(me)
		return 0
	}
	x, y := sbVars()
	iters := int64(sbIters)
	if control {
		iters = sbCtlIters
	}
	for i := int64(1); i <= iters; i++ {
		if c.ID == 0 {
			*x, *y = 0, 0
			sb.start.Add(1)
			for sb.start.Load() < 2*i {
			}
			sbDelay(i, 5, sbSweep[fast])
			r2 := c.MembarrierSB(y, x, control)
			for sb.done.Load() < i {
			}
			if sb.r1.Load() == 0 && r2 == 0 {
				forbidden++
			}
			continue
		}
		if fast == 2 {
			c.Switch(k)
		}
		sb.start.Add(1)
		for sb.start.Load() < 2*i {
		}
		sbDelay(i, 3, 15)
		if fast == 2 {
			c.Switch(me)
		}
		sb.r1.Store(lazy.SBFast(x, y))
		sb.done.Store(i)
	}
	e.bar.wait()
	return forbidden
}

// sbPhases runs the control, then the test, for each fast CPU, and reports: a forbidden outcome under
// membarrier fails the membarrier check. It needs three CPUs; with fewer it is skipped.
func sbPhases(e *env, c *lazy.CPU, me, k *lazy.Task) {
	if e.n < 3 {
		return
	}
	c.Switch(me)
	var ctl, got, sent [3]int
	var dc, dm time.Duration
	for _, f := range []int{1, 2} {
		t0 := time.Now()
		ctl[f] = sbRun(e, c, me, k, f, true)
		t1 := time.Now()
		ipis := lazy.EngineStats(e.n).MembarrierIPIs
		got[f] = sbRun(e, c, me, k, f, false)
		dc, dm = dc+t1.Sub(t0), dm+time.Since(t1)
		sent[f] = int(lazy.EngineStats(e.n).MembarrierIPIs - ipis)
	}
	if c.ID != 0 {
		return
	}
	e.t.Metric("sb_control_iterations", sbCtlIters)
	e.t.Metric("sb_iterations", sbIters)
	// membarrier IPIs sent in each round: the switching round's fall short of sb_iterations by the
	// membarriers whose scan saw CPU 2 on its kernel thread
	e.t.Metric("sb_ipis_steady", float64(sent[1]))
	e.t.Metric("sb_ipis_switching", float64(sent[2]))
	e.t.Metric("sb_control_ms", float64(dc.Milliseconds()))
	e.t.Metric("sb_ms", float64(dm.Milliseconds()))
	e.t.Metric("sb_control_forbidden_steady", float64(ctl[1]))
	e.t.Metric("sb_control_forbidden_switching", float64(ctl[2]))
	e.t.Metric("sb_forbidden_steady", float64(got[1]))
	e.t.Metric("sb_forbidden_switching", float64(got[2]))
	if got[1]+got[2] > 0 {
		e.fail("membarrier|store buffering around an expedited membarrier: r1 == 0 && r2 == 0 seen %d times with the CPU that stayed in the mm, %d with the CPU that switched through a kernel thread, in %d iterations each",
			got[1], got[2], sbIters)
	}
}
