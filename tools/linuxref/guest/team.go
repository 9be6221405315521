//go:build linux && amd64

package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// maxCPUs bounds the CPUs a pattern runs on (the guest boots with 4).
const maxCPUs = 16

// team is a pattern's threads, one per CPU, each pinned to its CPU (sched_setaffinity on a locked
// OS thread); CPU 0's is the process's main thread.
type team struct {
	n     int
	tids  [maxCPUs]int
	ready int32
	sleep [maxCPUs]uint32 // each thread's sleepOn word
	bar   spinBarrier
	stale int64 // token reads that found the wrong token (the pattern's own check)
}

var tm team

// start runs fn(cpu) on every CPU's thread: the others on new locked threads, CPU 0's on the caller,
// which is the locked main thread, pinned to CPU 0 by the orchestrator.
func (t *team) start(n int, fn func(cpu int)) {
	t.n = n
	t.bar.n = int32(n)
	t.tids[0] = gettid()
	runtime.Gosched() // the scheduler's clock for this goroutine starts again here (sysmon's 10 ms)
	for cpu := 1; cpu < n; cpu++ {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with its part
			if !setAffinity(0, cpu) || getCPU() != cpu {
				die([]byte("linuxref guest: cannot pin a thread to its CPU\n"))
			}
			t.tids[cpu] = gettid()
			atomic.AddInt32(&t.ready, 1)
			fn(cpu)
		}()
	}
	t.waitReady()
	fn(0)
}

//go:nosplit
func (t *team) waitReady() {
	for atomic.LoadInt32(&t.ready) < int32(t.n-1) {
		pause()
	}
}

// spinBarrier is a rendezvous of running threads: they spin in user mode, so their CPUs stay on the
// mm, not lazy (lazymm's munmap-shootdown spins the same way).
type spinBarrier struct{ n, count, phase int32 }

//go:nosplit
func (b *spinBarrier) wait() {
	ph := atomic.LoadInt32(&b.phase)
	if atomic.AddInt32(&b.count, 1) == b.n {
		atomic.StoreInt32(&b.count, 0)
		atomic.AddInt32(&b.phase, 1)
		return
	}
	for atomic.LoadInt32(&b.phase) == ph {
		pause()
	}
}

// The trace window: the orchestrator counts the events between the markers this process writes to
// tracefs's trace_marker.
var (
	markerFD  int
	markBegin = []byte("lz-begin")
	markEnd   = []byte("lz-end")
)

func openMarker() {
	fd, err := syscall.Open(tracefs+"/trace_marker", syscall.O_WRONLY, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "linuxref guest: %v\n", err)
		os.Exit(3)
	}
	markerFD = fd
}

//go:nosplit
func mark(b []byte) { writeFD(markerFD, b) }

// mapPages maps n anonymous pages at a fixed address of their own (a 1 GiB-aligned range no other
// mapping shares, so the process's page tables there are the pattern's alone), populated.
func mapPages(n int) uintptr {
	const at, fixedNoReplace = 0x2000_0000_0000, 0x100000
	p, _, e := syscall.Syscall6(syscall.SYS_MMAP, at, uintptr(n)*4096, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_POPULATE|fixedNoReplace, ^uintptr(0), 0)
	if e != 0 || p != at {
		fmt.Fprintf(os.Stderr, "linuxref guest: mmap %d pages at %#x: %v\n", n, uintptr(at), e)
		os.Exit(3)
	}
	return p
}

// word is the first word of page i of the mapping at base.
//
//go:nosplit
func word(base uintptr, i int) *uint64 { return (*uint64)(unsafe.Add(nil, base+uintptr(i)*4096)) }

// populateWritable writes in every page of the process's writable private mappings of at most 16 MiB
// (MADV_POPULATE_WRITE): the binary's data and bss, the heap and stacks in use. A page first read and
// later written (the zero page, or the binary's data) would take a copy-on-write fault in the window,
// whose flush (ptep_clear_flush) would be counted. The larger mappings are the Go runtime's sparse
// metadata, touched a page here and there: populating them would also make exit_mmap's page batch
// overflow into a flush of its own.
func populateWritable() error {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(maps), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[1] != "rw-p" {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || b-a > 16<<20 {
			continue
		}
		const madvPopulateWrite = 23
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(a), uintptr(b-a), madvPopulateWrite); e != 0 {
			return fmt.Errorf("MADV_POPULATE_WRITE %s: %v", f[0], e)
		}
	}
	return nil
}
