//go:build linux && amd64

package main

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// membarrier, as kernel/suites/matrix/scenarios.go plays it (membarrierScenario, then
// membarrier_sb.go's store-buffering test), in a Linux process: every CPU runs a thread of one
// process; CPU 0 issues 40 expedited private membarriers, 100 µs apart, while the even CPUs stay in
// the process and the odd ones keep napping (their CPUs run the idle task a moment: lazymm's switch
// to a kernel thread and back) and running; then the store-buffering test, CPU 0 against CPU 1 (which
// stays in the process) and CPU 2 (which naps in each iteration), the other CPUs asleep, each round
// first without membarrier (the control), then with it. Then the threads exit, the last exit
// tearing the mm down under the lazy CPUs.

const (
	mbCalls    = 40
	sbCtlIters = 500
	sbIters    = 100
)

var mbs struct {
	base      uintptr
	want      [mpPages]uint64
	flag      int32
	calls     int64
	start     int64
	_         [56]byte
	done      int64
	_         [56]byte
	r1        uint64
	forbidden [3][2]int64 // [fast CPU][control?]
}

var (
	sbSweep = [3]int64{0, 15, 127} // CPU 0's delay range per fast CPU, as lazymm's
	mbNames = [...][]byte{[]byte("membarriers"), []byte("sb_forbidden_steady"), []byte("sb_forbidden_switching"),
		[]byte("sb_control_forbidden_steady"), []byte("sb_control_forbidden_switching")}
)

func membarrierPattern(n int) {
	mbs.base = mapPages(2)
	for i := 0; i < 2; i++ {
		mbs.want[i] = token(i, 1)
		*word(mbs.base, i) = mbs.want[i]
	}
	if membarrier(mbRegisterPrivateExpedited) != 0 { // before the window: it synchronizes RCU and IPIs
		fmt.Fprintln(os.Stderr, "linuxref guest: MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED failed")
		os.Exit(3)
	}
	openMarker()
	mark(markBegin)
	tm.start(n, membarrierCPU)
}

//go:nosplit
func membarrierCPU(cpu int) {
	readAll(mbs.base, 2, &mbs.want)
	tm.bar.wait()
	if cpu == 0 {
		for i := 0; i < mbCalls; i++ {
			membarrier(mbPrivateExpedited)
			atomic.AddInt64(&mbs.calls, 1)
			spinNS(100_000)
		}
		atomic.StoreInt32(&mbs.flag, 1)
	}
	for cpu != 0 && atomic.LoadInt32(&mbs.flag) == 0 {
		if cpu%2 == 1 {
			nap()
		}
		spinNS(100_000)
	}
	tm.bar.wait()
	if tm.n >= 3 {
		for fast := 1; fast <= 2; fast++ {
			sbRun(cpu, fast, true)
			sbRun(cpu, fast, false)
		}
	}
	if cpu != 0 {
		leaveLazy(cpu)
	}
	membarrierCounts()
	waitIdle(othersMask())
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
}

//go:nosplit
func membarrierCounts() {
	putCount(mbNames[0], atomic.LoadInt64(&mbs.calls))
	putCount(mbNames[1], mbs.forbidden[1][0])
	putCount(mbNames[2], mbs.forbidden[2][0])
	putCount(mbNames[3], mbs.forbidden[1][1])
	putCount(mbNames[4], mbs.forbidden[2][1])
	putCount(countStale, atomic.LoadInt64(&tm.stale))
}

// sbVars are the test's words in page 1, on lines of their own (lazymm's sbVars).
//
//go:nosplit
func sbVars() (x, y *uint64) {
	base := mbs.base + 4096 + 0x100
	return (*uint64)(unsafe.Add(nil, base)), (*uint64)(unsafe.Add(nil, base+0x100))
}

// sbRun is one round of CPU 0 against fast (lazymm's sbRun): the CPUs that do not play sleep through it.
//
//go:nosplit
func sbRun(cpu, fast int, control bool) {
	if cpu == 0 {
		atomic.StoreInt64(&mbs.start, 0)
		atomic.StoreInt64(&mbs.done, 0)
	}
	tm.bar.wait()
	if cpu != 0 && cpu != fast {
		sleepOn(&tm.sleep[cpu])
		tm.bar.wait()
		return
	}
	idleMask := othersMask() &^ (1 << fast)
	if cpu == 0 {
		waitIdle(idleMask)
	}
	iters := int64(sbIters)
	if control {
		iters = sbCtlIters
	}
	for i := int64(1); i <= iters; i++ {
		if cpu == 0 {
			sbSlow(i, fast, control)
		} else {
			sbFastSide(i, fast)
		}
	}
	if cpu == 0 {
		for c := 1; c < tm.n; c++ {
			if idleMask&(1<<c) != 0 {
				wakeUp(&tm.sleep[c])
			}
		}
	}
	tm.bar.wait()
}

// sbSlow is CPU 0's iteration: y = 1; membarrier (none in the control); r2 = x.
//
//go:nosplit
func sbSlow(i int64, fast int, control bool) {
	x, y := sbVars()
	*x, *y = 0, 0
	atomic.AddInt64(&mbs.start, 1)
	for atomic.LoadInt64(&mbs.start) < 2*i {
	}
	sbDelay(i, 5, sbSweep[fast])
	var r2 uint64
	if control {
		r2 = sbStoreLoad(y, x)
	} else {
		*y = 1
		membarrier(mbPrivateExpedited)
		atomic.AddInt64(&mbs.calls, 1)
		r2 = *x
	}
	for atomic.LoadInt64(&mbs.done) < i {
	}
	if atomic.LoadUint64(&mbs.r1) == 0 && r2 == 0 {
		c := 0
		if control {
			c = 1
		}
		mbs.forbidden[fast][c]++
	}
}

// sbFastSide is the fast CPU's iteration: x = 1; r1 = y, no barrier. CPU 2 naps first (off the mm
// a moment, as lazymm's CPU 2 switches to a kernel thread and back).
//
//go:nosplit
func sbFastSide(i int64, fast int) {
	x, y := sbVars()
	atomic.AddInt64(&mbs.start, 1)
	if fast == 2 {
		nap()
	}
	for atomic.LoadInt64(&mbs.start) < 2*i {
	}
	sbDelay(i, 3, 15)
	atomic.StoreUint64(&mbs.r1, sbFast(x, y))
	atomic.StoreInt64(&mbs.done, i)
}

// sbDelay is lazymm's: a short spin of a varying length, which sweeps the offset between the sides.
//
//go:nosplit
func sbDelay(i, salt, mask int64) {
	n := (i*salt ^ i>>3) & mask
	var s uint64
	for j := int64(0); j < n; j++ {
		atomic.AddUint64(&s, 1)
	}
}
