// Package shim hosts the unmodified Go runtime: it serves the Linux system calls a GOOS=linux static
// binary makes (docs/SYSCALLS.md), schedules its threads across CPUs, and delivers the two signals the
// runtime relies on. It runs in trap context, so everything here is nosplit, allocates nothing and
// takes no runtime lock; tests/trappath_test.go checks that on the linked kernel.
//
// The core (system-call table, thread scheduler, futex, epoll/eventfd, signal bookkeeping) is
// arch-neutral. Per arch there is only what truly differs: the trap frame and its register
// conventions, the system-call numbers and the signal frame (frame_<arch>.go, sysnum_<arch>.go,
// signal_<arch>.go), and the port, port.go: the functions an arch package provides.
package shim
