// Command linuxref checks lazymm's x86 TLB model against a real Linux kernel: it boots a Linux image
// (Debian's linux-image package by default, or LINUX_KERNEL=path) under the same QEMU as lazymm, with
// a small initramfs (busybox, the guest program of tools/linuxref/guest and a tiny child program),
// where the guest plays lazymm's scenarios munmap-shootdown, exit-while-lazy, membarrier and
// fork-exit-storm as Linux processes and reads what the kernel counted (tracefs's tlb:tlb_flush,
// kprobes, /proc/interrupts); it runs lazymm's runner for the same scenarios, and prints one table
// per pattern, Linux beside lazymm, every difference named (notes.go, docs/MM.md).
//
//	make linuxref [LINUX_KERNEL=path] [RULES=6.1|mainline]
//	go run ./tools/linuxref [-kernel path] [-rules 6.1|mainline] [-patterns list] [-console log] [-lazymm-json report]
//
// Exit status: 0 when every difference is explained, 1 when one is not, 2 for bad input (a missing
// kernel image, bad flags, an unparsable console or report) or a boot that failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"lazymm/kernel/catalog"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type options struct {
	kernel, rules, runner, lazymmKernel, qemu, work string
	console, lazymmJSON                             string
	patterns                                        []string
	cpus                                            int
	timeout                                         time.Duration
	verbose, dump                                   bool
}

// patternNames are the guest's patterns: the noise floor, then lazymm's scenarios.
var patternNames = []string{"idle", catalog.MunmapShootdown, catalog.ExitWhileLazy, catalog.Membarrier, catalog.ForkExitStorm}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("linuxref", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.kernel, "kernel", os.Getenv("LINUX_KERNEL"), "Linux kernel image (default $LINUX_KERNEL; empty: Debian's current linux-image-*-amd64-unsigned)")
	fs.StringVar(&o.rules, "rules", "6.1", "lazymm's x86 TLB rules (runner -tlb): 6.1 or mainline")
	fs.StringVar(&o.runner, "runner", "build/amd64/runner", "lazymm's runner (make runner)")
	fs.StringVar(&o.lazymmKernel, "lazymm", "", "lazymm's kernel image (default: the runner's, build/amd64/lazymm.elf)")
	fs.StringVar(&o.qemu, "qemu", "qemu-system-x86_64", "QEMU binary")
	fs.StringVar(&o.work, "work", "build/linuxref", "work directory: packages, images, the console log, lazymm's report")
	fs.StringVar(&o.console, "console", "", "read this saved console log instead of booting Linux")
	fs.StringVar(&o.lazymmJSON, "lazymm-json", "", "read this runner -json report instead of running lazymm")
	pats := fs.String("patterns", strings.Join(patternNames, ","), "patterns to play, comma-separated")
	fs.IntVar(&o.cpus, "cpus", 4, "CPUs of both machines")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "kill the Linux guest after this long")
	fs.BoolVar(&o.verbose, "v", false, "echo the Linux console to stderr")
	fs.BoolVar(&o.dump, "dump-trace", false, "the guest prints every traced event of each window on the console (LRT lines)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.patterns = strings.Split(*pats, ",")
	for _, p := range o.patterns {
		if !slices.Contains(patternNames, p) {
			return nil, fmt.Errorf("unknown pattern %q (want %s)", p, strings.Join(patternNames, ", "))
		}
	}
	if o.rules != "6.1" && o.rules != "mainline" {
		return nil, fmt.Errorf("-rules %q: want 6.1 or mainline", o.rules)
	}
	if o.cpus < 2 || o.cpus > 16 {
		return nil, fmt.Errorf("-cpus %d: want 2..16", o.cpus)
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "linuxref: %v\n", err)
			return 2
		}
		return 0
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		fmt.Fprintf(stderr, "linuxref: %v\n", err)
		return 2
	}
	lr, boot, err := linuxSide(o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "linuxref: %v\n", err)
		return 2
	}
	lz, err := lazymmSide(o)
	if err != nil {
		fmt.Fprintf(stderr, "linuxref: %v\n", err)
		return 2
	}
	return report(stdout, o, lr, boot, lz)
}

// linuxSide boots Linux with the guest (or reads a saved console) and parses what it printed.
func linuxSide(o *options, stderr io.Writer) (*linuxRun, *bootResult, error) {
	if o.console != "" {
		b, err := os.ReadFile(o.console)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: -console: %v", errInput, err)
		}
		lr, err := parseConsole(string(b))
		return lr, nil, err
	}
	kernel, initrd, err := prepareLinux(o)
	if err != nil {
		return nil, nil, err
	}
	logPath := filepath.Join(o.work, "console.log")
	log, err := openLog(logPath)
	if err != nil {
		return nil, nil, err
	}
	defer log.Close()
	var echo io.Writer
	if o.verbose {
		echo = stderr
	}
	fmt.Fprintf(stderr, "linuxref: booting Linux (%s), console in %s\n", kernel.desc, logPath)
	res, err := bootLinux(context.Background(), o.qemu, qemuArgs(kernel.path, initrd, o.cpus), o.timeout, log, echo)
	if err != nil {
		return nil, nil, err
	}
	lr, err := parseConsole(res.console)
	if err != nil {
		return nil, nil, fmt.Errorf("%v (console: %s)", err, logPath)
	}
	lr.desc = kernel.desc
	return lr, res, nil
}

// image is a kernel image and what it is.
type image struct{ path, desc string }

// prepareLinux gets the kernel and busybox, builds the guest program and packs the initramfs.
func prepareLinux(o *options) (image, string, error) {
	if o.kernel != "" { // a missing image is named before anything is fetched or built
		if _, _, err := kernelImage(o.kernel, o.work); err != nil {
			return image{}, "", err
		}
	}
	if _, err := exec.LookPath(o.qemu); err != nil {
		return image{}, "", fmt.Errorf("%w: %s not found: make setup installs it (apt-get install qemu-system-x86)", errInput, o.qemu)
	}
	path, desc, err := kernelImage(o.kernel, o.work)
	if err != nil {
		return image{}, "", err
	}
	busybox, err := debianFile(o.work, "busybox-static", "./bin/busybox")
	if err != nil {
		return image{}, "", err
	}
	guest, err := buildGuest(o.work)
	if err != nil {
		return image{}, "", err
	}
	initrd, err := writeInitramfs(o.work, busybox, guest, o.patterns, o.dump)
	return image{path, desc}, initrd, err
}

// lazymmSide runs lazymm's runner for the scenarios (or reads a saved report).
func lazymmSide(o *options) (*lazymmRun, error) {
	if o.lazymmJSON != "" {
		run := &lazymmRun{command: "(report " + o.lazymmJSON + ")"}
		return run, readReport(o.lazymmJSON, run)
	}
	var scenarios []string
	for _, p := range o.patterns {
		if slices.Contains(catalog.Scenarios, p) {
			scenarios = append(scenarios, p)
		}
	}
	if len(scenarios) == 0 {
		return &lazymmRun{metrics: map[string]map[string]float64{}}, nil
	}
	return runLazymm(o.runner, o.lazymmKernel, o.rules, o.work, o.cpus, scenarios)
}
