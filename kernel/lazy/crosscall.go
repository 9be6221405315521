package lazy

import (
	"sync/atomic"

	"lazymm/kernel/machine"
)

// HandleCrossCall runs op on the calling CPU, in interrupt context: nosplit, no allocation, no locks.
// It returns true when this CPU must leave the mm its MMU has loaded for InitMM (the arch does it).
//
//go:nosplit
func HandleCrossCall(cpu int, op machine.CrossCallOp, arg uint64) bool {
	switch op {
	case machine.CallCount:
		atomic.AddUint64(&machine.CrossCallRuns[cpu&63], 1)
	case machine.CallShootLazy:
		leave := ShootLazy(cpu, uintptr(arg))
		held := uint64(0)
		if rqs[cpu].shotHeld {
			held = 1
		}
		record(cpu, EvShootRecv, ctxOf(uintptr(arg)), held, 0)
		return leave
	case machine.CallAuditLazy:
		auditLazy(cpu, uintptr(arg))
	case machine.CallMembarrier:
		ipiMB(cpu, arg)
	}
	return false
}
