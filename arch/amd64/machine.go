package amd64

import (
	"lazymm/kernel/machine"
	"lazymm/kernel/paging"
	"lazymm/kernel/shim"
)

// machine is machine.Machine on bare-metal amd64. It is registered only when bootMain ran, so the same
// binary started as a Linux process (host tests) keeps the hosted defaults.
type board struct {
	shim.Machine
	paging.Core
}

// EntryPoint is the multiboot entry (boot32), for tools and tests.
var EntryPoint = bootEntry()

func bootEntry() uintptr

func init() {
	if bareMetal {
		machine.Register(board{})
	}
}

func (board) Arch() string { return "amd64" }
func (board) MemMB() int   { return int(memBytes >> 20) }

func (board) FirmwareCPUs() int  { return firmwareCPUs }
func (board) APICID(cpu int) int { return int(apicIDs[cpu]) }

func (board) PingPong(to, rounds int) ([]uint64, error) { return shim.PingPong(to, rounds, tscHz) }

// Cycles is nosplit: the lazy-mm engine times context switches with interrupts off.
//
//go:nosplit
func (board) Cycles() uint64 { return machine.ReadCycles() }

func (board) TSCHz() uint64 { return tscHz }

// NMIAnywhere: an x86 NMI takes its own IST stack and is latched while one runs: it returns from
// anywhere.
func (board) NMIAnywhere() error { return nil }

func (board) CPUSource() string {
	return [...]string{srcBootOnly: "boot-cpu-only", srcMADT: "acpi-madt", srcMPTable: "mp-table"}[cpuSource]
}
