package main

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"lazymm/kernel/catalog"
)

// report is the part of the runner's -json report (docs/PROTOCOL.md) the grid reads.
type report struct {
	Arch        string `json:"arch"`
	MMU         string `json:"mmu"`
	CPUs        int    `json:"cpus"`
	Outcome     string `json:"outcome"`
	Interrupted bool   `json:"interrupted"`
	Tests       []test `json:"tests"`
}

type test struct {
	Name          string `json:"name"`
	Inject        string `json:"inject"`
	Catch         string `json:"catch"`
	CaughtBy      string `json:"caught_by"`
	DetectorClass string `json:"detector_class"`
	Outcome       string `json:"outcome"`
	AsExpected    bool   `json:"as_expected"`
	Failures      []struct {
		Check string `json:"check"`
	} `json:"failures"`
}

// column is one arch and MMU mode of the grid, with the report of its run (nil: not run).
type column struct {
	Arch, MMU string
	Report    *report
}

// Name is the column's heading: "amd64", "ppc64/hash".
func (c column) Name() string {
	if c.MMU == "" {
		return c.Arch
	}
	return c.Arch + "/" + c.MMU
}

// columns are every arch and MMU mode of the catalogue, in its order.
func columns() []column {
	var out []column
	for _, a := range catalog.Arches {
		for _, m := range a.MMUs {
			out = append(out, column{Arch: a.Name, MMU: m})
		}
	}
	return out
}

// place puts a report in its column: by arch, and by MMU mode (a report without one is of the arch's
// default mode).
func place(cols []column, r *report) error {
	mmu := r.MMU
	if a, ok := catalog.ArchByName(r.Arch); ok && mmu == "" {
		mmu = a.MMUs[0]
	}
	for i := range cols {
		if cols[i].Arch == r.Arch && cols[i].MMU == mmu {
			if cols[i].Report != nil {
				return fmt.Errorf("two reports for %s", cols[i].Name())
			}
			cols[i].Report = r
			return nil
		}
	}
	return fmt.Errorf("a report of arch %q, MMU mode %q: not in kernel/catalog's arches", r.Arch, r.MMU)
}

// Verdicts of a cell.
const (
	killed     = "killed"     // caught by the detector the catalogue names
	luck       = "luck"       // caught by another check only: not as expected
	survived   = "survived"   // the test passed: nothing caught the bug
	noVerdict  = "no verdict" // skipped, garbled, interrupted: the run says nothing of the bug
	notRun     = "not run"    // it applies, but the report has no test of it
	notApplied = "n/a"        // it does not apply to the arch and mode
	equivalent = "equivalent" // its step is redundant in this model: caught nowhere, by design
)

// cell is what became of one mutation on one arch and mode.
type cell struct {
	Verdict, Detector, Class string
}

// Text is the cell as the grid shows it.
func (c cell) Text() string {
	switch c.Verdict {
	case killed:
		return fmt.Sprintf("%s (%s)", c.Detector, c.Class)
	case luck:
		return fmt.Sprintf("**luck**: %s (%s)", c.Detector, orDash(c.Class))
	case survived, noVerdict, notRun:
		s := "**" + c.Verdict + "**"
		if c.Detector != "" {
			s += ": " + c.Detector
		}
		return s
	}
	return c.Verdict
}

// equivalentReason is the catalogue's reason an injection is equivalent on an MMU mode ("" when it is
// not). It reads the field Equivalent when the catalogue has it: a string (every mode), or a map of
// modes to reasons.
func equivalentReason(in catalog.Injection, mmu string) string { return fieldReason(in, mmu) }

// fieldReason reads a struct's field Equivalent: a string, or a map from MMU mode to string.
func fieldReason(v any, mmu string) string {
	f := reflect.ValueOf(v).FieldByName("Equivalent")
	switch {
	case !f.IsValid():
		return ""
	case f.Kind() == reflect.String:
		return f.String()
	case f.Kind() == reflect.Map && f.Type().Key().Kind() == reflect.String && f.Type().Elem().Kind() == reflect.String:
		if v := f.MapIndex(reflect.ValueOf(mmu)); v.IsValid() {
			return v.String()
		}
	}
	return ""
}

// judge is the cell of injection in on column c.
func judge(in catalog.Injection, c column) cell {
	if !in.AppliesTo(c.Arch, c.MMU) {
		return cell{Verdict: notApplied}
	}
	if equivalentReason(in, c.MMU) != "" {
		return cell{Verdict: equivalent}
	}
	var t *test
	for i := range c.Report.Tests {
		if c.Report.Tests[i].Inject == in.Name {
			t = &c.Report.Tests[i]
		}
	}
	switch {
	case t == nil:
		return cell{Verdict: notRun}
	case t.Outcome == "pass":
		return cell{Verdict: survived}
	case t.Outcome != "fail":
		return cell{Verdict: noVerdict, Detector: t.Outcome}
	}
	by, class := t.CaughtBy, t.DetectorClass
	if by == "" && t.AsExpected { // a report from before caught_by: its catch caught it
		by, class = t.Catch, string(catalog.ClassOf(t.Catch))
	}
	switch {
	case by != "" && t.AsExpected:
		return cell{Verdict: killed, Detector: by, Class: class}
	case by != "":
		return cell{Verdict: luck, Detector: by, Class: class}
	case len(t.Failures) > 0:
		return cell{Verdict: noVerdict, Detector: t.Failures[0].Check}
	}
	return cell{Verdict: noVerdict}
}

// tally counts cells.
type tally struct {
	Runs, Killed, MachineOrMemory, Luck, Survived, NoVerdict, NotRun, Equivalent int
}

func (t *tally) add(c cell) {
	switch c.Verdict {
	case killed:
		t.Runs++
		t.Killed++
		if c.Class == string(catalog.Machine) || c.Class == string(catalog.Memory) {
			t.MachineOrMemory++
		}
	case luck:
		t.Runs++
		t.Luck++
	case survived:
		t.Runs++
		t.Survived++
	case noVerdict:
		t.Runs++
		t.NoVerdict++
	case notRun:
		t.NotRun++
	case equivalent:
		t.Equivalent++
	}
}

func percent(part, whole int) string {
	if whole == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(part)/float64(whole))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// grid is the rendered document's input: the columns with reports, and how they were made.
type grid struct {
	Cols     []column
	Command  string   // the command line that produced the grid
	Runs     []string // the runner command lines it ran (none when it read reports)
	Commit   string   // the commit it was made at ("" unknown)
	Produced string   // when
}

// mutations are the rows: every injected bug of the catalogue (not the harness controls) that runs
// on the arches' default machines, which the grid boots (a machine's own bugs are in its own tests).
func mutations() []catalog.Injection {
	var out []catalog.Injection
	for _, in := range catalog.Injections {
		if !in.Harness && in.AppliesOn("") {
			out = append(out, in)
		}
	}
	return out
}

// render writes the grid as Markdown: the table mutation × arch/mode, a totals row, the totals in
// words, the equivalent mutations with their reasons, and the command line.
func render(w io.Writer, g grid) {
	var cols []column
	for _, c := range g.Cols {
		if c.Report != nil {
			cols = append(cols, c)
		}
	}
	head, rule := "| mutation |", "|---|"
	for _, c := range cols {
		head += fmt.Sprintf(" %s (%d CPUs) |", c.Name(), c.Report.CPUs)
		rule += "---|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, rule)
	per := make([]tally, len(cols))
	var all tally
	var equivalents []string
	for _, in := range mutations() {
		row := "| `" + in.Name + "` |"
		for i, c := range cols {
			cl := judge(in, c)
			per[i].add(cl)
			all.add(cl)
			row += " " + strings.ReplaceAll(cl.Text(), "|", `\|`) + " |"
			if cl.Verdict == equivalent {
				equivalents = append(equivalents, fmt.Sprintf("- `%s` on %s: %s", in.Name, c.Name(), equivalentReason(in, c.MMU)))
			}
		}
		fmt.Fprintln(w, row)
	}
	row := "| **killed** (machine+memory) |"
	for _, t := range per {
		row += fmt.Sprintf(" %d of %d (%s) |", t.Killed, t.Runs, percent(t.MachineOrMemory, t.Killed))
	}
	fmt.Fprintln(w, row)
	fmt.Fprintf(w, "\nTotals: %d mutations over %d arch/modes; %d runs, %d killed by their detector (%d, %s, on machine or memory)",
		len(mutations()), len(cols), all.Runs, all.Killed, all.MachineOrMemory, percent(all.MachineOrMemory, all.Killed))
	for _, x := range []struct {
		n    int
		what string
	}{{all.Luck, "caught by another check only"}, {all.Survived, "survived"}, {all.NoVerdict, "without a verdict"},
		{all.NotRun, "applicable but not run"}, {all.Equivalent, "equivalent"}} {
		if x.n > 0 {
			fmt.Fprintf(w, ", %d %s", x.n, x.what)
		}
	}
	fmt.Fprintln(w, ".")
	if len(equivalents) > 0 {
		fmt.Fprintf(w, "\nEquivalent mutations (the catalogue's reasons):\n\n%s\n", strings.Join(equivalents, "\n"))
	}
	fmt.Fprintf(w, "\nProduced by `%s`", g.Command)
	if g.Commit != "" {
		fmt.Fprintf(w, " at commit %s", g.Commit)
	}
	if g.Produced != "" {
		fmt.Fprintf(w, ", %s", g.Produced)
	}
	fmt.Fprintln(w, ".")
	if len(g.Runs) > 0 {
		fmt.Fprintf(w, "It ran, one at a time:\n\n```\n%s\n```\n", strings.Join(g.Runs, "\n"))
	}
}
