package amd64

import "lazymm/kernel/shim"

// A user store that may take a write-protect fault (copy-on-write since fork; CR0.WP makes the
// kernel's writes obey read-only entries), with an exception-table fixup as copy_to_user has: the
// fault handler resumes the store's caller with ok false instead of handling the fault in trap
// context (paging.Core.WriteFault does that, in thread context).

// Implemented in cow_amd64.s.
func userStore(p *uint64, v uint64) (ok bool)
func userStoreInsn()
func userStoreInsnAddr() uintptr

// UserStore is machine.Paging's: v stored at va through the MMU; false after a write fault.
func (board) UserStore(va uintptr, v uint64) bool { return userStore((*uint64)(ptr(va)), v) }

// userStoreFixup is the #PF handler's exception table: a write fault on a present page at
// userStoreInsn returns from it (the RET emulated) with BX cleared.
//
//go:nosplit
func userStoreFixup(f *shim.Frame) bool {
	if f.RIP != uint64(userStoreInsnAddr()) {
		return false
	}
	f.RBX = 0
	f.RIP = *(*uint64)(ptr(uintptr(f.RSP)))
	f.RSP += 8
	return true
}
