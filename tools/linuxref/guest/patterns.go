//go:build linux && amd64

package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"syscall"

	"lazymm/kernel/catalog"
)

// pattern is one of lazymm's scenarios as a Linux process plays it: run is the pattern process's
// part (started by the orchestrator, pinned to CPU 0; nil: no such process), after is the
// orchestrator's once that process ended. The pattern process (or after, where there is none) opens
// the trace window; who closes it: the orchestrator (after after), the pattern's process, or, with
// endAtExitMmap, the kernel, when the first exit_mmap returns (the pattern's mm freed, before what
// follows, e.g. the new program of an exec, adds its own flushes).
type pattern struct {
	name             string
	run              func(n int)
	after            func(n int) error
	orchestratorEnds bool
	endAtExitMmap    bool
}

// idlePattern is the noise floor, lazymm has no such scenario: the pattern process's threads spin on
// their CPUs for 100 ms and nothing else; what the window counts is the rest of the system's.
const idlePattern = "idle"

var patterns = []pattern{
	{name: idlePattern, run: idle},
	{name: catalog.MunmapShootdown, run: munmapShootdown, endAtExitMmap: true},
	{name: catalog.ExitWhileLazy, run: exitWhileLazy, after: userRuns, orchestratorEnds: true},
	{name: catalog.Membarrier, run: membarrierPattern, orchestratorEnds: true},
	{name: catalog.ForkExitStorm, after: forkExitStorm, orchestratorEnds: true},
}

func patternNamed(name string) (pattern, bool) {
	for _, p := range patterns {
		if p.name == name {
			return p, true
		}
	}
	return pattern{}, false
}

// runPatternProcess is the pattern process: no garbage collector (its scavenger would madvise the
// heap, a flush of the mm under test), as many Ps as threads need, the main thread locked (it is
// CPU 0's).
func runPatternProcess(name string, n int) int {
	p, ok := patternNamed(name)
	if !ok || p.run == nil {
		fmt.Fprintf(os.Stderr, "linuxref guest: unknown pattern %q\n", name)
		return 2
	}
	debug.SetGCPercent(-1)
	runtime.GOMAXPROCS(2 * maxCPUs)
	if err := populateWritable(); err != nil {
		fmt.Fprintf(os.Stderr, "linuxref guest: %v\n", err)
		return 3
	}
	runtime.LockOSThread()
	if getCPU() != 0 {
		fmt.Fprintln(os.Stderr, "linuxref guest: the pattern process must start pinned to CPU 0")
		return 3
	}
	p.run(n)
	return 0
}

func idle(n int) {
	openMarker()
	mark(markBegin)
	tm.start(n, idleCPU)
}

//go:nosplit
func idleCPU(cpu int) {
	spinNS(100e6)
	tm.bar.wait()
	if cpu != 0 {
		leaveLazy(cpu)
	}
	waitIdle(othersMask())
	mark(markEnd)
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
}

// othersMask is every CPU of the team but 0.
//
//go:nosplit
func othersMask() uint64 {
	var m uint64
	for c := 1; c < tm.n; c++ {
		m |= 1 << c
	}
	return m
}

// leaveLazy ends a thread other than CPU 0's as lazymm's scenarios end theirs: the thread exits and
// its CPU stays lazy on the mm (exit_mm's enter_lazy_tlb).
//
//go:nosplit
func leaveLazy(cpu int) {
	atomic.StoreUint32(&tm.sleep[cpu], 1)
	exitThread()
}
