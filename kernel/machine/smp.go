package machine

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// CrossCallOp names what a cross-call runs on each target CPU. The set is closed, and
// HandleCrossCall dispatches it with a switch: the trap path then has no indirect call for the
// trap-path check to lose track of. It mirrors smp_call_function_many's func argument.
type CrossCallOp uint32

const (
	CallNop        CrossCallOp = iota
	CallCount                  // CrossCallRuns[cpu]++
	CallShootLazy              // the lazy-mm engine: leave the mm at arg if this CPU uses it lazily
	CallAuditLazy              // the lazy-mm engine: no reference to the freed mm at arg may remain here
	CallMembarrier             // the expedited membarrier's IPI: a full barrier, for sequence arg
)

// CrossCallRuns counts, per CPU, the CallCount cross-calls that CPU ran.
var CrossCallRuns [64]uint64

// IPICounts are one CPU's inter-processor interrupts by kind.
type IPICounts struct {
	ReschedSent, ReschedRecv uint64
	CallSent, CallRecv       uint64
	TestSent, TestRecv       uint64
	NMISent, NMIRecv         uint64
}

// SMP is what the arch layer offers for many CPUs: IPIs, NMIs, cross-calls and where the caller runs.
type SMP interface {
	CPU() int          // the CPU running the caller (stable only while pinned)
	FirmwareCPUs() int // CPUs the firmware lists (ACPI MADT, else the MP table)
	CPUSource() string // where they were found: acpi-madt, mp-table, boot-cpu-only
	APICID(cpu int) int
	SendTestIPI(cpu int) // a fixed-vector IPI whose handler only counts
	SendTestIPIMask(mask uint64)
	SendTestIPIAllButSelf() // the ICR's all-excluding-self shorthand
	SendNMI(cpu int)
	CrossCall(mask uint64, op CrossCallOp, arg uint64, wait bool)
	IPICounts(cpu int) IPICounts
	CPUOnline(cpu int) bool // cpu < FirmwareCPUs(): did it come up (and join)?
	// PingPong bounces a test IPI between the calling CPU (the caller is pinned) and to, rounds
	// times, and returns each round trip in TSC cycles.
	PingPong(to, rounds int) ([]uint64, error)
	Cycles() uint64 // the TSC
	TSCHz() uint64
	// NMIAnywhere is nil when an NMI may land anywhere, in a busy CPU's interrupt entries too, and
	// return (x86, POWER's soft NMI); else why not (POWER's system reset, nmi=reset): the scenarios
	// that send NMIs skip.
	NMIAnywhere() error
}

// Pin binds the calling goroutine's OS thread to one CPU (runtime.LockOSThread + sched_setaffinity),
// the way the lazy-mm engine runs one loop per CPU. Undo with Unpin.
func Pin(cpu int) error {
	runtime.LockOSThread()
	var mask [16]uint64
	mask[cpu/64] = 1 << (cpu % 64)
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask))); e != 0 {
		runtime.UnlockOSThread()
		return fmt.Errorf("sched_setaffinity(cpu %d): %v", cpu, e)
	}
	return nil
}

// Unpin lets the calling goroutine's thread run anywhere again.
func Unpin() {
	var mask [16]uint64
	for i := range mask {
		mask[i] = ^uint64(0)
	}
	syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
	runtime.UnlockOSThread()
}

// RunPinned runs fn as the one pinned loop of CPU cpu and waits for it.
func RunPinned(cpu int, fn func()) error {
	errc := make(chan error, 1)
	go func() {
		if err := Pin(cpu); err != nil {
			errc <- err
			return
		}
		defer Unpin()
		fn()
		errc <- nil
	}()
	return <-errc
}
