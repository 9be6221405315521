package ppc64

import "unsafe"

// The system calls, with the Linux ppc64 convention: sc lands at 0xc00, trapEntry saves the Frame and
// trap passes it here. The number is in r0, the arguments in r3-r8; the result goes back in r3 and, on
// error, r3 holds the positive errno with CR0.SO set (SO clear otherwise). The Frame's PC is already
// the instruction after sc.

const (
	sysWrite = 4 // Linux ppc64 numbers
	eNOSYS   = 38
	eBADF    = 9
)

func rawSyscall(nr, a0, a1, a2 uint64) (r uint64, failed uint64)

// scDispatch serves the call in f: so far write(1|2) to the hypervisor console; every other number
// fails with ENOSYS. The shim of arch/amd64 (syscall.go) is what the runtime needs; its arch-neutral
// core moves to a shared package next.
//
//go:nosplit
func scDispatch(f *Frame) {
	ret, errno := uint64(0), uint64(0)
	switch f.GPR[0] {
	case sysWrite:
		fd, p, n := f.GPR[3], unsafe.Add(nil, uintptr(f.GPR[4])), int(f.GPR[5])
		if fd != 1 && fd != 2 {
			errno = eBADF
			break
		}
		putMem(p, n)
		ret = uint64(n)
	default:
		errno = eNOSYS
	}
	if errno != 0 {
		f.GPR[3] = errno
		f.CR |= crSO
	} else {
		f.GPR[3] = ret
		f.CR &^= crSO
	}
}
