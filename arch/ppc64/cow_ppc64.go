package ppc64

import (
	"unsafe"

	"lazymm/kernel/shim"
)

// A user store that may take a write-protect fault (copy-on-write since fork: a store to a read-only
// radix PTE, or to a read-only HPTE, faults in supervisor state too), with an exception-table fixup as
// copy_to_user has: the fault handler resumes the store's caller with ok false instead of handling the
// fault in trap context (paging.Core.WriteFault does that, in thread context).

// Implemented in cow_ppc64.s.
func userStore(p *uint64, v uint64) (ok bool)
func userStoreInsn()
func userStoreInsnAddr() uintptr

// UserStore is machine.Paging's: v stored at va through the MMU; false after a write fault.
func (board) UserStore(va uintptr, v uint64) bool {
	return userStore((*uint64)(unsafe.Add(nil, va)), v)
}

// userStoreFixup is the storage interrupt's exception table: a protection fault on a store at
// userStoreInsn returns from it (blr emulated) with r5 cleared.
//
//go:nosplit
func userStoreFixup(f *shim.Frame) bool {
	if f.PC != uint64(userStoreInsnAddr()) {
		return false
	}
	f.GPR[5] = 0
	f.PC = f.LR
	return true
}
