package ppc64

import "unsafe"

// boot is the stub the trampoline jumps to, in 32-bit big-endian real mode (boot_ppc64.s).
func boot()

// bootAddr returns boot's address, for the image tool's -entry and for tests.
func bootAddr() uintptr

// EntryPoint is boot's address; referring to it keeps boot in the image.
var EntryPoint = bootAddr()

// bootFault is the crash-dump test's entry: the vectors, then a trap instruction (boot_ppc64.s).
func bootFault()

func bootFaultAddr() uintptr

// FaultEntryPoint is bootFault's address; referring to it keeps bootFault in the image.
var FaultEntryPoint = bootFaultAddr()

var (
	bootStack [64 << 10]byte
	// bootG stands for the runtime's g until the runtime runs: R30 points at it, so a stack check
	// that reads g.stackguard0 finds 0 and never calls morestack.
	bootG [1024]byte
)

// hvPutChars prints n (at most 16) bytes, high-order first from hi then lo, on the hypervisor
// console (H_PUT_TERM_CHAR).
func hvPutChars(hi, lo uint64, n int)

// puts prints s on the hypervisor console.
//
//go:nosplit
func puts(s string) {
	for len(s) > 0 {
		n := min(len(s), 16)
		var w [2]uint64
		for i := 0; i < n; i++ {
			w[i/8] |= uint64(s[i]) << (56 - 8*(i%8))
		}
		hvPutChars(w[0], w[1], n)
		s = s[n:]
	}
}

// stubMain is the first Go code on ppc64: 64-bit mode, real mode, on bootStack.
//
//go:nosplit
func stubMain() {
	puts("lazymm: ppc64 boot stub reached in 64-bit mode, running Go code; the hosted runtime is not ported yet (issue 6)\n")
	// the system-call path the runtime will use: write through sc, and an unknown call
	msg := "lazymm: ppc64 write(2) through sc and the 0xc00 vector\n"
	if n, failed := rawSyscall(sysWrite, 1, uint64(uintptr(unsafe.Pointer(unsafe.StringData(msg)))), uint64(len(msg))); failed != 0 || n != uint64(len(msg)) {
		puts("lazymm: ppc64 write(2) through sc failed\n")
	}
	if r, failed := rawSyscall(9999, 0, 0, 0); failed == 1 && r == eNOSYS {
		puts("lazymm: ppc64 unknown system call: ENOSYS with CR0.SO\n")
	} else {
		puts("lazymm: ppc64 unknown system call did not fail with ENOSYS\n")
	}
}
