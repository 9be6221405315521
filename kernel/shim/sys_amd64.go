package shim

// sysArch serves the system calls only this arch has: arch_prctl(ARCH_SET_FS), which the runtime
// uses to point FS at its TLS block (g lives at FS-8).
//
//go:nosplit
func sysArch(f *Frame, nr, a0, a1 uint64) (int64, bool) {
	if nr != sysArchPrctl {
		return 0, false
	}
	const archSetFS = 0x1002
	if a0 != archSetFS {
		return -eINVAL, true
	}
	t := curThread()
	t.TLS = a1
	archSwitchTo(t)
	return 0, true
}
