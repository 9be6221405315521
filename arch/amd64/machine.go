package amd64

import (
	"lazymm/kernel"
	"lazymm/paging"
	"lazymm/shim"
)

// machine is kernel.Machine on bare-metal amd64. It is registered only when bootMain ran, so the same
// binary started as a Linux process (host tests) keeps the hosted defaults.
type machine struct {
	shim.Machine
	paging.Core
}

// EntryPoint is the multiboot entry (boot32), for tools and tests.
var EntryPoint = bootEntry()

func bootEntry() uintptr

func init() {
	if bareMetal {
		kernel.Register(machine{})
	}
}

func (machine) Arch() string { return "amd64" }
func (machine) MemMB() int   { return int(memBytes >> 20) }

func (machine) FirmwareCPUs() int  { return firmwareCPUs }
func (machine) APICID(cpu int) int { return int(apicIDs[cpu]) }

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
