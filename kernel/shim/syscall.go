package shim

import (
	"sync/atomic"
	"unsafe"
)

// The system-call shim: the Linux calls the hosted Go runtime makes, served in ring 0. The table in
// docs/SYSCALLS.md lists every call as implemented, accepted as a no-op (and why), or ENOSYS.

const (
	eNOENT    = 2
	eINTR     = 4
	eBADF     = 9
	eAGAIN    = 11
	eNOMEM    = 12
	eFAULT    = 14
	eINVAL    = 22
	eNOSYS    = 38
	eTIMEDOUT = 110
)

// The errors the arch's memory calls (archMmap, ...) return, negated.
const (
	EINVAL = eINVAL
	ENOMEM = eNOMEM
)

var (
	syscallCounts [maxSyscall]uint64
	enosysSeen    [maxSyscall]bool
)

// Syscall runs one system call of the running thread, with the arch's register convention (the
// Frame methods of frame_<arch>.go). The caller holds the kernel lock.
//
// It is on the trap path: it and its handlers are nosplit, and the linker's nosplit stack budget is
// tight (docs/BOOT.md). So the calls with the deepest call chains (memory, clone, the ones that
// block, exit or sigreturn) are made from here directly, and the rest through one handler per group,
// each called from here and never from another: one frame more, on chains that are shallow.
//
//go:nosplit
func Syscall(f *Frame) {
	nr := f.nr()
	if nr < maxSyscall {
		atomic.AddUint64(&syscallCounts[nr], 1)
	}
	a0, a1, a2, a3 := f.args()
	var r int64
	switch nr {
	case sysMmap:
		r = mmap(uintptr(a0), uintptr(a1), uint32(a2), uint32(a3))
		dropDeferred()
	case sysMunmap:
		r = munmap(uintptr(a0), uintptr(a1))
		dropDeferred()
	case sysMadvise:
		r = madvise(uintptr(a0), uintptr(a1), int64(a2))
		dropDeferred()
	case sysClone:
		const cloneSetTLS = 0x80000 // amd64's runtime passes it; ppc64's needs no TLS register
		r = cloneThread(f, a1, f.cloneTLS(), a0&cloneSetTLS != 0)
	// The calls below block, switch threads or never return: each sets its own result.
	case sysExit:
		f.setRet(0)
		exitThread(f)
		return
	case sysFutex:
		futex(f, uintptr(a0), a1&^128, uint32(a2), uintptr(a3))
		return
	case sysNanosleep:
		nanosleep(f, uintptr(a0))
		return
	case sysClockNanosleep:
		nanosleep(f, uintptr(a2))
		return
	case sysSchedYield:
		f.setRet(0)
		yieldCPU(f)
		return
	case sysEpollPwait:
		epollWait(f, int64(a0), uintptr(a1), int64(a2), int64(int32(a3)))
		return
	case sysSchedSetaff:
		setAffinity(f, int64(a0), uintptr(a1), uintptr(a2))
		return
	case sysRtSigreturn:
		if !rtSigreturn(f) {
			archCrash(f)
		}
		return
	default:
		// The groups are disjoint: at most one serves nr, and an unknown nr reaches the arch's.
		// Each reads its arguments from f, so that none lives across these calls in Syscall's frame.
		var ok bool
		if r, ok = sysFiles(f, nr); !ok {
			if r, ok = sysProcess(f, nr); !ok {
				r = sysOther(f, nr)
			}
		}
	}
	f.setRet(r)
}

// sysFiles serves the calls on file descriptors (the console, eventfds, epoll) and getrandom; ok is
// false when nr is not one of them.
//
//go:nosplit
func sysFiles(f *Frame, nr uint64) (r int64, ok bool) {
	a0, a1, a2, a3 := f.args()
	switch nr {
	case sysWrite:
		return sysWriteFD(int64(a0), uintptr(a1), int64(a2)), true
	case sysRead:
		return sysReadFD(int64(a0), uintptr(a1), int64(a2)), true
	case sysClose:
		return closeFD(int64(a0)), true
	case sysOpenat:
		return -eNOENT, true // no filesystem
	case sysFcntl:
		return fcntl(int64(a0)), true
	case sysEpollCreate1:
		return epollCreate(), true
	case sysEventfd2:
		return eventfdCreate(a0), true
	case sysEpollCtl:
		return epollCtl(int64(a0), int64(a1), int64(a2), uintptr(a3)), true
	case sysGetrandom:
		return getrandom(uintptr(a0), uintptr(a1)), true
	}
	return 0, false
}

// sysProcess serves the calls that read or set the process's state (ids, clock, affinity, signal
// handling) and exit_group, which does not return; ok is false when nr is not one of them.
//
//go:nosplit
func sysProcess(f *Frame, nr uint64) (r int64, ok bool) {
	a0, a1, a2, _ := f.args()
	switch nr {
	case sysClockGettime:
		return clockGettime(int64(a0), uintptr(a1)), true
	case sysExitGroup:
		exitGroup(int(a0))
		return 0, true
	case sysGettid:
		return int64(curThread().tid), true
	case sysGetpid:
		return 1, true
	case sysSchedGetaff:
		return schedGetaffinity(uintptr(a1), uintptr(a2)), true
	case sysRtSigprocmask:
		return sigprocmask(int64(a0), uintptr(a1), uintptr(a2)), true
	case sysRtSigaction:
		return rtSigaction(int64(a0), uintptr(a1), uintptr(a2)), true
	case sysSigaltstack:
		return sigaltstack(uintptr(a0), uintptr(a1)), true
	case sysTgkill:
		return tgkill(int64(a1), int64(a2)), true
	case sysPrlimit64, sysPrctl, sysMprotect:
		return -eNOSYS, true // the runtime tolerates these failing (rlimit raise, VMA names)
	}
	return 0, false
}

// sysOther serves what no group does: the arch's own calls, else ENOSYS, said once per number on
// the console so that a missing call shows in the log.
//
//go:nosplit
func sysOther(f *Frame, nr uint64) int64 {
	a0, a1, _, _ := f.args()
	if r, ok := sysArch(f, nr, a0, a1); ok {
		return r
	}
	if nr < maxSyscall && !enosysSeen[nr] {
		enosysSeen[nr] = true
		ConsoleLock()
		Puts("lazymm: unimplemented syscall ")
		PutDec(nr)
		Puts(" -> ENOSYS\n")
		ConsoleUnlock()
	}
	return -eNOSYS
}

// userOK says whether the runtime's pointer p may be dereferenced for n bytes: the runtime shares
// the kernel's address space, so it is a user pointer only in that its pages are made present first
// (demand-faulted in here rather than faulting in the kernel).
//
//go:nosplit
func userOK(p, n uintptr) bool {
	if p == 0 || p+n < p {
		return false
	}
	for va := p &^ 0xfff; va < p+n; va += 0x1000 {
		if !EnsurePage(va, true) {
			return false
		}
	}
	return true
}

// stderrPanic notices the start of a fatal Go error on fd 2 and opens a crash block (docs/PROTOCOL.md),
// so the traceback that follows is attributed to a crash; exit_group closes it.
var inPanic bool

//go:nosplit
func hasPrefix(p uintptr, n int64, s string) bool {
	if n < int64(len(s)) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if *(*byte)(ptr(p + uintptr(i))) != s[i] {
			return false
		}
	}
	return true
}

//go:nosplit
func sysWriteFD(fd int64, p uintptr, n int64) int64 {
	if n < 0 {
		return -eINVAL
	}
	if n == 0 {
		return 0
	}
	if !userOK(p, uintptr(n)) {
		return -eFAULT
	}
	switch {
	case fd == 1 || fd == 2:
		if fd == 2 && !inPanic && (hasPrefix(p, n, "panic: ") || hasPrefix(p, n, "fatal error: ") || hasPrefix(p, n, "fatal: ")) {
			inPanic = true
			ConsoleLock()
			Puts("LZ1 crash cpu=")
			PutDec(uint64(thisCPU().ID))
			Puts(" kind=panic tid=")
			PutDec(uint64(curThread().tid))
			Puts("\n")
			ConsoleUnlock()
		}
		ConsoleWrite(p, int(n))
		return n
	case isEventfd(fd):
		return eventfdWrite(fd, p, n)
	}
	return -eBADF
}

//go:nosplit
func sysReadFD(fd int64, p uintptr, n int64) int64 {
	if isEventfd(fd) {
		if n < 8 || !userOK(p, 8) {
			return -eINVAL
		}
		return eventfdRead(fd, p)
	}
	if fd == 0 {
		return 0 // console input is not read: EOF
	}
	return -eBADF
}

//go:nosplit
func fcntl(fd int64) int64 {
	if fd >= 0 && fd <= 2 || fdKind(fd) != fdNone {
		return 0 // open, flags 0
	}
	return -eBADF
}

//go:nosplit
func exitGroup(status int) {
	if inPanic {
		ConsoleLock()
		Puts("\nLZ1 crash-end status=")
		PutDec(uint64(status))
		Puts("\n")
		ConsoleUnlock()
	}
	if status < 0 || status > 63 {
		status = 63
	}
	archExit(status)
}

//go:nosplit
func clockGettime(clock int64, ts uintptr) int64 {
	if !userOK(ts, 16) {
		return -eFAULT
	}
	ns := archNanotime()
	const clockRealtime = 0
	sec := int64(ns / 1e9)
	if clock == clockRealtime {
		sec += archWallOffset()
	}
	*(*int64)(ptr(ts)) = sec
	*(*int64)(ptr(ts + 8)) = int64(ns % 1e9)
	return 0
}

//go:nosplit
func timespecToCycles(ts uintptr) (uint64, bool) {
	if !userOK(ts, 16) {
		return 0, false
	}
	sec := *(*int64)(ptr(ts))
	nsec := *(*int64)(ptr(ts + 8))
	if sec < 0 || nsec < 0 {
		return 0, false
	}
	if sec > 1<<30 {
		sec = 1 << 30
	}
	return archNsToCycles(uint64(sec)*1e9 + uint64(nsec)), true
}

//go:nosplit
func nanosleep(f *Frame, ts uintptr) {
	d, ok := timespecToCycles(ts)
	if !ok {
		f.setRet(-eFAULT)
		return
	}
	f.setRet(0)
	block(f, waitSleep, 0, archCycles()+d+1)
}

// futex implements FUTEX_WAIT (with relative timeout) and FUTEX_WAKE, the two the runtime uses.
//
//go:nosplit
func futex(f *Frame, addr uintptr, op uint64, val uint32, timeout uintptr) {
	const futexWait, futexWake = 0, 1
	if !userOK(addr, 4) {
		f.setRet(-eFAULT)
		return
	}
	switch op {
	case futexWait:
		if atomic.LoadUint32((*uint32)(ptr(addr))) != val {
			f.setRet(-eAGAIN)
			return
		}
		var deadline uint64
		if timeout != 0 {
			d, ok := timespecToCycles(timeout)
			if !ok {
				f.setRet(-eINVAL)
				return
			}
			deadline = archCycles() + d + 1
		}
		f.setRet(0)
		block(f, waitFutex, addr, deadline)
	case futexWake:
		n := int64(0)
		for i := range threads {
			t := &threads[i]
			if n < int64(val) && t.state == tBlocked && t.waitKind == waitFutex && t.waitAddr == addr {
				wake(t, 0)
				n++
			}
		}
		f.setRet(n)
	default:
		f.setRet(-eNOSYS)
	}
}

//go:nosplit
func schedGetaffinity(size, mask uintptr) int64 {
	if size < 8 || !userOK(mask, 8) {
		return -eINVAL
	}
	*(*uint64)(ptr(mask)) = 1<<uint(OnlineCPUs) - 1
	return 8
}

//go:nosplit
func sigprocmask(how int64, set, old uintptr) int64 {
	t := curThread()
	if old != 0 {
		if !userOK(old, 8) {
			return -eFAULT
		}
		*(*uint64)(ptr(old)) = t.sigmask
	}
	if set != 0 {
		if !userOK(set, 8) {
			return -eFAULT
		}
		s := *(*uint64)(ptr(set))
		switch how {
		case 0:
			t.sigmask |= s
		case 1:
			t.sigmask &^= s
		case 2:
			t.sigmask = s
		}
	}
	return 0
}

var rngState uint64

//go:nosplit
func Random64() uint64 {
	for i := 0; i < 10; i++ {
		if v, ok := archRandom(); ok {
			return v
		}
	}
	// xorshift64* seeded from the cycle counter where the CPU has no random-number instruction
	if rngState == 0 {
		rngState = archCycles() | 1
	}
	rngState ^= rngState >> 12
	rngState ^= rngState << 25
	rngState ^= rngState >> 27
	return rngState * 2685821657736338717
}

//go:nosplit
func getrandom(p, n uintptr) int64 {
	if n > 1<<20 {
		n = 1 << 20
	}
	if !userOK(p, n) {
		return -eFAULT
	}
	for i := uintptr(0); i < n; i += 8 {
		v := Random64()
		for j := uintptr(0); j < 8 && i+j < n; j++ {
			*(*byte)(ptr(p + i + j)) = byte(v >> (8 * j))
		}
	}
	return int64(n)
}

//go:nosplit
func ptr(p uintptr) unsafe.Pointer { return unsafe.Add(nil, p) }

// SyscallCounts is how often each system call was made (for the run's report; not trap context).
func SyscallCounts() map[int]uint64 {
	m := make(map[int]uint64)
	for nr := range syscallCounts {
		if n := atomic.LoadUint64(&syscallCounts[nr]); n != 0 {
			m[nr] = n
		}
	}
	return m
}
