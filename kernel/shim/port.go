package shim

// The port: what an arch package (arch/<arch>) provides to the shim. They are called from trap
// context, where an interface or a func value (an indirect call) is not allowed and where the trap-path
// check must be able to follow every call, so they are plain functions declared here without a body
// and defined by the arch package under these names (`//go:linkname archPutc lazymm/kernel/shim.archPutc`),
// the way the runtime provides sync's runtime_Semacquire. All must be nosplit.

// archCPUID is this CPU's index (0 is the boot CPU).
func archCPUID() int

// archPutc writes one byte to the console; the caller holds the console lock.
func archPutc(c byte)

// archIdle waits for an interrupt with interrupts enabled, and returns with them as they were on entry
// (off; on ppc64 hard-off, or soft-masked in thread context).
func archIdle()

// archMayHalt says a wait may halt here: an interrupt that ends the halt nests safely on this stack
// (amd64: not on the interrupt stack the interrupt itself would restart; ppc64: always).
func archMayHalt() bool

// archSendIPI delivers one IPI of kind (ipi.go) to cpu; archSendIPIAllButSelf to every other online
// CPU (with the machine's broadcast where it has one). The shim counts them.
func archSendIPI(cpu, kind int)
func archSendIPIAllButSelf(kind int)

// archRunOp runs one cross-call op on this CPU. lazymm/kernel/paging provides it (its runOp): its own ops,
// the arch's and the kernel's (lazy.HandleCrossCall).
func archRunOp(cpu int, op uint32, arg uint64)

// archIRQSave turns interrupts off on this CPU and returns what archIRQRestore needs.
func archIRQSave() uint64
func archIRQRestore(flags uint64)

// archCycles reads the cycle counter the deadlines use (TSC, timebase).
func archCycles() uint64

// archNsToCycles converts a duration to cycles.
func archNsToCycles(ns uint64) uint64

// archNanotime is CLOCK_MONOTONIC in nanoseconds; archWallOffset is CLOCK_REALTIME minus it, in
// seconds.
func archNanotime() uint64
func archWallOffset() int64

// archSwitchTo makes t's floating-point area and TLS base the live ones on this CPU (nil: idle).
func archSwitchTo(t *Thread)

// archRandom returns hardware randomness if the CPU has it.
func archRandom() (uint64, bool)

// archExit ends the machine with status.
func archExit(status int)

// archCrash prints the crash dump of f and ends the machine.
func archCrash(f *Frame)

// archLeaf is the last-level page-table entry mapping a runtime page to frame with prot (mm.Prot*).
func archLeaf(frame uint64, prot uint32) uint64

// archShootdown flushes the translations of [start, end) on this CPU and, if remote, on every other.
func archShootdown(start, end uintptr, remote bool)
