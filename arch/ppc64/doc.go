// Package ppc64 is lazymm's 64-bit POWER machine layer. So far it has the boot stub only: QEMU's
// pseries firmware enters the image through the relocating trampoline tools/mkimage adds
// (docs/PPC64.md), and boot says on the hypervisor console that the hosted runtime is not ported
// yet, then powers the machine off. Registering a kernel.Machine, the system-call shim, interrupts,
// SMP and the MMU are issue 6's and 7's work.
package ppc64
