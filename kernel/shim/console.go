package shim

import (
	"sync/atomic"

	"lazymm/mm"
)

// The kernel's console output: one spinlock so lines from different CPUs never interleave, and
// formatting that builds nothing on the heap. The bytes go out through the arch's archPutc (a 16550
// on amd64, the hypervisor console on ppc64). Every caller is in the kernel with interrupts off.
var consoleLock uint32

//go:nosplit
func ConsoleLock() {
	for !atomic.CompareAndSwapUint32(&consoleLock, 0, 1) {
		mm.Relax()
	}
}

// ConsoleLockForce takes the console for a crash dump: if the lock is not free after a bounded spin
// (the crash may have hit while it was held), it is taken anyway.
//
//go:nosplit
func ConsoleLockForce() {
	for i := 0; i < 1<<20; i++ {
		if atomic.CompareAndSwapUint32(&consoleLock, 0, 1) {
			return
		}
		mm.Relax()
	}
	atomic.StoreUint32(&consoleLock, 1)
}

//go:nosplit
func ConsoleUnlock() { atomic.StoreUint32(&consoleLock, 0) }

// ConsoleWrite writes a buffer as one unit.
//
//go:nosplit
func ConsoleWrite(p uintptr, n int) {
	ConsoleLock()
	for i := 0; i < n; i++ {
		archPutc(*(*byte)(ptr(p + uintptr(i))))
	}
	ConsoleUnlock()
}

// Puts, PutHex and PutDec print with the console lock held by the caller (or not needed, at boot).
//
//go:nosplit
func Puts(s string) {
	for i := 0; i < len(s); i++ {
		archPutc(s[i])
	}
}

//go:nosplit
func PutHex(v uint64) {
	const digits = "0123456789abcdef"
	Puts("0x")
	started := false
	for i := 60; i >= 0; i -= 4 {
		d := (v >> uint(i)) & 0xf
		if d != 0 || started || i == 0 {
			archPutc(digits[d])
			started = true
		}
	}
}

//go:nosplit
func PutDec(v uint64) {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	for ; i < len(buf); i++ {
		archPutc(buf[i])
	}
}
