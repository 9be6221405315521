package paging

import "lazymm/mm"

// The port: what an arch provides to the paging core, linked by name as the shim's port is
// (shim/port.go): these run with interrupts off, some in interrupt context. All must be nosplit.

// archLoadRoot makes as's root this CPU's translation root under asid; flush drops what the TLB holds
// for it (x86: a CR3 write with or without NOFLUSH; POWER radix: PIDR, and tlbiel of the PID).
func archLoadRoot(as *mm.AddrSpace, asid uint16, flush bool)

// archLoadedRoot is the root this CPU's MMU really uses now (CR3; the process-table entry of PIDR).
func archLoadedRoot() uint64

// archFlushPage drops the loaded context's translation of one page (INVLPG; tlbiel).
func archFlushPage(va uintptr)

// archFlushLoaded drops every translation of the loaded context.
func archFlushLoaded()

// archFlushContext drops every translation of as, loaded here or not (POWER radix: tlbiel of its
// PID). Only mm.PowerCPUMask's protocol asks for it.
func archFlushContext(as *mm.AddrSpace)

// archFlushEverything drops every translation of every context, the kernel's included.
func archFlushEverything()

// archRunOp runs one of the arch's own cross-call ops (paging.ArchOps + 0..15).
func archRunOp(cpu int, op uint32, arg uint64)

// archFlushBroadcast flushes [start, end) (end mm.FlushAll: everything) of as on every CPU by hardware broadcast, and waits for it (POWER: tlbie, tlbsync, ptesync). Called only
// in Broadcast mode.
func archFlushBroadcast(as *mm.AddrSpace, start, end uintptr)

// archBroadcastPage invalidates the page at va of as on every CPU by the hardware's broadcast alone,
// whatever bug is injected (ProbeBroadcast's); with local, on this CPU only (the probe's negative
// control), where the arch can. Called only in Broadcast mode.
func archBroadcastPage(as *mm.AddrSpace, va uintptr, local bool)
