//go:build linux && amd64

package main

import (
	"syscall"
	"unsafe"
)

// A pattern's "lazy" CPU is one whose thread sleeps: the CPU runs its idle task, a kernel thread
// that borrows the mm (enter_lazy_tlb). Before it flushes, CPU 0 must know that the sleeper's CPU
// really switched, not merely that the thread is on its way to sleep: it reads the scheduler's
// debug file (CONFIG_SCHED_DEBUG, debugfs), whose "cpu#N" block names the task the CPU runs
// (curr->pid, 0 for idle), then gives the switch a little more time to finish (rq->curr is set just
// before context_switch's enter_lazy_tlb).

var (
	schedDebug = []byte("/sys/kernel/debug/sched/debug\x00")
	sdBuf      [1 << 18]byte
	errIdle    = []byte("linuxref guest: a sleeping thread's CPU did not go idle within 10 s (or /sys/kernel/debug/sched/debug is missing: CONFIG_SCHED_DEBUG and debugfs)\n")
)

const atFDCWD = ^uintptr(99) // -100

// waitIdle returns once each CPU of cpus (a bit mask) runs its idle task and its thread announced its
// sleep on tm.sleep; it ends the process if that takes 10 s.
//
//go:nosplit
func waitIdle(cpus uint64) {
	deadline := nowNS() + 10e9
	for cpu := 0; cpu < tm.n; cpu++ {
		for cpus&(1<<cpu) != 0 && !(asleep(&tm.sleep[cpu]) && cpuIdle(cpu)) {
			if nowNS() > deadline {
				die(errIdle)
			}
			spinNS(50_000)
		}
	}
	spinNS(200_000)
}

// cpuIdle says whether the scheduler's debug file shows CPU cpu running its idle task.
//
//go:nosplit
func cpuIdle(cpu int) bool {
	fd, _, e := syscall.RawSyscall6(syscall.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(&schedDebug[0])), syscall.O_RDONLY, 0, 0, 0)
	if e != 0 {
		return false
	}
	n := 0
	for n < len(sdBuf) {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&sdBuf[n])), uintptr(len(sdBuf)-n))
		if e != 0 || r == 0 {
			break
		}
		n += int(r)
	}
	syscall.RawSyscall(syscall.SYS_CLOSE, fd, 0, 0)
	pid, ok := currPID(sdBuf[:n], cpu)
	return ok && pid == 0
}

// currPID finds "cpu#<cpu>" at the start of a line in the debug file, then the first "curr->pid"
// after it, and returns its value.
//
//go:nosplit
func currPID(b []byte, cpu int) (int, bool) {
	at := findCPU(b, cpu)
	if at < 0 {
		return 0, false
	}
	key := [9]byte{'c', 'u', 'r', 'r', '-', '>', 'p', 'i', 'd'}
	for i := at; i+len(key) <= len(b); i++ {
		if [9]byte(b[i:i+9]) == key {
			return numberAfterColon(b[i+9:])
		}
	}
	return 0, false
}

// findCPU is the offset just past "cpu#<cpu>" at a line start followed by ',' or a newline, or -1.
//
//go:nosplit
func findCPU(b []byte, cpu int) int {
	for i := 0; i+4 < len(b); i++ {
		if (i > 0 && b[i-1] != '\n') || b[i] != 'c' || b[i+1] != 'p' || b[i+2] != 'u' || b[i+3] != '#' {
			continue
		}
		v, j := 0, i+4
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			v = v*10 + int(b[j]-'0')
			j++
		}
		if j > i+4 && v == cpu && j < len(b) && (b[j] == ',' || b[j] == '\n') {
			return j
		}
	}
	return -1
}

// numberAfterColon parses "   : 123" (spaces, a colon, spaces, a decimal).
//
//go:nosplit
func numberAfterColon(b []byte) (int, bool) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	if i >= len(b) || b[i] != ':' {
		return 0, false
	}
	for i++; i < len(b) && b[i] == ' '; i++ {
	}
	v, start := 0, i
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		v = v*10 + int(b[i]-'0')
	}
	return v, i > start
}
