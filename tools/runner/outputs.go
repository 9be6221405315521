package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"

	"lazymm/kernel/protocol"
)

// writeTAP prints the run as TAP version 13: "ok" for a test that came out as expected (an injected
// bug caught by its detector included), "# SKIP" with the reason for a skip, and a YAML block with
// the failures of a test that did not.
func writeTAP(w io.Writer, res *Result) {
	fmt.Fprintf(w, "TAP version 13\n1..%d\n", len(res.Run.Tests))
	for i, t := range res.Run.Tests {
		desc := tapEscape(t.Name)
		switch {
		case t.Outcome == "skip" && t.AsExpected():
			fmt.Fprintf(w, "ok %d - %s # SKIP %s\n", i+1, desc, tapEscape(t.Reason))
		case t.AsExpected():
			note := ""
			if t.Expect == "fail" {
				note = " (injected bug caught"
				if t.Catch != "" {
					note += " by " + t.Catch
				}
				note += ")"
			}
			fmt.Fprintf(w, "ok %d - %s%s\n", i+1, desc, note)
		default:
			fmt.Fprintf(w, "not ok %d - %s\n  ---\n  expected: %s\n  outcome: %s\n", i+1, desc, t.Expect, t.Outcome)
			if t.Catch != "" {
				fmt.Fprintf(w, "  catch: %s\n", t.Catch)
			}
			fmt.Fprintf(w, "  failures:\n")
			for _, f := range t.Failures {
				fmt.Fprintf(w, "    - check: %s\n      cpu: %d\n      detail: %q\n", f.Check, f.CPU, oneLine(f.Detail, 500))
			}
			fmt.Fprintf(w, "  ...\n")
		}
	}
}

// tapEscape keeps a description on one line and away from TAP's directive marker.
func tapEscape(s string) string {
	return strings.NewReplacer("#", "\\#", "\n", " ").Replace(s)
}

// JUnit XML, the shape CI servers read (the Ant junit schema: testsuites > testsuite > testcase, with
// failure / skipped children).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// writeJUnit writes the run as JUnit XML: one testsuite per test family (smoke, smp, mm, lazy/<scheme>,
// inject), a failure for every test not as expected.
func writeJUnit(path string, c *Config, res *Result) error {
	var top junitSuites
	index := map[string]int{}
	for _, t := range res.Run.Tests {
		class, name := splitName(t)
		i, ok := index[class]
		if !ok {
			i = len(top.Suites)
			index[class] = i
			top.Suites = append(top.Suites, junitSuite{Name: class})
		}
		s := &top.Suites[i]
		jc := junitCase{Name: name, Classname: "lazymm." + c.Arch.Name + "." + class, Time: fmt.Sprintf("%.3f", t.MS/1000)}
		switch {
		case t.Outcome == "skip" && t.AsExpected():
			jc.Skipped = &junitSkipped{Message: t.Reason}
			s.Skipped++
		case !t.AsExpected():
			var text strings.Builder
			check := "unexpected"
			for k, f := range t.Failures {
				if k == 0 {
					check = f.Check
				}
				fmt.Fprintf(&text, "%s (cpu %d, %s): %s\n", f.Check, f.CPU, f.Loc, f.Detail)
			}
			msg := fmt.Sprintf("expected %s, outcome %s", t.Expect, t.Outcome)
			if t.Outcome == t.Expect && t.Catch != "" {
				msg = fmt.Sprintf("the injected bug was not reported by its detector %s", t.Catch)
			}
			jc.Failure = &junitFailure{Message: msg, Type: check, Text: text.String()}
			if len(t.Raw) > 0 {
				jc.SystemOut = strings.Join(t.Raw[max(0, len(t.Raw)-40):], "\n")
			}
			s.Failures++
		}
		s.Tests++
		s.Cases = append(s.Cases, jc)
	}
	for i := range top.Suites {
		var ms float64
		for _, t := range res.Run.Tests {
			if cl, _ := splitName(t); cl == top.Suites[i].Name {
				ms += t.MS
			}
		}
		top.Suites[i].Time = fmt.Sprintf("%.3f", ms/1000)
		top.Tests += top.Suites[i].Tests
		top.Failures += top.Suites[i].Failures
		top.Skipped += top.Suites[i].Skipped
	}
	top.Time = fmt.Sprintf("%.3f", float64(res.WallMS)/1000)
	b, err := xml.MarshalIndent(top, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}

// splitName makes a JUnit class and case name: the path up to the last slash, and the rest.
func splitName(t *protocol.Test) (class, name string) {
	if i := strings.LastIndexByte(t.Name, '/'); i > 0 {
		return t.Name[:i], t.Name[i+1:]
	}
	return "run", t.Name
}
