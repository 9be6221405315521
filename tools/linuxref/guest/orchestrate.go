//go:build linux && amd64

package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// orchestrate is PID 1's child, the orchestrator: it pins itself to CPU 0, reports the kernel, sets
// up tracing, then runs each pattern (all by default) and prints its counts.
func orchestrate(names []string) int {
	if len(names) > 0 && names[0] == "-dump" { // print each window's events too (LRT lines)
		dumpTrace, names = true, names[1:]
	}
	debug.SetGCPercent(-1) // no scavenger: its madvise would flush this process's mm on CPU 0
	if err := pinProcess(0); err != nil {
		fmt.Printf("LR1 error msg=%v\n", err)
		return 1
	}
	runtime.LockOSThread()
	if err := lockAll(); err != nil { // no copy-on-write faults, hence no flushes, of this process later
		fmt.Printf("LR1 error msg=mlockall: %v\n", err)
		return 1
	}
	n := describeKernel()
	working, err := setupTracing()
	if err != nil {
		fmt.Printf("LR1 error msg=tracing: %v\n", err)
		return 1
	}
	counters := countersOf(working)
	initMM := kallsymsAddr("init_mm")
	if len(names) == 0 {
		for _, p := range patterns {
			names = append(names, p.name)
		}
	}
	for _, name := range names {
		p, ok := patternNamed(name)
		if !ok {
			fmt.Printf("LR1 error msg=unknown pattern %s\n", name)
			continue
		}
		runOne(p, n, initMM, counters)
	}
	fmt.Println("LR1 done")
	return 0
}

// dumpTrace: print every event of each window on the console, prefixed "LRT " (linuxref -dump-trace).
var dumpTrace bool

// pinProcess pins every thread of this process to cpu (threads made later inherit it).
func pinProcess(cpu int) error {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err == nil && !setAffinity(tid, cpu) {
			return fmt.Errorf("cannot pin thread %d to CPU %d", tid, cpu)
		}
	}
	return nil
}

// idleProcess puts every thread of this process in SCHED_IDLE (on), or back in SCHED_OTHER. An idle
// thread that wakes does not preempt the task running on its CPU: the Go runtime's threads then stay
// off a CPU that runs a pattern's processes. SCHED_RESET_ON_FORK: what they start runs as usual.
func idleProcess(on bool) error {
	policy := uintptr(0) // SCHED_OTHER
	if on {
		policy = 5 | 0x40000000 // SCHED_IDLE | SCHED_RESET_ON_FORK
	}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	var param int32
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), policy, uintptr(unsafe.Pointer(&param))); e != 0 {
			return fmt.Errorf("sched_setscheduler of thread %d: %v", tid, e)
		}
	}
	return nil
}

// describeKernel prints the kernel's release, its CPUs, whether the CPU has PCIDs and the uptime
// (the boot's length, up to here), and returns the CPUs online.
func describeKernel() int {
	var u syscall.Utsname
	syscall.Uname(&u)
	release := cString(u.Release[:])
	n := runtime.NumCPU()
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		n = cpusIn(strings.TrimSpace(string(b)))
	}
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	flags := " " + firstLineWith(string(cpuinfo), "flags") + " "
	up, _ := os.ReadFile("/proc/uptime")
	fmt.Printf("LR1 linux release=%s cpus=%d pcid=%v invpcid=%v uptime_s=%s\n", release, n,
		strings.Contains(flags, " pcid "), strings.Contains(flags, " invpcid "), firstWord(string(up)))
	cmdline, _ := os.ReadFile("/proc/cmdline")
	fmt.Printf("LR1 cmdline msg=%s\n", strings.TrimSpace(string(cmdline)))
	return min(n, maxCPUs)
}

func cString(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// cpusIn counts the CPUs of a list such as "0-3" or "0,2-3".
func cpusIn(list string) int {
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 == nil && err2 == nil && b >= a {
			n += b - a + 1
		}
	}
	return n
}

func firstLineWith(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// kallsymsAddr is a kernel symbol's address (0 if hidden or absent).
func kallsymsAddr(sym string) uint64 {
	b, _ := os.ReadFile("/proc/kallsyms")
	for _, l := range bytes.Split(b, []byte("\n")) {
		f := strings.Fields(string(l))
		if len(f) >= 3 && f[2] == sym {
			v, _ := strconv.ParseUint(f[0], 16, 64)
			return v
		}
	}
	return 0
}
