package amd64

import (
	"sync/atomic"
	"unsafe"
)

// Threads of the hosted runtime (its Ms). Each CPU runs the threads assigned to it round-robin,
// preempted by the LAPIC tick; a thread blocks in futex, nanosleep or epoll_pwait and is woken by
// another thread's syscall or by its deadline passing. All state is in fixed arrays: this runs in trap
// context.
const maxThreads = 128

const (
	tFree = iota
	tNew  // claimed, being set up: no CPU may pick it yet
	tRunnable
	tRunning
	tBlocked
)

const (
	waitNone = iota
	waitFutex
	waitSleep
	waitEpoll
)

type thread struct {
	fx        [512 + 16]byte // FXSAVE area (aligned inside)
	frame     Frame          // registers while not running
	state     uint32
	tid       int32
	cpu       int32
	fsBase    uint64
	waitKind  uint32
	waitAddr  uintptr
	deadline  uint64 // TSC; 0 = none
	sigmask   uint64
	pending   uint64 // signals raised, not yet delivered
	altSP     uintptr
	altSize   uintptr
	faultAddr uint64
	affinity  uint64 // CPUs the thread may run on; 0 = any
}

var (
	nRunnable int32 // threads waiting for a CPU: idle CPUs and ticks look here before taking the lock
	threads   [maxThreads]thread
	nextTID   int32 = 1
	nThreads  int32
	bkl       uint32 // one big kernel lock: syscalls, faults and the scheduler are serialized
)

//go:nosplit
func lockKernel() {
	c := thisCPU()
	me := uint32(c.id) + 1
	for !atomic.CompareAndSwapUint32(&bkl, 0, me) {
		runCrossCall(c) // the holder may be waiting for this CPU to flush its TLB
		pause()
	}
}

// lockKernelFrom takes the kernel lock on entry; false when this CPU already holds it, i.e. the entry
// interrupted the kernel itself (only the idle loop drops the lock while interruptible).
//
//go:nosplit
func lockKernelFrom(f *Frame) bool {
	if atomic.LoadUint32(&bkl) == uint32(thisCPU().id)+1 {
		return false
	}
	lockKernel()
	return true
}

//go:nosplit
func unlockKernel() { atomic.StoreUint32(&bkl, 0) }

// newThread claims a free slot (state tNew: invisible to the scheduler until the caller is done
// setting it up); -1 when the table is full.
//
//go:nosplit
func newThread(cpu int32) int32 {
	for i := int32(0); i < maxThreads; i++ {
		t := &threads[i]
		if t.state == tFree {
			t.state = tNew
			t.tid = nextTID
			nextTID++
			t.cpu = cpu
			t.waitKind = waitNone
			t.deadline = 0
			t.pending, t.altSP, t.altSize = 0, 0, 0
			t.affinity = 0
			nThreads++
			return i
		}
	}
	return -1
}

// startFirstThread makes slot 0 the running thread of CPU 0 (the runtime's main thread, tid 1).
//
//go:nosplit
func startFirstThread() {
	i := newThread(0)
	t := &threads[i]
	setRunning(t)
	// FS as boot64 set it: the runtime's arch_prctl replaces it, but if this thread is switched out
	// before that (another CPU may steal it), run() must not load a zero FS base, or the next kernel
	// entry faults reading g at FS-8 in Go's ABI wrapper.
	t.fsBase = uint64(uintptr(unsafe.Pointer(&bootTLS[1])))
	fxsave(alignFX(&t.fx)) // a valid initial FPU state (FNINIT, default MXCSR)
	c := &cpus[0]
	c.cur = i
	c.curFX = alignFX(&t.fx)
	c.sliceAt = c.ticks + sliceTicks
}

// clone creates a thread that returns from the same SYSCALL with RAX = 0 on the given stack, with the
// parent's registers and FPU state, like Linux's copy_thread.
//
//go:nosplit
func cloneThread(f *Frame, stack, tls uint64, setTLS bool) int64 {
	c := thisCPU()
	i := newThread(int32(leastLoadedCPU()))
	if i < 0 {
		return -eAGAIN
	}
	t := &threads[i]
	parent := &threads[c.cur]
	t.frame = *f
	t.frame.RAX = 0
	t.frame.RSP = stack
	t.fsBase = parent.fsBase
	if setTLS {
		t.fsBase = tls
	}
	t.sigmask = parent.sigmask
	// The parent's FPU state was saved into its area on entry.
	dst, src := alignFX(&t.fx), alignFX(&parent.fx)
	for off := uintptr(0); off < 512; off += 8 {
		*(*uint64)(ptr(dst + off)) = *(*uint64)(ptr(src + off))
	}
	setRunnable(t) // only now, with frame and FS base in place, may another CPU pick it
	kickIdle(t)
	return int64(t.tid)
}

// leastLoadedCPU is where a new thread starts: the online CPU with the fewest threads.
//
//go:nosplit
func leastLoadedCPU() int {
	var load [maxCPUs]int
	for i := range threads {
		if t := &threads[i]; t.state != tFree && int(t.cpu) < maxCPUs {
			load[t.cpu]++
		}
	}
	best := 0
	for i := 1; i < onlineCPUs; i++ {
		if load[i] < load[best] {
			best = i
		}
	}
	return best
}

//go:nosplit
func allowed(t *thread, cpu int) bool { return t.affinity == 0 || t.affinity&(1<<uint(cpu)) != 0 }

// block parks the running thread (its result, if any, already in f.RAX) and switches away.
//
//go:nosplit
func block(f *Frame, kind uint32, addr uintptr, deadline uint64) {
	c := thisCPU()
	t := &threads[c.cur]
	t.state = tBlocked
	t.waitKind = kind
	t.waitAddr = addr
	t.deadline = deadline
	switchAway(f)
}

// wake makes a blocked thread runnable with the given syscall result.
//
//go:nosplit
func wake(t *thread, result int64) {
	t.frame.RAX = uint64(result)
	setRunnable(t)
	t.waitKind = waitNone
	t.deadline = 0
	kickIdle(t)
}

// wakeExpired ends the sleeps whose deadline has passed: futex waits time out, sleeps complete,
// epoll waits return no events.
//
//go:nosplit
func wakeExpired(now uint64) {
	for i := range threads {
		t := &threads[i]
		if t.state != tBlocked || t.deadline == 0 || now < t.deadline {
			continue
		}
		switch t.waitKind {
		case waitFutex:
			wake(t, -eTIMEDOUT)
		default:
			wake(t, 0)
		}
	}
}

// yieldCPU puts the running thread back on the run queue and runs another, if any.
//
//go:nosplit
func yieldCPU(f *Frame) {
	c := thisCPU()
	next := pickNext(c, c.cur)
	if next < 0 {
		c.sliceAt = c.ticks + sliceTicks
		return
	}
	t := &threads[c.cur]
	t.frame = *f
	setRunnable(t)
	run(c, next, f)
}

// switchAway saves the running thread (now blocked or dead) and runs another, idling until one exists.
//
//go:nosplit
func switchAway(f *Frame) {
	c := thisCPU()
	if c.cur >= 0 && threads[c.cur].state != tFree {
		threads[c.cur].frame = *f
	}
	prev := c.cur
	c.cur = -1
	c.curFX = alignFX(&c.idleFX)
	for {
		if next := pickNext(c, prev); next >= 0 {
			run(c, next, f)
			return
		}
		// Idle: let the tick (and other CPUs' wake-ups) in, with the kernel lock dropped, and take it
		// back only when some thread waits for a CPU.
		c.idle = true
		unlockKernel()
		stihlt()
		for atomic.LoadInt32(&nRunnable) == 0 {
			stihlt()
		}
		lockKernel()
		c.idle = false
	}
}

// pickNext returns the next runnable thread of this CPU after index from, round-robin; failing
// that it steals a runnable thread of another CPU that may run here. -1 if none.
//
//go:nosplit
func pickNext(c *percpu, from int32) int32 {
	me := int(c.id)
	for k := int32(1); k <= maxThreads; k++ {
		i := (from + k) % maxThreads
		if i < 0 {
			i += maxThreads
		}
		t := &threads[i]
		if t.state == tRunnable && t.cpu == int32(me) && allowed(t, me) {
			return i
		}
	}
	for i := range threads {
		t := &threads[i]
		if t.state == tRunnable && allowed(t, me) {
			t.cpu = int32(me)
			return int32(i)
		}
	}
	return -1
}

// setAffinity is sched_setaffinity: the thread may then run only on mask; if that excludes the CPU
// it is running on, it moves now.
//
//go:nosplit
func setAffinity(f *Frame, tid int64, size, maskp uintptr) {
	if size < 8 || !userOK(maskp, 8) {
		f.RAX = errno(eINVAL)
		return
	}
	mask := *(*uint64)(ptr(maskp)) & (1<<uint(onlineCPUs) - 1)
	if mask == 0 {
		f.RAX = errno(eINVAL)
		return
	}
	c := thisCPU()
	t := &threads[c.cur]
	if tid != 0 && tid != int64(t.tid) {
		t = nil
		for i := range threads {
			if threads[i].state != tFree && int64(threads[i].tid) == tid {
				t = &threads[i]
			}
		}
		if t == nil {
			f.RAX = errno(3) // ESRCH
			return
		}
	}
	t.affinity = mask
	f.RAX = 0
	if t == &threads[c.cur] && !allowed(t, int(c.id)) {
		for i := 0; i < onlineCPUs; i++ {
			if allowed(t, i) {
				t.cpu = int32(i)
				break
			}
		}
		setRunnable(t)
		kickIdle(t)
		switchAway(f)
	}
}

// run makes thread i current: its registers go into the frame the exit path restores, its FPU area and
// FS base become live.
//
//go:nosplit
func run(c *percpu, i int32, f *Frame) {
	t := &threads[i]
	setRunning(t)
	*f = t.frame
	c.cur = i
	c.curFX = alignFX(&t.fx)
	c.sliceAt = c.ticks + sliceTicks
	wrmsr(msrFSBase, t.fsBase)
}

// exitThread frees the running thread's slot and runs another.
//
//go:nosplit
func exitThread(f *Frame) {
	c := thisCPU()
	t := &threads[c.cur]
	t.state = tFree
	nThreads--
	switchAway(f)
}

//go:nosplit
func curThread() *thread { return &threads[thisCPU().cur] }

//go:nosplit
func setRunnable(t *thread) {
	if t.state != tRunnable {
		t.state = tRunnable
		atomic.AddInt32(&nRunnable, 1)
	}
}

//go:nosplit
func setRunning(t *thread) {
	if t.state == tRunnable {
		atomic.AddInt32(&nRunnable, -1)
	}
	t.state = tRunning
}
