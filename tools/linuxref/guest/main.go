//go:build linux && amd64

// Command lrguest is the Linux side of tools/linuxref: it runs inside a Linux guest booted from the
// tool's initramfs, plays lazymm's scenarios as Linux processes and prints what the kernel counted
// during each, one "LR1" line per figure, on the console.
//
//	lrguest run [PATTERN...]    the orchestrator: sets up tracefs and kprobes, then runs each pattern
//	lrguest pattern NAME        one pattern's process (the orchestrator starts it, pinned to CPU 0)
//
// The orchestrator starts each pattern process with asynchronous preemption off (GODEBUG): a signal
// that preempts a pinned thread's goroutine would park the thread, and its CPU would go idle, lazy on
// the mm under test (sys.go says how the rest of the scheduler is kept out).
package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: lrguest run [PATTERN...] | lrguest pattern NAME CPUS")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "run":
		os.Exit(orchestrate(os.Args[2:]))
	case "pattern":
		n, err := strconv.Atoi(argAt(3))
		if err != nil || n < 1 || n > maxCPUs {
			fmt.Fprintf(os.Stderr, "lrguest pattern: bad CPU count %q\n", argAt(3))
			os.Exit(2)
		}
		os.Exit(runPatternProcess(argAt(2), n))
	}
	fmt.Fprintf(os.Stderr, "lrguest: unknown command %q\n", os.Args[1])
	os.Exit(2)
}

func argAt(i int) string {
	if i < len(os.Args) {
		return os.Args[i]
	}
	return ""
}
