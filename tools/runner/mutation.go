package main

import (
	"fmt"
	"reflect"

	"lazymm/kernel/catalog"
	"lazymm/kernel/protocol"
)

// An injected bug is a mutation of the kernel: killed when its test fails, reported by the detector
// the catalogue names for it; what that detector reads (catalog.ClassOf: machine, memory, assertion,
// harness) says how much of the kill the machine itself saw. The table, the JSON report and the HTML
// page say it of every injected test.

// kill is what became of one injected test.
type kill struct {
	Detector string        // the check that caught it ("" when nothing did)
	Class    catalog.Class // that check's class ("" for a check the catalogue does not list)
	Own      bool          // the detector is the one the injection must be caught by (as expected)
}

// killedBy says which check caught an injected test: its own detector when that reported it (or, for
// a harness control with no detector, its first failure); otherwise the first failure of a detector
// the catalogue lists, else the first failure (caught by luck only). An injected test that passed,
// skipped, or whose console could not be read (a protocol or interrupted failure) was caught by
// nothing.
func killedBy(t *protocol.Test) kill {
	if t.Inject == "" || t.Outcome != "fail" || len(t.Failures) == 0 || noReading(t) {
		return kill{}
	}
	if t.Catch != "" && t.Caught() {
		return kill{Detector: t.Catch, Class: catalog.ClassOf(t.Catch), Own: true}
	}
	first := t.Failures[0].Check
	if t.Catch == "" {
		return kill{Detector: first, Class: catalog.ClassOf(first), Own: true}
	}
	for _, f := range t.Failures {
		if c := catalog.ClassOf(f.Check); c != "" {
			return kill{Detector: f.Check, Class: c}
		}
	}
	return kill{Detector: first}
}

// noReading says whether a test's console could not be judged: its outcome is no verdict.
func noReading(t *protocol.Test) bool {
	for _, f := range t.Failures {
		if f.Check == "protocol" || f.Check == "interrupted" {
			return true
		}
	}
	return false
}

// String is the kill as the table and the page say it: "cr3-audit (machine)".
func (k kill) String() string {
	if k.Class == "" {
		return k.Detector
	}
	return fmt.Sprintf("%s (%s)", k.Detector, k.Class)
}

// mutationRow is the table's last column for an injected test that failed (what caught it, and that
// check's first report) or passed (it survived).
func mutationRow(t *protocol.Test) (string, bool) {
	k := killedBy(t)
	if k.Detector == "" {
		if why := equivalentOf(t.Inject); why != "" && t.Outcome == "pass" {
			return "equivalent: " + oneLine(why, 60), true
		}
		if t.Inject != "" && t.Outcome == "pass" {
			return "survived: no check reported it", true
		}
		return "", false
	}
	detail := ""
	for _, f := range t.Failures {
		if f.Check == k.Detector {
			detail = oneLine(f.Detail, 60)
			break
		}
	}
	if k.Own {
		return fmt.Sprintf("caught by %s: %s", k, detail), true
	}
	return fmt.Sprintf("caught by %s only, not by %s: %s", k, t.Catch, detail), true
}

// equivalentOf is the catalogue's reason an injection is an equivalent mutant (the step it removes is
// redundant in this model: caught nowhere, and run alone expected to pass), "" when it is not. It
// reads the field Equivalent by name, so the runner builds with a catalogue with or without it.
func equivalentOf(inject string) string {
	in, ok := catalog.InjectionByName(inject)
	if !ok {
		return ""
	}
	if f := reflect.ValueOf(in).FieldByName("Equivalent"); f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}

// mutationTally counts the mutations of a run: the injected bugs (not the harness controls, nor the
// equivalent mutants), those killed by their detector, and of those the kills on the machine or in
// memory.
type mutationTally struct {
	Mutations, Killed, MachineOrMemory, Luck, Survived int
}

func tallyMutations(tests []*protocol.Test) mutationTally {
	var m mutationTally
	for _, t := range tests {
		if in, ok := catalog.InjectionByName(t.Inject); !ok || in.Harness || equivalentOf(in.Name) != "" {
			continue
		}
		m.Mutations++
		k := killedBy(t)
		switch {
		case k.Own:
			m.Killed++
			if k.Class == catalog.Machine || k.Class == catalog.Memory {
				m.MachineOrMemory++
			}
		case k.Detector != "":
			m.Luck++
		case t.Outcome == "pass":
			m.Survived++
		}
	}
	return m
}

// String is the summary line: "12 mutations, 12 killed (75% on machine or memory)".
func (m mutationTally) String() string {
	s := fmt.Sprintf("%d mutations, %d killed (%s on machine or memory)", m.Mutations, m.Killed, percent(m.MachineOrMemory, m.Killed))
	if m.Luck > 0 {
		s += fmt.Sprintf(", %d caught by another check only", m.Luck)
	}
	if m.Survived > 0 {
		s += fmt.Sprintf(", %d survived", m.Survived)
	}
	if n := m.Mutations - m.Killed - m.Luck - m.Survived; n > 0 {
		s += fmt.Sprintf(", %d without a verdict", n)
	}
	return s
}

func percent(part, whole int) string {
	if whole == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(part)/float64(whole))
}
