package amd64

import (
	"sync/atomic"

	"github.com/usbarmory/tamago/soc/intel/uart"
)

// The console is COM1, a 16550. tamago's uart driver has the register map used here, but its methods
// have stack-checking prologues and cannot run in trap context, so output is polled with nosplit port
// I/O under a spinlock (taken with interrupts off: every caller is in the kernel).
const com1 = 0x3f8

var consoleLock uint32

//go:nosplit
func consoleInit() {
	outb(com1+uart.IER, 0)    // no UART interrupts: output is polled
	outb(com1+uart.LCR, 0x80) // DLAB
	outb(com1+0, 1)           // divisor 1: 115200 baud
	outb(com1+1, 0)
	outb(com1+uart.LCR, 0x03) // 8N1
	outb(com1+uart.FCR, 0xc7) // FIFOs on, cleared
	outb(com1+uart.MCR, 0x03) // DTR, RTS
}

//go:nosplit
func consoleLockAcquire() {
	for !atomic.CompareAndSwapUint32(&consoleLock, 0, 1) {
		pause()
	}
}

// consoleLockForce takes the console for a crash dump: if the lock is not free after a bounded spin
// (the crash may have hit while it was held), it is taken anyway.
//
//go:nosplit
func consoleLockForce() {
	for i := 0; i < 1<<20; i++ {
		if atomic.CompareAndSwapUint32(&consoleLock, 0, 1) {
			return
		}
		pause()
	}
	atomic.StoreUint32(&consoleLock, 1)
}

//go:nosplit
func consoleLockRelease() { atomic.StoreUint32(&consoleLock, 0) }

//go:nosplit
func putc(c byte) {
	for i := 0; i < 1<<20 && inb(com1+uart.LSR)&(1<<uart.LSR_THRE) == 0; i++ {
	}
	outb(com1+uart.THR, c)
}

// consoleWrite writes a buffer as one unit, so lines from different CPUs never interleave.
//
//go:nosplit
func consoleWrite(p uintptr, n int) {
	consoleLockAcquire()
	for i := 0; i < n; i++ {
		putc(*(*byte)(ptr(p + uintptr(i))))
	}
	consoleLockRelease()
}

// kprint is the kernel's own output (crash dumps, boot messages): caller holds nothing, builds
// nothing on the heap. Strings are literals or static buffers.
//
//go:nosplit
func kputs(s string) {
	for i := 0; i < len(s); i++ {
		putc(s[i])
	}
}

//go:nosplit
func kputhex(v uint64) {
	const digits = "0123456789abcdef"
	kputs("0x")
	started := false
	for i := 60; i >= 0; i -= 4 {
		d := (v >> uint(i)) & 0xf
		if d != 0 || started || i == 0 {
			putc(digits[d])
			started = true
		}
	}
}

//go:nosplit
func kputdec(v uint64) {
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
		putc(buf[i])
	}
}
