package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/hashicorp/go-multierror"

	"lazymm/kernel/catalog"
	"lazymm/kernel/protocol"

	"lazymm/tools/internal/stats"
)

// JSON report shapes (documented in docs/PROTOCOL.md's runner section).
type jsonFailure struct {
	Check  string `json:"check"`
	CPU    int    `json:"cpu"`
	Loc    string `json:"loc,omitempty"`
	Detail string `json:"detail"`
}

type jsonTest struct {
	Name     string `json:"name"`
	Scheme   string `json:"scheme"`
	Scenario string `json:"scenario"`
	Inject   string `json:"inject"`
	Expected string `json:"expected"`
	Catch    string `json:"catch,omitempty"` // the detector that must report the injected bug
	// CaughtBy is the check that caught an injected bug (its catch, or another: as_expected says),
	// DetectorClass that check's class (catalog.ClassOf): left out when nothing caught it.
	CaughtBy      string             `json:"caught_by,omitempty"`
	DetectorClass string             `json:"detector_class,omitempty"`
	Outcome       string             `json:"outcome"`
	AsExpected    bool               `json:"as_expected"`
	Reason        string             `json:"reason,omitempty"` // why a skipped test did not run
	MS            float64            `json:"ms"`
	TCG           string             `json:"tcg,omitempty"` // QEMU's TCG threading of the boot it ran in
	Failures      []jsonFailure      `json:"failures"`
	Metrics       map[string]float64 `json:"metrics"`
}

type jsonReport struct {
	Version     int        `json:"version"`
	Arch        string     `json:"arch"`
	MMU         string     `json:"mmu,omitempty"` // the MMU mode asked for, where the arch has several
	CPUs        int        `json:"cpus"`
	CPUsOnline  int        `json:"cpus_online"`
	BootMS      int64      `json:"boot_ms"`
	WallMS      int64      `json:"wall_ms"`
	ExitStatus  int        `json:"exit_status"`
	Exit        string     `json:"exit"`
	Outcome     string     `json:"outcome"`
	Skipped     int        `json:"skipped"`               // tests skipped: counted apart, never passes
	Interrupted bool       `json:"interrupted,omitempty"` // a signal cut the run short
	Tests       []jsonTest `json:"tests"`
}

func outcome(pass bool) string {
	if pass {
		return "pass"
	}
	return "fail"
}

func makeReport(c *Config, res *Result) jsonReport {
	rep := jsonReport{Version: 1, Arch: c.Arch.Name, MMU: c.MMU, CPUs: c.CPUs, BootMS: res.BootMS, WallMS: res.WallMS,
		ExitStatus: res.ExitStatus, Exit: c.Arch.describeExit(res.ExitStatus), Outcome: outcome(res.Run.Pass()),
		Interrupted: res.Interrupted, Tests: []jsonTest{}}
	if b := res.Run.Boot; b != nil {
		fmt.Sscan(b.Get("cpus"), &rep.CPUsOnline)
	}
	for _, t := range res.Run.Tests {
		jt := jsonTest{Name: t.Name, Scheme: t.Scheme, Scenario: t.Scenario, Inject: t.Inject, Expected: t.Expect,
			Catch: t.Catch, AsExpected: t.AsExpected(), Outcome: t.Outcome, Reason: t.Reason, MS: finite(t.MS), TCG: res.TestTCG[t.Name],
			Failures: []jsonFailure{}, Metrics: map[string]float64{}}
		k := killedBy(t)
		jt.CaughtBy, jt.DetectorClass = k.Detector, string(k.Class)
		for _, f := range t.Failures {
			jt.Failures = append(jt.Failures, jsonFailure{f.Check, f.CPU, f.Loc, f.Detail})
		}
		for k, v := range t.Metrics { // the parser keeps finite numbers only; JSON has no other
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				jt.Metrics[k] = v
			}
		}
		if t.Outcome == "skip" {
			rep.Skipped++
		}
		rep.Tests = append(rep.Tests, jt)
	}
	return rep
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func writeJSON(path string, rep jsonReport) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// printTable prints one row per test, then every unexpected failure (all of them, via multierror).
func printTable(w io.Writer, c *Config, res *Result, sym *symbolizer) error {
	asExpected, skipped, all := printRows(w, res)
	printConsoleTails(w, res)
	printCrashes(w, res, sym)
	printCosts(w, res)
	how := c.Arch.describeExit(res.ExitStatus)
	if res.Boots > 1 && res.Run.Pass() {
		how = fmt.Sprintf("%d boots, each as expected", res.Boots)
	} else if res.Boots > 1 {
		how = fmt.Sprintf("%d boots; the first that was not as expected: %s", res.Boots, how)
	}
	fmt.Fprintf(w, "\nlazymm %s: %d tests, %d as expected, %d skipped, %d unexpected (boot %d ms, wall %d ms, %s%s)\n",
		c.Arch.Name, len(res.Run.Tests), asExpected, skipped, len(res.Run.Tests)-asExpected-skipped, res.BootMS, res.WallMS, how, tcgSummary(res))
	if err := all.ErrorOrNil(); err != nil {
		fmt.Fprintln(w, err)
		return err
	}
	if len(res.Run.Tests) == 0 {
		return fmt.Errorf("no test ran")
	}
	return nil
}

// printRows prints the table's rows and counts them; consecutive tests skipped for the same reason (a
// machine without something) fold into one line after the first.
func printRows(w io.Writer, res *Result) (asExpected, skipped int, all *multierror.Error) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TEST\tEXPECT\tOUTCOME\tRESULT\tMS\tTCG\tFIRST FAILURE")
	folded, lastSkip := 0, ""
	fold := func() {
		if folded > 0 {
			fmt.Fprintf(tw, "  ... %d more\t\tskip\tskipped\t\t\tthe same reason\n", folded)
		}
		folded = 0
	}
	for _, t := range res.Run.Tests {
		quietSkip := t.Outcome == "skip" && t.AsExpected()
		if quietSkip && t.Reason != "" && t.Reason == lastSkip {
			folded++
			skipped++
			continue
		}
		fold()
		lastSkip = ""
		if quietSkip {
			lastSkip = t.Reason
		}
		result := "ok"
		switch {
		case !t.AsExpected():
			result = "UNEXPECTED"
			all = multierror.Append(all, unexpected(t)...)
		case t.Outcome == "skip":
			result = "skipped"
			skipped++
		default:
			asExpected++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f\t%s\t%s\n", t.Name, t.Expect, t.Outcome, result, t.MS, orDash(res.TestTCG[t.Name]), firstRow(t))
	}
	fold()
	tw.Flush()
	return asExpected, skipped, all
}

// firstRow is the table's last column: for an injected bug that failed, the check that caught it and
// its class; else the first failure, or why the test skipped.
func firstRow(t *protocol.Test) string {
	if s, ok := mutationRow(t); ok {
		return s
	}
	if t.Inject == "" && t.Expect == "fail" && t.Catch != "" && t.Caught() { // a finding (catalog.Unsounds)
		return fmt.Sprintf("finding, caught by %s (%s)", t.Catch, catalog.ClassOf(t.Catch))
	}
	if len(t.Failures) > 0 {
		return t.Failures[0].Check + ": " + oneLine(t.Failures[0].Detail, 60)
	} else if t.Outcome == "skip" && t.Reason != "" {
		return "skipped: " + oneLine(t.Reason, 60)
	}
	return ""
}

// unexpected says why a test was not as expected, and every failure it had.
func unexpected(t *protocol.Test) []error {
	var errs []error
	switch {
	case len(t.Failures) == 0 && t.Outcome == "skip": // an injected bug is never as expected skipped
		errs = append(errs, fmt.Errorf("%s: expected to fail, but was skipped: %s", t.Name, t.Reason))
	case len(t.Failures) == 0:
		errs = append(errs, fmt.Errorf("%s: expected to fail, but passed", t.Name))
	case t.Outcome == t.Expect && t.Catch != "" && !t.Caught():
		errs = append(errs, fmt.Errorf("%s: the injected bug was not reported by its detector %q (caught by luck only)", t.Name, t.Catch))
	}
	for _, f := range t.Failures {
		errs = append(errs, fmt.Errorf("%s: %s", t.Name, describeFailure(f, t)))
	}
	return errs
}

// printConsoleTails shows the last other console lines of each test not as expected.
func printConsoleTails(w io.Writer, res *Result) {
	for _, t := range res.Run.Tests {
		if !t.AsExpected() && len(t.Raw) > 0 {
			fmt.Fprintf(w, "\nother console output of %s (last lines):\n", t.Name)
			for _, s := range t.Raw[max(0, len(t.Raw)-8):] {
				fmt.Fprintln(w, "  "+s)
			}
		}
	}
}

// printCrashes prints every crash dump, symbolized from the image.
func printCrashes(w io.Writer, res *Result, sym *symbolizer) {
	for _, cr := range res.Run.Crashes {
		fmt.Fprintln(w, "\ncrash dump:")
		for _, s := range cr.Lines {
			fmt.Fprintln(w, "  "+s)
		}
		if sym != nil {
			for _, s := range sym.explain(cr) {
				fmt.Fprintln(w, "  "+s)
			}
		}
	}
}

func describeFailure(f protocol.Failure, t *protocol.Test) string {
	s := f.Check
	if f.CPU >= 0 {
		s += fmt.Sprintf(" on cpu %d", f.CPU)
	}
	if f.Loc != "" {
		s += " at " + f.Loc
	}
	return s + ": " + f.Detail
}

func oneLine(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// costColumns are the per-scheme cost table: metric, heading, and whether it is summed over the
// scheme's scenarios (else the median of the scenarios' values).
var costColumns = []struct {
	metric, head string
	sum          bool
}{
	{"switches", "SWITCHES", true},
	{"lazy_entries", "LAZY", true},
	{"mm_count_atomics", "MM_COUNT_ATOMICS", true},
	{"line_transfers", "LINE_MOVES", true},
	{"shoot_ipis", "SHOOT_IPIS", true},
	{"shoot_ipis_unneeded", "UNNEEDED", true},
	{"flush_ipis", "FLUSH_IPIS", true},
	{"broadcast_flushes", "TLBIE", true},
	{"trimmed", "TRIMMED", true}, // powerpc: CPUs taken off an mm_cpumask by a trimming flush
	{"hpte_removes", "H_REMOVE", true},
	{"cr3_flush", "CR3_FLUSH", true},
	{"cr3_noflush", "CR3_NOFLUSH", true},
	{"switch_cycles_median", "SWITCH_CYC", false},
	{"exit_cycles_mean", "EXIT_CYC", false},
}

// costs are the cost table's figures: per scheme, the counters summed and the cycle figures collected
// over its passing, non-injected scenarios.
type costs struct {
	order []string
	sums  map[string]map[string]float64
	meds  map[string]map[string][]float64
	n     map[string]int
}

func schemeCosts(res *Result) *costs {
	c := &costs{sums: map[string]map[string]float64{}, meds: map[string]map[string][]float64{}, n: map[string]int{}}
	for _, t := range res.Run.Tests {
		if t.Inject != "" || t.Scheme == "" || t.Outcome != "pass" {
			continue
		}
		if c.sums[t.Scheme] == nil {
			c.sums[t.Scheme], c.meds[t.Scheme] = map[string]float64{}, map[string][]float64{}
			c.order = append(c.order, t.Scheme)
		}
		c.n[t.Scheme]++
		for _, col := range costColumns {
			if v, ok := t.Metrics[col.metric]; ok {
				if col.sum {
					c.sums[t.Scheme][col.metric] += v
				} else {
					c.meds[t.Scheme][col.metric] = append(c.meds[t.Scheme][col.metric], v)
				}
			}
		}
	}
	return c
}

func (c *costs) value(scheme, metric string, sum bool) float64 {
	if sum {
		return c.sums[scheme][metric]
	}
	return stats.Median(c.meds[scheme][metric])
}

// printCosts prints, when lazy-mm scenarios ran and passed, what each scheme cost over them: totals of
// the counters, medians of the per-scenario cycle figures (TSC cycles).
func printCosts(w io.Writer, res *Result) {
	c := schemeCosts(res)
	if len(c.order) == 0 {
		return
	}
	fmt.Fprintln(w, "\ncost per scheme (counters summed over its passing scenarios; cycles: median over them):")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	head := "SCHEME\tSCENARIOS"
	for _, col := range costColumns {
		head += "\t" + col.head
	}
	fmt.Fprintln(tw, head+"\t")
	for _, s := range c.order {
		row := fmt.Sprintf("%s\t%d", s, c.n[s])
		for _, col := range costColumns {
			row += fmt.Sprintf("\t%.0f", c.value(s, col.metric, col.sum))
		}
		fmt.Fprintln(tw, row+"\t")
	}
	tw.Flush()
}
