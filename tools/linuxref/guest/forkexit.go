//go:build linux && amd64

package main

import (
	"fmt"
	"runtime"
	"syscall"
)

// fork-exit-storm, as kernel/suites/matrix/scenarios.go plays it (forkExitStorm): every CPU runs
// max(8, 96/CPUs) short-lived processes one after the other, every third with a second thread, each a
// fresh mm of two pages. On each CPU the tiny child program's spawner mode starts them (vfork and
// exec, then wait), after 100 ms of sleep. The orchestrator plays this pattern itself, with no
// pattern process: a thread pinned to each CPU starts that CPU's spawner and ends, and the main
// thread waits for the spawners in a system call, every thread of the orchestrator in SCHED_IDLE
// meanwhile: a Go runtime thread that woke on CPU 0 would otherwise preempt a child there, a switch
// from the child's mm and back.
func forkExitStorm(n int) error {
	if err := appendFile(tracefs+"/trace_marker", "lz-begin"); err != nil {
		return err
	}
	started := make(chan error, n)
	for cpu := 0; cpu < n; cpu++ {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			if !setAffinity(0, cpu) {
				started <- fmt.Errorf("cannot pin a thread to CPU %d", cpu)
				return
			}
			_, err := syscall.ForkExec(childPath, []string{"lrchild", "spawn", string(rune(max(8, 96/n)))},
				&syscall.ProcAttr{Files: []uintptr{0, 1, 2}})
			started <- err
		}()
	}
	for range n {
		if err := <-started; err != nil {
			return err
		}
	}
	if err := idleProcess(true); err != nil {
		return err
	}
	defer idleProcess(false)
	for range n {
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(-1, &ws, 0, nil); err != nil {
			return err
		}
		if !ws.Exited() || ws.ExitStatus() != 0 {
			return fmt.Errorf("a spawner ended with %v", ws)
		}
	}
	return nil
}
