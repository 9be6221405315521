//go:build linux && amd64

package main

import (
	"sync/atomic"
	"syscall"
	"unsafe"
)

// munmap-shootdown, as kernel/suites/tlb/munmap.go plays it, in a Linux process: one thread per CPU,
// 64 pages with tokens, alone in their page tables; 16 rounds (8 beyond 4 CPUs) of: every CPU reads every page; the
// CPUs c > 0 with c + round/2 odd go lazy (their threads sleep: the idle task borrows the mm); CPU 0
// munmaps 1 page (even rounds: a flush that skips the lazy CPUs) or all 64 (odd rounds: the mapping
// and its page tables go, a flush of freed tables that sends the lazy CPUs to init_mm), maps the
// same addresses again and writes new tokens (new pages: lazymm's remap to reused frames); the lazy
// CPUs come back (a tlb_gen catch-up, or a switch from init_mm) and every CPU re-reads every page.
// At the end the other threads exit, leaving their CPUs lazy on the mm, and CPU 0 execs: exec_mmap
// switches CPU 0 to the new mm, then its mmput of the old one is the last, so exit_mmap frees pages
// and tables (one flush of freed tables, to the lazy CPUs) from a CPU that no longer runs the mm, as
// lazymm's CPU 0 frees the mm from init_mm.

const mpPages = 64

var mp struct {
	rounds int // lazymm's: 16, or 8 beyond 4 CPUs
	base   uintptr
	want   [mpPages]uint64 // the token each page must hold now
	gen    uint64
	remaps int32 // rounds CPU 0 finished remapping
}

// exec's program: the tiny child (the window closes when exit_mmap of this process's mm returns,
// inside execve, before the new program runs).
var (
	execPath = []byte(childPath + "\x00")
	execArgs = [][]byte{[]byte("lrchild\x00")}
	execArgv [2]uintptr
	errExec  = []byte("linuxref guest: execve of the child program failed\n")
	errRemap = []byte("linuxref guest: munmap-shootdown's mmap(MAP_FIXED) failed\n")
)

func munmapShootdown(n int) {
	mp.rounds = 16
	if n > 4 {
		mp.rounds = 8
	}
	mp.base = mapPages(mpPages)
	for i := range execArgs {
		execArgv[i] = uintptr(unsafe.Pointer(&execArgs[i][0]))
	}
	openMarker()
	mark(markBegin)
	mp.gen = 1
	for i := 0; i < mpPages; i++ {
		mp.want[i] = token(i, 1)
		*word(mp.base, i) = mp.want[i]
	}
	tm.start(n, munmapCPU)
}

//go:nosplit
func token(page int, gen uint64) uint64 { return gen<<32 | uint64(page) }

//go:nosplit
func munmapCPU(cpu int) {
	for round := 0; round < mp.rounds; round++ {
		munmapRound(cpu, round)
	}
	if cpu != 0 {
		leaveLazy(cpu) // lazymm's exit: the other CPUs go lazy on the mm
	}
	putCount(countStale, atomic.LoadInt64(&tm.stale))
	waitIdle(othersMask())
	syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(&execPath[0])), uintptr(unsafe.Pointer(&execArgv[0])), 0)
	die(errExec)
}

// lazyIn is lazymm's: every other CPU but 0, the two sets alternating every two rounds (each set
// lazy through a 1-page munmap and a 64-page one).
//
//go:nosplit
func lazyIn(cpu, round int) bool { return cpu != 0 && (cpu+round/2)%2 == 1 }

//go:nosplit
func munmapRound(cpu, round int) {
	readAll(mp.base, mpPages, &mp.want)
	tm.bar.wait()
	switch {
	case cpu == 0:
		munmapUnmap(round)
	case lazyIn(cpu, round):
		sleepOn(&tm.sleep[cpu]) // woken by CPU 0 after its remap: the catch-up
	default:
		for atomic.LoadInt32(&mp.remaps) <= int32(round) {
			pause()
		}
	}
	readAll(mp.base, mpPages, &mp.want)
	tm.bar.wait()
}

// munmapUnmap is CPU 0's part of a round: wait until the lazy CPUs are idle, munmap k pages (one
// flush), map them again and write new tokens, wake the lazy CPUs.
//
//go:nosplit
func munmapUnmap(round int) {
	k := 1 // lazymm's unmapSize: all pages in odd rounds, half every fourth round, else one
	switch {
	case round%2 == 1:
		k = mpPages
	case round%4 == 0:
		k = mpPages / 2
	}
	var lazy uint64
	for c := 1; c < tm.n; c++ {
		if lazyIn(c, round) {
			lazy |= 1 << c
		}
	}
	waitIdle(lazy)
	syscall.RawSyscall(syscall.SYS_MUNMAP, mp.base, uintptr(k)*4096, 0)
	p, _, e := syscall.RawSyscall6(syscall.SYS_MMAP, mp.base, uintptr(k)*4096, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_FIXED, ^uintptr(0), 0)
	if e != 0 || p != mp.base {
		die(errRemap)
	}
	mp.gen++
	for i := 0; i < k; i++ {
		mp.want[i] = token(i, mp.gen)
		*word(mp.base, i) = mp.want[i]
	}
	atomic.AddInt32(&mp.remaps, 1)
	for c := 1; c < tm.n; c++ {
		if lazy&(1<<c) != 0 {
			wakeUp(&tm.sleep[c])
		}
	}
}

// readAll reads the first word of each page and counts the ones that do not hold their token.
//
//go:nosplit
func readAll(base uintptr, pages int, want *[mpPages]uint64) {
	for i := 0; i < pages; i++ {
		if atomic.LoadUint64(word(base, i)) != want[i] {
			atomic.AddInt64(&tm.stale, 1)
		}
	}
}
