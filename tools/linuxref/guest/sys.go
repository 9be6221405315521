//go:build linux && amd64

package main

import (
	"sync/atomic"
	"syscall"
	"unsafe"
)

// The patterns run on pinned threads that must not enter the Go scheduler while the trace window is
// open: a preempted locked goroutine parks its thread, and its CPU goes idle, lazy on the mm, which
// is exactly what the counts measure. So the code in the window is nosplit (no stack check, hence no
// synchronous preemption; asynchronous preemption is off, see main.go) and calls only raw system
// calls and other nosplit functions.

// x86-64 system call numbers the syscall package does not name, or names under other spellings.
const (
	sysMembarrier = 324
	sysGetcpu     = 309
)

// membarrier commands (include/uapi/linux/membarrier.h).
const (
	mbPrivateExpedited         = 1 << 3
	mbRegisterPrivateExpedited = 1 << 4
)

func pause()
func sbFast(x, y *uint64) uint64
func sbStoreLoad(y, x *uint64) uint64

// futexWait sleeps while *addr == val (FUTEX_WAIT_PRIVATE).
//
//go:nosplit
func futexWait(addr *uint32, val uint32) {
	syscall.RawSyscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), 128, uintptr(val), 0, 0, 0)
}

// futexWake wakes the sleepers on addr (FUTEX_WAKE_PRIVATE).
//
//go:nosplit
func futexWake(addr *uint32) {
	syscall.RawSyscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), 129, 1<<30, 0, 0, 0)
}

// sleepOn blocks the calling thread until wakeUp(addr): its CPU runs the idle task, a kernel
// thread, lazy on the mm.
//
//go:nosplit
func sleepOn(addr *uint32) {
	atomic.StoreUint32(addr, 1)
	for atomic.LoadUint32(addr) == 1 {
		futexWait(addr, 1)
	}
}

//go:nosplit
func wakeUp(addr *uint32) {
	atomic.StoreUint32(addr, 0)
	futexWake(addr)
}

// asleep says whether the thread sleeping on addr has at least announced it.
//
//go:nosplit
func asleep(addr *uint32) bool { return atomic.LoadUint32(addr) == 1 }

// nowNS is CLOCK_MONOTONIC in nanoseconds, by system call (the vDSO's path is not nosplit).
//
//go:nosplit
func nowNS() int64 {
	var t syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, 1, uintptr(unsafe.Pointer(&t)), 0)
	return t.Sec*1e9 + t.Nsec
}

// spinNS keeps the thread running, in user mode, for about ns nanoseconds.
//
//go:nosplit
func spinNS(ns int64) {
	end := nowNS() + ns
	for nowNS() < end {
		for i := 0; i < 64; i++ {
			pause()
		}
	}
}

// nap sleeps briefly (nanosleep of 1 µs; the timer slack makes it tens of µs): the CPU runs its
// idle task meanwhile, lazy on the mm, as a kernel thread that runs a moment and gives the CPU back.
//
//go:nosplit
func nap() {
	t := syscall.Timespec{Nsec: 1000}
	syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&t)), 0, 0)
}

// writeFD writes b to fd, raw.
//
//go:nosplit
func writeFD(fd int, b []byte) {
	if len(b) > 0 {
		syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	}
}

// die reports msg on stderr and ends the process with status 3 (the orchestrator names the pattern).
//
//go:nosplit
func die(msg []byte) {
	writeFD(2, msg)
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 3, 0, 0)
}

// exitThread ends the calling thread alone (exit, not exit_group), behind the Go runtime's back: the
// pattern's threads leave their mm as a thread of a process does, and the process execs or exits
// right after.
//
//go:nosplit
func exitThread() {
	syscall.RawSyscall(syscall.SYS_EXIT, 0, 0, 0)
}

// lockAll is mlockall(MCL_CURRENT|MCL_FUTURE), for the orchestrator: every private writable page of
// the process is populated and its copy-on-write broken now, and later mappings are populated when
// made. A page first read and later written (the zero page, or a binary's data) would otherwise take
// a copy-on-write fault whose flush (ptep_clear_flush, on CPU 0) lands in the counts.
func lockAll() error {
	_, _, e := syscall.RawSyscall(syscall.SYS_MLOCKALL, 1|2, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

//go:nosplit
func membarrier(cmd int) uintptr {
	r, _, e := syscall.RawSyscall(sysMembarrier, uintptr(cmd), 0, 0)
	if e != 0 {
		return ^uintptr(0)
	}
	return r
}

// setAffinity pins thread tid (0: the caller) to cpu.
//
//go:nosplit
func setAffinity(tid, cpu int) bool {
	var mask [16]uint64
	mask[cpu/64] = 1 << (cpu % 64)
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
	return e == 0
}

//go:nosplit
func getCPU() int {
	var cpu uint32
	syscall.RawSyscall(sysGetcpu, uintptr(unsafe.Pointer(&cpu)), 0, 0)
	return int(cpu)
}

//go:nosplit
func gettid() int {
	r, _, _ := syscall.RawSyscall(syscall.SYS_GETTID, 0, 0, 0)
	return int(r)
}

// countLine is the buffer of putCount (CPU 0's thread alone writes counts).
var (
	countLine  [128]byte
	countStale = []byte("stale_reads")
)

// putCount prints "LR1 count name=NAME value=V" on stdout, raw: the pattern's own figures (v >= 0,
// the name short: the line stays within countLine, so append never grows it).
//
//go:nosplit
func putCount(name []byte, v int64) {
	b := append(countLine[:0], "LR1 count name="...)
	b = append(b, name...)
	b = append(b, " value="...)
	var digits [20]byte
	i := len(digits)
	for {
		i--
		digits[i] = byte('0' + v%10)
		if v /= 10; v <= 0 {
			break
		}
	}
	b = append(b, digits[i:]...)
	writeFD(1, append(b, '\n'))
}
