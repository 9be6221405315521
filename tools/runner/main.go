// Command runner boots the lazymm kernel under QEMU, reads its serial console, checks the protocol
// (docs/PROTOCOL.md) against the tests it planned from the command line it sent (kernel/catalog), and
// reports: a table, every unexpected failure, optionally JSON, JUnit, TAP, HTML and a trace. `runner
// -help` is the flag reference, with the exit status: 0 when every test came out as expected, 1 when
// not, 2 for bad usage, a missing QEMU or kernel, or a boot without a verdict, 130/143 on a signal.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-multierror"

	"lazymm/kernel/protocol"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the runner, in steps: flags, the checked Config, the planned boots, their execution, the
// outputs, the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	f, help, err := parseFlags(args, stdout, stderr)
	if help {
		return 0
	}
	if err != nil {
		return usage(stderr, err)
	}
	c, err := buildConfig(f, stderr)
	if err != nil {
		return usage(stderr, err)
	}
	boots, err := planBoots(c, stderr)
	if err != nil {
		return usage(stderr, err)
	}
	if c.List {
		listPlan(stdout, boots)
		return 0
	}
	ctx, signalled, stop := interruptible()
	defer stop()
	ex, err := execute(ctx, c, boots, stderr)
	if err != nil {
		return usage(stderr, err)
	}
	printResults(stdout, c, ex)
	writeOutputs(c, ex, stderr)
	return exitStatus(ex, signalled(), stderr)
}

// errReported is a flag error the flag package has printed already.
var errReported = errors.New("reported")

// usage prints each error of a bad run (every broken rule, one line each) and gives status 2.
func usage(stderr io.Writer, err error) int {
	var m *multierror.Error
	switch {
	case errors.Is(err, errReported):
	case errors.As(err, &m):
		for _, e := range m.Errors {
			fmt.Fprintf(stderr, "runner: %v\n", e)
		}
	default:
		fmt.Fprintf(stderr, "runner: %v\n", err)
	}
	return 2
}

// execution is what a run did: its boots, their results in plan order (nil: not started, an
// interrupt came first), and those merged into one for the reports.
type execution struct {
	boots   []*Boot
	results []*Result
	done    []*Result
	merged  *Result
	dir     string // -results: this run's directory
}

// execute runs the boots (or attaches to the console).
func execute(ctx context.Context, c *Config, boots []*Boot, stderr io.Writer) (*execution, error) {
	ex := &execution{boots: boots}
	if c.Results != "" {
		var err error
		if ex.dir, err = resultsDir(c.Results, c); err != nil {
			return nil, fmt.Errorf("-results: %v", err)
		}
	}
	if c.GDB != 0 {
		fmt.Fprintf(stderr, "runner: QEMU waits for gdb; attach with:\n  %s %s -ex 'target remote 127.0.0.1:%d'\n", c.Arch.GDB(), c.Kernel, c.GDB)
	}
	start := time.Now()
	ex.results = runBoots(ctx, boots, c.Parallel, ex.dir, stderr)
	for _, r := range ex.results {
		if r != nil {
			ex.done = append(ex.done, r)
		}
	}
	if len(ex.done) == 0 { // interrupted before the first boot started
		r := newResult(boots[0])
		r.Interrupted, r.ExitStatus = true, -1
		r.Run.AddFailure(protocol.Failure{Check: "interrupted", CPU: -1, Detail: fmt.Sprintf("the runner was stopped (%v) before any boot started", context.Cause(ctx))})
		ex.done = []*Result{r}
	}
	ex.merged = merge(ex.done)
	if len(ex.done) > 1 {
		ex.merged.WallMS = time.Since(start).Milliseconds() // the run's own time: its boots overlap
	}
	return ex, nil
}

// printResults prints the table (or TAP) on stdout.
func printResults(stdout io.Writer, c *Config, ex *execution) {
	if c.TAP {
		writeTAP(stdout, ex.merged)
		return
	}
	printTable(stdout, c, ex.merged, newSymbolizer(c.Kernel))
	if n := len(ex.boots) - len(ex.done); n > 0 && ex.merged.Interrupted {
		fmt.Fprintf(stdout, "interrupted: %d of %d boots did not start\n", n, len(ex.boots))
	}
}

// writeOutputs writes every output asked for, each whatever the others did: one that cannot be
// written is named on stderr, and the exit status stays the verdict's (-help says so).
func writeOutputs(c *Config, ex *execution, stderr io.Writer) {
	res := ex.merged
	outputs := []struct {
		flag, path, done string
		write            func() error
	}{
		{"-json", c.JSON, "", func() error { return writeJSON(c.JSON, makeReport(c, res)) }},
		{"-junit", c.JUnit, "", func() error { return writeJUnit(c.JUnit, c, res) }},
		{"-trace", c.TracePath, "runner: trace in %s (open it in ui.perfetto.dev or chrome://tracing)\n", func() error { return writeTrace(c.TracePath, res) }},
		{"-report", c.Report, "runner: report in %s\n", func() error { return writeHTMLReport(c.Report, c, res) }},
		{"-results", ex.dir, "runner: consoles and summary in %s\n", func() error { return writeSummary(ex.dir, ex.boots, ex.results) }},
	}
	for _, o := range outputs {
		if o.path == "" {
			continue
		}
		if err := o.write(); err != nil {
			fmt.Fprintf(stderr, "runner: could not write %s %s: %v (the other outputs are written; the exit status is the verdict's)\n", o.flag, o.path, err)
			continue
		}
		if o.done != "" {
			shown := o.path
			if o.flag == "-report" {
				shown = filepath.Join(o.path, "index.html")
			}
			fmt.Fprintf(stderr, o.done, shown)
		}
	}
}

// exitStatus is the run's verdict: 130 or 143 for a signal, 2 for a boot that could not start or
// gave no verdict, 1 for a test not as expected, else 0.
func exitStatus(ex *execution, sig os.Signal, stderr io.Writer) int {
	switch sig {
	case syscall.SIGINT:
		return 130
	case syscall.SIGTERM:
		return 143
	}
	status := 0
	for _, r := range ex.done {
		if r.StartErr != nil {
			fmt.Fprintf(stderr, "runner: %s: %v\n", r.Boot.Label, r.StartErr)
			status = 2
		}
		if noVerdict(r) {
			status = 2
		}
	}
	if status == 0 && !ex.merged.Run.Pass() {
		status = 1
	}
	return status
}
