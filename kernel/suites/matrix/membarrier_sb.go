package matrix

import (
	"sync/atomic"
	"unsafe"

	"lazymm/kernel/lazy"
	"lazymm/mm"
)

// The store-buffering test of the membarrier scenario, in user memory of the process (its token page
// 1): CPU 0 is the slow side (y = 1; membarrier(); r2 = x), CPU 1 a fast side that stays in the
// process (x = 1; barrier(); r1 = y: membarrier's IPI is its barrier), CPU 2 a fast side that first
// switches to a kernel thread and back (no IPI when the scan saw the kernel thread: the switch path's
// barriers are its barrier). r1 == 0 && r2 == 0 is forbidden. The control runs the same with no
// membarrier: its forbidden outcomes show how often the machine lets a store pass a later load.

var sb struct {
	goI, done1, done2 atomic.Int64
	r1                [2]atomic.Uint64
}

// sbIters is kept small: 1400 iterations per arch showed no forbidden outcome under TCG, with or
// without a membarrier (docs/LAZY.md), and each costs a membarrier's IPIs.
const sbIters = 50

// sbVars are the test's words in p's page 1 (pairs a and b: x, y), user addresses.
func sbVars(i int) (x, y *uint64) {
	base := mm.UserBase() + mm.PageSize + 0x100 + uintptr(i)*0x200
	return (*uint64)(unsafe.Add(nil, base)), (*uint64)(unsafe.Add(nil, base+0x100))
}

// sbRun plays sbIters iterations on CPUs 0-2 (the others wait) and returns the forbidden outcomes
// seen per pair. me is the CPU's task of the process, k its kernel thread.
func sbRun(e *env, c *lazy.CPU, me, k *lazy.Task, control bool) (forbidden [2]int) {
	if c.ID == 0 {
		sb.goI.Store(0)
		sb.done1.Store(0)
		sb.done2.Store(0)
	}
	e.bar.wait()
	x0, y0 := sbVars(0)
	x1, y1 := sbVars(1)
	fast2 := e.n >= 3
	for i := int64(1); i <= sbIters; i++ {
		switch c.ID {
		case 0:
			*x0, *y0, *x1, *y1 = 0, 0, 0, 0
			sb.goI.Store(i)
			spin(int(i % 7))
			r2 := c.MembarrierSB([]*uint64{y0, y1}, []*uint64{x0, x1}, control)
			for sb.done1.Load() < i || fast2 && sb.done2.Load() < i {
			}
			if sb.r1[0].Load() == 0 && r2[0] == 0 {
				forbidden[0]++
			}
			if fast2 && sb.r1[1].Load() == 0 && r2[1] == 0 {
				forbidden[1]++
			}
		case 1:
			for sb.goI.Load() < i {
			}
			sb.r1[0].Store(lazy.SBFast(x0, y0))
			sb.done1.Store(i)
		case 2:
			c.Switch(k)
			for sb.goI.Load() < i {
			}
			c.Switch(me)
			sb.r1[1].Store(lazy.SBFast(x1, y1))
			sb.done2.Store(i)
		}
	}
	e.bar.wait()
	return forbidden
}

// sbPhases runs the control, then the test, and reports: a forbidden outcome under membarrier fails
// the membarrier check.
func sbPhases(e *env, c *lazy.CPU, me, k *lazy.Task) {
	if e.n < 2 {
		return
	}
	ctl := sbRun(e, c, me, k, true)
	got := sbRun(e, c, me, k, false)
	if c.ID != 0 {
		return
	}
	e.t.Metric("sb_iterations", sbIters)
	e.t.Metric("sb_control_forbidden_steady", float64(ctl[0]))
	e.t.Metric("sb_control_forbidden_switching", float64(ctl[1]))
	e.t.Metric("sb_forbidden_steady", float64(got[0]))
	e.t.Metric("sb_forbidden_switching", float64(got[1]))
	if got[0]+got[1] > 0 {
		e.fail("membarrier|store buffering around an expedited membarrier: r1 == 0 && r2 == 0 seen %d times with the CPU that stayed in the mm, %d with the CPU that switched through a kernel thread, in %d iterations",
			got[0], got[1], sbIters)
	}
}
