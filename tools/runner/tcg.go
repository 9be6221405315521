package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	"lazymm/kernel/catalog"
)

// QEMU's TCG runs a guest's vCPUs on one host thread in turns (thread=single) or one host thread each
// (thread=multi). Where the vCPUs outnumber the host's cores, multi-threaded vCPUs that wait for
// another CPU take a core from the one they wait for, and a boot costs several times the host CPU;
// single-threaded, a vCPU that pauses or halts hands over at once. But in turns the CPUs never run at
// the same time: the tests that need that (catalog.NeedsParallel: the store-buffering test, torture)
// keep multi-threaded TCG. -tcg auto picks per boot, and gives the suite's parallel tests a boot of
// their own (kernel word parallel=only, the rest parallel=skip). Such a boot, whose vCPUs outnumber
// the host's cores (by up to twice: runsAlone), also runs alone: beside another QEMU, one side of the
// store-buffering test waits a host timeslice for the other to run at all (its control took 1.4 s
// instead of 0.01-0.1 s).

// tcgModes are -tcg's values.
var tcgModes = []string{"auto", "single", "multi"}

const (
	tcgSingle = "single"
	tcgMulti  = "multi"
)

// checkTCG checks -tcg: a value of tcgModes, for QEMU's TCG (not KVM, not an attached board).
func (c *Config) checkTCG(f *flags, add func(error)) {
	c.TCG = f.tcg
	if !contains(tcgModes, c.TCG) {
		add(fmt.Errorf("-tcg %q: want %s", c.TCG, strings.Join(tcgModes, ", ")))
	}
	if f.set["tcg"] && (c.KVM || c.Console != "") {
		add(fmt.Errorf("-tcg chooses how QEMU's TCG runs the vCPUs: not with -kvm or -console"))
	}
}

// assignTCG gives each boot its TCG mode, splitting a boot in two where -tcg auto wants single-threaded
// TCG for some of its tests and multi-threaded for the others.
func (c *Config) assignTCG(boots []*Boot) []*Boot {
	var out []*Boot
	for _, b := range boots {
		if c.KVM || b.Console != "" {
			out = append(out, b)
			continue
		}
		if c.TCG != "auto" {
			b.TCG = c.TCG
			out = append(out, b)
			continue
		}
		out = append(out, c.autoTCG(b)...)
	}
	return out
}

// autoTCG is -tcg auto for one boot: multi-threaded where the host has a core per vCPU, or where
// every test needs real parallelism (or the runner cannot split the boot: its command line is not
// the runner's); single-threaded where none does; else split: the single-threaded rest, and the
// parallel tests (soloSplit).
func (c *Config) autoTCG(b *Boot) []*Boot {
	var par int
	for _, t := range b.Expected {
		if catalog.NeedsParallel(t) {
			par++
		}
	}
	_, appended := catalog.WordValue(c.Append, "parallel")
	crowded := b.CPUs > runtime.NumCPU()
	switch {
	case !crowded || par == len(b.Expected) || !b.Sent || appended:
		b.TCG = tcgMulti
		b.Alone = runsAlone(b)
		return []*Boot{b}
	case par == 0:
		b.TCG = tcgSingle
		return []*Boot{b}
	}
	p := *b
	c.setParallel(b, "skip", tcgSingle, "")
	c.setParallel(&p, "only", tcgMulti, "")
	p.Label += "-parallel"
	return append([]*Boot{b}, c.soloSplit(&p)...)
}

// soloSplit gives the parallel tests that need the host's cores to themselves (catalog.NeedsSolo) a
// boot that runs alone, where that helps (runsAlone), and the others a multi-threaded boot beside
// the rest of the run; one boot when -scenario chose the scenarios or only one kind is there.
func (c *Config) soloSplit(p *Boot) []*Boot {
	p.Alone = runsAlone(p)
	if !p.Alone || c.Scenario != "" || !slices.ContainsFunc(p.Expected, notSolo) {
		return []*Boot{p}
	}
	q := *p
	var rest []string
	for _, s := range catalog.ParallelScenarios {
		if !slices.Contains(catalog.SoloScenarios, s) {
			rest = append(rest, s)
		}
	}
	c.setParallel(p, "only", tcgMulti, strings.Join(catalog.SoloScenarios, ","))
	c.setParallel(&q, "only", tcgMulti, strings.Join(rest, ","))
	q.Alone, q.Label = false, q.Label+"-beside"
	return []*Boot{p, &q}
}

func notSolo(t catalog.Test) bool { return !catalog.NeedsSolo(t) }

// setParallel adds the word parallel=v, and scenario=scenarios if set, to b's command line (after the
// runner's own words) and plans its tests again.
func (c *Config) setParallel(b *Boot, v, mode, scenarios string) {
	b.TCG = mode
	w := append(c.runnerWords(b.Inject), "parallel="+v)
	if scenarios != "" {
		w = append(w, "scenario="+scenarios)
	}
	b.Cmdline = joinWords(w, c.Append)
	b.Expected = catalog.PlanOn(b.Cmdline, c.Arch.Name, b.CPUs)
}

// tcgSummary counts the boots of each TCG mode, for the table's last line ("" when none ran TCG).
func tcgSummary(res *Result) string {
	n := map[string]int{}
	for _, m := range res.BootTCG {
		n[m]++
	}
	if n[tcgSingle]+n[tcgMulti] == 0 {
		return ""
	}
	return fmt.Sprintf("; TCG: %d single-threaded, %d multi-threaded", n[tcgSingle], n[tcgMulti])
}

// runsAlone says whether a multi-threaded boot runs with no other beside it: it has a test that
// needs the host's cores to itself (catalog.NeedsSolo), and alone it gets them: more vCPUs than
// cores, but at most two a core. Beyond, its vCPUs oversubscribe the host alone as well, and alone
// it would hold the whole run back (8 CPUs on 2 cores: the parallel boot took 20 s alone, the whole
// -matrix 30.5 s, against 22.7-26.6 s beside the other boots).
func runsAlone(b *Boot) bool {
	cores := runtime.NumCPU()
	return b.CPUs > cores && b.CPUs <= 2*cores && slices.ContainsFunc(b.Expected, catalog.NeedsSolo)
}
