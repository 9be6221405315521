package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"

	"lazymm/kernel/catalog"
)

// flags are the command line as given, before any rule is checked (config.go does that).
type flags struct {
	arch, machine, mmu, tlb, kernel, cdrom, appendWords, qemu, console, tcg string
	cpus, mem, gdb, parallel                                                int
	timeout, duration                                                       time.Duration
	timeoutScale                                                            float64
	inject, scheme, scenario, shard                                         string
	seed                                                                    uint64
	matrix, nopcid, kvm, list, tap, verbose                                 bool
	json, junit, trace, report, results                                     string
	set                                                                     map[string]bool // flags given on the command line
}

// newFlagSet declares every flag; its usage text is the flag reference (-help).
func newFlagSet(f *flags) *flag.FlagSet {
	fs := flag.NewFlagSet("runner", flag.ContinueOnError)
	fs.StringVar(&f.arch, "arch", "amd64", "architecture: "+strings.Join(archNames(), " or "))
	fs.StringVar(&f.machine, "machine", "", "QEMU machine (default: the arch's first: "+machineList()+")")
	fs.StringVar(&f.mmu, "mmu", "", "the MMU mode, where an arch has several (default: its first): "+modeList("mmu"))
	fs.StringVar(&f.tlb, "tlb", "", "x86's TLB rules, amd64's modes (default: the first): "+modeList("tlb")+"; docs/MM.md says what differs")
	fs.IntVar(&f.cpus, "cpus", 1, "CPUs (1 to the arch's limit: "+cpuLimits()+"); fewer online than asked is a cpus failure. -inject all and -matrix raise it for the boots whose bug needs more")
	fs.IntVar(&f.mem, "mem", 512, "RAM in MiB (64..3072; pseries wants a multiple of 256)")
	fs.StringVar(&f.kernel, "kernel", "", "kernel image (default build/<arch>/lazymm.elf)")
	fs.DurationVar(&f.timeout, "timeout", 0, "kill QEMU after this long, for every boot (default: planned per boot from its tests, its CPUs, the boots at once, the host's cores and load average; -list shows it): a timeout failure, exit status 2")
	fs.Float64Var(&f.timeoutScale, "timeout-scale", 1, "multiply each planned timeout by F (a slow or busy host); an explicit -timeout wins")
	fs.StringVar(&f.inject, "inject", "", "inject failures, each in its own boot, which then must fail, caught by the injection's detector: a comma-separated list, or all (every bug of the arch and MMU mode, not the harness controls). See Injections below")
	fs.BoolVar(&f.matrix, "matrix", false, "the whole matrix: the suite (every scheme × scenario) and every bug of -inject all")
	fs.StringVar(&f.scheme, "scheme", "", "run only the lazy-mm matrix, for these schemes (comma-separated, or all): "+strings.Join(catalog.Schemes, ", "))
	fs.StringVar(&f.scenario, "scenario", "", "run only these scenarios' tests (comma-separated, or all; munmap-shootdown adds mm/munmap-shootdown/*): "+strings.Join(catalog.Scenarios, ", "))
	fs.Uint64Var(&f.seed, "seed", 0, "the torture scenario's seed (0: the kernel's default, 1)")
	fs.DurationVar(&f.duration, "duration", 0, "run the torture scenario this long, instead of 400 steps per CPU (the planned timeout grows by it)")
	fs.BoolVar(&f.nopcid, "nopcid", false, "run without PCIDs even where the CPU has them (kernel word nopcid)")
	fs.StringVar(&f.cdrom, "cdrom", "", "boot this GRUB ISO (make iso) instead of -kernel, with the ISO's own command line; -kernel still symbolizes (amd64)")
	fs.StringVar(&f.appendWords, "append", "", "more kernel command-line words, after the runner's own; each is checked (see Boot words below), and one may not set a word the runner sets (use its flag)")
	fs.BoolVar(&f.kvm, "kvm", false, "use KVM (a host of the guest's arch, with a usable /dev/kvm)")
	fs.StringVar(&f.tcg, "tcg", "auto", "QEMU's TCG threading: auto (single-threaded where a boot's vCPUs outnumber the host's cores and none of its tests needs CPUs running at once, else multi-threaded; the suite's parallel tests get a boot of their own), single or multi")
	fs.StringVar(&f.qemu, "qemu", "", "QEMU binary (default: the arch's, from PATH: "+qemuList()+")")
	fs.StringVar(&f.json, "json", "", "write a JSON report to FILE (docs/PROTOCOL.md)")
	fs.StringVar(&f.trace, "trace", "", "record the lazy-mm scenarios' per-CPU events (kernel word trace=1) and write them to FILE as a Chrome/Perfetto trace")
	fs.StringVar(&f.report, "report", "", "write an HTML page with the results matrix and the cost charts to DIR/index.html")
	fs.BoolVar(&f.tap, "tap", false, "print TAP version 13 on stdout instead of the table")
	fs.StringVar(&f.junit, "junit", "", "write a JUnit XML report to FILE")
	fs.StringVar(&f.results, "results", "", "keep each boot's console under a new DIR/<date>-<arch>-<cpus>cpu[-N]/, with summary.txt")
	fs.IntVar(&f.parallel, "parallel", runtime.NumCPU(), "boots run at once in a multi-boot run")
	fs.StringVar(&f.shard, "shard", "", "run only shard i of n of the boots (i/n, 1 <= i <= n), to spread a matrix over machines")
	fs.BoolVar(&f.list, "list", false, "print the boots, their CPUs, timeouts, kernel command lines and planned tests, without running them")
	fs.StringVar(&f.console, "console", "", "judge an already running board's console instead of starting QEMU: tcp:HOST:PORT or /dev/ttyUSB0[,BAUD]; everything before the kernel's boot line is ignored")
	fs.IntVar(&f.gdb, "gdb", 0, "QEMU waits for gdb on this TCP port (-gdb tcp::PORT -S); the command to attach is printed, and the timeout is 24h")
	fs.BoolVar(&f.verbose, "v", false, "echo the console to stderr as it arrives")
	return fs
}

// parseFlags reads args; help says -help was asked for (its text is on stdout).
func parseFlags(args []string, stdout, stderr io.Writer) (f *flags, help bool, err error) {
	f = &flags{set: map[string]bool{}}
	fs := newFlagSet(f)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // the full text on -help, a pointer to it after a bad flag
	if err := fs.Parse(args); err == flag.ErrHelp {
		fs.SetOutput(stdout)
		printHelp(stdout, fs)
		return nil, true, nil
	} else if err != nil {
		fmt.Fprintln(stderr, "runner: -help prints the flag reference")
		return nil, false, errReported
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if fs.NArg() > 0 {
		return nil, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return f, false, nil
}

func machineList() string {
	var out []string
	for _, a := range arches {
		out = append(out, a.Name+": "+strings.Join(a.Machines, ", "))
	}
	return strings.Join(out, "; ")
}

func modeList(flag string) string {
	var out []string
	for _, a := range arches {
		if len(a.MMUs) > 1 && a.ModeFlag == flag {
			out = append(out, a.Name+": "+strings.Join(a.MMUs, ", "))
		}
	}
	return strings.Join(out, "; ") + " (the boot words below say what each selects)"
}

func cpuLimits() string {
	var out []string
	for _, a := range arches {
		out = append(out, fmt.Sprintf("%s %d", a.Name, a.MaxCPUs))
	}
	return strings.Join(out, ", ")
}

func qemuList() string {
	var out []string
	for _, a := range arches {
		out = append(out, a.QEMU)
	}
	return strings.Join(out, ", ")
}

// printHelp is the flag reference: usage, every flag, the injections and boot words of the
// catalogue, and the exit status.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: runner [flags]

Boots the lazymm kernel under QEMU (or reads a running board's console), checks its console protocol
(docs/PROTOCOL.md) against the tests the runner planned from the command line it sent, and reports:
a table (or TAP), every unexpected failure, and the outputs asked for.

Flags:
`)
	fs.PrintDefaults()
	fmt.Fprint(w, "\nInjections (-inject NAME: its test must fail, reported by its detector; CPUs: the fewest it needs):\n")
	for _, in := range catalog.Injections {
		fmt.Fprintf(w, "  %-24s %s\n", in.Name, injectionHelp(in))
	}
	fmt.Fprint(w, "\nBoot words (-append; the runner's own words come first, and -append may not repeat one):\n")
	for _, b := range catalog.BootWords {
		word := b.Key
		if b.Value != nil {
			word += "=..."
		}
		fmt.Fprintf(w, "  %-24s %s\n", word, b.Doc)
	}
	fmt.Fprintf(w, "  (at most %d bytes in all)\n", catalog.MaxCmdline)
	fmt.Fprint(w, exitHelp)
}

func injectionHelp(in catalog.Injection) string {
	kind := "bug"
	if in.Harness {
		kind = "harness control"
	}
	s := fmt.Sprintf("%s, %d CPU(s), %s", kind, in.CPUs, strings.Join(in.Arches, "/"))
	if modes := namedModes(in.MMUs); len(modes) > 0 {
		s += " (" + strings.Join(modes, ", ") + ")"
	}
	switch {
	case in.Catch != "":
		s += ", caught by " + in.Catch
	default:
		s += ", caught by any failure (a crash, the timeout)"
	}
	modes := make([]string, 0, len(in.CatchOn))
	for mode := range in.CatchOn {
		modes = append(modes, mode)
	}
	sort.Strings(modes)
	for _, mode := range modes {
		s += fmt.Sprintf(" (%s on %s)", in.CatchOn[mode], mode)
	}
	return s + ": " + in.What
}

const exitHelp = `
Tests and verdicts:
  Every boot's tests are planned from the command line the runner sends (kernel/catalog Plan). A
  planned test missing from the console, a test that was not planned or ran twice, an unknown
  expect= or outcome=, a summary line that contradicts the tests seen, a non-finite metric, or a
  boot line whose cmdline_len/cmdline_crc32 differ from the line sent is a protocol failure.
  A test is as expected when its outcome is the planned one and, for an injection, its detector
  reported it (caught by another check only is "caught by luck": unexpected).
  A skip is never a pass: skips are counted apart; a skipped injection is unexpected, and a boot
  whose every test skipped verified nothing and is not as expected (check all-skipped). The known
  legitimate skip is the PCID half of munmap-shootdown under TCG (QEMU models no PCIDs).

Exit status:
  0    every test of every boot as expected (skips counted apart)
  1    a test not as expected (a failed assertion, a crash, an injected bug not caught by its detector)
  2    bad flags or command line (checked before any boot), a missing kernel image or QEMU, or a boot
       that gave no verdict: it did not boot, hung until its timeout, or its console was garbled or
       cut off without a crash dump
  130  interrupted by SIGINT, 143 by SIGTERM: every QEMU is killed, the boots that ran are reported,
       and the ones cut short carry the check "interrupted"
  An output (-json, -junit, -report, -trace, -results) that cannot be written is named on stderr;
  the others are still written, and the exit status stays the verdict's.
`
