package catalog

import (
	"slices"
	"testing"
)

// TestPlanSelects checks the selections the runner relies on.
func TestPlanSelects(t *testing.T) {
	names := func(line string) []string {
		var out []string
		for _, p := range Plan(SelectionOf(line, true)) {
			out = append(out, p.Name)
		}
		return out
	}
	if got := names("inject=skip-flush-ipi tlbie"); !slices.Equal(got, []string{"inject/skip-flush-ipi"}) {
		t.Errorf("inject: %v", got)
	}
	if p := Plan(SelectionOf("inject=skip-flush-ipi hash", true)); p[0].Catch != DetectCR3Audit {
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
