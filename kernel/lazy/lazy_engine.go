package lazy

import (
	"lazymm/kernel/catalog"

	"lazymm/kernel/machine"

	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"lazymm/mm"
)

// The lazy-mm engine: tasks and mms as Linux has them, one scheduler loop per CPU (a pinned goroutine
// whose context_switch runs with interrupts off), and the lazy-TLB scheme under test (scheme.go). Task
// and mm structs live in frames, referred to by plain words (handles) so that code with interrupts off
// or in interrupt context stores no Go pointers (no write barriers).

// Task is the engine's task_struct, in an Object frame (poisoned when freed).
type Task struct {
	Magic     uint64
	ID        uint64
	MM        uintptr // mm: 0 for a kernel thread, and after exit_mm
	MMCtx     uint64  // ctx_id of MM
	ActiveMM  uintptr // active_mm: the mm whose tables it runs on, borrowed by kernel threads
	ActiveCtx uint64  // ctx_id of ActiveMM when it was taken: a freed and reused struct does not match
	Flags     uint64
	CPU       int64
	frame     uint64
}

// IsKthread says t is a kernel thread (kthread_use_mm may lend it an mm).
func (t *Task) IsKthread() bool { return t.Flags&taskKthread != 0 }

const (
	taskMagic   = 0x7461736b2d2d2121 // "task--!!"
	taskKthread = 1 << 0
	taskDead    = 1 << 1
	taskUseMM   = 1 << 2 // kthread_use_mm: a kernel thread with an mm of its own for now
)

//go:nosplit
func taskAt(h uintptr) *Task {
	if h == 0 {
		return nil
	}
	return (*Task)(unsafe.Add(nil, h))
}

//go:nosplit
func (t *Task) handle() uintptr { return uintptr(unsafe.Pointer(t)) }

// runq is one CPU's scheduler state (struct rq, and the per-CPU slots schemes use).
type runq struct {
	curr     uintptr // rq->curr
	prevMM   uintptr // rq->prev_mm: the lazy reference finish_task_switch drops
	prevCtx  uint64
	hazard   uintptr // the hazard schemes' slot (hazard-ref's lazy_mm): the mm this CPU may use lazily
	dropMM   uint64  // hazard-ref's drop_mm: an mm_count reference this CPU owns (packRef)
	shotHeld bool    // the last ShootLazy here found something to end
	stats    SchedStats
	swCyc    [512]uint64 // TSC cycles of the last context switches (ring)
	nSw      uint64
}

// SchedStats counts one CPU's engine work.
type SchedStats struct {
	Switches, LazyEntries    uint64
	CountAtomics             uint64 // atomic operations on mm_users and mm_count
	LineTransfers            uint64 // of those, by a CPU other than the line's last writer
	ShootSent, ShootRecv     uint64 // the schemes' IPIs that move lazy CPUs off a dying mm
	ShootUnneeded            uint64 // received where this CPU held nothing of the mm
	NMIs, NMIDerefs          uint64
	Exits                    uint64
	ExitCycles               uint64 // sum over exits of the exiting task's exit_mm and mmput, audits left out
	MembarrierIPIs, Barriers uint64
}

var (
	rqs      [mm.MaxCPUs]runq
	engineOn uint32 // NMIs and IPIs look at the engine's state only while it runs
	initH    = mm.InitMM.Handle()
	nextTID  uint64
)

// Findings of the engine's detectors, recorded without allocation (in interrupt context too) and
// turned into test failures when the scenario ends.
type finding struct {
	check, where uint8
	cpu          int32
	h            uintptr
	ctx          uint64
	val          int64
}

const (
	chkFreedMM     = iota + 1 // freed-mm: a dereference met a freed (or freed and reused) mm
	chkLazyFreedMM            // lazy-freed-mm: after an mm was freed, a CPU still referred to it
	chkRefcount               // refcount: mm_users or mm_count underflow or overflow
	chkMembarrier             // membarrier: a CPU running the mm missed the barrier
)

// Detector (check) names in fail lines.
var checkNames = [...]string{chkFreedMM: catalog.DetectFreedMM, chkLazyFreedMM: catalog.DetectLazyFreedMM,
	chkRefcount: catalog.DetectRefcount, chkMembarrier: catalog.DetectMembarrier}

const (
	atSwitch = iota + 1
	atFinish
	atGrab
	atDrop
	atGet
	atPut
	atNMI
	atTempMM
	atUseMM
	atActive
	atHazard
	atPrevMM
)

var whereNames = [...]string{atSwitch: "switch_mm (next)", atFinish: "finish_task_switch", atGrab: "mmgrab",
	atDrop: "mmdrop", atGet: "mmget", atPut: "mmput", atNMI: "the NMI handler", atTempMM: "use_temporary_mm",
	atUseMM: "kthread_use_mm", atActive: "a kernel thread's active_mm", atHazard: "the hazard slot",
	atPrevMM: "rq->prev_mm"}

const maxFindings = 64

var (
	findings  [maxFindings]finding
	nFindings uint64
)

//go:nosplit
func report(check, where uint8, cpu int, h uintptr, ctx uint64, val int64) {
	i := atomic.AddUint64(&nFindings, 1) - 1
	if i < maxFindings {
		findings[i] = finding{check, where, int32(cpu), h, ctx, val}
	}
}

// checkMM is the freed-mm detector at a dereference: as must be live with the ctx_id it had when the
// reference was taken.
//
//go:nosplit
func checkMM(cpu int, h uintptr, ctx uint64, where uint8) bool {
	if h == 0 || mm.At(h).Valid(ctx) {
		return true
	}
	report(chkFreedMM, where, cpu, h, ctx, 0)
	return false
}

// Finding is one detector report, for the test that ran.
type Finding struct {
	Check, Detail string
	CPU           int
}

// TakeFindings returns (and forgets) what the detectors found, with the number lost to the table's size.
func TakeFindings() (out []Finding, lost uint64) {
	n := atomic.SwapUint64(&nFindings, 0)
	for i := uint64(0); i < n && i < maxFindings; i++ {
		f := findings[i]
		var d string
		switch f.check {
		case chkFreedMM:
			d = fmt.Sprintf("CPU %d: %s dereferenced mm %#x (ctx %d), which is freed or reused", f.cpu, whereNames[f.where], f.h, f.ctx)
		case chkLazyFreedMM:
			d = fmt.Sprintf("CPU %d: after mm %#x (ctx %d) was freed, %s still named it", f.cpu, f.h, f.ctx, whereNames[f.where])
		case chkRefcount:
			d = fmt.Sprintf("CPU %d: %s on mm %#x (ctx %d) left the count at %d", f.cpu, whereNames[f.where], f.h, f.ctx, f.val)
		case chkMembarrier:
			d = fmt.Sprintf("CPU %d ran mm %#x (ctx %d) across an expedited membarrier but executed no barrier", f.cpu, f.h, f.ctx)
		}
		out = append(out, Finding{Check: checkNames[f.check], Detail: d, CPU: int(f.cpu)})
	}
	if n > maxFindings {
		lost = n - maxFindings
	}
	return out, lost
}

// NewTask allocates a task struct in a frame: a kernel thread when as is nil, else a thread of as
// (the caller holds the mm_users reference it takes over).
func NewTask(as *mm.AddrSpace) (*Task, error) {
	f, err := machine.M.AllocFrames(1, mm.Object)
	if err != nil {
		return nil, err
	}
	t := (*Task)(mm.Phys(f[0] << mm.PageShift))
	*t = Task{Magic: taskMagic, ID: atomic.AddUint64(&nextTID, 1), CPU: -1, frame: f[0]}
	if as == nil {
		t.Flags = taskKthread
	} else {
		t.MM, t.MMCtx = as.Handle(), as.CtxID
		t.ActiveMM, t.ActiveCtx = t.MM, t.MMCtx
	}
	return t, nil
}

// freeTask is put_task_struct's end: the frame is poisoned in quarantine.
func freeTask(t *Task) {
	f := t.frame
	t.Magic = 0
	machine.M.FreeFrames([]uint64{f})
}

var errEngine = errors.New("the lazy-mm engine needs bare metal (real page tables and IPIs)")

// EngineStats sums the per-CPU counters of CPUs [0, n).
func EngineStats(n int) SchedStats {
	var s SchedStats
	for c := 0; c < n; c++ {
		x := rqs[c].stats
		s.Switches += x.Switches
		s.LazyEntries += x.LazyEntries
		s.CountAtomics += x.CountAtomics
		s.LineTransfers += x.LineTransfers
		s.ShootSent += x.ShootSent
		s.ShootRecv += x.ShootRecv
		s.ShootUnneeded += x.ShootUnneeded
		s.NMIs += x.NMIs
		s.NMIDerefs += x.NMIDerefs
		s.Exits += x.Exits
		s.ExitCycles += x.ExitCycles
		s.MembarrierIPIs += x.MembarrierIPIs
		s.Barriers += x.Barriers
	}
	return s
}

// SwitchSamples returns the TSC cycles of the recent context switches of CPUs [0, n).
func SwitchSamples(n int) []uint64 {
	var v []uint64
	for c := 0; c < n; c++ {
		r := &rqs[c]
		v = append(v, r.swCyc[:min(r.nSw, uint64(len(r.swCyc)))]...)
	}
	return v
}

// ResetEngine clears the per-CPU state and counters before a scenario.
func ResetEngine(n int) {
	for c := 0; c < n; c++ {
		rqs[c] = runq{}
	}
	atomic.StoreUint64(&nFindings, 0)
}
