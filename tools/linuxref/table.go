package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// counterDoc is one row a table can have: the counter's name (lazymm's metric of the same meaning,
// where lazymm has one), what it counts, and where Linux's figure comes from.
type counterDoc struct {
	name, what, linux string
	linuxOnly         bool // lazymm has no such metric
}

var counterDocs = []counterDoc{
	{"flush_ipis", "flush IPIs received", "kprobe flush_tlb_func, on a CPU other than initiating_cpu", false},
	{"lazy_skipped", "lazy CPUs a flush skipped", "kretprobe should_flush_tlb returning false", false},
	{"range_flushes", "range flushes (INVLPG)", "tlb:tlb_flush, a shootdown reason with pages > 0", false},
	{"pages_range_flushed", "pages of those", "tlb:tlb_flush, the sum of those pages", false},
	{"full_flushes", "full flushes (CR3 reload)", "tlb:tlb_flush, a shootdown reason with pages -1", false},
	{"lazy_catchups", "lazy CPUs catching up on return", "switch_mm_irqs_off(prev == next), then tlb_flush reason 0", false},
	{"left_lazy", "lazy CPUs a flush sent to init_mm", "kprobe switch_mm_irqs_off(NULL, &init_mm)", false},
	{"cr3_flush", "CR3 writes that flush", "tlb:tlb_flush reason 0 (task switch), pages -1", false},
	{"cr3_noflush", "CR3 writes without flush", "tlb:tlb_flush reason 0, pages 0", false},
	{"lazy_entries", "switches to a kernel thread", "kprobe enter_lazy_tlb", false},
	{"membarriers", "expedited membarriers", "the pattern's own count of its calls", false},
	{"membarrier_ipis", "membarrier IPIs received", "kprobe ipi_mb", false},
	{"sb_forbidden_steady", "store buffering seen, CPU 1 in the mm", "the pattern's own count", false},
	{"sb_forbidden_switching", "store buffering seen, CPU 2 napping", "the pattern's own count", false},
	{"sb_control_forbidden_steady", "the same without membarrier, CPU 1", "the pattern's own count", false},
	{"sb_control_forbidden_switching", "the same without membarrier, CPU 2", "the pattern's own count", false},
	{"exits", "task exits", "sched:sched_process_exit", false},
	{"flush_noop", "flushes with nothing left to do", "tlb:tlb_flush, a shootdown reason with pages 0", true},
	{"flush_multi", "flushes sent to other CPUs", "tlb:tlb_flush reason 4 (TLB_REMOTE_SEND_IPI)", true},
	{"tlb_irqs", "TLB shootdown interrupts", "/proc/interrupts TLB, the pattern's whole run", true},
	{"call_irqs", "function-call interrupts", "/proc/interrupts CAL, the pattern's whole run", true},
	{"stale_reads", "token reads that found another token", "the pattern's own check", true},
	{"trace_lost", "trace events lost", "tracefs per_cpu/*/stats overrun and dropped", true},
}

// row is one line of a table: its note is short, the reason behind it (if any) a footnote.
type row struct {
	counter       string
	linux, lazymm string
	note, why     string
	unexplained   bool
}

// patternRows compares one pattern's Linux counts with lazymm's metrics (nil: no lazymm counterpart).
func patternRows(p *linuxPattern, lz map[string]float64, probes map[string]string) []row {
	var rows []row
	for _, d := range counterDocs {
		lv, lok := p.counts[d.name]
		mv, mok := lz[d.name]
		if !lok && (!mok || d.linuxOnly || probeWhy(d.name, probes) == "") {
			continue // nothing to show, or a figure of the pattern's own that this pattern has not
		}
		r := row{counter: d.name, linux: "-", lazymm: "-"}
		if lok {
			r.linux = fmt.Sprint(lv)
		}
		if mok && !d.linuxOnly {
			r.lazymm = fmt.Sprint(int64(math.Round(mv)))
		}
		r.note, r.why, r.unexplained = noteFor(p.name, d, lv, lok, int64(math.Round(mv)), mok && !d.linuxOnly, lz != nil, probes)
		rows = append(rows, r)
	}
	return rows
}

// noteFor names a row's difference: the same, Linux's alone, missing on Linux, or a difference with
// its reason (notes.go) or "unexplained".
func noteFor(pattern string, d counterDoc, lv int64, lok bool, mv int64, mok, hasLazymm bool, probes map[string]string) (string, string, bool) {
	switch {
	case !lok:
		return "no Linux figure" + probeWhy(d.name, probes), "", false
	case !hasLazymm:
		return "", "", false
	case !mok && !d.linuxOnly:
		return "not in lazymm's report of this scenario", "", false
	case !mok:
		return linuxOnlyNote(pattern, d, lv)
	case lv == mv:
		return "same", "", false
	}
	k, ok := knownDiff(pattern, d.name)
	delta := lv - mv
	switch {
	case ok && k.timing:
		return "timing-dependent", k.why, false
	case ok && k.delta == delta:
		return fmt.Sprintf("Linux %+d", delta), k.why, false
	case ok && k.atLeast && delta > k.delta:
		return fmt.Sprintf("Linux %+d: %+d, then %+d", delta, k.delta, delta-k.delta), k.why + "; then " + k.rest, false
	case ok:
		return fmt.Sprintf("unexplained: Linux %+d, %+d explained", delta, k.delta), k.why, true
	}
	return fmt.Sprintf("unexplained: Linux %+d", delta), "", true
}

// linuxOnlyNote is the note of a counter lazymm does not have: a check that must be 0, or what it is.
func linuxOnlyNote(pattern string, d counterDoc, v int64) (string, string, bool) {
	if d.name == "stale_reads" || d.name == "trace_lost" {
		if v != 0 {
			return "must be 0", "", true
		}
		return "Linux only: none", "", false
	}
	if k, ok := knownDiff(pattern, d.name); ok {
		return "Linux only", k.why, false
	}
	return "Linux only: " + d.what, "", false
}

func probeWhy(counter string, probes map[string]string) string {
	for name, why := range probes {
		if why != "" && strings.Contains(probeCounters[name], counter) {
			return ": probe " + name + " " + why
		}
	}
	return ""
}

// probeCounters are the counters each guest probe feeds.
var probeCounters = map[string]string{
	"ftf": "flush_ipis", "sft": "lazy_skipped", "sw": "lazy_catchups left_lazy", "elt": "lazy_entries",
	"mb": "membarrier_ipis", "tlb_flush": "range_flushes pages_range_flushed full_flushes cr3_flush cr3_noflush flush_noop flush_multi",
	"sched_process_exit": "exits", "xm": "",
}

// printTable writes one pattern's table, each reason once, as a footnote.
func printTable(w io.Writer, title string, rows []row) {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COUNTER\tLINUX\tLAZYMM\tNOTE")
	var whys []string
	for _, r := range rows {
		note := r.note
		if r.why != "" {
			i := slices.Index(whys, r.why)
			if i < 0 {
				whys, i = append(whys, r.why), len(whys)
			}
			note += fmt.Sprintf(" [%d]", i+1)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.counter, r.linux, r.lazymm, note)
	}
	tw.Flush()
	for i, why := range whys {
		fmt.Fprintf(w, "  [%d] %s\n", i+1, why)
	}
}

// printLegend says where each counter's Linux figure comes from.
func printLegend(w io.Writer) {
	fmt.Fprintln(w, "\nwhere Linux's figures come from:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, d := range counterDocs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", d.name, d.what, d.linux)
	}
	tw.Flush()
}
