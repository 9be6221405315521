// Package mm owns physical frames, page tables and address-space bookkeeping. Everything here is
// arch-neutral and allocation-free: it runs in trap and syscall context on bare metal (nosplit, no locks
// the Go runtime may hold), and on the host in unit tests against a byte slice posing as RAM.
package mm

import (
	"sync/atomic"
	"unsafe"
)

const (
	PageShift = 12
	PageSize  = 1 << PageShift
)

// Kind says what a physical frame holds; the accounting and leak reports are by kind.
type Kind uint8

const (
	Free        Kind = iota
	Reserved         // firmware, MMIO holes, memory the allocator never hands out
	Image            // the kernel image (text, data, bss)
	PageTable        // a page-table page of the kernel's and runtime's mappings (InitMM's)
	MMTable          // a page-table page of an address space's own: its root and its user range's tables
	Runtime          // anonymous memory mapped for the hosted Go runtime (mmap)
	Object           // kernel objects whose lifetime is the experiment (mm, task structs)
	UserData         // pages mapped into a test address space's user range
	Quarantined      // freed, poisoned, not yet reusable
	NumKinds
)

var kindNames = [NumKinds]string{"free", "reserved", "image", "pagetable", "mm-pagetable", "runtime", "object", "userdata", "quarantined"}

func (k Kind) String() string {
	if k < NumKinds {
		return kindNames[k]
	}
	return "?"
}

// Frames is the machine's physical memory; the arch layer sets it up at boot from the firmware's
// memory map.
var Frames Allocator

// Allocator hands out 4 KiB frames with next-fit over a per-frame kind table. One instance serves the
// whole machine; a spinlock makes it safe from any CPU with interrupts off.
//
// A freed frame is poisoned and held in a FIFO quarantine before it can be reused (as KASAN's
// quarantine does): a walk through a freed page-table page meets non-present entries, and a write
// into a freed frame is found when the frame leaves quarantine, its poison no longer intact.
type Allocator struct {
	lock          uint32
	kinds         []Kind // indexed by frame number
	cursor        uint64
	alignedCursor uint64 // AllocAligned's next-fit
	counts        [NumKinds]uint64

	quarantine  [QuarantineFrames]uint64
	qHead, qLen int
	violations  [maxViolations]Violation
	nViolations uint64
}

// QuarantineFrames is how many freed frames wait before reuse.
const QuarantineFrames = 1024

const maxViolations = 16

// Poison fills freed frames. It is not present as a page-table entry in either format: bit 0 (x86's
// present) and bit 63 (POWER radix's valid) are clear. The pattern is recognizable in a crash dump.
const Poison = 0x7eadbeefdeadbe00

// Violation is a write into a frame while it was quarantined.
type Violation struct {
	Frame  uint64
	Offset uint64
	Value  uint64
}

// Init sets up the allocator over frames [0, len(kinds)), all Reserved until Release frees ranges.
//
//go:nosplit
func (a *Allocator) Init(kinds []Kind) {
	a.kinds = kinds
	for i := range kinds {
		kinds[i] = Reserved
	}
	a.counts = [NumKinds]uint64{}
	a.counts[Reserved] = uint64(len(kinds))
	a.cursor = 0
	a.qHead, a.qLen, a.nViolations = 0, 0, 0
}

// SetRange marks frames [first, first+n) as kind k (boot-time: RAM ranges become Free, the image Image).
//
//go:nosplit
func (a *Allocator) SetRange(first, n uint64, k Kind) {
	a.acquire()
	for f := first; f < first+n && f < uint64(len(a.kinds)); f++ {
		a.counts[a.kinds[f]]--
		a.kinds[f] = k
		a.counts[k]++
	}
	a.release()
}

// Alloc returns a free frame's number, now of kind k; ok is false when memory is exhausted.
//
//go:nosplit
func (a *Allocator) Alloc(k Kind) (frame uint64, ok bool) {
	a.acquire()
	n := uint64(len(a.kinds))
	for i := uint64(0); i < n; i++ {
		f := a.cursor + i
		if f >= n {
			f -= n
		}
		if a.kinds[f] == Free {
			a.kinds[f] = k
			a.counts[Free]--
			a.counts[k]++
			a.cursor = f + 1
			a.release()
			return f, true
		}
	}
	a.release()
	return 0, false
}

// AllocAligned returns the first of n consecutive free frames, the first a multiple of n (n a power
// of two), all now of kind k; ok is false when there is no such run. For tables the hardware wants
// larger than a frame (POWER radix's 64 KiB roots).
//
//go:nosplit
func (a *Allocator) AllocAligned(n uint64, k Kind) (first uint64, ok bool) {
	if n <= 1 {
		return a.Alloc(k)
	}
	a.acquire()
	total := uint64(len(a.kinds)) &^ (n - 1)
	start := (a.alignedCursor + n - 1) &^ (n - 1)
	for i := uint64(0); i < total; i += n {
		f := (start + i) % total
		run := uint64(0)
		for run < n && a.kinds[f+run] == Free {
			run++
		}
		if run == n {
			for j := f; j < f+n; j++ {
				a.kinds[j] = k
			}
			a.counts[Free] -= n
			a.counts[k] += n
			a.alignedCursor = f + n
			a.release()
			return f, true
		}
	}
	a.release()
	return 0, false
}

// Free returns a frame to the pool. It reports false (and changes nothing) for a frame that is not
// allocated: a double free is a bug the caller must surface.
//
//go:nosplit
func (a *Allocator) Free(frame uint64) bool {
	a.acquire()
	if frame >= uint64(len(a.kinds)) || a.kinds[frame] == Free || a.kinds[frame] == Reserved || a.kinds[frame] == Image || a.kinds[frame] == Quarantined {
		a.release()
		return false
	}
	a.counts[a.kinds[frame]]--
	a.kinds[frame] = Quarantined
	a.counts[Quarantined]++
	poison(frame)
	if a.qLen == len(a.quarantine) {
		a.releaseOldest()
	}
	a.quarantine[(a.qHead+a.qLen)%len(a.quarantine)] = frame
	a.qLen++
	a.release()
	return true
}

// releaseOldest checks the oldest quarantined frame's poison and makes it free. Lock held.
//
//go:nosplit
func (a *Allocator) releaseOldest() {
	frame := a.quarantine[a.qHead]
	a.qHead = (a.qHead + 1) % len(a.quarantine)
	a.qLen--
	p := (*[PageSize / 8]uint64)(Phys(frame << PageShift))
	for i := range p {
		if p[i] != Poison {
			if a.nViolations < maxViolations {
				a.violations[a.nViolations] = Violation{Frame: frame, Offset: uint64(i * 8), Value: p[i]}
			}
			a.nViolations++
			break
		}
	}
	a.counts[Quarantined]--
	a.kinds[frame] = Free
	a.counts[Free]++
}

// Drain checks and frees every quarantined frame (for a leak report, or to check poison now).
//
//go:nosplit
func (a *Allocator) Drain() {
	a.acquire()
	for a.qLen > 0 {
		a.releaseOldest()
	}
	a.release()
}

// MaxViolations is how many violations are kept in detail.
const MaxViolations = maxViolations

// Violations returns how many quarantined frames were written to, and the first MaxViolations of
// them. It does not allocate: it runs under the allocator's lock.
//
//go:nosplit
func (a *Allocator) Violations() (uint64, [MaxViolations]Violation) {
	a.acquire()
	n, v := a.nViolations, a.violations
	a.release()
	return n, v
}

//go:nosplit
func poison(frame uint64) {
	p := (*[PageSize / 8]uint64)(Phys(frame << PageShift))
	for i := range p {
		p[i] = Poison
	}
}

// KindOf reports what a frame holds.
//
//go:nosplit
func (a *Allocator) KindOf(frame uint64) Kind {
	if frame >= uint64(len(a.kinds)) {
		return Reserved
	}
	return a.kinds[frame]
}

// Count returns how many frames are of kind k.
//
//go:nosplit
func (a *Allocator) Count(k Kind) uint64 { return atomic.LoadUint64(&a.counts[k]) }

//go:nosplit
func (a *Allocator) acquire() {
	for !atomic.CompareAndSwapUint32(&a.lock, 0, 1) {
		Relax()
	}
}

//go:nosplit
func (a *Allocator) release() { atomic.StoreUint32(&a.lock, 0) }

// DirectMap is where physical address 0 is mapped: nil on amd64's identity map, the base of a byte
// slice posing as RAM in host tests. Set once before any other use.
var DirectMap unsafe.Pointer

// Phys returns a pointer to physical address pa through the direct map.
//
//go:nosplit
func Phys(pa uint64) unsafe.Pointer { return unsafe.Add(DirectMap, pa) }

// ZeroFrame clears one frame.
//
//go:nosplit
func ZeroFrame(frame uint64) {
	p := (*[PageSize / 8]uint64)(Phys(frame << PageShift))
	for i := range p {
		p[i] = 0
	}
}
