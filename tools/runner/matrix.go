package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"lazymm/kernel/protocol"
)

// A matrix run is several boots: the suite (with every scheme × scenario asked for) and one boot per
// injected bug. They run -parallel at a time, each console kept under -results, and their results are
// merged in plan order.

// label names a boot in logs and listings.
func label(c Config) string {
	if c.Inject != "" {
		return "inject-" + c.Inject
	}
	return "suite"
}

// plan returns the boots of a run: the suite unless only injections were asked for, then one per
// injection; with -shard i/n only every n-th from the i-th.
func plan(c Config, injects []string, suite bool, shard, shards int) []Config {
	var boots []Config
	if suite {
		boots = append(boots, c)
	}
	for _, in := range injects {
		b := c
		b.Inject = in
		boots = append(boots, b)
	}
	var mine []Config
	for i, b := range boots {
		if i%shards == shard-1 {
			mine = append(mine, b)
		}
	}
	return mine
}

// parseShard reads -shard i/n.
func parseShard(s string) (i, n int, err error) {
	if s == "" {
		return 1, 1, nil
	}
	if _, err := fmt.Sscanf(s, "%d/%d", &i, &n); err != nil || n < 1 || i < 1 || i > n {
		return 0, 0, fmt.Errorf("-shard %q: want i/n with 1 <= i <= n", s)
	}
	return i, n, nil
}

// listPlan prints the boots without running them.
func listPlan(w io.Writer, boots []Config) {
	for i, b := range boots {
		fmt.Fprintf(w, "boot %d: %-32s -cpus %d -timeout %v  kernel words: %s\n", i+1, label(b), b.CPUs, b.Timeout, cmdline(b))
		if b.Inject == "" && (b.Scheme != "" || b.Scenario != "" || b.Append == "") {
			fmt.Fprintf(w, "        schemes: %s\n        scenarios: %s\n", orAll(b.Scheme, schemes), orAll(b.Scenario, scenarios))
		}
	}
}

func orAll(v string, all []string) string {
	if v == "" || v == "all" {
		return strings.Join(all, ",")
	}
	return v
}

// runBoots runs the boots, parallel at a time, keeping each console under dir (if set), and returns
// their results in plan order. A boot that cannot start or whose log cannot be written fails alone.
func runBoots(boots []Config, parallel int, dir string, progress io.Writer) []*Result {
	results := make([]*Result, len(boots))
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done, failed := 0, 0
	start := time.Now()
	for i, b := range boots {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var logErr error
			var lf *os.File
			if dir != "" {
				var err error
				if lf, err = os.Create(filepath.Join(dir, label(b)+".log")); err != nil {
					logErr = err
				} else {
					b.Log = &errWriter{w: lf, err: &logErr}
				}
			}
			r, err := Boot(b)
			if err != nil {
				r = &Result{Run: protocol.NewRun(), BootMS: -1, ExitStatus: -1}
				r.Run.AddFailure(protocol.Failure{Check: "qemu", CPU: -1, Detail: fmt.Sprintf("the boot %s did not start: %v", label(b), err)})
				r.Run.Finish()
			}
			if lf != nil {
				if err := lf.Close(); err != nil && logErr == nil {
					logErr = err
				}
			}
			if logErr != nil {
				r.Run.AddFailure(protocol.Failure{Check: "results", CPU: -1, Detail: fmt.Sprintf("keeping the console of %s: %v", label(b), logErr)})
			}
			results[i] = r
			mu.Lock()
			done++
			if !r.Run.Pass() {
				failed++
			}
			if progress != nil && len(boots) > 1 {
				el := time.Since(start)
				eta := time.Duration(float64(el) / float64(done) * float64(len(boots)-done))
				line := fmt.Sprintf("runner: %d/%d boots done, %d not as expected, %s elapsed, ETA %s (last: %s)",
					done, len(boots), failed, el.Round(time.Second), eta.Round(time.Second), label(b))
				if isTerminal(progress) { // one line, rewritten in place
					end := ""
					if done == len(boots) {
						end = "\n"
					}
					fmt.Fprintf(progress, "\r\033[K%s%s", line, end)
				} else {
					fmt.Fprintln(progress, line)
				}
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results
}

// errWriter keeps the first write error and drops what follows (a full disk must not stop the run).
type errWriter struct {
	w   io.Writer
	err *error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if *e.err == nil {
		if _, err := e.w.Write(p); err != nil {
			*e.err = err
		}
	}
	return len(p), nil
}

// resultsDir makes DIR/<date>-<arch>-<cpus>cpu for this run's logs.
func resultsDir(base string, c Config) (string, error) {
	d := filepath.Join(base, fmt.Sprintf("%s-%s-%dcpu", time.Now().Format("20060102-150405"), c.Arch, c.CPUs))
	return d, os.MkdirAll(d, 0o755)
}

// writeSummary writes the run's summary next to the logs, like kvm.sh's: one line per boot and per
// test that was not as expected.
func writeSummary(dir string, boots []Config, results []*Result) error {
	var b strings.Builder
	for i, r := range results {
		status := "as expected"
		if !r.Run.Pass() {
			status = "NOT as expected"
		}
		fmt.Fprintf(&b, "%-34s %-16s %d tests, wall %d ms, %s\n", label(boots[i]), status, len(r.Run.Tests), r.WallMS, describeExit(boots[i].Arch, r.ExitStatus))
		for _, t := range r.Run.Tests {
			if !t.AsExpected() {
				first := ""
				if len(t.Failures) > 0 {
					first = t.Failures[0].Check + ": " + oneLine(t.Failures[0].Detail, 100)
				}
				fmt.Fprintf(&b, "    %s: expected %s, %s; %s\n", t.Name, t.Expect, t.Outcome, first)
			}
		}
	}
	return os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(b.String()), 0o644)
}

// isTerminal reports whether w is a character device (a terminal): progress then rewrites one line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
