package ppc64

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"lazymm/kernel"
	"lazymm/shim"
)

// machine is kernel.Machine on bare-metal ppc64 (QEMU's pseries). It is registered only when the
// runtime was entered from hostMain, so the same binary started as a Linux process keeps the hosted
// defaults.
type machine struct {
	kernel.NoPaging // test address spaces (radix PIDs) are issue 7's
}

const hSignalSysReset = 0x380

var (
	nmiSent, nmiRecv [maxCPUs]uint64

	errNoAddressSpaces = errors.New("ppc64: no test address spaces yet (radix PID switching and its TLB protocol are issue 7's)")
	errNoSMP           = errors.New("ppc64: only the boot CPU runs so far (XICS IPIs and RTAS start-cpu are still to come)")
)

func init() {
	if bootMode == modeHost && memBytes != 0 {
		kernel.Register(machine{kernel.NoPaging{Reason: errNoAddressSpaces}})
	}
}

func (machine) Arch() string                         { return "ppc64" }
func (machine) BareMetal() bool                      { return true }
func (machine) CPUs() int                            { return shim.OnlineCPUs }
func (machine) MemMB() int                           { return int(memBytes >> 20) }
func (machine) Cmdline() string                      { return shim.Cmdline() }
func (machine) Exit(status int)                      { os.Exit(status) }
func (machine) SyscallCounts() map[int]uint64        { return shim.SyscallCounts() }
func (machine) ResidentFrames() uint64               { return kernel.FramesResident() }
func (m machine) Memory(drain bool) kernel.MemReport { return kernel.FramesReport(m, drain) }

// IRQSave and IRQRestore are real: the frame allocator's lock is taken in trap context too.
func (machine) IRQSave() uint64 { return irqSave() }

//go:nosplit
func (machine) IRQRestore(fl uint64) { irqRestore(fl) }

func (machine) CPU() int                            { return int(thisCPU().id) }
func (machine) FirmwareCPUs() int                   { return 1 }
func (machine) CPUSource() string                   { return "boot-cpu-only" }
func (machine) APICID(cpu int) int                  { return cpu }
func (machine) SendTestIPI(int)                     {}
func (machine) SendTestIPIMask(uint64)              {}
func (machine) SendTestIPIAllButSelf()              {}
func (machine) CPUOnline(cpu int) bool              { return cpu < shim.OnlineCPUs }
func (machine) PingPong(int, int) ([]uint64, error) { return nil, errNoSMP }
func (machine) TSCHz() uint64                       { return tbFreq }

// CrossCall runs op here when this CPU is in mask: there are no others yet.
func (machine) CrossCall(mask uint64, op kernel.CrossCallOp, arg uint64, wait bool) {
	if mask&1 != 0 {
		fl := irqSave()
		kernel.HandleCrossCall(0, op, arg)
		irqRestore(fl)
	}
}

// Cycles is nosplit: the lazy-mm engine times context switches with interrupts off.
//
//go:nosplit
func (machine) Cycles() uint64 { return readTB() }

func (machine) IPICounts(cpu int) kernel.IPICounts {
	return kernel.IPICounts{NMISent: atomic.LoadUint64(&nmiSent[cpu]), NMIRecv: atomic.LoadUint64(&nmiRecv[cpu])}
}

// SendNMI raises a system reset on cpu through the hypervisor (H_SIGNAL_SYS_RESET), POWER's closest to
// an x86 NMI: systemReset (trap_ppc64.go) says how it differs.
func (machine) SendNMI(cpu int) {
	atomic.AddUint64(&nmiSent[thisCPU().id], 1)
	if r := hcall(hSignalSysReset, uint64(cpu), 0, 0, 0); r != hSuccess {
		panic(fmt.Sprintf("H_SIGNAL_SYS_RESET to CPU %d: %d", cpu, r))
	}
}
