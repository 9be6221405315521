package shim

import "sync/atomic"

// Threads of the hosted runtime (its Ms). Each CPU runs the threads assigned to it round-robin,
// preempted by the arch's timer tick; a thread blocks in futex, nanosleep or epoll_pwait and is woken by
// another thread's syscall or by its deadline passing. All state is in fixed arrays: this runs in trap
// context.
const (
	maxThreads = 128
	MaxCPUs    = 32
	sliceTicks = 4 // a thread runs at most this many ticks while others wait
)

// CPU is a CPU's scheduler state.
type CPU struct {
	ID      int32
	Cur     int32  // index into threads of the running thread, -1 when idle
	Idle    bool   // waiting in the idle loop: interrupts must not switch threads
	Waiting bool   // halted in a wait for another CPU (wait.go): an interrupt only ends the halt
	Ticks   uint64 // this CPU's timer ticks
	SliceAt uint64 // tick at which the current thread's time slice ends

	// the cross-call slot (ipi.go): the sender writes op and arg and bumps callSeq; this CPU runs it
	// and sets callDone
	callOp   uint32
	callArg  uint64
	callSeq  uint64
	callDone uint64
	pong     int32 // a test IPI received here is bounced back to this CPU (PingPong); -1 none
}

// CPUs are the CPUs' scheduler states; CPUs 0..OnlineCPUs-1 run threads.
var (
	CPUs       [MaxCPUs]CPU
	OnlineCPUs = 1
)

//go:nosplit
func thisCPU() *CPU { return &CPUs[archCPUID()] }

// InitCPU makes CPU id's state idle; each CPU calls it once as it comes up.
//
//go:nosplit
func InitCPU(id int) {
	CPUs[id] = CPU{ID: int32(id), Cur: -1, pong: -1}
}

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

// Thread is a thread of the runtime: its registers while it is not running and its kernel state.
type Thread struct {
	FP        FPArea // floating-point and vector registers
	TLS       uint64 // TLS base register (amd64's FS base)
	frame     Frame  // registers while not running
	state     uint32
	tid       int32
	cpu       int32
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
	threads   [maxThreads]Thread
	nextTID   int32 = 1
	nThreads  int32
	bkl       uint32 // one big kernel lock: syscalls, faults and the scheduler are serialized
)

//go:nosplit
func LockKernel() {
	c := thisCPU()
	me := uint32(c.ID) + 1
	var w spinWait
	for !atomic.CompareAndSwapUint32(&bkl, 0, me) {
		runCrossCall(c) // the holder may be waiting for this CPU to flush its TLB
		w.pause(c)
	}
	w.done(c)
}

// LockKernelFrom takes the kernel lock on entry; false when this CPU already holds it, i.e. the entry
// interrupted the kernel itself (only the idle loop drops the lock while interruptible).
//
//go:nosplit
func LockKernelFrom() bool {
	if atomic.LoadUint32(&bkl) == uint32(archCPUID())+1 {
		return false
	}
	LockKernel()
	return true
}

//go:nosplit
func UnlockKernel() {
	atomic.StoreUint32(&bkl, 0)
	wakeWaiters()
}

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

// StartFirstThread makes slot 0 the running thread of CPU 0 (the runtime's main thread, tid 1), with
// the TLS base the boot code loaded. The caller gives it a valid initial FP state.
//
//go:nosplit
func StartFirstThread(tls uint64) *Thread {
	i := newThread(0)
	t := &threads[i]
	setRunning(t)
	t.TLS = tls
	c := &CPUs[0]
	c.Cur = i
	c.SliceAt = c.Ticks + sliceTicks
	archSwitchTo(t)
	return t
}

// clone creates a thread that returns from the same system call with 0 on the given stack, with the
// parent's registers and FP state, like Linux's copy_thread.
//
//go:nosplit
func cloneThread(f *Frame, stack, tls uint64, setTLS bool) int64 {
	c := thisCPU()
	i := newThread(int32(leastLoadedCPU()))
	if i < 0 {
		return -eAGAIN
	}
	t := &threads[i]
	parent := &threads[c.Cur]
	t.frame = *f
	t.frame.cloneChild(stack)
	t.TLS = parent.TLS
	if setTLS {
		t.TLS = tls
	}
	t.sigmask = parent.sigmask
	t.FP.copyFrom(&parent.FP) // the parent's FP state was saved into its area on entry
	setRunnable(t)            // only now, with frame and TLS base in place, may another CPU pick it
	kickIdle(t)
	return int64(t.tid)
}

// leastLoadedCPU is where a new thread starts: the online CPU with the fewest threads.
//
//go:nosplit
func leastLoadedCPU() int {
	var load [MaxCPUs]int
	for i := range threads {
		if t := &threads[i]; t.state != tFree && int(t.cpu) < MaxCPUs {
			load[t.cpu]++
		}
	}
	best := 0
	for i := 1; i < OnlineCPUs; i++ {
		if load[i] < load[best] {
			best = i
		}
	}
	return best
}

//go:nosplit
func allowed(t *Thread, cpu int) bool { return t.affinity == 0 || t.affinity&(1<<uint(cpu)) != 0 }

// block parks the running thread (its result, if any, already in f) and switches away.
//
//go:nosplit
func block(f *Frame, kind uint32, addr uintptr, deadline uint64) {
	c := thisCPU()
	t := &threads[c.Cur]
	t.state = tBlocked
	t.waitKind = kind
	t.waitAddr = addr
	t.deadline = deadline
	if deadline != 0 {
		lowerNextDeadline(deadline)
	}
	switchAway(f)
}

// wake makes a blocked thread runnable with the given syscall result.
//
//go:nosplit
func wake(t *Thread, result int64) {
	t.frame.setRet(result)
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
	atomic.StoreUint64(&nextDeadline, ^uint64(0)) // recomputed below, under the kernel lock
	for i := range threads {
		t := &threads[i]
		if t.state != tBlocked || t.deadline == 0 {
			continue
		}
		if now < t.deadline {
			lowerNextDeadline(t.deadline)
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
	next := pickNext(c, c.Cur)
	if next < 0 {
		c.SliceAt = c.Ticks + sliceTicks
		return
	}
	t := &threads[c.Cur]
	t.frame = *f
	setRunnable(t)
	run(c, next, f)
}

// switchAway saves the running thread (now blocked or dead) and runs another, idling until one exists.
//
//go:nosplit
func switchAway(f *Frame) {
	c := thisCPU()
	if c.Cur >= 0 && threads[c.Cur].state != tFree {
		threads[c.Cur].frame = *f
	}
	prev := c.Cur
	c.Cur = -1
	archSwitchTo(nil)
	for {
		if next := pickNext(c, prev); next >= 0 {
			run(c, next, f)
			return
		}
		// Idle: let the tick (and other CPUs' wake-ups) in, with the kernel lock dropped, and take it
		// back only when some thread waits for a CPU.
		c.Idle = true
		UnlockKernel()
		archIdle()
		for atomic.LoadInt32(&nRunnable) == 0 {
			archIdle()
		}
		LockKernel()
		c.Idle = false
	}
}

// pickNext returns the next runnable thread of this CPU after index from, round-robin; failing
// that it steals a runnable thread of another CPU that may run here. -1 if none.
//
//go:nosplit
func pickNext(c *CPU, from int32) int32 {
	me := int(c.ID)
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
		f.setRet(-eINVAL)
		return
	}
	mask := *(*uint64)(ptr(maskp)) & (1<<uint(OnlineCPUs) - 1)
	if mask == 0 {
		f.setRet(-eINVAL)
		return
	}
	c := thisCPU()
	t := &threads[c.Cur]
	if tid != 0 && tid != int64(t.tid) {
		t = nil
		for i := range threads {
			if threads[i].state != tFree && int64(threads[i].tid) == tid {
				t = &threads[i]
			}
		}
		if t == nil {
			f.setRet(-3) // ESRCH
			return
		}
	}
	t.affinity = mask
	f.setRet(0)
	if t == &threads[c.Cur] && !allowed(t, int(c.ID)) {
		for i := 0; i < OnlineCPUs; i++ {
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

// run makes thread i current: its registers go into the frame the exit path restores, its FP area and
// TLS base become live.
//
//go:nosplit
func run(c *CPU, i int32, f *Frame) {
	t := &threads[i]
	setRunning(t)
	*f = t.frame
	c.Cur = i
	c.SliceAt = c.Ticks + sliceTicks
	archSwitchTo(t)
}

// exitThread frees the running thread's slot and runs another.
//
//go:nosplit
func exitThread(f *Frame) {
	c := thisCPU()
	t := &threads[c.Cur]
	t.state = tFree
	nThreads--
	switchAway(f)
}

//go:nosplit
func curThread() *Thread { return &threads[thisCPU().Cur] }

//go:nosplit
func setRunnable(t *Thread) {
	if t.state != tRunnable {
		t.state = tRunnable
		atomic.AddInt32(&nRunnable, 1)
	}
}

//go:nosplit
func setRunning(t *Thread) {
	if t.state == tRunnable {
		atomic.AddInt32(&nRunnable, -1)
	}
	t.state = tRunning
}

// kickIdle wakes an idle CPU that may run t: its home CPU if idle, else any idle CPU it may use.
//
//go:nosplit
func kickIdle(t *Thread) {
	me := archCPUID()
	target := -1
	if home := int(t.cpu); home != me && CPUs[home].Idle {
		target = home
	} else if home != me {
		for i := 0; i < OnlineCPUs; i++ {
			if i != me && CPUs[i].Idle && allowed(t, i) {
				target = i
				break
			}
		}
	}
	if target >= 0 {
		SendIPI(target, IPIResched)
	}
}

// nextDeadline is the earliest deadline of a blocked thread (all ones: none), so that every CPU's tick
// can see without the kernel lock whether a sleeper is due: a sleep shorter than a tick ends at the
// next tick of any CPU, not of the boot CPU alone.
var nextDeadline = ^uint64(0)

//go:nosplit
func lowerNextDeadline(d uint64) {
	for {
		old := atomic.LoadUint64(&nextDeadline)
		if d >= old || atomic.CompareAndSwapUint64(&nextDeadline, old, d) {
			return
		}
	}
}

// Tick counts a timer tick without the kernel lock and says whether TimerInterrupt, which needs it,
// has work: a sleeper whose deadline passed, or a running thread whose slice is over while other
// threads wait. A tick with neither costs no lock.
//
//go:nosplit
func Tick() bool {
	c := thisCPU()
	c.Ticks++
	return archCycles() >= atomic.LoadUint64(&nextDeadline) ||
		c.Cur >= 0 && !c.Idle && c.Ticks >= c.SliceAt && atomic.LoadInt32(&nRunnable) > 0
}

// TimerInterrupt is the locked part of the tick: wake the sleepers that are due, and preempt.
//
//go:nosplit
func TimerInterrupt(f *Frame) {
	c := thisCPU()
	if now := archCycles(); now >= atomic.LoadUint64(&nextDeadline) {
		wakeExpired(now)
	}
	if !c.Idle && c.Cur >= 0 && c.Ticks >= c.SliceAt {
		yieldCPU(f)
	}
}

// Idle parks a CPU that has just come up: it waits in the scheduler until a thread is runnable here,
// then loads that thread into f, which the caller enters.
//
//go:nosplit
func Idle(f *Frame) {
	LockKernel()
	switchAway(f)
	UnlockKernel()
}

// CurrentTID is the running thread's id, false when the CPU is idle.
//
//go:nosplit
func CurrentTID() (int, bool) {
	c := thisCPU()
	if c.Cur < 0 {
		return 0, false
	}
	return int(threads[c.Cur].tid), true
}

// CurrentThread is the running thread, nil when the CPU is idle.
//
//go:nosplit
func CurrentThread() *Thread {
	c := thisCPU()
	if c.Cur < 0 {
		return nil
	}
	return &threads[c.Cur]
}
