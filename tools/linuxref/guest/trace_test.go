//go:build linux && amd64

package main

import (
	"strings"
	"testing"
)

// sampleTrace is tracefs text as 6.1 writes it (lines from a munmap-shootdown window, abridged): a
// 1-page munmap with CPU 1 lazy, a freed-tables flush sending it to init_mm, its return, a catch-up.
const sampleTrace = `# tracer: nop
#
        lrguest-99      [000] .....     5.000000: tracing_mark_write: lz-begin
        lrguest-99      [000] ...1.     6.414965: tlb_flush: pages:1 reason:remote ipi send (4)
        lrguest-99      [000] ...2.     6.414993: sft: (smp_call_function_many_cond+0x21e/0x330 <- should_flush_tlb) ret=1
        lrguest-99      [000] ...2.     6.415006: sft: (smp_call_function_many_cond+0x21e/0x330 <- should_flush_tlb) ret=0
        lrguest-99      [000] d..2.     6.415030: ftf: (flush_tlb_func+0x0/0x1f0) mm=0xff11000004854800 initiator=0
        lrguest-99      [000] d..2.     6.415054: tlb_flush: pages:1 reason:local mm shootdown (3)
        lrguest-121     [002] d.h..     6.415048: ftf: (flush_tlb_func+0x0/0x1f0) mm=0xff11000004854800 initiator=0
        lrguest-121     [002] d.h..     6.415136: tlb_flush: pages:1 reason:remote shootdown (1)
         <idle>-0       [001] d..2.     6.426612: sw: (switch_mm_irqs_off+0x0/0x470) prev=0xff11000004854800 next=0xff11000004854800
         <idle>-0       [001] d..2.     6.426640: tlb_flush: pages:-1 reason:flush on task switch (0)
        lrguest-99      [000] ...1.     6.473740: tlb_flush: pages:-1 reason:remote ipi send (4)
         <idle>-0       [001] d.h1.     6.473837: ftf: (flush_tlb_func+0x0/0x1f0) mm=0xff11000004854800 initiator=0
         <idle>-0       [001] d.h1.     6.473883: sw: (switch_mm_irqs_off+0x0/0x470) prev=0x0 next=0xffffffff82b5c940
         <idle>-0       [001] d.h1.     6.473908: tlb_flush: pages:-1 reason:flush on task switch (0)
        lrguest-99      [000] d..2.     6.473950: tlb_flush: pages:-1 reason:local mm shootdown (3)
         <idle>-0       [001] d..2.     6.480000: sw: (switch_mm_irqs_off+0x0/0x470) prev=0xff11000004854800 next=0xff11000004854800
         <idle>-0       [001] d..2.     6.480010: tlb_flush: pages:-1 reason:flush on task switch (0)
 kworker/u8:[1]-5       [003] .....     6.480100: sched_process_exit: comm=lrguest pid=123 prio=120
        lrchild-117     [000] .....     6.490000: xm: (__mmput+0x3e/0x130 <- exit_mmap)
        lrchild-117     [000] d..2.     6.490010: tlb_flush: pages:1 reason:local mm shootdown (3)
        lrchild-117     [000] .....     6.500000: tracing_mark_write: lz-end
`

func TestWindow(t *testing.T) {
	names := countersOf(map[string]bool{"ftf": true, "sft": true, "sw": true, "tlb_flush": true, "sched_process_exit": true})
	for _, end := range []bool{false, true} {
		tl, begun, ended := window(strings.NewReader(sampleTrace), 4, 0xffffffff82b5c940, end, names)
		if !begun || !ended {
			t.Fatalf("endAtExitMmap %v: begun %v ended %v", end, begun, ended)
		}
		want := map[string][]int64{
			"flush_ipis": {0, 1, 1, 0}, "lazy_skipped": {1, 0, 0, 0}, "range_flushes": {1, 0, 1, 0},
			"pages_range_flushed": {1, 0, 1, 0}, "full_flushes": {1, 0, 0, 0}, "flush_multi": {2, 0, 0, 0},
			"cr3_flush": {0, 3, 0, 0}, "lazy_catchups": {0, 1, 0, 0}, "left_lazy": {0, 1, 0, 0},
			"exits": {0, 0, 0, 1}, "lazy_entries": nil, "membarrier_ipis": nil,
		}
		if !end { // the window goes on past exit_mmap's return, to lz-end
			want["range_flushes"][0]++
			want["pages_range_flushed"][0]++
		}
		for name, w := range want {
			got, ok := tl.counts[name]
			if (w == nil) != !ok || w != nil && strings.Join(strs(got), ",") != strings.Join(strs(w), ",") {
				t.Errorf("endAtExitMmap %v: %s = %v (counted %v), want %v", end, name, got, ok, w)
			}
		}
	}
}

func strs(v []int64) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = string(rune('0' + x))
	}
	return out
}

func TestParseEvent(t *testing.T) {
	ev, ok := parseEvent(" kworker/u8:[1]-5  [003] d.h1.  6.480100: tlb_flush: pages:-1 reason:flush on task switch (0)")
	if !ok || ev.cpu != 3 || ev.name != "tlb_flush" {
		t.Fatalf("%+v %v", ev, ok)
	}
	if p, r, ok := tlbFlush(ev.args); !ok || p != -1 || r != 0 {
		t.Errorf("tlbFlush: %d %d %v", p, r, ok)
	}
	for _, bad := range []string{"# comment [000]", "no brackets", "x-1 [abc] d 1.0: y: z"} {
		if _, ok := parseEvent(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
	if _, _, ok := tlbFlush("pages:x reason:? (y)"); ok {
		t.Error("parsed a bad tlb_flush")
	}
}

// TestCurrPID reads the scheduler debug file's "cpu#N" blocks (6.1's format).
func TestCurrPID(t *testing.T) {
	text := []byte("Sched Debug Version: v0.11\ncpu#0, 2999.999 MHz\n  .nr_running                    : 1\n  .curr->pid                     : 118\n" +
		"\ncpu#1, 2999.999 MHz\n  .nr_running                    : 0\n  .curr->pid                     : 0\n\ncpu#10, 1.000 MHz\n  .curr->pid : 7\n")
	for cpu, want := range map[int]int{0: 118, 1: 0, 10: 7} {
		if pid, ok := currPID(text, cpu); !ok || pid != want {
			t.Errorf("cpu %d: %d %v, want %d", cpu, pid, ok, want)
		}
	}
	if _, ok := currPID(text, 2); ok {
		t.Error("found a CPU that is not there")
	}
}

func TestProcFiles(t *testing.T) {
	for list, want := range map[string]int{"0-3": 4, "0": 1, "0,2-3": 3, "": 0} {
		if got := cpusIn(list); got != want {
			t.Errorf("cpusIn(%q) = %d, want %d", list, got, want)
		}
	}
	irq := parseInterrupts("           CPU0       CPU1\n  0:         22          0   IO-APIC   2-edge      timer\nTLB:          3         45   TLB shootdowns\nCAL: 1 2 Function call interrupts\n", 2)
	if got := irq["TLB"]; len(got) != 2 || got[1] != 45 {
		t.Errorf("TLB row: %v", got)
	}
	if d := diff(irq["TLB"], []int64{1, 5}); d[0] != 2 || d[1] != 40 {
		t.Errorf("diff: %v", d)
	}
}
