package catalog

import (
	"slices"
	"testing"
)

// TestPlanSelects checks the selections the runner relies on.
func TestPlanSelects(t *testing.T) {
	names := func(line string) []string {
		var out []string
		for _, p := range Plan(SelectionOf(line, "amd64", true)) {
			out = append(out, p.Name)
		}
		return out
	}
	if got := names("inject=skip-flush-ipi tlbie"); !slices.Equal(got, []string{"inject/skip-flush-ipi"}) {
		t.Errorf("inject: %v", got)
	}
	if p := Plan(SelectionOf("inject=refcount-no-grab", "ppc64", true)); p[0].Catch != DetectCR3Audit {
		t.Errorf("refcount-no-grab on ppc64's default mode is caught by %s, want %s", p[0].Catch, DetectCR3Audit)
	}
	if p := Plan(SelectionOf("inject=skip-flush-ipi hash", "ppc64", true)); p[0].Catch != DetectCR3Audit {
		t.Errorf("skip-flush-ipi in hash mode is caught by %s, want %s", p[0].Catch, DetectCR3Audit)
	}
	if got := names("scheme=hazard scenario=exit-nmi"); !slices.Equal(got, []string{"lazy/hazard/exit-nmi"}) {
		t.Errorf("one cell: %v", got)
	}
	if got := names("scenario=munmap-shootdown"); len(got) != 2+len(Schemes) {
		t.Errorf("munmap-shootdown: %v", got)
	}
	if got := names("tests=nonexistent/"); len(got) != 0 {
		t.Errorf("a prefix that matches nothing plans %v", got)
	}
	for _, line := range []string{"seed=abc", "bogus", "nopcid=1", "inject=nothing", "scheme=refcount,nope", "duration=-1s"} {
		if CheckCmdline(line) == nil {
			t.Errorf("%q is accepted", line)
		}
	}
	if errs := CheckCmdline("inject=hazard-no-scan seed=7 duration=30s tests=smoke/,mm/ nopcid trace=1"); errs != nil {
		t.Errorf("a good line is refused: %v", errs)
	}
}

// TestInjectionsCaughtOrEquivalent: a bug names a detector of a known class on every arch and MMU mode
// where it applies, or is an equivalent mutant, which says why and names none; -inject all leaves the
// equivalents out. The catalogue holds at least 25 bugs that some detector must catch.
func TestInjectionsCaughtOrEquivalent(t *testing.T) {
	caught := 0
	for _, in := range Injections {
		if in.Harness {
			continue
		}
		if in.What == "" {
			t.Errorf("%s says not what it breaks", in.Name)
		}
		if in.Equivalent != "" {
			if in.Catch != "" || in.CatchOn != nil {
				t.Errorf("%s is equivalent and names a detector", in.Name)
			}
			for _, a := range Arches {
				if slices.ContainsFunc(Bugs(a.Name, ""), func(b Injection) bool { return b.Name == in.Name }) {
					t.Errorf("-inject all runs the equivalent %s on %s", in.Name, a.Name)
				}
			}
			continue
		}
		n := 0
		for _, a := range Arches {
			for _, mode := range a.MMUs {
				if !in.AppliesTo(a.Name, mode) {
					continue
				}
				n++
				if d := in.Detector(mode); ClassOf(d) == "" {
					t.Errorf("%s on %s %q: detector %q is none of the catalogue's", in.Name, a.Name, mode, d)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s applies nowhere and gives no Equivalent reason", in.Name)
		} else {
			caught++
		}
	}
	if caught < 25 {
		t.Errorf("%d bugs a detector must catch, want at least 25", caught)
	}
}
