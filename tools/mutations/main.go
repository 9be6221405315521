// Command mutations prints the mutation grid: every injected bug of kernel/catalog (a mutation of the
// kernel) against amd64 and each ppc64 MMU mode, each cell the detector that killed it and that
// detector's class (catalog.ClassOf), survived, n/a where the bug does not apply, or equivalent with
// the catalogue's reason; then the totals. docs/MUTATIONS.md is its output.
//
//	go run ./tools/mutations -cpus 4 -o docs/MUTATIONS.md    # runs the runner per arch and mode, one at a time
//	go run ./tools/mutations a.json b.json ...               # renders runner -json reports already made
//
// Each run is `runner -arch A [-mmu M] -cpus N -inject all -json FILE`; the runner raises the CPUs of
// a bug that needs more. A runner that exits 1 (a bug not caught as it must be) or 2 (a boot without
// a verdict) still wrote its report: the grid shows what it says.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"lazymm/kernel/catalog"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type options struct {
	cpus, parallel int
	runner, keep   string
	out            string
	timeoutScale   float64
	files          []string
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("mutations", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.cpus, "cpus", 4, "CPUs of every run (the runner raises them for a bug that needs more)")
	fs.IntVar(&o.parallel, "parallel", 2, "the runner's -parallel: boots at once within one run")
	fs.StringVar(&o.runner, "runner", "build/amd64/runner", "the runner binary (make runner)")
	fs.StringVar(&o.keep, "keep", "", "keep each run's JSON report in DIR (default: a temporary directory)")
	fs.StringVar(&o.out, "o", "", "write the document to FILE (docs/MUTATIONS.md) instead of stdout")
	fs.Float64Var(&o.timeoutScale, "timeout-scale", 1, "the runner's -timeout-scale (a slow or busy host)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: go run ./tools/mutations [flags] [REPORT.json ...]\n\nWith no report, runs the runner with -inject all for amd64 and each ppc64 MMU mode of kernel/catalog, one at a time;\nwith reports (runner -json), renders them. Flags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.files = fs.Args()
	if o.cpus < 1 || o.parallel < 1 {
		return nil, fmt.Errorf("-cpus and -parallel want at least 1")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		fmt.Fprintf(stderr, "mutations: %v\n", err)
		return 2
	}
	g := grid{Cols: columns(), Command: "go run ./tools/mutations " + strings.Join(args, " "), Commit: commit(),
		Produced: time.Now().UTC().Format("2006-01-02")}
	g.Command = strings.TrimSpace(g.Command)
	files := o.files
	if len(files) == 0 {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if files, g.Runs, err = runAll(ctx, o, g.Cols, stderr); err != nil {
			fmt.Fprintf(stderr, "mutations: %v\n", err)
			return 2
		}
	}
	for _, f := range files {
		r, err := readReport(f)
		if err == nil {
			err = place(g.Cols, r)
		}
		if err != nil {
			fmt.Fprintf(stderr, "mutations: %s: %v\n", f, err)
			return 2
		}
	}
	w := stdout
	var file *os.File
	if o.out != "" {
		if file, err = os.Create(o.out); err != nil {
			fmt.Fprintf(stderr, "mutations: %v\n", err)
			return 2
		}
		w = file
	}
	writeDoc(w, g)
	if file != nil {
		if err := file.Close(); err != nil {
			fmt.Fprintf(stderr, "mutations: %v\n", err)
			return 2
		}
		fmt.Fprintf(stderr, "mutations: wrote %s\n", o.out)
	}
	return 0
}

// runAll runs the runner for each column, one at a time, and returns the reports it wrote and the
// command lines.
func runAll(ctx context.Context, o *options, cols []column, stderr io.Writer) (files, cmds []string, err error) {
	dir := o.keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "mutations-"); err != nil {
			return nil, nil, err
		}
	} else if err = os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	for _, c := range cols {
		file := filepath.Join(dir, strings.ReplaceAll(c.Name(), "/", "-")+".json")
		args := []string{"-arch", c.Arch}
		if a, _ := catalog.ArchByName(c.Arch); c.MMU != "" {
			args = append(args, "-"+a.ModeFlag, c.MMU) // -mmu, or -tlb for x86's rule sets
		}
		args = append(args, "-cpus", fmt.Sprint(o.cpus), "-inject", "all", "-parallel", fmt.Sprint(o.parallel))
		if o.timeoutScale != 1 {
			args = append(args, "-timeout-scale", fmt.Sprint(o.timeoutScale))
		}
		args = append(args, "-json", file)
		cmd := exec.CommandContext(ctx, o.runner, args...)
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) } // the runner kills its QEMUs
		cmd.Stdout, cmd.Stderr = stderr, stderr
		line := o.runner + " " + strings.Join(args[:len(args)-2], " ") + " -json " + filepath.Base(file)
		fmt.Fprintf(stderr, "mutations: %s\n", line)
		os.Remove(file)
		start := time.Now()
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case ctx.Err() != nil:
			return nil, nil, fmt.Errorf("interrupted during %s", line)
		case errors.As(err, &exit) && (exit.ExitCode() == 1 || exit.ExitCode() == 2):
			// 1: some bug not caught as it must be; 2: a boot without a verdict: the report says which
		case err != nil:
			return nil, nil, fmt.Errorf("%s: %v", line, err)
		}
		if _, err := os.Stat(file); err != nil {
			return nil, nil, fmt.Errorf("%s wrote no report (%v)", line, err)
		}
		fmt.Fprintf(stderr, "mutations: %s done in %.0f s\n", c.Name(), time.Since(start).Seconds())
		files, cmds = append(files, file), append(cmds, line)
	}
	return files, cmds, nil
}

func readReport(path string) (*report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// commit is the repository's short HEAD, "" outside one.
func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// writeDoc writes docs/MUTATIONS.md: what the grid is, the grid, how to read it.
func writeDoc(w io.Writer, g grid) {
	fmt.Fprint(w, `# Mutations: the injected bugs on every arch and MMU mode

<!-- Generated by tools/mutations: edit that command, not this file. -->

Each injected bug of kernel/catalog (runner `+"`-inject NAME`"+`, kernel word `+"`inject=`"+`) is a mutation
of the kernel: one step of a lazy-mm scheme, of the TLB shootdown or of the memory manager left out or
done wrong. A mutation is **killed** when its test fails, reported by the detector the catalogue
names for it on that arch and MMU mode (`+"`Injection.Detector`"+`). The detector's class
(`+"`catalog.ClassOf`"+`) says what saw the bug:

- **machine**: the hardware's own state: a loaded root (CR3, PIDR's process-table entry) that is no
  live address space's (`+"`cr3-audit`"+`), a stale read through the MMU (`+"`stale-tlb`"+`);
- **memory**: freed memory that was used: a write into a quarantined frame (`+"`poison`"+`), a page walk
  through a freed, poisoned table (`+"`poison-walk`"+`), a freed mm's struct dereferenced (`+"`freed-mm`"+`);
- **assertion**: the kernel's own bookkeeping (`+"`leak`, `refcount`, `membarrier`, `lazy-freed-mm`, `ipi-count`"+`);
- **harness**: a crash or a hang.

A cell is the detector that killed the mutation and its class; **luck** when another check caught it
but not its own (the runner counts that as not as expected); **survived** when its test passed;
**no verdict** when the run could not say (skipped, garbled, interrupted); **not run** when it applies
but the report has no test of it; n/a where it does not apply (`+"`Injection.AppliesTo`"+`); equivalent
where the catalogue says its step is redundant in this model (`+"`-inject all`"+` leaves those out). The
totals row is per column: kills of the runs, and the share of those kills on machine or memory.

## The grid

`)
	render(w, g)
	fmt.Fprint(w, `
## Making it again

`+"`go run ./tools/mutations -cpus 4 -o docs/MUTATIONS.md`"+` builds nothing: run `+"`make kernel runner && make kernel\nARCH=ppc64`"+` first. It runs `+"`build/amd64/runner -inject all -json`"+` for amd64 and each ppc64 MMU
mode of `+"`catalog.Arches`"+`, one at a time (`+"`-parallel 2`"+` boots within a run; `+"`-keep DIR`"+` keeps the reports),
and renders them. `+"`go run ./tools/mutations REPORT.json ...`"+` renders reports already made (each
names its arch and MMU mode). The runner's table and `+"`-report`"+` page say the same of one run: each
injected row reads `+"`caught by cr3-audit (machine): ...`"+`, and the page's mutation section ends in
"N mutations, K killed (M% on machine or memory)".
`)
}
