package lazy

import (
	"lazymm/kernel/catalog"

	"sync/atomic"

	"lazymm/mm"
)

// mmputUnlazy is the proposal to kick lazy users off at the last mmput (__mmput), before exit_mmap.
// From then on no task of the mm runs, so no CPU can become lazy on it again, and lazy users never
// outlive mm_users; __mmdrop finds nothing left to do. The targets are mm_cpumask: x86 keeps a lazy
// CPU's bit until it really switches away, and this CPU (the exiting task is lazy on its own mm since
// exit_mm) is in it.
type mmputUnlazy struct{}

func (mmputUnlazy) Name() string { return catalog.MMPutUnlazy }

func (mmputUnlazy) Config() SchemeConfig { return SchemeConfig{ActiveMM: true, ActiveIsRef: true} }

func (mmputUnlazy) MMPut(cpu int, as *mm.AddrSpace) {
	if InjectMMPutUnlazySkip {
		return
	}
	shoot(cpu, atomic.LoadUint64(&as.CPUMask)|1<<uint(cpu), as)
}

func (mmputUnlazy) MMDrop(int, *mm.AddrSpace) {}
