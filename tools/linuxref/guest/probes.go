//go:build linux && amd64

package main

import (
	"fmt"
	"os"
	"strings"
)

const tracefs = "/sys/kernel/tracing"

// probe is a kprobe (or kretprobe) event of group lz, and what its hits count.
type probe struct {
	name, symbol, def, counts string
}

// probes: flush_tlb_info's first word is mm and initiating_cpu is at offset 32 (struct
// flush_tlb_info in arch/x86/include/asm/tlbflush.h, 6.1 to mainline).
var probes = []probe{
	{"ftf", "flush_tlb_func", "p:lz/ftf flush_tlb_func mm=+0(%di):x64 initiator=+32(%di):u32",
		"flush IPIs received: flush_tlb_func on a CPU that did not initiate the flush"},
	{"sft", "should_flush_tlb", "r:lz/sft should_flush_tlb ret=$retval:u8",
		"CPUs skipped: should_flush_tlb returned false (a lazy CPU of mm_cpumask)"},
	{"sw", "switch_mm_irqs_off", "p:lz/sw switch_mm_irqs_off prev=%di:x64 next=%si:x64",
		"lazy catch-ups (prev == next, then a flush on task switch) and moves to init_mm (prev NULL)"},
	{"elt", "enter_lazy_tlb", "p:lz/elt enter_lazy_tlb", "switches to a kernel thread (enter_lazy_tlb)"},
	{"mb", "ipi_mb", "p:lz/mb ipi_mb", "membarrier IPIs received (ipi_mb)"},
	{"xm", "exit_mmap", "r:lz/xm exit_mmap", "the end of an mm's teardown (a window's end)"},
}

// setupTracing readies tracefs: the global clock (the markers and every CPU's events in one order), a
// larger buffer, the kprobes, the events; and quiets the memory manager's background movers
// (transparent huge pages, proactive compaction), which would flush the mm under test.
func setupTracing() (map[string]bool, error) {
	ok := map[string]bool{}
	quiet := [][2]string{{"/sys/kernel/mm/transparent_hugepage/enabled", "never"},
		{"/sys/kernel/mm/transparent_hugepage/defrag", "never"}, {"/proc/sys/vm/compaction_proactiveness", "0"}}
	for _, q := range quiet {
		if err := writeFile(q[0], q[1]); err != nil {
			fmt.Printf("LR1 note msg=%v\n", err)
		}
	}
	for _, kv := range [][2]string{{"tracing_on", "0"}, {"trace_clock", "global"}, {"buffer_size_kb", "8192"}, {"kprobe_events", ""}} {
		if err := writeFile(tracefs+"/"+kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	syms, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		return nil, err
	}
	for _, p := range probes {
		ok[p.name] = addProbe(p, string(syms))
	}
	for _, ev := range []string{"tlb/tlb_flush", "sched/sched_process_exit"} {
		err := writeFile(tracefs+"/events/"+ev+"/enable", "1")
		name := ev[strings.Index(ev, "/")+1:]
		fmt.Printf("LR1 probe name=%s ok=%s\n", name, okWord(err))
		if err != nil {
			return nil, fmt.Errorf("tracepoint %s: %v", ev, err)
		}
		ok[name] = true
	}
	return ok, nil
}

// probeCounters are the counters each probe feeds (all of them, for lazy_catchups); a counter is
// printed, 0 if nothing happened, when its probes work, and left out when one does not.
var probeCounters = []struct {
	counter string
	probes  []string
}{
	{"flush_ipis", []string{"ftf"}}, {"lazy_skipped", []string{"sft"}},
	{"range_flushes", []string{"tlb_flush"}}, {"pages_range_flushed", []string{"tlb_flush"}},
	{"full_flushes", []string{"tlb_flush"}}, {"flush_noop", []string{"tlb_flush"}}, {"flush_multi", []string{"tlb_flush"}},
	{"lazy_catchups", []string{"sw", "tlb_flush"}}, {"left_lazy", []string{"sw"}},
	{"cr3_flush", []string{"tlb_flush"}}, {"cr3_noflush", []string{"tlb_flush"}},
	{"lazy_entries", []string{"elt"}}, {"membarrier_ipis", []string{"mb"}}, {"exits", []string{"sched_process_exit"}},
}

// countersOf are the counters the working probes feed, in print order.
func countersOf(working map[string]bool) []string {
	var out []string
	for _, pc := range probeCounters {
		all := true
		for _, p := range pc.probes {
			all = all && working[p]
		}
		if all {
			out = append(out, pc.counter)
		}
	}
	return out
}

// addProbe defines and enables one probe, and reports whether it could (a symbol the kernel
// inlined or does not have, or one kprobes refuse).
func addProbe(p probe, kallsyms string) bool {
	var err error
	if !strings.Contains(kallsyms, " "+p.symbol+"\n") {
		err = fmt.Errorf("no symbol %s in /proc/kallsyms", p.symbol)
	} else if err = appendFile(tracefs+"/kprobe_events", p.def); err == nil {
		err = writeFile(tracefs+"/events/lz/"+p.name+"/enable", "1")
	}
	if err != nil {
		fmt.Printf("LR1 probe name=%s ok=no msg=%v\n", p.name, err)
		return false
	}
	fmt.Printf("LR1 probe name=%s ok=yes\n", p.name)
	return true
}

func okWord(err error) string {
	if err != nil {
		return "no msg=" + err.Error()
	}
	return "yes"
}

func writeFile(path, v string) error {
	return os.WriteFile(path, []byte(v+"\n"), 0o644)
}

func appendFile(path, v string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(v + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}
