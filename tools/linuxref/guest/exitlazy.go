//go:build linux && amd64

package main

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
)

// exit-while-lazy, as kernel/suites/matrix/scenarios.go plays it (exitWhileLazy, exitUnderLazy), in a
// Linux process: every CPU runs a thread of one process with 8 pages and reads them; the threads of
// the CPUs but 0 sleep (their CPUs go lazy on the mm); CPU 0 moves each of them to itself, where it
// reads the pages once more and exits; then CPU 0's thread exits the process, the last exit tearing
// the mm down under the lazy CPUs. Then, one at a time, CPUs 1, 2, ... and 0 each run a new process
// of two pages (lazymm's userRun), which ends their lazy use. The kernel threads' work of lazymm's
// scenario in between has no counterpart here: Linux's lazy CPUs are idle.

const elPages = 8

var el struct {
	base uintptr
	want [mpPages]uint64
	done [maxCPUs]uint32 // 1 while CPU 0 waits for that thread's last reads
}

func exitWhileLazy(n int) {
	el.base = mapPages(elPages)
	openMarker()
	mark(markBegin)
	for i := 0; i < elPages; i++ {
		el.want[i] = token(i, 1)
		*word(el.base, i) = el.want[i]
	}
	tm.start(n, exitLazyCPU)
}

//go:nosplit
func exitLazyCPU(cpu int) {
	tm.bar.wait()
	readAll(el.base, elPages, &el.want)
	if cpu != 0 {
		sleepOn(&tm.sleep[cpu]) // lazy; CPU 0 wakes it on CPU 0
		readAll(el.base, elPages, &el.want)
		wakeUp(&el.done[cpu])
		exitThread()
	}
	waitIdle(othersMask())
	for c := 1; c < tm.n; c++ { // the threads migrate to CPU 0 and exit there
		setAffinity(tm.tids[c], 0)
		atomic.StoreUint32(&el.done[c], 1)
		wakeUp(&tm.sleep[c])
		for atomic.LoadUint32(&el.done[c]) == 1 {
			futexWait(&el.done[c], 1)
		}
	}
	putCount(countStale, atomic.LoadInt64(&tm.stale))
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0) // the last exit: exit_mmap under the lazy CPUs
}

// userRuns is the scenario's end: CPUs 1, 2, ... and 0, one at a time, each run a new process (the
// tiny child program: two pages) that exits. For CPU 0's the orchestrator's threads move to CPU 1
// meanwhile: its Go runtime's threads, woken by the spawn, would interrupt the child on CPU 0.
func userRuns(n int) error {
	for i := 1; i <= n; i++ {
		cpu := i % n
		if cpu == 0 {
			if err := pinProcess(1); err != nil {
				return err
			}
		}
		err := spawnOn(cpu, false)
		if cpu == 0 {
			err = errors.Join(err, pinProcess(0))
		}
		if err != nil {
			return fmt.Errorf("exit-while-lazy's new process on CPU %d: %w", cpu, err)
		}
	}
	return nil
}
