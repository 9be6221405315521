package ppc64

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
