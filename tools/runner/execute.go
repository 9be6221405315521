package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"lazymm/kernel/protocol"
)

// A run's boots (the suite, with every scheme × scenario asked for, and one per injected bug) run
// -parallel at a time, each console kept under -results; their results come back in plan order.

// interruptible is a context that a SIGINT or SIGTERM cancels, the signal as its cause; signalled
// reports which one came (nil for none). stop ends the watch.
func interruptible() (ctx context.Context, signalled func() os.Signal, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	var mu sync.Mutex
	var got os.Signal
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			mu.Lock()
			got = s
			mu.Unlock()
			cancel(signalError{s})
		case <-done:
		}
	}()
	signalled = func() os.Signal {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	// the watch stays on until the outputs are written: a second signal must not kill the runner
	// before it has killed its QEMUs
	return ctx, signalled, func() { close(done); signal.Stop(ch); cancel(nil) }
}

type signalError struct{ s os.Signal }

func (e signalError) Error() string {
	if s, ok := e.s.(syscall.Signal); ok && s == syscall.SIGINT {
		return "SIGINT"
	}
	if s, ok := e.s.(syscall.Signal); ok && s == syscall.SIGTERM {
		return "SIGTERM"
	}
	return e.s.String()
}

// runBoots runs the boots, parallel at a time, keeping each console under dir (if set), and returns
// their results in plan order: nil for a boot an interrupt kept from starting. A boot that cannot
// start or whose log cannot be written fails alone. The boots that must run alone go first, each
// holding every slot.
func runBoots(ctx context.Context, boots []*Boot, parallel int, dir string, progress io.Writer) []*Result {
	results := make([]*Result, len(boots))
	slots := max(parallel, 1)
	sem := make(chan struct{}, slots)
	var wg sync.WaitGroup
	p := &progressLine{w: progress, total: len(boots), start: time.Now()}
	for _, i := range aloneFirst(boots) {
		b, n := boots[i], 1
		if b.Alone {
			n = slots
		}
		if !acquire(ctx, sem, n) {
			break // an interrupt: the boots not started are not run
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer release(sem, n)
			results[i] = runOne(ctx, b, dir)
			p.done(b, results[i])
		}()
	}
	wg.Wait()
	return results
}

// aloneFirst is the order boots start in: those that run alone, then the others, each in plan order.
func aloneFirst(boots []*Boot) []int {
	var first, rest []int
	for i, b := range boots {
		if b.Alone {
			first = append(first, i)
		} else {
			rest = append(rest, i)
		}
	}
	return append(first, rest...)
}

// acquire takes n slots of sem, false (and none held) if ctx ends first.
func acquire(ctx context.Context, sem chan struct{}, n int) bool {
	for k := 0; k < n; k++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			release(sem, k)
			return false
		}
	}
	if ctx.Err() != nil { // both were ready: the interrupt wins
		release(sem, n)
		return false
	}
	return true
}

func release(sem chan struct{}, n int) {
	for k := 0; k < n; k++ {
		<-sem
	}
}

// runOne boots b (or attaches to its console), its console kept under dir.
func runOne(ctx context.Context, b *Boot, dir string) *Result {
	var logErr error
	var lf *os.File
	if dir != "" {
		var err error
		if lf, err = os.Create(filepath.Join(dir, b.Label+".log")); err != nil {
			logErr = err
		} else {
			b.Log = &errWriter{w: lf, err: &logErr}
		}
	}
	start := bootQEMU
	if b.Console != "" {
		start = attach
	}
	r, err := start(ctx, b)
	if err != nil {
		r = newResult(b)
		r.ExitStatus = -1
		r.Run.AddFailure(protocol.Failure{Check: "qemu", CPU: -1, Detail: fmt.Sprintf("the boot %s did not start: %v", b.Label, err)})
		r.Run.Finish()
		r.StartErr = err
	}
	if lf != nil {
		if err := lf.Close(); err != nil && logErr == nil {
			logErr = err
		}
	}
	if logErr != nil {
		r.Run.AddFailure(protocol.Failure{Check: "results", CPU: -1, Detail: fmt.Sprintf("keeping the console of %s: %v", b.Label, logErr)})
	}
	return r
}

// progressLine reports boots done, those not as expected and the ETA (one line rewritten on a
// terminal, plain lines otherwise); a single boot reports nothing.
type progressLine struct {
	mu                      sync.Mutex
	w                       io.Writer
	total, finished, failed int
	start                   time.Time
}

func (p *progressLine) done(b *Boot, r *Result) {
	if p.w == nil || p.total < 2 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished++
	if !r.Run.Pass() {
		p.failed++
	}
	el := time.Since(p.start)
	eta := time.Duration(float64(el) / float64(p.finished) * float64(p.total-p.finished))
	line := fmt.Sprintf("runner: %d/%d boots done, %d not as expected, %s elapsed, ETA %s (last: %s)",
		p.finished, p.total, p.failed, el.Round(time.Second), eta.Round(time.Second), b.Label)
	if !isTerminal(p.w) {
		fmt.Fprintln(p.w, line)
		return
	}
	end := ""
	if p.finished == p.total {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r\033[K%s%s", line, end)
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

// resultsDir makes a new DIR/<date>-<arch>-<cpus>cpu[-N] for this run's logs: never one another run
// made, even in the same second.
func resultsDir(base string, c *Config) (string, error) {
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	stem := filepath.Join(base, fmt.Sprintf("%s-%s-%dcpu", time.Now().Format("20060102-150405"), c.Arch.Name, c.CPUs))
	for n := 1; ; n++ {
		d := stem
		if n > 1 {
			d = fmt.Sprintf("%s-%d", stem, n)
		}
		err := os.Mkdir(d, 0o755)
		if !errors.Is(err, os.ErrExist) {
			return d, err
		}
	}
}

// writeSummary writes the run's summary next to the logs, like kvm.sh's: one line per boot and per
// test that was not as expected; a boot an interrupt kept from starting says so.
func writeSummary(dir string, boots []*Boot, results []*Result) error {
	var b strings.Builder
	for i, r := range results {
		if r == nil {
			fmt.Fprintf(&b, "%-34s %-16s\n", boots[i].Label, "not run (interrupted)")
			continue
		}
		status := "as expected"
		if !r.Run.Pass() {
			status = "NOT as expected"
		}
		fmt.Fprintf(&b, "%-34s %-16s %d tests, wall %d ms, %s\n", boots[i].Label, status, len(r.Run.Tests), r.WallMS, boots[i].Arch.describeExit(r.ExitStatus))
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
