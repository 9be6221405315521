package ppc64

import "unsafe"

// scFrame is the system call in progress, as scEntry (syscall_ppc64.s) saves it; the field offsets
// are the assembly's.
type scFrame struct {
	nr          uint64 // 0
	a0, a1, a2  uint64 // 8, 16, 24
	a3, a4, a5  uint64 // 32, 40, 48
	ret         uint64 // 56
	err         bool   // 64: ret is an errno (CR0.SO)
	sp, pc, msr uint64 // 72, 80, 88
	lr, g       uint64 // 96, 104
}

var (
	scf     scFrame
	scStack [16 << 10]byte
)

const (
	sysWrite = 4 // Linux ppc64 numbers
	eNOSYS   = 38
	eBADF    = 9
)

func rawSyscall(nr, a0, a1, a2 uint64) (r uint64, failed uint64)

// scDispatch runs the call in scf: so far write(1|2) to the hypervisor console; every other number
// fails with ENOSYS. The shim of arch/amd64 (syscall.go) is what the runtime needs; its arch-neutral
// core moves here in issue 6.
//
//go:nosplit
func scDispatch() {
	f := &scf
	f.err = false
	switch f.nr {
	case sysWrite:
		if f.a0 != 1 && f.a0 != 2 {
			f.ret, f.err = eBADF, true
			return
		}
		n := int(f.a2)
		for i := 0; i < n; i += 16 {
			k := min(n-i, 16)
			var w [2]uint64
			for j := 0; j < k; j++ {
				w[j/8] |= uint64(*(*byte)(unsafe.Add(nil, uintptr(f.a1)+uintptr(i+j)))) << (56 - 8*(j%8))
			}
			hvPutChars(w[0], w[1], k)
		}
		f.ret = uint64(n)
	default:
		f.ret, f.err = eNOSYS, true
	}
}
