package catalog

import (
	"slices"
	"strings"
)

// The suite's tests, in run order. The kernel's suites register tests of these names (a host test
// checks that they match), and the runner expects them from a boot.
var (
	SmokeTests = []string{"smoke/goroutines", "smoke/preempt", "smoke/alloc", "smoke/gc", "smoke/timers",
		"smoke/panic", "smoke/stdlib", "smoke/poison"}
	SMPTests = []string{"smp/online", "smp/concurrent", "smp/ipi-pingpong", "smp/ipi-broadcast", "smp/nmi",
		"smp/crosscall", "smp/pinned", "smp/shootdown", "smp/clock", "smp/gc-load"}
	TLBTests = []string{"mm/" + MunmapShootdown + "/nopcid", "mm/" + MunmapShootdown + "/pcid"}
)

// ParallelScenarios are the scenarios whose verdicts rely on CPUs really running at once: the
// store-buffering test of membarrier (a store passing a later load needs two host threads) and
// torture's random interleavings. Under QEMU they need multi-threaded TCG; the rest are as good
// with one host thread taking the vCPUs in turn, which costs far less where vCPUs outnumber cores.
var ParallelScenarios = []string{Membarrier, Torture}

// NeedsParallel says whether a test needs CPUs that really run at once.
func NeedsParallel(t Test) bool { return slices.Contains(ParallelScenarios, t.Scenario) }

// SoloScenarios are the parallel scenarios that need the host's cores to themselves: the two sides
// of membarrier's store-buffering test must run at the same moment, which another QEMU beside them
// prevents for a host timeslice at a time. Torture's interleavings need threads, not the whole host.
var SoloScenarios = []string{Membarrier}

// NeedsSolo says whether a test needs the host's cores to itself.
func NeedsSolo(t Test) bool { return slices.Contains(SoloScenarios, t.Scenario) }

// ReportTest closes a whole suite run with the run's figures.
const ReportTest = "smoke/report"

// Test is one planned test: what a boot must report, with what outcome.
type Test struct {
	Name, Scheme, Scenario, Inject string
	Expect                         string // "pass", or "fail" for an injection
	Catch                          string // the detector that must report an injected bug
}

// MatrixTest names the test of a scheme under a scenario.
func MatrixTest(scheme, scenario string) string { return "lazy/" + scheme + "/" + scenario }

// InjectTest names the test that must catch an injection.
func InjectTest(inject string) string { return "inject/" + inject }

// Selection is what a boot's command line asks for.
type Selection struct {
	Inject    string   // inject=: that one test alone
	Prefixes  []string // tests=: only tests with these prefixes (nil: all)
	Schemes   []string // scheme=: only the matrix, for these schemes (nil: not asked)
	Scenarios []string // scenario=: only these scenarios (nil: not asked)
	Parallel  string   // parallel=: "only" the tests that need real parallelism, or "skip" them ("": all)
	BareMetal bool     // false when the kernel runs as a Linux process: the smoke suite only
	MMU       string   // the MMU mode the boot runs, resolved (decides an injection's detector)
	CPUs      int      // CPUs the boot runs on: a finding (Unsounds) needs enough of them to show
}

// Plan is the list of tests a boot with this selection runs, in order.
func Plan(s Selection) []Test {
	if s.Inject != "" {
		in, ok := InjectionByName(s.Inject)
		if !ok {
			return nil
		}
		if in.Equivalent != "" { // an equivalent mutant must not break its scenario: that is the claim
			return []Test{{Name: InjectTest(in.Name), Scheme: in.Scheme, Scenario: in.Scenario, Inject: in.Name, Expect: "pass"}}
		}
		return []Test{{Name: InjectTest(in.Name), Scheme: in.Scheme, Scenario: in.Scenario, Inject: in.Name,
			Expect: "fail", Catch: in.Detector(s.MMU)}}
	}
	var out []Test
	keep := func(t Test) {
		if s.Parallel != "" && (s.Parallel == "only") != NeedsParallel(t) {
			return
		}
		if s.Prefixes == nil || slices.ContainsFunc(s.Prefixes, func(p string) bool { return strings.HasPrefix(t.Name, p) }) {
			out = append(out, t)
		}
	}
	matrixOnly := s.Schemes != nil || s.Scenarios != nil
	suite := SmokeTests
	if s.BareMetal {
		suite = append(append(slices.Clone(SmokeTests), SMPTests...), TLBTests...)
	}
	for _, name := range suite {
		t := Test{Name: name, Expect: "pass"}
		if slices.Contains(TLBTests, name) {
			t.Scenario = MunmapShootdown
		}
		if !matrixOnly || s.Schemes == nil && t.Scenario != "" && slices.Contains(s.Scenarios, t.Scenario) {
			keep(t)
		}
	}
	if s.BareMetal {
		for _, sch := range orAll(s.Schemes, Schemes) {
			for _, sc := range orAll(s.Scenarios, Scenarios) {
				t := Test{Name: MatrixTest(sch, sc), Scheme: sch, Scenario: sc, Expect: "pass"}
				if u, ok := UnsoundOn(sch, sc, s.MMU); ok && s.CPUs >= u.CPUs {
					t.Expect, t.Catch = "fail", u.Catch
				}
				keep(t)
			}
		}
	}
	if !matrixOnly {
		keep(Test{Name: ReportTest, Expect: "pass"})
	}
	return out
}

func orAll(v, all []string) []string {
	if v == nil {
		return all
	}
	return v
}

// PlanOn is the plan of a bare-metal boot with this command line on so many CPUs.
func PlanOn(line, arch string, cpus int) []Test {
	s := SelectionOf(line, arch, true)
	s.CPUs = cpus
	return Plan(s)
}

// SelectionOf reads a command line's selection on an arch (words already checked by CheckCmdline).
func SelectionOf(line, arch string, bareMetal bool) Selection {
	s := Selection{BareMetal: bareMetal}
	s.Inject, _ = WordValue(line, "inject")
	s.Parallel, _ = WordValue(line, "parallel")
	if v, ok := WordValue(line, "tests"); ok {
		s.Prefixes = strings.Split(v, ",")
	}
	if v, ok := WordValue(line, "scheme"); ok {
		s.Schemes, _ = ParseList(v, Schemes)
	}
	if v, ok := WordValue(line, "scenario"); ok {
		s.Scenarios, _ = ParseList(v, Scenarios)
	}
	s.MMU = ModeOf(line, arch)
	return s
}

// ModeOf is the MMU mode a command line runs on an arch: the one MMUOf names, else the arch's default.
func ModeOf(line, arch string) string {
	if m := MMUOf(line); m != "" {
		return m
	}
	if a, ok := ArchByName(arch); ok {
		return a.MMUs[0]
	}
	return ""
}

// MMUOf is the MMU mode a command line selects ("" for the arch's default): the mode's word, or an
// injection that selects its mode.
func MMUOf(line string) string {
	words := strings.Fields(line)
	for _, m := range MMUWords {
		if slices.Contains(words, m.Word) {
			return m.Mode
		}
	}
	switch v, _ := WordValue(line, "inject"); v {
	case "skip-hpte-remove", "hpt-no-tlbie":
		return "hash"
	case "skip-tlbie":
		return "radix-tlbie"
	}
	return ""
}
