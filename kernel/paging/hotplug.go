package paging

import (
	"sync/atomic"
	_ "unsafe" // go:linkname

	"lazymm/kernel/machine"
	"lazymm/kernel/shim"
	"lazymm/mm"
)

// The machine half of taking a CPU offline and back (machine.Hotplug, the cpu-hotplug scenario).
// The CPU parks in its pinned loop with interrupts off, as x86's hlt_play_dead halts with them off;
// the Go runtime is told it is in a system call meanwhile, so a stop-the-world does not wait for it.
// Linux's dead CPU is reset (INIT/SIPI, or RTAS stop-self on pseries); this one keeps its registers,
// so what it had loaded when it parked is still there when it comes back, where the audit reads it.

// The root audits a CPU runs on itself while it is offline (asked by auditParked) and as it comes
// back online (initTLBState).
const (
	AuditOffline = 3
	AuditOnline  = 4
)

// parkedCPU is what an offline CPU publishes: the root its MMU had loaded as it parked, which
// nothing changes until it leaves the park loop, and the audit the freeing side asks of it.
type parkedCPU struct {
	root uint64
	ask  uint32
	_    [52]byte
}

var parked [shim.MaxCPUs]parkedCPU

//go:linkname entersyscall runtime.entersyscall
func entersyscall()

//go:linkname exitsyscall runtime.exitsyscall
func exitsyscall()

// PlayDead is machine.Hotplug's, on the calling CPU: see there. Between entersyscall and
// exitsyscall nothing may grow the stack: it is nosplit down to the park loop.
//
//go:nosplit
func (Core) PlayDead(state *uint32) {
	entersyscall()
	playDead(shim.CPUID(), state)
	exitsyscall()
}

// playDead is __cpu_disable, cpu_report_death and the park, then the bring-up, interrupts off
// throughout.
//
//go:nosplit
func playDead(cpu int, state *uint32) {
	fl := shim.IRQSave()
	shim.CPUDying(cpu)
	p := &parked[cpu]
	atomic.StoreUint64(&p.root, archLoadedRoot())
	atomic.StoreUint32(state, machine.CPUDead)
	for atomic.LoadUint32(state) != machine.CPUUp {
		if atomic.LoadUint32(&p.ask) != 0 {
			AuditCPU(cpu, AuditOffline)
			atomic.StoreUint64(&p.root, archLoadedRoot())
			atomic.StoreUint32(&p.ask, 0)
		}
		mm.Relax()
	}
	atomic.StoreUint64(&p.root, 0)
	initTLBState(cpu)
	mm.SetOnline(cpu, true) // set_cpu_online in start_secondary, after the TLB state is set up
	atomic.StoreUint32(state, machine.CPUOnline)
	shim.IRQRestore(fl)
}

// initTLBState is x86's initialize_tlbstate_and_flush on a CPU coming online: its WARN_ON that CR3
// is loaded_mm's (init_mm's) root is the root audit here, which reports a freed root (cr3-audit);
// then init_mm is loaded, every translation (every ASID, the kernel's) flushed, the ASID slots reset.
// It stands for powerpc's bring-up too, whose TLB cleanup_cpu_mmu_context flushed on the way down.
//
//go:nosplit
func initTLBState(cpu int) {
	AuditCPU(cpu, AuditOnline)
	archLoadRoot(&mm.InitMM, 0, true)
	archFlushEverything()
	mm.TLB[cpu].Reset()
}

// auditParked is the root audit's part for offline CPUs, before root is freed: a CPU that parked with
// root loaded is asked to run the audit on itself (it reports a root that is no live address space's
// and moves to init_mm), and waited for, so that its MMU never walks the freed root. The wait is the
// lab's detector, not a protocol step: none waits for an offline CPU, and with no CPU parked on the
// root there is none.
func auditParked(root uint64) {
	off := mm.OfflineMask()
	for cpu := 0; off != 0 && cpu < shim.OnlineCPUs; cpu++ {
		p := &parked[cpu]
		if off&(1<<uint(cpu)) == 0 || atomic.LoadUint64(&p.root) != root {
			continue
		}
		atomic.StoreUint32(&p.ask, 1)
		for atomic.LoadUint32(&p.ask) != 0 && mm.OfflineMask()&(1<<uint(cpu)) != 0 {
			mm.Relax()
		}
	}
}

// IdleWait is machine.Idler's, on the calling CPU: see there. As PlayDead, it is a system call to
// the Go runtime, so that a stop-the-world need not wait for it.
//
//go:nosplit
func (Core) IdleWait(wake *uint32) {
	entersyscall()
	idleWait(wake)
	exitsyscall()
}

//go:nosplit
func idleWait(wake *uint32) {
	fl := shim.IRQSave()
	for atomic.LoadUint32(wake) == 0 {
		shim.RunCrossCalls()
		mm.Relax()
	}
	shim.IRQRestore(fl)
}
