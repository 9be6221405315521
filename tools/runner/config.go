package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"

	"lazymm/kernel/catalog"
)

// Config is the run the flags ask for, every cross-flag rule checked.
type Config struct {
	Arch         *archSpec
	Machine      string
	MMU          string // the MMU mode asked for (the arch's default when not given)
	MMUSet       bool   // -mmu was given: an injection may not pick another mode
	CPUs, MemMB  int
	Kernel       string
	CDROM        string
	Timeout      time.Duration // -timeout, 0 for each boot's planned one
	TimeoutScale float64
	Injects      []string // one boot each
	InjectAll    bool     // -inject all or -matrix: each boot gets the CPUs its bug needs
	Suite        bool     // the suite boot runs (no -inject, or -matrix)
	Scheme       string
	Scenario     string
	Seed         uint64
	Duration     time.Duration
	NoPCID       bool
	Append       string
	KVM          bool
	QEMU         string
	GDB          int
	Console      string
	Verbose      io.Writer
	Parallel     int
	TCG          string // -tcg: auto, single or multi (tcg.go)
	Shard        int
	Shards       int
	List, TAP    bool
	JSON, JUnit  string
	Report       string
	TracePath    string
	Results      string
}

// buildConfig checks the flags: every broken rule is one error of the result.
func buildConfig(f *flags, stderr io.Writer) (*Config, error) {
	c := &Config{MMU: f.mmu, MMUSet: f.set["mmu"], CPUs: f.cpus, MemMB: f.mem, Kernel: f.kernel, CDROM: f.cdrom,
		Timeout: f.timeout, TimeoutScale: f.timeoutScale, Scheme: f.scheme, Scenario: f.scenario, Seed: f.seed,
		Duration: f.duration, NoPCID: f.nopcid, Append: strings.Join(strings.Fields(f.appendWords), " "), KVM: f.kvm,
		QEMU: f.qemu, GDB: f.gdb, Console: f.console, Parallel: f.parallel, List: f.list, TAP: f.tap,
		JSON: f.json, JUnit: f.junit, Report: f.report, TracePath: f.trace, Results: f.results}
	if f.verbose {
		c.Verbose = stderr
	}
	var errs *multierror.Error
	add := func(err error) { errs = multierror.Append(errs, err) }
	if f.set["tlb"] {
		c.MMU, c.MMUSet = f.tlb, true
	}
	if c.Arch = archNamed(f.arch); c.Arch == nil {
		add(fmt.Errorf("unknown -arch %q (want %s)", f.arch, strings.Join(archNames(), " or ")))
	} else {
		c.checkArch(f, add)
	}
	c.checkNumbers(f, add)
	c.checkSelection(f, add)
	c.checkModes(f, add)
	c.checkTCG(f, add)
	c.checkAppend(add)
	return c, errs.ErrorOrNil()
}

// checkArch checks what depends on the arch: machine, MMU mode, CPUs, memory, image, QEMU, KVM.
func (c *Config) checkArch(f *flags, add func(error)) {
	a := c.Arch
	c.Machine = f.machine
	if c.Machine == "" {
		c.Machine = a.Machines[0]
	}
	if why, ok := a.Unsupported[c.Machine]; ok {
		add(fmt.Errorf("-machine %s is not supported yet: %s", c.Machine, why))
	} else if !contains(a.Machines, c.Machine) {
		add(fmt.Errorf("-machine %q: %s boots on %s", c.Machine, a.Name, strings.Join(a.Machines, ", ")))
	}
	c.checkMode(f, add)
	c.checkMachine(f, add) // powernv.go
	if c.CPUs < 1 || c.CPUs > a.MaxCPUs {
		add(fmt.Errorf("-cpus %d out of range 1..%d (the %s kernel's limit)", c.CPUs, a.MaxCPUs, a.Name))
	}
	if a.MemAlignMB > 0 && c.MemMB%a.MemAlignMB != 0 {
		add(fmt.Errorf("-mem %d: %s wants a multiple of %d MiB", c.MemMB, c.Machine, a.MemAlignMB))
	}
	if c.CDROM != "" && !a.CDROM {
		add(fmt.Errorf("-cdrom boots a GRUB ISO, an amd64 boot path: -arch %s boots -kernel", a.Name))
	}
	c.checkFiles(add)
	c.checkKVM(add)
}

// checkFiles finds the kernel image, the ISO and QEMU.
func (c *Config) checkFiles(add func(error)) {
	a := c.Arch
	if c.Kernel == "" {
		c.Kernel = filepath.Join("build", a.Name, "lazymm.elf")
	}
	if fi, err := os.Stat(c.Kernel); (err != nil || fi.IsDir()) && c.Console == "" { // attached: the image only symbolizes
		add(fmt.Errorf("kernel image %s: not found (build it with `make kernel ARCH=%s`)", c.Kernel, a.Name))
	}
	if c.CDROM != "" && a.CDROM {
		if _, err := os.Stat(c.CDROM); err != nil {
			add(fmt.Errorf("-cdrom %s: not found (build it with `make iso`)", c.CDROM))
		}
	}
	if c.Console != "" {
		c.QEMU = "" // not needed
		return
	}
	if c.QEMU == "" {
		c.QEMU = a.QEMU
	}
	if p, err := exec.LookPath(c.QEMU); err != nil {
		add(fmt.Errorf("%s not found: install it (make setup ARCH=%s, or apt-get install %s)", c.QEMU, a.Name, a.Package))
	} else {
		c.QEMU = p
	}
}

func (c *Config) checkKVM(add func(error)) {
	if !c.KVM {
		return
	}
	if !c.Arch.Native() {
		add(fmt.Errorf("-kvm: a %s guest needs a %s host, this one is %s (leave -kvm out: TCG emulates it)", c.Arch.Name, c.Arch.Name, runtime.GOARCH))
		return
	}
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err != nil {
		add(fmt.Errorf("-kvm: /dev/kvm is not usable: %v", err))
	} else {
		f.Close()
	}
}

// checkNumbers checks the numeric flags that do not depend on the arch.
func (c *Config) checkNumbers(f *flags, add func(error)) {
	if c.MemMB < 64 || c.MemMB > 3072 {
		add(fmt.Errorf("-mem %d out of range 64..3072 MiB", c.MemMB))
	}
	if f.set["timeout"] && c.Timeout <= 0 {
		add(fmt.Errorf("-timeout %v: must be positive", c.Timeout))
	}
	if !(c.TimeoutScale > 0 && c.TimeoutScale < 1e6) {
		add(fmt.Errorf("-timeout-scale %v: want a positive factor", c.TimeoutScale))
	}
	if c.Duration < 0 || c.Duration > 0 && c.Timeout > 0 && c.Duration+30*time.Second > c.Timeout {
		add(fmt.Errorf("-duration %v: must be positive and leave 30s of -timeout %v for the rest", c.Duration, c.Timeout))
	}
	if c.Parallel < 1 {
		add(fmt.Errorf("-parallel %d: want at least 1", c.Parallel))
	}
	var err error
	if c.Shard, c.Shards, err = parseShard(f.shard); err != nil {
		add(err)
	}
}

// parseShard reads -shard i/n, strictly: two decimal numbers and nothing else.
func parseShard(s string) (i, n int, err error) {
	if s == "" {
		return 1, 1, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || !digits(a) || !digits(b) || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return 0, 0, fmt.Errorf("-shard %q: want i/n with 1 <= i <= n", s)
	}
	return i, n, nil
}

// checkSelection checks what the boots run: schemes, scenarios, injections and the matrix.
func (c *Config) checkSelection(f *flags, add func(error)) {
	for _, l := range []struct{ name, v string }{{"scheme", c.Scheme}, {"scenario", c.Scenario}} {
		known := map[string][]string{"scheme": catalog.Schemes, "scenario": catalog.Scenarios}[l.name]
		if _, bad := catalog.ParseList(l.v, known); bad != "" {
			add(fmt.Errorf("unknown -%s %q (want a comma-separated list of %s, or all)", l.name, bad, strings.Join(known, ", ")))
		}
	}
	c.InjectAll = f.inject == "all" || f.matrix
	if f.inject != "" && f.inject != "all" {
		var bad string
		if c.Injects, bad = catalog.ParseList(f.inject, catalog.Names(catalog.Injections)); bad != "" {
			add(fmt.Errorf("unknown -inject %q (want a comma-separated list of %s; or all)", bad, strings.Join(catalog.Names(catalog.Injections), ", ")))
		}
	}
	if c.InjectAll && c.Arch != nil {
		c.Injects = catalog.Names(catalog.BugsOn(c.Arch.Name, c.MMU, c.Machine))
	}
	c.Suite = f.inject == "" || f.matrix
	if f.matrix && (f.inject != "" || c.Scheme != "" || c.Scenario != "") {
		add(fmt.Errorf("-matrix runs everything: it takes no -inject, -scheme or -scenario"))
	}
	if (c.Scenario != "" || c.Scheme != "") && f.inject != "" {
		add(fmt.Errorf("-scheme/-scenario and -inject exclude each other: an injection runs the test that must catch it"))
	}
}

// checkMode checks the mode flag: -mmu where the arch's modes are MMU modes, -tlb where they are x86's
// TLB rule sets.
func (c *Config) checkMode(f *flags, add func(error)) {
	a := c.Arch
	for _, flag := range []string{"mmu", "tlb"} {
		if f.set[flag] && a.ModeFlag != flag {
			add(fmt.Errorf("-%s: %s's modes are -%s %s", flag, a.Name, a.ModeFlag, strings.Join(a.MMUs, ", ")))
			return
		}
	}
	switch {
	case c.MMU == "":
		c.MMU = a.DefaultMMU()
	case !contains(a.MMUs, c.MMU):
		add(fmt.Errorf("-%s %q: want %s", a.ModeFlag, c.MMU, strings.Join(a.MMUs, ", ")))
	}
}

// checkModes checks the flags that change how the run boots: -cdrom, -console, -gdb.
func (c *Config) checkModes(f *flags, add func(error)) {
	words := f.inject != "" || f.matrix || c.Append != "" || c.Scenario != "" || c.Scheme != "" || c.NoPCID ||
		c.Seed != 0 || c.Duration != 0 || c.TracePath != "" || f.set["mmu"] || f.set["tlb"]
	if c.CDROM != "" && words {
		add(fmt.Errorf("-cdrom boots with the ISO's own command line: -inject, -matrix, -scheme, -scenario, -append, -nopcid, -mmu, -tlb, -trace and the torture flags do not apply"))
	}
	if c.Console != "" && (words || c.GDB != 0 || c.CDROM != "" || c.KVM) {
		add(fmt.Errorf("-console reads a board booted by its own loader: its command line is the loader's, so -inject, -matrix, -scheme, -scenario, -append, -mmu, -tlb, -nopcid, -trace, -gdb, -cdrom, -kvm and the torture flags do not apply"))
	}
	if c.GDB != 0 && (len(c.Injects) > 1 || len(c.Injects) > 0 && c.Suite) {
		add(fmt.Errorf("-gdb debugs one boot: give no -inject list or -matrix"))
	}
	if c.GDB < 0 || c.GDB > 65535 {
		add(fmt.Errorf("-gdb %d: want a TCP port", c.GDB))
	}
}

// checkAppend checks each -append word against the catalogue's boot words.
func (c *Config) checkAppend(add func(error)) {
	for _, err := range catalog.CheckCmdline(c.Append) {
		add(fmt.Errorf("-append: %v", err))
	}
}

// digits says whether s is a plain decimal number (Atoi also takes a sign).
func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
