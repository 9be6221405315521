package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"lazymm/kernel/catalog"
)

// The lazymm side: the runner boots lazymm for the same scenarios, under the scheme Linux's x86 has
// (refcount: a lazy CPU's kernel thread holds an mm_count reference, mmgrab in context_switch; 6.1 and
// mainline x86 select no MMU_LAZY_TLB_SHOOTDOWN), at the same CPUs, with the TLB rule set asked for.

// linuxScheme is the lazy-mm scheme x86 Linux runs.
const linuxScheme = catalog.Refcount

// runnerReport is the part of the runner's JSON report read here (docs/PROTOCOL.md).
type runnerReport struct {
	Tests []struct {
		Name    string             `json:"name"`
		Outcome string             `json:"outcome"`
		Metrics map[string]float64 `json:"metrics"`
	} `json:"tests"`
}

// lazymmRun is what the runner reported: each scenario's metrics and how the run was made.
type lazymmRun struct {
	metrics map[string]map[string]float64 // scenario -> metric -> value
	command string
	notes   []string
}

// runLazymm runs the runner for the scenarios and reads its report; rules is passed as -tlb when the
// runner has that flag.
func runLazymm(runner, kernel, rules, dir string, cpus int, scenarios []string) (*lazymmRun, error) {
	help, _ := exec.Command(runner, "-help").CombinedOutput()
	if len(help) == 0 {
		return nil, fmt.Errorf("%w: cannot run the runner %s (make runner)", errInput, runner)
	}
	report := filepath.Join(dir, "lazymm.json")
	args := []string{"-cpus", fmt.Sprint(cpus), "-scenario", strings.Join(scenarios, ","), "-scheme", linuxScheme,
		"-parallel", "1", "-json", report}
	if kernel != "" {
		args = append(args, "-kernel", kernel)
	}
	run := &lazymmRun{}
	if bytes.Contains(help, []byte("\n  -tlb ")) {
		args = append(args, "-tlb", rules)
	} else {
		run.notes = append(run.notes, "this runner has no -tlb flag: lazymm ran its only x86 rules, not RULES="+rules)
	}
	run.command = filepath.Base(runner) + " " + strings.Join(args, " ")
	cmd := exec.Command(runner, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return nil, fmt.Errorf("%s: %v\n%s", run.command, err, out.String())
	}
	if err != nil {
		run.notes = append(run.notes, "lazymm's run had unexpected results (runner exit status 1): its figures are shown all the same")
	}
	return run, readReport(report, run)
}

// readReport takes each scenario's metrics from the runner's report: the test of the scheme under it.
func readReport(path string, run *lazymmRun) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rep runnerReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%w: %s: %v", errInput, path, err)
	}
	run.metrics = map[string]map[string]float64{}
	for _, t := range rep.Tests {
		scheme, scenario, ok := strings.Cut(strings.TrimPrefix(t.Name, "lazy/"), "/")
		if ok && scheme == linuxScheme && t.Metrics != nil {
			run.metrics[scenario] = t.Metrics
		}
	}
	return nil
}
