package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lazymm/kernel/catalog"
)

func rowOf(t *testing.T, rows []row, counter string) row {
	t.Helper()
	for _, r := range rows {
		if r.counter == counter {
			return r
		}
	}
	t.Fatalf("no row %s in %+v", counter, rows)
	return row{}
}

// TestDifferenceNaming: each row's note names the difference: the same, an explained delta (exact,
// or at least), timing, a Linux-only check, a missing probe, or unexplained.
func TestDifferenceNaming(t *testing.T) {
	p := &linuxPattern{name: catalog.ExitWhileLazy, counts: map[string]int64{
		"flush_ipis": 3, "range_flushes": 4, "full_flushes": 9, "cr3_flush": 30, "exits": 15,
		"lazy_skipped": 2, "stale_reads": 1, "flush_multi": 1, "cr3_noflush": 5}}
	lz := map[string]float64{"flush_ipis": 3, "range_flushes": 0, "full_flushes": 0, "cr3_flush": 16, "exits": 8,
		"cr3_noflush": 0, "lazy_entries": 3}
	rows := patternRows(p, lz, map[string]string{"elt": "not available: no symbol enter_lazy_tlb"})
	for counter, want := range map[string]string{
		"flush_ipis":    "same",
		"range_flushes": "Linux +4",
		"full_flushes":  "unexplained: Linux +9, +4 explained",
		"cr3_flush":     "Linux +14: +7, then +7",
		"exits":         "timing-dependent",
		"lazy_skipped":  "not in lazymm's report of this scenario",
		"stale_reads":   "must be 0",
		"flush_multi":   "Linux only: flushes sent to other CPUs",
		"cr3_noflush":   "unexplained: Linux +5",
		"lazy_entries":  "no Linux figure: probe elt not available",
	} {
		if r := rowOf(t, rows, counter); !strings.HasPrefix(r.note, want) {
			t.Errorf("%s: note %q, want %q", counter, r.note, want)
		}
	}
	for counter, want := range map[string]bool{"full_flushes": true, "cr3_noflush": true, "stale_reads": true,
		"range_flushes": false, "cr3_flush": false, "exits": false, "lazy_entries": false} {
		if r := rowOf(t, rows, counter); r.unexplained != want {
			t.Errorf("%s: unexplained %v, want %v", counter, r.unexplained, want)
		}
	}
	var out bytes.Buffer
	printTable(&out, "title", rows)
	if !strings.Contains(out.String(), "Linux +4 [1]") || !strings.Contains(out.String(), "  [1] each new process is an exec") {
		t.Errorf("the table does not footnote its reasons:\n%s", out.String())
	}
}

// TestReport: the saved console and a runner report give the tables, and exit status 1 when a
// difference is unexplained (the sample's second pattern failed).
func TestReport(t *testing.T) {
	dir := t.TempDir()
	console := filepath.Join(dir, "console.log")
	os.WriteFile(console, []byte(sampleConsole), 0o644)
	report := filepath.Join(dir, "run.json")
	os.WriteFile(report, []byte(`{"tests": [{"name": "lazy/refcount/munmap-shootdown", "outcome": "pass",
		"metrics": {"flush_ipis": 39, "lazy_skipped": 12, "cr3_flush": 44}},
		{"name": "lazy/shootdown/munmap-shootdown", "metrics": {"flush_ipis": 1}}]}`), 0o644)
	var out, errb bytes.Buffer
	rc := run([]string{"-work", dir, "-console", console, "-lazymm-json", report}, &out, &errb)
	if rc != 1 {
		t.Errorf("status %d, want 1 (a pattern failed on Linux); stderr %s", rc, errb.String())
	}
	text := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{"== munmap-shootdown", "flush_ipis 39 39 same", "cr3_flush 43 44 Linux -1 [1]",
		"Linux: exit-while-lazy: the pattern process ended with status 3", "probes: sw not available"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
}
