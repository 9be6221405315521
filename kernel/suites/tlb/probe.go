package tlb

import (
	"fmt"
	"slices"

	"lazymm/kernel/catalog"
)

// probeBroadcast runs first where the machine flushes by hardware broadcast (POWER's tlbie, the
// hashed page table's removal) and asks whether the broadcast reaches the other CPUs at all, before
// the scenario judges the kernel by it. For each of the first probeTries pages, one at a time: every
// CPU reads the page (its TLB now holds it); CPU 0 remaps it to a spare frame with a new token and
// invalidates it by one broadcast, with no protocol and no injected bug in the way
// (machine.Paging.ProbeBroadcast); every CPU reads it again. Another CPU that still reads the old
// token never got the broadcast: that is the machine's delivery (under QEMU, the emulator's carrying
// of tlbie to the other vCPUs), not the kernel's, so the scenario is skipped with that reason rather
// than failed by stale-tlb. CPU 0 reading it means the invalidation was not done at all, which is
// the kernel's own instruction sequence: stale-tlb fails the test (probeVerdict). The tries are apart because QEMU drops a vCPU's whole TLB on events of its own (a PIDR
// write when the CPU switches goroutines): one such drop in a try's window hides a missing broadcast,
// one try in probeTries is enough to show it. It returns whether the rounds may run.
func (r *shootdown) probeBroadcast(cpu int) bool {
	for p := 0; p < probeTries; p++ {
		read(va(p))
		r.b.wait()
		if cpu == 0 {
			r.probeRemap(p)
		}
		r.b.wait()
		if r.broadcasts && read(va(p)) != r.want[p] && !slices.Contains(r.unreached, cpu) {
			r.mu.Lock()
			r.unreached = append(r.unreached, cpu)
			r.mu.Unlock()
		}
	}
	r.b.wait()
	return len(r.unreached) == 0
}

const probeTries = 8

// probeRemap is CPU 0's part of a try: page p to the pool's oldest frame, a new generation.
func (r *shootdown) probeRemap(p int) {
	f := r.take()
	g := r.want[p].gen + 1
	writeToken(f, g, va(p))
	old, ok := r.mc.ProbeBroadcast(r.as, va(p), f)
	if !ok {
		r.pool = append([]uint64{f}, r.pool...) // no broadcast here: nothing changed
		return
	}
	r.broadcasts = true
	r.want[p] = token{tokenMagic, f, g, uint64(va(p))}
	r.pool = append(r.pool, old)
}

// probeVerdict ends the test where the probe found CPUs the broadcast did not reach: a failure if
// CPU 0, which issued it, is among them, else a skip saying which.
func (r *shootdown) probeVerdict() {
	slices.Sort(r.unreached)
	if r.unreached[0] == 0 {
		r.t.Check(catalog.DetectStaleTLB, false, "the broadcast invalidation did not invalidate even CPU 0, which issued it "+
			"(CPUs %v read a page's old token after it): the kernel's invalidation is broken", r.unreached)
		return
	}
	r.t.Skipf("%s", r.unreachedReason())
}

// unreachedReason is the skip's reason when the probe found CPUs the broadcast did not reach.
func (r *shootdown) unreachedReason() string {
	return fmt.Sprintf("the hardware's broadcast invalidation did not reach CPUs %v: they read a page's old token "+
		"after it, so stale-TLB findings would be the machine's (under QEMU, TCG's carrying of tlbie), not the kernel's",
		r.unreached)
}
