package amd64

import "github.com/usbarmory/tamago/soc/intel/uart"

// The console is COM1, a 16550. tamago's uart driver has the register map used here, but its methods
// have stack-checking prologues and cannot run in trap context, so output is polled with nosplit port
// I/O. The lock and the formatting are the shim's (shim/console.go); putc is its archPutc.
const com1 = 0x3f8

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
func putc(c byte) {
	for i := 0; i < 1<<20 && inb(com1+uart.LSR)&(1<<uart.LSR_THRE) == 0; i++ {
	}
	outb(com1+uart.THR, c)
}
