package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"

	"lazymm/kernel/catalog"
)

// Boot is one boot of the run: its machine, the command line the runner sends, and the tests that
// line selects (the runner's expectation, which the console is checked against).
type Boot struct {
	Label    string
	Arch     *archSpec
	Machine  string
	CPUs     int
	MemMB    int
	Kernel   string
	CDROM    string
	QEMU     string
	Console  string
	KVM      bool
	TCG      string // QEMU's TCG threading: single or multi ("" with KVM or a board)
	Alone    bool   // runs with no other boot beside it (Config.autoTCG says when)
	GDB      int
	Inject   string
	Cmdline  string         // the words sent
	Sent     bool           // false with -cdrom and -console: the loader's line, read from the boot line
	MMU      string         // the MMU mode the line selects: it decides an injection's detector
	Expected []catalog.Test // planned from Cmdline (nil until the boot line when !Sent)
	Timeout  time.Duration
	Verbose  io.Writer // console echo, nil for none
	Log      io.Writer // the console, kept (-results), nil for none
}

// planBoots makes the run's boots: the suite unless only injections were asked for, then one per
// injection; each checked, with -shard applied and its timeout planned.
func planBoots(c *Config, stderr io.Writer) ([]*Boot, error) {
	var boots []*Boot
	if c.Suite {
		boots = append(boots, c.newBoot(""))
	}
	for _, in := range c.Injects {
		boots = append(boots, c.newBoot(in))
	}
	boots = c.assignTCG(boots) // before the checks: a split boot's command line is checked too
	var errs *multierror.Error
	seen := map[string]bool{}
	for _, b := range boots {
		for _, err := range c.checkBoot(b) {
			if !seen[err.Error()] { // the same -append mistake in every boot is one error
				seen[err.Error()] = true
				errs = multierror.Append(errs, err)
			}
		}
	}
	if err := errs.ErrorOrNil(); err != nil {
		return nil, err
	}
	noteRaisedCPUs(c, boots, stderr)
	boots = shard(boots, c.Shard, c.Shards)
	if len(boots) == 0 {
		return nil, fmt.Errorf("-shard %d/%d: this shard has no boot", c.Shard, c.Shards)
	}
	for _, b := range boots {
		concurrent := min(c.Parallel, len(boots))
		if b.Alone {
			concurrent = 1
		}
		b.Timeout = c.timeoutFor(b, concurrent)
	}
	return boots, nil
}

// newBoot is the boot of one injection ("" for the suite).
func (c *Config) newBoot(inject string) *Boot {
	b := &Boot{Label: "suite", Arch: c.Arch, Machine: c.Machine, CPUs: c.CPUs, MemMB: c.MemMB, Kernel: c.Kernel,
		CDROM: c.CDROM, QEMU: c.QEMU, Console: c.Console, KVM: c.KVM, GDB: c.GDB, Inject: inject, Verbose: c.Verbose}
	if inject != "" {
		b.Label = "inject-" + inject
	}
	b.Sent = c.CDROM == "" && c.Console == ""
	if b.Sent {
		b.Cmdline = joinWords(c.runnerWords(inject), c.Append)
		b.MMU = catalog.ModeOf(b.Cmdline, c.Arch.Name)
	}
	if in, ok := catalog.InjectionByName(inject); ok && c.InjectAll && b.CPUs < in.CPUs {
		b.CPUs = in.CPUs
	}
	if b.Sent {
		b.Expected = catalog.PlanOn(b.Cmdline, c.Arch.Name, b.CPUs)
	}
	return b
}

// runnerWords are the words the runner's own flags set, in the order they are sent (before -append's).
func (c *Config) runnerWords(inject string) []string {
	var w []string
	add := func(key, v string) {
		if v != "" {
			w = append(w, key+"="+v)
		}
	}
	add("inject", inject)
	add("scheme", c.Scheme)
	add("scenario", c.Scenario)
	if c.Seed != 0 {
		add("seed", fmt.Sprint(c.Seed))
	}
	if c.Duration > 0 {
		add("duration", c.Duration.String())
	}
	if c.TracePath != "" {
		add("trace", "1")
	}
	if c.NoPCID {
		w = append(w, "nopcid")
	}
	for _, m := range catalog.MMUWords {
		if c.MMU == m.Mode {
			w = append(w, m.Word)
		}
	}
	return w
}

func joinWords(runner []string, appended string) string {
	return strings.Join(append(slices.Clone(runner), strings.Fields(appended)...), " ")
}

// flagOwned are the words only a flag may set: an injection and an MMU mode change what the runner
// must check (the injection's CPUs and detector, the mode's bugs).
var flagOwned = func() map[string]string {
	m := map[string]string{"inject": "-inject"}
	for _, w := range catalog.MMUWords {
		for _, a := range catalog.Arches {
			if slices.Contains(a.MMUs, w.Mode) { // the flag of the arch whose mode it is
				m[wordKey(w.Word)] = "-" + a.ModeFlag + " " + w.Mode
			}
		}
	}
	return m
}()

// wordKey is what a word sets: its key, or a bare word itself.
func wordKey(w string) string {
	k, _, _ := strings.Cut(w, "=")
	return k
}

// checkBoot checks one boot's command line and injection.
func (c *Config) checkBoot(b *Boot) []error {
	if !b.Sent {
		return nil
	}
	var errs []error
	set := map[string]bool{}
	for _, w := range c.runnerWords(b.Inject) {
		set[wordKey(w)] = true
	}
	for _, w := range strings.Fields(c.Append) {
		k := wordKey(w)
		switch {
		case set[k]:
			errs = append(errs, fmt.Errorf("-append %s: %s is set already (by the runner's flags, or earlier in -append): give it once", w, k))
		case flagOwned[k] != "":
			errs = append(errs, fmt.Errorf("-append %s: use %s, so the runner plans and checks it", w, flagOwned[k]))
		}
		set[k] = true
	}
	if n := len(b.Cmdline); n > catalog.MaxCmdline {
		errs = append(errs, fmt.Errorf("the kernel command line of %s is %d bytes, more than the kernels take (%d)", b.Label, n, catalog.MaxCmdline))
	}
	if !contains(c.Arch.MMUs, b.MMU) {
		errs = append(errs, fmt.Errorf("the command line selects MMU mode %s, which %s does not have (%s)", b.MMU, c.Arch.Name, strings.Join(c.Arch.MMUs, ", ")))
	}
	errs = append(errs, checkMachineBoot(b)...) // powernv.go
	if b.Inject != "" {
		errs = append(errs, c.checkInjection(b)...)
	} else if len(b.Expected) == 0 {
		errs = append(errs, fmt.Errorf("the command line %q selects no test (is -append tests= a prefix of a test name? -list shows the plan)", b.Cmdline))
	}
	return errs
}

// checkInjection refuses an injection the arch or MMU mode does not have, or too few CPUs for it.
func (c *Config) checkInjection(b *Boot) []error {
	in, _ := catalog.InjectionByName(b.Inject)
	var errs []error
	if !in.AppliesTo(c.Arch.Name, c.MMU) && (c.MMUSet || !in.AppliesTo(c.Arch.Name, b.MMU)) {
		where := strings.Join(in.Arches, ", ")
		if modes := namedModes(in.MMUs); len(modes) > 0 {
			where += " with -" + c.Arch.ModeFlag + " " + strings.Join(modes, " or ")
		}
		errs = append(errs, fmt.Errorf("-inject %s does not apply to %s -%s %s: it runs on %s", b.Inject, c.Arch.Name, c.Arch.ModeFlag, orDash(c.MMU), where))
	}
	if !in.AppliesOn(c.Machine) {
		errs = append(errs, fmt.Errorf("-inject %s runs only on -machine %s: the code it breaks runs nowhere else", b.Inject, strings.Join(in.Machines, " or ")))
	}
	if b.CPUs < in.CPUs {
		errs = append(errs, fmt.Errorf("-inject %s needs at least %d CPUs to show its bug: give -cpus %d or more", b.Inject, in.CPUs, in.CPUs))
	}
	return errs
}

// namedModes are the MMU modes of a list that have a name ("" is the mode of an arch with one).
func namedModes(modes []string) []string {
	var out []string
	for _, m := range modes {
		if m != "" {
			out = append(out, m)
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// noteRaisedCPUs says on stderr which boots -inject all or -matrix boots with more CPUs than -cpus.
func noteRaisedCPUs(c *Config, boots []*Boot, stderr io.Writer) {
	byCPUs := map[int][]string{}
	for _, b := range boots {
		if b.CPUs != c.CPUs {
			byCPUs[b.CPUs] = append(byCPUs[b.CPUs], b.Inject)
		}
	}
	var ns []int
	for n := range byCPUs {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	for _, n := range ns {
		fmt.Fprintf(stderr, "runner: -cpus %d is too few for %s: booting with %d CPUs\n", c.CPUs, strings.Join(byCPUs[n], ", "), n)
	}
}

// shard keeps every n-th boot from the i-th.
func shard(boots []*Boot, i, n int) []*Boot {
	var mine []*Boot
	for k, b := range boots {
		if k%n == i-1 {
			mine = append(mine, b)
		}
	}
	return mine
}

// timeoutFor is a boot's timeout: -timeout if given, else planned from its work: the arch's boot
// and per-test costs, each test slower when the boot's vCPUs (times the boots running at once)
// outnumber the host's cores and when the host is busy already (its load average above its cores),
// the torture scenario's -duration, times -timeout-scale.
func (c *Config) timeoutFor(b *Boot, concurrent int) time.Duration {
	switch {
	case c.GDB != 0:
		return 24 * time.Hour
	case c.Timeout > 0:
		return c.Timeout
	}
	tests := b.Expected
	if !b.Sent { // the loader's line: plan for the whole suite
		tests = catalog.Plan(catalog.Selection{BareMetal: true})
	}
	cores := float64(runtime.NumCPU())
	load := max(1, float64(b.CPUs*max(concurrent, 1))/cores) * max(1, hostLoad()/cores)
	work := float64(b.Arch.BootCost) + float64(len(tests))*float64(b.Arch.TestCost)*load
	d := time.Duration(work * c.TimeoutScale)
	for _, t := range tests {
		if t.Scenario == catalog.Torture {
			d += c.Duration
		}
	}
	return d.Round(time.Second)
}

// hostLoad is the host's load average over the last minute (0 if unknown).
func hostLoad() float64 {
	var l float64
	fmt.Sscan(loadAverage(), &l)
	return l
}

// listPlan prints the boots without running them.
func listPlan(w io.Writer, boots []*Boot) {
	for i, b := range boots {
		words := b.Cmdline
		if !b.Sent {
			words = "(the loader's)"
		}
		alone := ""
		if b.Alone {
			alone = " (alone)"
		}
		fmt.Fprintf(w, "boot %d: %-32s -cpus %d -timeout %v -tcg %s%s  kernel words: %s\n", i+1, b.Label, b.CPUs, b.Timeout, orDash(b.TCG), alone, words)
		if !b.Sent {
			continue
		}
		if sel := catalog.SelectionOf(b.Cmdline, "", true); b.Inject == "" && (sel.Schemes != nil || sel.Scenarios != nil || sel.Prefixes == nil) {
			fmt.Fprintf(w, "        schemes: %s\n        scenarios: %s\n", orAllNames(sel.Schemes, catalog.Schemes), orAllNames(sel.Scenarios, catalog.Scenarios))
		}
		fmt.Fprintf(w, "        planned: %s\n", describePlan(b.Expected))
	}
}

func orAllNames(v, all []string) string {
	if v == nil {
		v = all
	}
	return strings.Join(v, ",")
}

// describePlan sums up planned tests: their number per family, or the one test and its detector.
func describePlan(tests []catalog.Test) string {
	if len(tests) == 1 && tests[0].Expect == "fail" {
		catch := tests[0].Catch
		if catch == "" {
			catch = "any failure"
		}
		return fmt.Sprintf("%s, must fail, caught by %s", tests[0].Name, catch)
	}
	var order []string
	n := map[string]int{}
	for _, t := range tests {
		fam, _, _ := strings.Cut(t.Name, "/")
		if n[fam] == 0 {
			order = append(order, fam)
		}
		n[fam]++
	}
	var parts []string
	for _, f := range order {
		parts = append(parts, fmt.Sprintf("%d %s", n[f], f))
	}
	return fmt.Sprintf("%d tests (%s)", len(tests), strings.Join(parts, ", "))
}
