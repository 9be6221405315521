package kernel

// cycles reads the CPU's cycle counter directly (tsc_amd64.s).
//
//go:noescape
func cycles() uint64
