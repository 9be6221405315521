// Package ppc64 is lazymm's 64-bit POWER machine layer for QEMU's pseries (and powernv9 with
// skiboot: opal_ppc64.go): the boot stub (entered through the relocating trampoline
// tools/mkimage adds), one kernel entry that saves a thread's full register state and calls
// trap(f *Frame) for every exception, interrupt and sc, the radix MMU, SMP through RTAS and XICS,
// system resets as NMIs, and the port through which the shim hosts the Go runtime and through which
// lazymm/kernel/paging drives radix address spaces, a PID each (docs/PPC64.md). It registers a
// machine.Machine when booted.
package ppc64
