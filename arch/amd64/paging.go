package amd64

import (
	"errors"

	"lazymm/kernel/paging"
	"lazymm/kernel/shim"
)

// machine.Paging on amd64 is the paging core's (lazymm/kernel/paging, embedded in machine) over CR3 (tlb.go);
// PCIDs are x86's own.

var errNoPCID = errors.New("the CPU has no PCID (CPUID.01H:ECX.PCID=0; QEMU's TCG models none): the PCID half runs under -kvm on a host with PCID")

func (board) PCID() (bool, bool) { return hasPCID, paging.PCIDOn }

// IRQsOffActivateMM: x86 does not select ARCH_WANT_IRQS_OFF_ACTIVATE_MM (6.1); its switch_mm
// disables interrupts itself.
func (board) IRQsOffActivateMM() bool { return false }

func (board) SetPCID(on bool) error {
	if on && !hasPCID {
		return errNoPCID
	}
	fl := paging.Lock()
	paging.PCIDOn = on
	arg := uint64(0)
	if on {
		arg = 1
	}
	shim.PostCall(1<<uint(shim.OnlineCPUs)-1, callSetPCID, arg, true)
	paging.Unlock(fl)
	return nil
}
