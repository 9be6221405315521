// Command speed measures how long the whole run takes and writes the "Suite speed" section of
// docs/BENCHMARKS.md (the rest is tools/bench/schemes'). Each of -runs rounds runs, in an order that
// alternates between rounds so host load hits every command alike: the matrix at 4 CPUs with -tcg
// auto and with -tcg multi, at 8 CPUs (auto), on ppc64 at 4 CPUs in every MMU mode, and
// fork-exit-storm at 1 and 4 CPUs under every scheme. It reports medians and ratios; with KUT set it
// appends tools/bench/kut.sh's boot comparison with kvm-unit-tests, else says it skipped it.
//
//	go run ./tools/bench/speed [-runs 3] [-out docs/BENCHMARKS.md]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"lazymm/kernel/catalog"
)

func main() {
	runs := flag.Int("runs", 3, "rounds; every figure is the median over them")
	out := flag.String("out", "docs/BENCHMARKS.md", "the report whose Suite speed section is replaced")
	flag.Parse()
	if *runs < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "speed: want -runs >= 1 and no arguments")
		os.Exit(2)
	}
	if err := run(*runs, *out, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "speed:", err)
		os.Exit(2)
	}
}

// job is one command of a round: a runner invocation, timed whole.
type job struct {
	key  string
	args []string
}

func jobs() []job {
	js := []job{
		{"amd64/4/auto", []string{"-cpus", "4", "-matrix"}},
		{"amd64/4/multi", []string{"-cpus", "4", "-matrix", "-tcg", "multi"}},
		{"amd64/8/auto", []string{"-cpus", "8", "-matrix"}},
		{"fes/1", []string{"-cpus", "1", "-scheme", "all", "-scenario", catalog.ForkExitStorm}},
		{"fes/4", []string{"-cpus", "4", "-scheme", "all", "-scenario", catalog.ForkExitStorm}},
	}
	a, _ := catalog.ArchByName("ppc64")
	for _, m := range a.MMUs {
		js = append(js, job{"ppc64/" + m, []string{"-arch", "ppc64", "-mmu", m, "-cpus", "4", "-matrix"}})
	}
	return js
}

// samples are each job's wall times (ms) and, for fork-exit-storm, each scheme's exit_cycles_mean.
type samples struct {
	wall map[string][]float64
	exit map[string][]float64 // "fes/N/scheme"
	tcg  map[string]string    // each job's last summary of TCG boots
}

func run(runs int, out string, log io.Writer) error {
	s := samples{wall: map[string][]float64{}, exit: map[string][]float64{}, tcg: map[string]string{}}
	js := jobs()
	for r := 0; r < runs; r++ {
		order := slices.Clone(js)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, j := range order {
			fmt.Fprintf(log, "round %d of %d: %s\n", r+1, runs, j.key)
			if err := s.measure(j); err != nil {
				return err
			}
		}
	}
	section := s.markdown(runs) + kutSection(log)
	return replaceSection(out, section)
}

// measure runs one job and records what it saw; a run not as expected is an error (no figure from a
// failing run).
func (s *samples) measure(j job) error {
	f, err := os.CreateTemp("", "speed-*.json")
	if err != nil {
		return err
	}
	f.Close()
	defer os.Remove(f.Name())
	start := time.Now()
	outb, err := exec.Command("build/amd64/runner", append(j.args, "-json", f.Name())...).CombinedOutput()
	ms := float64(time.Since(start).Milliseconds())
	if err != nil {
		return fmt.Errorf("runner %s: %v\n%s", strings.Join(j.args, " "), err, tail(string(outb)))
	}
	s.wall[j.key] = append(s.wall[j.key], ms)
	if i := strings.Index(string(outb), "TCG: "); i >= 0 {
		s.tcg[j.key] = strings.TrimRight(strings.SplitN(string(outb[i:]), ")", 2)[0], "\n")
	}
	var rep struct {
		Tests []struct {
			Scheme  string             `json:"scheme"`
			Metrics map[string]float64 `json:"metrics"`
		} `json:"tests"`
	}
	b, err := os.ReadFile(f.Name())
	if err != nil || json.Unmarshal(b, &rep) != nil {
		return fmt.Errorf("runner %s: no JSON report", strings.Join(j.args, " "))
	}
	if strings.HasPrefix(j.key, "fes/") {
		for _, t := range rep.Tests {
			s.exit[j.key+"/"+t.Scheme] = append(s.exit[j.key+"/"+t.Scheme], t.Metrics["exit_cycles_mean"])
		}
	}
	return nil
}

func tail(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-8):], "\n")
}
