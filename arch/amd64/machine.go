package amd64

import (
	"os"

	"lazymm/kernel"
	"lazymm/paging"
	"lazymm/shim"
)

// machine is kernel.Machine on bare-metal amd64. It is registered only when bootMain ran, so the same
// binary started as a Linux process (host tests) keeps the hosted defaults.
type machine struct{ paging.Core }

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
func (machine) SendTestIPI(cpu int) { shim.SendIPI(cpu, shim.IPITest) }
func (machine) SendNMI(cpu int)     { shim.SendIPI(cpu, shim.IPINMI) }

func (machine) SendTestIPIMask(mask uint64) { shim.SendIPIMask(mask, shim.IPITest) }
func (machine) SendTestIPIAllButSelf()      { shim.SendIPIAllButSelf(shim.IPITest) }

func (machine) CrossCall(mask uint64, op kernel.CrossCallOp, arg uint64, wait bool) {
	crossCall(mask, op, arg, wait)
}

func (machine) IPICounts(cpu int) kernel.IPICounts { return shim.IPICounts(cpu) }

func (machine) CPUOnline(cpu int) bool                    { return cpu < shim.OnlineCPUs }
func (machine) PingPong(to, rounds int) ([]uint64, error) { return shim.PingPong(to, rounds, tscHz) }

// Cycles is nosplit: the lazy-mm engine times context switches with interrupts off.
//
//go:nosplit
func (machine) Cycles() uint64 { return rdtsc() }

func (machine) TSCHz() uint64 { return tscHz }

// NMIAnywhere: an x86 NMI takes its own IST stack and is latched while one runs: it returns from
// anywhere.
func (machine) NMIAnywhere() error { return nil }

func (machine) CPUSource() string {
	return [...]string{srcBootOnly: "boot-cpu-only", srcMADT: "acpi-madt", srcMPTable: "mp-table"}[cpuSource]
}

func (machine) Memory(drain bool) kernel.MemReport { return kernel.FramesReport(machine{}, drain) }
