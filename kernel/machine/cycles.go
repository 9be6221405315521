package machine

// ReadCycles reads this CPU's cycle counter (x86's TSC, POWER's timebase) directly: the one reader
// for the arch layers' clocks and for the lazy-mm engine's trace in interrupt context, where the
// Machine interface's Cycles (an indirect call) may not be used.
//
//go:noescape
func ReadCycles() uint64
