// Command mmucost prints the per-scheme cost table of the lazy-mm schemes side by side for every mode
// of the catalogue (amd64's two x86 rule sets, ppc64's MMU modes), same scenarios, same CPU count: the
// medians over -runs boots of each counter summed over the scenarios. docs/PPC64-FIGURES.md's table
// comes from it.
//
//	go run ./tools/bench/mmucost [-runs 3] [-cpus 4] [-scenario LIST]
package main

import (
	"lazymm/kernel/catalog"

	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// config is one column group: an arch and its mode (an MMU mode, or x86's TLB rules), and the runner
// flag that picks it.
type config struct{ name, arch, mmu, flag string }

// configs are every arch and MMU mode of the catalogue, named by the mode (by the arch where it has one).
var configs = func() (out []config) {
	for _, a := range catalog.Arches {
		for _, m := range a.MMUs {
			name := m
			if a.ModeFlag == "tlb" {
				name = a.Name + "/" + m
			}
			out = append(out, config{name, a.Name, m, a.ModeFlag})
		}
	}
	return out
}()

// columns: metric, heading, summed over the scenarios (else their median).
var columns = []struct {
	metric, head string
	sum          bool
}{
	{"shoot_ipis", "SHOOT_IPIS", true},
	{"flush_ipis", "FLUSH_IPIS", true},
	{"broadcast_flushes", "HW_FLUSHES", true}, // flushes the hardware carried: tlbie; hash's H_REMOVE passes
	{"hpte_removes", "H_REMOVE", true},
	{"trimmed", "TRIMMED", true},
	{"call_ipis", "CALL_IPIS", true},
	{"switch_cycles_median", "SWITCH_CYC", false},
}

var schemes = catalog.Schemes

type report struct {
	Outcome string `json:"outcome"`
	Tests   []struct {
		Scheme  string             `json:"scheme"`
		Inject  string             `json:"inject"`
		Outcome string             `json:"outcome"`
		Metrics map[string]float64 `json:"metrics"`
	} `json:"tests"`
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mmucost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runs := fs.Int("runs", 3, "boots per configuration (the median is reported)")
	cpus := fs.Int("cpus", 4, "CPUs")
	scenario := fs.String("scenario", "all", "the runner's -scenario list")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *runs < 1 || *cpus < 1 {
		fmt.Fprintln(stderr, "mmucost: -runs and -cpus must be positive")
		return 2
	}
	// per configuration, per scheme, per column: one value per run
	vals := map[string]map[string]map[string][]float64{}
	for _, c := range configs {
		vals[c.name] = map[string]map[string][]float64{}
		for i := 0; i < *runs; i++ {
			rep, err := boot(c, *cpus, *scenario)
			if err != nil {
				fmt.Fprintf(stderr, "mmucost: %s: %v\n", c.name, err)
				return 1
			}
			for s, cols := range perScheme(rep) {
				if vals[c.name][s] == nil {
					vals[c.name][s] = map[string][]float64{}
				}
				for k, v := range cols {
					vals[c.name][s][k] = append(vals[c.name][s][k], v)
				}
			}
		}
	}
	heads := []string{"scheme"}
	for _, col := range columns {
		heads = append(heads, col.head)
	}
	fmt.Fprintf(stdout, "Columns: %s. %d CPUs, median of %d boots, `-scenario %s`.\n\n", names(), *cpus, *runs, *scenario)
	fmt.Fprintf(stdout, "| %s |\n|%s\n", strings.Join(heads, " | "), strings.Repeat("---|", len(heads)))
	for _, s := range schemes {
		row := []string{s}
		for _, col := range columns {
			var cell []string
			for _, c := range configs {
				cell = append(cell, fmt.Sprintf("%.0f", median(vals[c.name][s][col.metric])))
			}
			row = append(row, strings.Join(cell, " / "))
		}
		fmt.Fprintf(stdout, "| %s |\n", strings.Join(row, " | "))
	}
	return 0
}

func names() string {
	var n []string
	for _, c := range configs {
		n = append(n, c.name)
	}
	return strings.Join(n, " / ")
}

// boot runs the matrix of the scenarios once under c and returns the runner's JSON report.
func boot(c config, cpus int, scenario string) (*report, error) {
	dir, err := os.MkdirTemp("", "mmucost")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "r.json")
	args := []string{"-arch", c.arch, "-cpus", fmt.Sprint(cpus), "-kernel", filepath.Join("build", c.arch, "lazymm.elf"),
		"-scenario", scenario, "-timeout", "300s", "-json", out}
	if c.mmu != "" {
		args = append(args, "-"+c.flag, c.mmu)
	}
	cmd := exec.Command(filepath.Join("build", c.arch, "runner"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	runErr := cmd.Run()
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("no report (%v): %s", runErr, stderr.String())
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if r.Outcome != "pass" {
		return nil, fmt.Errorf("outcome %s (%v): %s", r.Outcome, runErr, stderr.String())
	}
	return &r, nil
}

// perScheme sums (or takes the median of) each column over a scheme's passing scenarios.
func perScheme(r *report) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	meds := map[string]map[string][]float64{}
	for _, t := range r.Tests {
		if t.Scheme == "" || t.Inject != "" || t.Outcome != "pass" {
			continue
		}
		if out[t.Scheme] == nil {
			out[t.Scheme], meds[t.Scheme] = map[string]float64{}, map[string][]float64{}
		}
		for _, col := range columns {
			if col.sum {
				out[t.Scheme][col.metric] += t.Metrics[col.metric]
			} else {
				meds[t.Scheme][col.metric] = append(meds[t.Scheme][col.metric], t.Metrics[col.metric])
			}
		}
	}
	for s, m := range meds {
		for k, v := range m {
			out[s][k] = median(v)
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
