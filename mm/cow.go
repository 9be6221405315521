package mm

import "sync/atomic"

// fork and copy-on-write for anonymous private memory (every area here is one: is_cow_mapping holds).
//
// A frame mapped by more than one address space (since fork) is in the share table with how many
// mappings it has beyond one: Linux keeps that in struct page (_mapcount, _refcount). Unmapping a
// shared frame drops one mapping and frees nothing; the last one frees it. The table is bounded
// (fork fails when it is full, as dup_mmap fails on ENOMEM) and open-addressed, with backward-shift
// deletion; an empty table costs unmap one atomic load.

const shareSlots = 4096 // a power of two; at most half is used

var (
	shareLock  uint32
	nShared    int64
	shareTable [shareSlots]struct {
		frame uint64 // 0: an empty slot (frame 0 is never handed out)
		extra uint64 // mappings beyond the first
	}
)

//go:nosplit
func shareSlot(f uint64) uint64 { return (f * 0x9e3779b97f4a7c15) >> (64 - 12) }

// shareFind returns f's slot, or the empty slot where it would go. Lock held.
//
//go:nosplit
func shareFind(f uint64) uint64 {
	i := shareSlot(f)
	for shareTable[i].frame != 0 && shareTable[i].frame != f {
		i = (i + 1) & (shareSlots - 1)
	}
	return i
}

// shareFrame records one more mapping of f; false when the table is full.
//
//go:nosplit
func shareFrame(f uint64) bool {
	acquire(&shareLock)
	i := shareFind(f)
	ok := true
	switch {
	case shareTable[i].frame == f:
		shareTable[i].extra++
	case atomic.LoadInt64(&nShared) >= shareSlots/2:
		ok = false
	default:
		shareTable[i].frame, shareTable[i].extra = f, 1
		atomic.AddInt64(&nShared, 1)
	}
	release(&shareLock)
	return ok
}

// unshareFrame drops one mapping of f: true when another mapping still holds it (the caller frees
// nothing), false when this was the only one.
//
//go:nosplit
func unshareFrame(f uint64) bool {
	if atomic.LoadInt64(&nShared) == 0 {
		return false
	}
	acquire(&shareLock)
	i := shareFind(f)
	held := shareTable[i].frame == f
	if held {
		if shareTable[i].extra--; shareTable[i].extra == 0 {
			shareDelete(i)
		}
	}
	release(&shareLock)
	return held
}

// shareDelete empties slot i and moves later entries of its cluster back (Knuth's algorithm R), so
// every lookup still finds them. Lock held.
//
//go:nosplit
func shareDelete(i uint64) {
	atomic.AddInt64(&nShared, -1)
	for j := (i + 1) & (shareSlots - 1); shareTable[j].frame != 0; j = (j + 1) & (shareSlots - 1) {
		home := shareSlot(shareTable[j].frame)
		if (j-home)&(shareSlots-1) >= (j-i)&(shareSlots-1) { // home is not in (i, j]: it may move to i
			shareTable[i] = shareTable[j]
			i = j
		}
	}
	shareTable[i].frame, shareTable[i].extra = 0, 0
}

// FrameShared reports whether another address space maps f too.
//
//go:nosplit
func FrameShared(f uint64) bool {
	if atomic.LoadInt64(&nShared) == 0 {
		return false
	}
	acquire(&shareLock)
	held := shareTable[shareFind(f)].frame == f
	release(&shareLock)
	return held
}

// SharedFrames is how many frames are mapped more than once now (the leak check's: 0 once every
// process forked from another has exited).
//
//go:nosplit
func SharedFrames() int { return int(atomic.LoadInt64(&nShared)) }

// dropFrame is an unmapped page's page_remove_rmap and put_page: unless another mapping holds it,
// it goes on out (freed once no TLB can hold it; at once when out is full).
//
//go:nosplit
func dropFrame(a *Allocator, f uint64, out *FrameList) {
	if unshareFrame(f) {
		return
	}
	if !out.Push(f) {
		a.Free(f)
	}
}
