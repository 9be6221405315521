package shim

// sysArch serves the system calls only this arch has: open, which the ppc64 runtime uses where amd64's
// uses openat. There is no filesystem.
//
//go:nosplit
func sysArch(f *Frame, nr, a0, a1 uint64) (int64, bool) {
	if nr != sysOpen {
		return 0, false
	}
	return -eNOENT, true
}
