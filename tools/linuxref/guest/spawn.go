//go:build linux && amd64

package main

import (
	"fmt"
	"runtime"
	"syscall"
)

// childPath is the tiny child program the host tool puts in the initramfs (tools/linuxref/tinyelf.go):
// a fresh mm of two pages; with an argument, a second thread too.
const childPath = "/bin/lrchild"

// spawnOn runs the child program on cpu and waits for it, from a thread of this process pinned there
// (the child inherits the affinity, and starts, execs and exits on that CPU).
func spawnOn(cpu int, thread bool) error {
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if !setAffinity(0, cpu) {
			errc <- fmt.Errorf("cannot pin a thread to CPU %d", cpu)
			return
		}
		errc <- spawnHere(thread)
	}()
	return <-errc
}

// spawnHere runs the child program from the calling thread (vfork and exec: the parent's mm is not
// copied, the child's is new) and waits for it.
func spawnHere(thread bool) error {
	argv := []string{"lrchild"}
	if thread {
		argv = append(argv, "thread")
	}
	pid, err := syscall.ForkExec(childPath, argv, &syscall.ProcAttr{Files: []uintptr{0, 1, 2}})
	if err != nil {
		return err
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("%s ended with %v", childPath, ws)
	}
	return nil
}
