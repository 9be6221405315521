// Package ppc64 is lazymm's 64-bit POWER machine layer. So far: the boot stub, which QEMU's pseries
// firmware enters through the relocating trampoline tools/mkimage adds (docs/PPC64.md); the per-CPU
// area; and the one kernel entry, trapEntry, which saves a thread's full register state (Frame and
// FPState) and calls trap(f *Frame) for every exception, interrupt and sc, as on amd64. The stub proves
// the path (sc, the decrementer with registers preserved, a crash dump) and powers off. Registering a
// kernel.Machine, the system-call shim, external interrupts, SMP and the MMU are issue 6's and 7's
// work.
package ppc64
