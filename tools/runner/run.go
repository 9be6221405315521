package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"lazymm/kernel/protocol"
)

// Result is what one boot produced.
type Result struct {
	Boot        *Boot
	Run         *protocol.Run
	BootMS      int64 // QEMU start -> first protocol line; -1 if none
	WallMS      int64
	ExitStatus  int // QEMU's; -1 when killed
	Stderr      string
	Boots       int               // how many boots were merged into this result (merge)
	BootTCG     []string          // each boot's TCG mode, in boot order
	TestTCG     map[string]string // the TCG mode of the boot each test ran in
	Interrupted bool              // a signal stopped the boot
	StartErr    error             // the boot could not start (QEMU would not run, the console would not open)
}

func newResult(b *Boot) *Result {
	return &Result{Boot: b, Run: protocol.NewRun(), BootMS: -1}
}

// merge joins the results of several boots (the suite and each injection) into one: the tests in
// boot order, the crash dumps, the boot time of the first, and the exit status of the first boot that
// did not come out as expected (else the first's). The caller sets the wall time: the boots overlap.
func merge(rs []*Result) *Result {
	if len(rs) == 1 {
		rs[0].Boots = 1
		noteTCG(rs[0], rs[0])
		return rs[0]
	}
	m := &Result{Boot: rs[0].Boot, Run: protocol.NewRun(), BootMS: rs[0].BootMS, ExitStatus: rs[0].ExitStatus, Boots: len(rs)}
	m.Run.Boot = rs[0].Run.Boot
	picked := false
	for _, r := range rs {
		noteTCG(m, r)
		m.Run.Tests = append(m.Run.Tests, r.Run.Tests...)
		m.Run.Crashes = append(m.Run.Crashes, r.Run.Crashes...)
		m.Interrupted = m.Interrupted || r.Interrupted
		if !picked && !r.Run.Pass() {
			m.ExitStatus, m.Boot, picked = r.ExitStatus, r.Boot, true
		}
	}
	return m
}

// noteTCG records in m the TCG mode of r's boot and of each of its tests.
func noteTCG(m, r *Result) {
	if r.Boot == nil || r.Boot.TCG == "" {
		return
	}
	if m.TestTCG == nil {
		m.TestTCG = map[string]string{}
	}
	m.BootTCG = append(m.BootTCG, r.Boot.TCG)
	for _, t := range r.Run.Tests {
		m.TestTCG[t.Name] = r.Boot.TCG
	}
}

// qemuArgs is the boot's QEMU command line: the arch's machine, the console on stdio, the image (or
// the ISO) and the command line.
func qemuArgs(b *Boot) []string {
	a := b.Arch
	args := []string{"-machine", machineArg(b), "-m", fmt.Sprint(b.MemMB), "-smp", a.SMP(b.CPUs),
		"-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none", "-serial", "stdio"}
	args = append(args, machineDevices(b)...)
	if b.GDB != 0 {
		args = append(args, "-gdb", fmt.Sprintf("tcp:127.0.0.1:%d", b.GDB), "-S")
	}
	if b.CDROM != "" {
		return append(append(args, "-cdrom", b.CDROM), accelArgs(b)...)
	}
	args = append(args, kernelFirmware(b)...)
	args = append(append(args, "-kernel", b.Kernel), accelArgs(b)...)
	if b.Cmdline != "" {
		args = append(args, "-append", b.Cmdline)
	}
	return args
}

func accelArgs(b *Boot) []string {
	if b.KVM {
		return []string{"-accel", "kvm", "-cpu", "host"}
	}
	accel := "tcg"
	if b.TCG != "" {
		accel += ",thread=" + b.TCG
	}
	return []string{"-accel", accel, "-cpu", b.Arch.CPUModel}
}

// bootQEMU launches QEMU in its own process group, feeds its console to the parser and kills the
// group at the timeout or when ctx ends (a signal to the runner). It never hangs: the console reader
// ends when QEMU dies.
func bootQEMU(ctx context.Context, b *Boot) (*Result, error) {
	cmd := exec.Command(b.QEMU, qemuArgs(b)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", b.QEMU, err)
	}
	res := newResult(b)
	stop := res.consume(ctx, out, start, false, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	waitErr := cmd.Wait()
	res.WallMS = time.Since(start).Milliseconds()
	res.Stderr = stderr.String()
	res.ExitStatus = cmd.ProcessState.ExitCode()
	if stop == "" && waitErr != nil && res.ExitStatus < 0 {
		res.Run.AddFailure(protocol.Failure{Check: "qemu", CPU: -1, Detail: "QEMU died: " + waitErr.Error()})
	}
	res.judge()
	return res, nil
}

// consume feeds the console to the run until it ends (or, attached, until the summary line), the
// boot's timeout, or ctx's end; kill stops the machine. It returns what stopped it early: "timeout",
// "interrupted" or "" (the console ended).
func (res *Result) consume(ctx context.Context, r io.Reader, start time.Time, attached bool, kill func()) string {
	b := res.Boot
	lines := make(chan string, 256)
	go readLines(r, lines)
	timer := time.NewTimer(b.Timeout)
	defer timer.Stop()
	booted := !attached // attached: what came before the boot line is another run's
	for {
		select {
		case s, ok := <-lines:
			if !ok {
				return ""
			}
			booted = booted || strings.HasPrefix(s, protocol.Tag+"boot ")
			if booted {
				res.feed(s, start)
			}
			if attached && res.Run.Summary != nil {
				return "" // the kernel is done; the board may go on printing (or reset)
			}
		case <-timer.C:
			res.stopped(kill, lines, timeoutFailure(res))
			return "timeout"
		case <-ctx.Done():
			res.Interrupted = true
			res.stopped(kill, lines, protocol.Failure{Check: "interrupted", CPU: -1,
				Detail: fmt.Sprintf("the runner was stopped (%v) %s: the machine was killed", context.Cause(ctx), res.where())})
			return "interrupted"
		}
	}
}

// stopped kills the machine, reads what it wrote before it died, and charges f to the running test;
// the console is then incomplete, whatever summary it printed.
func (res *Result) stopped(kill func(), lines <-chan string, f protocol.Failure) {
	res.Run.AddFailure(f)
	kill()
	for range lines {
	}
	res.Run.Summary = nil
}

// where says what the kernel was doing: the test that began and did not end, or between which tests.
func (res *Result) where() string {
	r := res.Run
	if t := r.Running(); t != nil {
		return "while " + t.Name + " was running"
	}
	for i := len(r.Tests) - 1; i >= 0; i-- {
		if !r.IsOutside(r.Tests[i]) {
			return "after " + r.Tests[i].Name + " ended, before the next test began"
		}
	}
	if r.Boot != nil {
		return "after the boot line, before the first test"
	}
	return "before the boot line"
}

// timeoutFailure names what hung, and how loaded the host was (a busy host slows a healthy kernel).
func timeoutFailure(res *Result) protocol.Failure {
	b := res.Boot
	what := fmt.Sprintf("no end after %v (%d planned tests at %d CPUs): QEMU killed", b.Timeout, len(b.Expected), b.CPUs)
	if b.Console != "" {
		what = fmt.Sprintf("no summary on %s after %v", b.Console, b.Timeout)
	}
	return protocol.Failure{Check: "timeout", CPU: -1, Detail: fmt.Sprintf("%s %s; host load average %s (%d cores)",
		what, res.where(), loadAverage(), runtime.NumCPU())}
}

// loadAverage is the host's 1, 5 and 15 minute load averages, or "unknown".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// feed takes one console line of a boot that started at start: echoed (-v), kept (-results), parsed,
// and the first protocol line's time noted as the boot time.
func (res *Result) feed(s string, start time.Time) {
	b := res.Boot
	if b.Verbose != nil {
		fmt.Fprintln(b.Verbose, s)
	}
	if b.Log != nil {
		fmt.Fprintln(b.Log, s)
	}
	res.Run.Feed(s)
	if res.BootMS < 0 && res.Run.ProtocolSeen() {
		res.BootMS = time.Since(start).Milliseconds()
	}
}

// readLines splits the console into lines; an endless line is cut at MaxLine+1 bytes (so it reads as
// garbled, not as memory exhaustion).
func readLines(r io.Reader, out chan<- string) {
	defer close(out)
	br := bufio.NewReaderSize(r, 64<<10)
	var cur []byte
	for {
		frag, err := br.ReadSlice('\n')
		cur = append(cur, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(cur) > protocol.MaxLine {
				out <- string(cur[:protocol.MaxLine+1])
				cur = cur[:0]
				for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of the line
					_, err = br.ReadSlice('\n')
				}
			}
			if err == nil || errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
		}
		if len(cur) > 0 {
			out <- strings.TrimRight(string(cur), "\r\n")
			cur = cur[:0]
		}
		if err != nil {
			return
		}
	}
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
