//go:build linux && amd64

package main

// counter turns the window's events into lazymm's counters (the names of lazymm's metrics where one
// means the same; tools/linuxref maps them).
type counter struct {
	t      *tally
	initMM uint64
	sameMM []bool   // per CPU: the last event was a lazy CPU's switch back to the mm it has loaded
	loaded []uint64 // per CPU: the mm the last switch_mm_irqs_off loaded (0: none seen yet)
}

func (c *counter) count(ev event) {
	same := false
	switch ev.name {
	case "ftf":
		if ini, ok := number(field(ev.args, "initiator")); ok && int(ini) != ev.cpu {
			c.t.add("flush_ipis", ev.cpu, 1)
		}
	case "sft":
		if ret, ok := number(field(ev.args, "ret")); ok && ret == 0 {
			c.t.add("lazy_skipped", ev.cpu, 1)
		}
	case "tlb_flush":
		c.tlbFlush(ev)
	case "sw":
		prev, ok1 := number(field(ev.args, "prev"))
		next, ok2 := number(field(ev.args, "next"))
		if !ok1 || !ok2 {
			break
		}
		if prev == 0 && uint64(next) == c.initMM {
			c.t.add("left_lazy", ev.cpu, 1)
		}
		// switch_mm_irqs_off's real_prev is the mm loaded now: a lazy CPU a flush of freed tables
		// sent to init_mm switches back in full, no catch-up
		real := c.loaded[ev.cpu]
		if real == 0 {
			real = uint64(prev)
		}
		same = prev != 0 && prev == next && real == uint64(next)
		c.loaded[ev.cpu] = uint64(next)
	case "elt":
		c.t.add("lazy_entries", ev.cpu, 1)
	case "mb":
		c.t.add("membarrier_ipis", ev.cpu, 1)
	case "sched_process_exit":
		c.t.add("exits", ev.cpu, 1)
	}
	c.sameMM[ev.cpu] = same
}

// tlbFlush counts a tlb_flush event: a CR3 write on a task switch (flushing or not; a lazy CPU's
// catch-up when it follows a switch to the same mm), a flush (full, a range, or nothing left to do),
// or the sending of flush IPIs.
func (c *counter) tlbFlush(ev event) {
	pages, reason, ok := tlbFlush(ev.args)
	if !ok {
		c.t.add("unparsed_events", ev.cpu, 1)
		return
	}
	switch {
	case reason == flushOnTaskSwitch && pages == 0:
		c.t.add("cr3_noflush", ev.cpu, 1)
	case reason == flushOnTaskSwitch:
		c.t.add("cr3_flush", ev.cpu, 1)
		if c.sameMM[ev.cpu] {
			c.t.add("lazy_catchups", ev.cpu, 1)
		}
	case reason == flushRemoteSendIPI:
		c.t.add("flush_multi", ev.cpu, 1)
	case pages < 0:
		c.t.add("full_flushes", ev.cpu, 1)
	case pages > 0:
		c.t.add("range_flushes", ev.cpu, 1)
		c.t.add("pages_range_flushed", ev.cpu, pages)
	default:
		c.t.add("flush_noop", ev.cpu, 1)
	}
}
