package ppc64

import (
	"errors"

	"lazymm/kernel/machine"
	"lazymm/kernel/paging"
	"lazymm/kernel/shim"
)

// machine is machine.Machine on bare-metal ppc64 (QEMU's pseries). It is registered only when the
// runtime was entered from hostMain, so the same binary started as a Linux process keeps the hosted
// defaults.
type board struct {
	shim.Machine
	paging.Core // test address spaces: a radix tree and a PID each (mmu_ppc64.go)
}

const hSignalSysReset = 0x380

var errNoPCID = errors.New("POWER has no PCID: radix PIDs tag every translation (paging runs without ASIDs, flushing the PID it loads)")

var errNMI = errors.New("ppc64 with nmi=reset: the NMI (a system reset) cannot return when it lands on another interrupt's entry, and QEMU delivers it right after delivering an interrupt pending on a busy CPU (its tick): scenarios sending NMIs to busy CPUs need the soft NMI, the default (docs/PPC64.md)")

// NMIAnywhere: the soft NMI (the default) lands in interrupt-off code, the lazy-mm engine's
// soft-masked sections, and returns; it does not land in trap context (hard-disabled), as Linux's
// soft NMI does not, which the NMI scenarios do not need. With nmi=reset, see errNMI and
// trap_ppc64.go's systemReset.
func (board) NMIAnywhere() error {
	if nmiReset {
		return errNMI
	}
	return nil
}

func (board) PCID() (bool, bool) { return false, false }

// IRQsOffActivateMM: powerpc selects ARCH_WANT_IRQS_OFF_ACTIVATE_MM (arch/powerpc/Kconfig, 6.1).
func (board) IRQsOffActivateMM() bool { return true }

func (board) SetPCID(on bool) error {
	if on {
		return errNoPCID
	}
	return nil
}

func init() {
	if bootMode == modeHost && memBytes != 0 {
		machine.Register(board{})
	}
}

func (board) Arch() string { return "ppc64" }
func (board) MemMB() int   { return int(memBytes >> 20) }

func (board) FirmwareCPUs() int  { return firmwareCPUs }
func (board) CPUSource() string  { return "device-tree" }
func (board) APICID(cpu int) int { return int(hwIDs[cpu]) }

func (board) PingPong(to, n int) ([]uint64, error) { return shim.PingPong(to, n, tbFreq) }
func (board) TSCHz() uint64                        { return tbFreq }

// Cycles is nosplit: the lazy-mm engine times context switches with interrupts off.
//
//go:nosplit
func (board) Cycles() uint64 { return machine.ReadCycles() }
