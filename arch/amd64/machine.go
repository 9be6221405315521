package amd64

import (
	"os"
	"sync/atomic"

	"lazymm/kernel"
	"lazymm/shim"
)

// machine is kernel.Machine on bare-metal amd64. It is registered only when bootMain ran, so the same
// binary started as a Linux process (host tests) keeps the hosted defaults.
type machine struct{}

// EntryPoint is the multiboot entry (boot32), for tools and tests.
var EntryPoint = bootEntry()

func bootEntry() uintptr

func init() {
	if bareMetal {
		kernel.Register(machine{})
	}
}

func (machine) Arch() string    { return "amd64" }
func (machine) BareMetal() bool { return true }
func (machine) CPUs() int       { return shim.OnlineCPUs }
func (machine) MemMB() int      { return int(memBytes >> 20) }
func (machine) Cmdline() string { return shim.Cmdline() }
func (machine) Exit(status int) { os.Exit(status) }

func (machine) SyscallCounts() map[int]uint64 { return shim.SyscallCounts() }

// ResidentFrames counts frames in use: the image, page tables, kernel objects and the runtime's memory.
func (machine) ResidentFrames() uint64 { return kernel.FramesResident() }

func (machine) CPU() int            { return currentCPU() }
func (machine) FirmwareCPUs() int   { return firmwareCPUs }
func (machine) APICID(cpu int) int  { return int(apicIDs[cpu]) }
func (machine) SendTestIPI(cpu int) { sendIPI(cpu, ipiTest) }
func (machine) SendNMI(cpu int)     { sendIPI(cpu, ipiNMI) }

func (machine) SendTestIPIMask(mask uint64) { sendIPIMask(mask, ipiTest) }
func (machine) SendTestIPIAllButSelf()      { sendIPIAllButSelf(ipiTest) }

func (machine) CrossCall(mask uint64, op kernel.CrossCallOp, arg uint64, wait bool) {
	crossCall(mask, op, arg, wait)
}

func (machine) IPICounts(cpu int) kernel.IPICounts {
	ld := func(p *uint64) uint64 { return atomic.LoadUint64(p) }
	return kernel.IPICounts{
		ReschedSent: ld(&ipiSent[ipiResched][cpu]), ReschedRecv: ld(&ipiRecv[ipiResched][cpu]),
		CallSent: ld(&ipiSent[ipiCall][cpu]), CallRecv: ld(&ipiRecv[ipiCall][cpu]),
		TestSent: ld(&ipiSent[ipiTest][cpu]), TestRecv: ld(&ipiRecv[ipiTest][cpu]),
		NMISent: ld(&ipiSent[ipiNMI][cpu]), NMIRecv: ld(&ipiRecv[ipiNMI][cpu]),
	}
}

func (machine) CPUOnline(cpu int) bool                    { return cpu < shim.OnlineCPUs }
func (machine) PingPong(to, rounds int) ([]uint64, error) { return pingPong(to, rounds) }

// Cycles is nosplit: the lazy-mm engine times context switches with interrupts off.
//
//go:nosplit
func (machine) Cycles() uint64 { return rdtsc() }

func (machine) TSCHz() uint64 { return tscHz }

func (machine) CPUSource() string {
	return [...]string{srcBootOnly: "boot-cpu-only", srcMADT: "acpi-madt", srcMPTable: "mp-table"}[cpuSource]
}

func (machine) Memory(drain bool) kernel.MemReport { return kernel.FramesReport(machine{}, drain) }
