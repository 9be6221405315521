// Command runner boots the lazymm kernel under QEMU, reads its serial console, checks the protocol
// (docs/PROTOCOL.md) and reports: a table, every unexpected failure, optionally JSON. Exit status 0
// when every test came out as expected, 1 when not, 2 for bad usage or a missing QEMU or kernel.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// qemuFor is each arch's QEMU, and qemuPkg the Debian package that has it.
var (
	qemuFor = map[string]string{"amd64": "qemu-system-x86_64", "ppc64": "qemu-system-ppc64"}
	qemuPkg = map[string]string{"amd64": "qemu-system-x86", "ppc64": "qemu-system-ppc"}
)

// injections the kernel knows: each makes one kind of failure the harness must see.
var injections = append(append([]string{}, harnessInjections...), bugInjections...)

// harnessInjections prove the harness sees crashes, hangs and a missing CPU; -inject all leaves them
// out (two of them need the timeout), make test runs them.
var harnessInjections = []string{"panic", "fault", "hang", "no-preempt-signal", "ap-missing"}

// bugInjections are bugs a named detector must catch: -inject all and -matrix run each in its boot.
var bugInjections = []string{"no-shootdown", "write-after-free",
	"skip-flush-ipi", "skip-lazy-catchup", "skip-exit-flush", "leak-pagetable", "free-linked-table",
	"refcount-no-grab", "shootdown-no-ipi", "mmput-unlazy-skip", "loaded-mm-stale-mask", "hazard-no-scan",
	"nmi-no-check", "temporary-mm-no-restore", "exit-flush-no-unlazy", "membarrier-no-ipi", "mmput-twice",
	"skip-tlbie", "skip-hpte-remove"}

// archBugs are the bugs -inject all and -matrix run on an arch and MMU mode: each but the other
// MMU's own (amd64 has neither skip-tlbie, the broadcast flush, nor skip-hpte-remove, the hash MMU's;
// ppc64's radix has no skip-hpte-remove, its hash no skip-tlbie).
func archBugs(arch, mmu string) []string {
	not := []string{"skip-tlbie", "skip-hpte-remove"}
	switch {
	case arch == "ppc64" && mmu == "hash":
		not = []string{"skip-tlbie"}
	case arch == "ppc64":
		not = []string{"skip-hpte-remove"}
	}
	return slices.DeleteFunc(slices.Clone(bugInjections), func(b string) bool { return slices.Contains(not, b) })
}

// scenarios and schemes the kernel runs by name (-scenario, -scheme: lists, or all).
var (
	scenarios = []string{"switch-storm", "exit-while-lazy", "exit-nmi", "kthread-use-mm", "temporary-mm",
		"fork-exit-storm", "membarrier", "torture", "munmap-shootdown"}
	schemes = []string{"refcount", "shootdown", "mmput-unlazy", "loaded-mm", "hazard", "exit-flush-unlazy", "no-active-mm"}
)

// list checks a comma-separated list (or "all") against the known names.
func list(flagName, v string, known []string) (string, error) {
	if v == "" || v == "all" {
		return v, nil
	}
	for _, w := range strings.Split(v, ",") {
		if !slices.Contains(known, w) {
			return "", fmt.Errorf("unknown -%s %q (want a comma-separated list of %s, or all)", flagName, w, strings.Join(known, ", "))
		}
	}
	return v, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runner", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	fs.StringVar(&c.Arch, "arch", "amd64", "architecture: amd64 or ppc64")
	fs.StringVar(&c.Machine, "machine", "", "QEMU machine (default: q35 for amd64, pseries for ppc64)")
	fs.StringVar(&c.MMU, "mmu", "", "ppc64's MMU mode: radix (flushes by IPI and tlbiel, the default) or radix-tlbie (by broadcast tlbie); or hash (the hashed page table, flushes by H_REMOVE)")
	fs.IntVar(&c.CPUs, "cpus", 1, "CPUs (1..255)")
	fs.IntVar(&c.MemMB, "mem", 512, "RAM in MiB")
	fs.StringVar(&c.Kernel, "kernel", "", "kernel image (default build/<arch>/lazymm.elf)")
	fs.DurationVar(&c.Timeout, "timeout", 60*time.Second, "kill QEMU after this long (ppc64's default is 3m: its whole suite in one boot takes 20-60 s under TCG, with the host's load)")
	injectList := fs.String("inject", "", "inject failures, each in its own boot (the run then expects them): a comma-separated list of "+strings.Join(injections, ", ")+"; or all (every bug a detector must catch)")
	matrix := fs.Bool("matrix", false, "the whole matrix: the suite, every scheme × scenario, and every injected bug of -inject all")
	fs.StringVar(&c.Scheme, "scheme", "", "run only the lazy-mm matrix, for these schemes (list, or all): "+strings.Join(schemes, ", "))
	fs.StringVar(&c.Scenario, "scenario", "", "run only these scenarios' tests (list, or all): "+strings.Join(scenarios, ", "))
	fs.Uint64Var(&c.Seed, "seed", 0, "the torture scenario's seed (0: the kernel's default, 1)")
	fs.DurationVar(&c.Duration, "duration", 0, "run the torture scenario this long, instead of a number of steps")
	fs.BoolVar(&c.NoPCID, "nopcid", false, "run without PCIDs even where the CPU has them (kernel word nopcid)")
	fs.StringVar(&c.CDROM, "cdrom", "", "boot this GRUB ISO (make iso) instead of -kernel; -kernel still symbolizes")
	fs.StringVar(&c.Append, "append", "", "extra kernel command-line words")
	fs.BoolVar(&c.KVM, "kvm", false, "use KVM (needs a usable /dev/kvm)")
	fs.StringVar(&c.QEMU, "qemu", "", "QEMU binary (default: qemu-system-<arch> from PATH)")
	jsonPath := fs.String("json", "", "write a JSON report to FILE")
	tracePath := fs.String("trace", "", "record the lazy-mm scenarios' per-CPU events and write them to FILE as a Chrome/Perfetto trace (JSON)")
	reportDir := fs.String("report", "", "write an HTML page with SVG charts of the results matrix and the cost table to DIR/index.html")
	tap := fs.Bool("tap", false, "print TAP version 13 on stdout instead of the table")
	junit := fs.String("junit", "", "write a JUnit XML report to FILE")
	results := fs.String("results", "", "keep each boot's console under DIR/<date>-<arch>-<cpus>cpu/, with a summary")
	parallel := fs.Int("parallel", runtime.NumCPU(), "boots run at once (a matrix run)")
	shard := fs.String("shard", "", "run only shard i of n of the boots (i/n), to spread a matrix over machines")
	listOnly := fs.Bool("list", false, "print the boots the run would make, and their kernel command lines, without running them")
	fs.StringVar(&c.Console, "console", "", "judge an already running board's console instead of starting QEMU: tcp:HOST:PORT or /dev/ttyUSB0[,BAUD]")
	fs.IntVar(&c.GDB, "gdb", 0, "QEMU waits for gdb on this TCP port (-gdb tcp::PORT -S); the command to attach is printed, and -timeout is 24h")
	verbose := fs.Bool("v", false, "echo the console to stderr as it arrives")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "runner: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	if _, ok := qemuFor[c.Arch]; !ok {
		return usage("unknown -arch %q (want amd64 or ppc64)", c.Arch)
	}
	if c.Kernel == "" {
		c.Kernel = filepath.Join("build", c.Arch, "lazymm.elf")
	}
	timeoutSet := false
	fs.Visit(func(f *flag.Flag) { timeoutSet = timeoutSet || f.Name == "timeout" })
	if c.Arch == "ppc64" && !timeoutSet {
		c.Timeout = 3 * time.Minute
	}
	if c.Machine == "" {
		c.Machine = machines[c.Arch][0]
	}
	switch {
	case c.Arch == "ppc64" && c.Machine == "powernv":
		return usage("-machine powernv is not supported yet: the ppc64 kernel boots on pseries (a guest of the hypervisor: its console, RTAS and hcalls; docs/PPC64.md)")
	case !slices.Contains(machines[c.Arch], c.Machine):
		return usage("-machine %q: %s boots on %s", c.Machine, c.Arch, strings.Join(machines[c.Arch], ", "))
	}
	switch {
	case c.MMU == "" || c.Arch == "ppc64" && (c.MMU == "radix" || c.MMU == "radix-tlbie" || c.MMU == "hash"):
	case c.Arch == "ppc64":
		return usage("-mmu %q: want radix, radix-tlbie or hash", c.MMU)
	default:
		return usage("-mmu is ppc64's (radix, radix-tlbie, hash); %s has one MMU mode", c.Arch)
	}
	if c.CPUs < 1 || c.CPUs > 255 {
		return usage("-cpus %d out of range 1..255", c.CPUs)
	}
	if c.MemMB < 64 || c.MemMB > 3072 {
		return usage("-mem %d out of range 64..3072 MiB", c.MemMB)
	}
	if c.Arch == "ppc64" && c.MemMB%256 != 0 {
		return usage("-mem %d: pseries wants a multiple of 256 MiB", c.MemMB)
	}
	if c.Duration < 0 || c.Duration > 0 && c.Duration+30*time.Second > c.Timeout {
		return usage("-duration %v: must be positive and leave 30s of -timeout %v for the rest", c.Duration, c.Timeout)
	}
	if c.Timeout <= 0 {
		return usage("-timeout must be positive")
	}
	var err error
	if c.Scenario, err = list("scenario", c.Scenario, scenarios); err != nil {
		return usage("%v", err)
	}
	if c.Scheme, err = list("scheme", c.Scheme, schemes); err != nil {
		return usage("%v", err)
	}
	var injects []string
	switch *injectList {
	case "":
	case "all":
		injects = archBugs(c.Arch, c.MMU)
	default:
		if _, err := list("inject", *injectList, injections); err != nil {
			return usage("%v", err)
		}
		injects = strings.Split(*injectList, ",")
	}
	if *matrix {
		if len(injects) > 0 || c.Scheme != "" || c.Scenario != "" {
			return usage("-matrix runs everything: it takes no -inject, -scheme or -scenario")
		}
		injects = archBugs(c.Arch, c.MMU)
	}
	if (c.Scenario != "" || c.Scheme != "") && len(injects) > 0 {
		return usage("-scheme/-scenario and -inject exclude each other: an injection runs the test that must catch it")
	}
	if fi, err := os.Stat(c.Kernel); (err != nil || fi.IsDir()) && c.Console == "" { // attached: the image only symbolizes
		return usage("kernel image %s: not found (build it with `make kernel ARCH=%s`)", c.Kernel, c.Arch)
	}
	if c.CDROM != "" {
		if c.Arch != "amd64" {
			return usage("-cdrom boots a GRUB ISO, an amd64 boot path: -arch %s boots -kernel", c.Arch)
		}
		if _, err := os.Stat(c.CDROM); err != nil {
			return usage("-cdrom %s: not found (build it with `make iso`)", c.CDROM)
		}
		if len(injects) > 0 || *matrix || c.Append != "" || c.Scenario != "" || c.Scheme != "" || c.NoPCID {
			return usage("-cdrom boots with the ISO's own command line: -inject, -scenario and -append do not apply")
		}
	}
	if c.Console != "" && (*injectList != "" || *matrix || c.GDB != 0 || c.CDROM != "" || c.Append != "" || c.Scheme != "" ||
		c.Scenario != "" || c.NoPCID || c.KVM || c.Seed != 0 || c.Duration != 0 || *tracePath != "") {
		return usage("-console reads a board booted by its own loader: its command line is the loader's, so -inject, -matrix, -scheme, -scenario, -append, -trace, -gdb, -cdrom, -kvm and the torture flags do not apply")
	}
	if c.QEMU == "" {
		c.QEMU = qemuFor[c.Arch]
	}
	if c.Console != "" {
		c.QEMU = "" // not needed
	} else if p, err := exec.LookPath(c.QEMU); err != nil {
		return usage("%s not found: install it (make setup ARCH=%s, or apt-get install %s)", c.QEMU, c.Arch, qemuPkg[c.Arch])
	} else {
		c.QEMU = p
	}
	if c.KVM {
		if !strings.HasPrefix(runtime.GOARCH, c.Arch) { // ppc64le hosts run big-endian ppc64 guests
			return usage("-kvm: a %s guest needs a %s host, this one is %s (leave -kvm out: TCG emulates it)", c.Arch, c.Arch, runtime.GOARCH)
		}
		if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err != nil {
			return usage("-kvm: /dev/kvm is not usable: %v", err)
		} else {
			f.Close()
		}
	}
	if *verbose {
		c.Verbose = stderr
	}
	if *tracePath != "" {
		c.Append = strings.TrimSpace(c.Append + " trace=1")
	}
	si, sn, err := parseShard(*shard)
	if err != nil {
		return usage("%v", err)
	}
	if *parallel < 1 {
		return usage("-parallel %d: want at least 1", *parallel)
	}
	boots := plan(c, injects, len(injects) == 0 || *matrix, si, sn)
	if *listOnly {
		listPlan(stdout, boots)
		return 0
	}
	if len(boots) == 0 {
		return usage("-shard %s: this shard has no boot", *shard)
	}
	if c.GDB != 0 {
		if len(boots) > 1 {
			return usage("-gdb debugs one boot: give no -inject list or -matrix")
		}
		boots[0].Timeout = 24 * time.Hour
		fmt.Fprintf(stderr, "runner: QEMU waits for gdb; attach with:\n  %s %s -ex 'target remote 127.0.0.1:%d'\n", gdbFor(c.Arch), c.Kernel, c.GDB)
	}
	var dir string
	if *results != "" {
		if dir, err = resultsDir(*results, c); err != nil {
			return usage("-results: %v", err)
		}
	}
	var out []*Result
	runStart := time.Now()
	if c.Console != "" {
		r, err := Attach(c)
		if err != nil {
			return usage("%v", err)
		}
		out = []*Result{r}
	} else if len(boots) == 1 && dir == "" {
		r, err := Boot(boots[0])
		if err != nil {
			return usage("%v", err)
		}
		out = []*Result{r}
	} else {
		out = runBoots(boots, *parallel, dir, stderr)
	}
	res := merge(out)
	if len(out) > 1 {
		res.WallMS = time.Since(runStart).Milliseconds() // the run's own time: its boots overlap
	}
	var fail bool
	if *tap {
		writeTAP(stdout, res)
		fail = !res.Run.Pass()
	} else {
		fail = printTable(stdout, c, res, newSymbolizer(c.Kernel)) != nil
	}
	if *jsonPath != "" {
		if err := writeJSON(*jsonPath, makeReport(c, res)); err != nil {
			return usage("writing -json report: %v", err)
		}
	}
	if *tracePath != "" {
		if err := writeTrace(*tracePath, res); err != nil {
			return usage("writing -trace: %v", err)
		}
		fmt.Fprintf(stderr, "runner: trace in %s (open it in ui.perfetto.dev or chrome://tracing)\n", *tracePath)
	}
	if *reportDir != "" {
		if err := writeHTMLReport(*reportDir, c, res); err != nil {
			return usage("writing -report: %v", err)
		}
		fmt.Fprintf(stderr, "runner: report in %s\n", filepath.Join(*reportDir, "index.html"))
	}
	if *junit != "" {
		if err := writeJUnit(*junit, c, res); err != nil {
			return usage("writing -junit report: %v", err)
		}
	}
	if dir != "" {
		if err := writeSummary(dir, boots, out); err != nil {
			fmt.Fprintf(stderr, "runner: writing the summary in %s: %v\n", dir, err)
			fail = true
		} else {
			fmt.Fprintf(stderr, "runner: consoles and summary in %s\n", dir)
		}
	}
	if noVerdict(res) {
		return 2
	}
	if fail || !res.Run.Pass() {
		return 1
	}
	return 0
}

// noVerdict says whether the kernel could not be judged: it did not boot, hung, or its console was
// garbled or cut off (an unexpected protocol, truncated or timeout failure, and no crash dump to say
// why). That is bad input to the runner, exit status 2, as bad flags are; tests that ran and failed,
// and crashes, are 1.
func noVerdict(res *Result) bool {
	if len(res.Run.Crashes) > 0 {
		return false // the kernel crashed: that is its verdict (a crash failure, 1)
	}
	for _, t := range res.Run.Tests {
		if t.AsExpected() {
			continue
		}
		for _, f := range t.Failures {
			switch f.Check {
			case "protocol", "truncated", "timeout":
				return true
			}
		}
	}
	return false
}

// gdbFor is the gdb that debugs an arch's kernel from this host: gdb-multiarch for a foreign one.
func gdbFor(arch string) string {
	if strings.HasPrefix(runtime.GOARCH, arch) {
		return "gdb"
	}
	return "gdb-multiarch"
}
