package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"lazymm/kernel/protocol"
)

// Config is one boot of the kernel.
type Config struct {
	Arch     string
	Machine  string // QEMU machine: q35 (amd64), pseries (ppc64); "" for the arch's default
	CPUs     int
	MemMB    int
	Kernel   string
	CDROM    string // boot this GRUB ISO instead of -kernel (its grub.cfg holds the command line)
	Timeout  time.Duration
	Inject   string // one injection (Boot); main splits -inject lists into boots
	Scenario string
	Scheme   string
	NoPCID   bool
	MMU      string        // ppc64: radix (default), radix-tlbie (flushes by broadcast tlbie) or hash (the hashed page table)
	Seed     uint64        // torture seed (0: the kernel's default)
	Duration time.Duration // torture duration (0: a number of steps)
	Append   string
	KVM      bool
	QEMU     string
	Verbose  io.Writer // console echo, nil for none
	Log      io.Writer // the console, kept (a results directory's log), nil for none
	GDB      int       // QEMU waits for gdb on this TCP port (-s -S), 0 for none
	Console  string    // read this running board's console instead of starting QEMU (Attach)
}

// Result is what one boot produced.
type Result struct {
	Run        *protocol.Run
	BootMS     int64 // QEMU start -> first protocol line; -1 if none
	WallMS     int64
	ExitStatus int // QEMU's; -1 when killed
	Stderr     string
	Boots      int // how many boots were merged into this result (merge)
}

// merge joins the results of several boots (the suite and each injection) into one: the tests in
// boot order, the crash dumps, the boot time of the first, and the exit status of the first boot that
// did not come out as expected (else the first's). The caller sets the wall time: the boots overlap.
func merge(rs []*Result) *Result {
	if len(rs) == 1 {
		rs[0].Boots = 1
		return rs[0]
	}
	m := &Result{Run: protocol.NewRun(), BootMS: rs[0].BootMS, ExitStatus: rs[0].ExitStatus, Boots: len(rs)}
	m.Run.Boot = rs[0].Run.Boot
	picked := false
	for _, r := range rs {
		m.Run.Tests = append(m.Run.Tests, r.Run.Tests...)
		m.Run.Crashes = append(m.Run.Crashes, r.Run.Crashes...)
		if !picked && !r.Run.Pass() {
			m.ExitStatus, picked = r.ExitStatus, true
		}
	}
	return m
}

// cmdline is the kernel command line of a boot.
func cmdline(c Config) string {
	words := []string{injectWord(c.Inject), scenarioWord(c.Scenario), schemeWord(c.Scheme), c.Append}
	if c.NoPCID {
		words = append(words, "nopcid")
	}
	switch c.MMU {
	case "radix-tlbie":
		words = append(words, "tlbie")
	case "hash":
		words = append(words, "hash")
	}
	if c.Seed != 0 {
		words = append(words, fmt.Sprintf("seed=%d", c.Seed))
	}
	if c.Duration > 0 {
		words = append(words, "duration="+c.Duration.String())
	}
	return strings.Join(strings.Fields(strings.Join(words, " ")), " ")
}

// machines are the QEMU machines each arch boots on, its default first.
var machines = map[string][]string{"amd64": {"q35"}, "ppc64": {"pseries"}}

// machine is the boot's QEMU machine: c.Machine, or the arch's default.
func machine(c Config) string {
	if c.Machine != "" {
		return c.Machine
	}
	return machines[c.Arch][0]
}

// qemuArgs is the machine for an arch. amd64: q35, COM1 on stdio, isa-debug-exit for the status.
// ppc64: pseries with VOF (QEMU's minimal firmware, which enters the image and serves /chosen/bootargs,
// the -append words, through its client interface), the hypervisor vterm on stdio (pseries connects
// it to the first -serial); the kernel ends the machine through RTAS power-off, which carries no
// status (checkExit).
func qemuArgs(c Config) []string {
	if c.Arch == "ppc64" {
		return qemuArgsPPC64(c)
	}
	cmdline := cmdline(c)
	// one CPU per socket: the MP table (the fallback when ACPI is off) lists one CPU per package
	smp := fmt.Sprintf("%d,sockets=%d,cores=1,threads=1", c.CPUs, c.CPUs)
	args := []string{"-machine", machine(c), "-m", fmt.Sprint(c.MemMB), "-smp", smp,
		"-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none", "-serial", "stdio",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"}
	if c.GDB != 0 {
		args = append(args, "-gdb", fmt.Sprintf("tcp:127.0.0.1:%d", c.GDB), "-S")
	}
	if c.CDROM != "" {
		return append(append(args, "-cdrom", c.CDROM), accelArgs(c)...)
	}
	args = append(append(args, "-kernel", c.Kernel), accelArgs(c)...)
	if cmdline != "" {
		args = append(args, "-append", cmdline)
	}
	return args
}

// qemuArgsPPC64 is the pseries machine of docs/PPC64.md (tests/ppc64_probe_test.go boots the same).
func qemuArgsPPC64(c Config) []string {
	args := []string{"-machine", machine(c) + ",x-vof=on", "-m", fmt.Sprint(c.MemMB), "-smp", fmt.Sprint(c.CPUs),
		"-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none", "-serial", "stdio"}
	if c.GDB != 0 {
		args = append(args, "-gdb", fmt.Sprintf("tcp:127.0.0.1:%d", c.GDB), "-S")
	}
	args = append(append(args, "-kernel", c.Kernel), accelArgs(c)...)
	if cmdline := cmdline(c); cmdline != "" {
		args = append(args, "-append", cmdline)
	}
	return args
}

func accelArgs(c Config) []string {
	switch {
	case c.KVM:
		return []string{"-accel", "kvm", "-cpu", "host"}
	case c.Arch == "ppc64":
		return []string{"-accel", "tcg", "-cpu", "power9"}
	}
	return []string{"-accel", "tcg", "-cpu", "max"}
}

func injectWord(name string) string {
	if name == "" {
		return ""
	}
	return "inject=" + name
}

func schemeWord(list string) string {
	if list == "" {
		return ""
	}
	return "scheme=" + list
}

func scenarioWord(name string) string {
	if name == "" {
		return ""
	}
	return "scenario=" + name
}

// Boot launches QEMU, feeds its console to the parser, enforces the timeout (killing QEMU's process
// group) and maps the exit status. It never hangs: the console reader ends when QEMU dies.
func Boot(c Config) (*Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	cmd := exec.Command(c.QEMU, qemuArgs(c)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin = nil
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", c.QEMU, err)
	}
	res := &Result{Run: protocol.NewRun(), BootMS: -1}
	lines := make(chan string, 256)
	go readLines(out, lines)
	timedOut := false
loop:
	for {
		select {
		case s, ok := <-lines:
			if !ok {
				break loop
			}
			res.feed(c, s, start)
		case <-ctx.Done():
			timedOut = true
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			for range lines { // drain what QEMU wrote before it died
			}
			break loop
		}
	}
	waitErr := cmd.Wait()
	res.WallMS = time.Since(start).Milliseconds()
	res.Stderr = stderr.String()
	res.ExitStatus = cmd.ProcessState.ExitCode()
	if timedOut {
		res.Run.AddFailure(protocol.Failure{Check: "timeout", CPU: -1,
			Detail: fmt.Sprintf("no end after %v: QEMU killed", c.Timeout)})
		res.Run.Summary = nil
	} else if waitErr != nil && res.ExitStatus < 0 {
		res.Run.AddFailure(protocol.Failure{Check: "qemu", CPU: -1, Detail: "QEMU died: " + waitErr.Error()})
	}
	checkProtocolSeen(res)
	checkExit(c.Arch, res)
	checkCPUs(c, res)
	res.Run.Finish()
	return res, nil
}

// feed takes one console line of a run that started at start: echoed (-v), kept (-results), parsed,
// and the first protocol line's time noted as the boot time.
func (res *Result) feed(c Config, s string, start time.Time) {
	if c.Verbose != nil {
		fmt.Fprintln(c.Verbose, s)
	}
	if c.Log != nil {
		fmt.Fprintln(c.Log, s)
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

// Exit statuses of QEMU with isa-debug-exit (amd64): (v<<1)|1 for the value v the kernel wrote.
const (
	statusQEMUSelf = 0 // triple fault with -no-reboot, or QEMU ended on its own
	statusKernelOK = 1 // exit_group(0)
)

// statusPowerOff is QEMU's exit status when a ppc64 kernel powers the machine off through RTAS: the
// same whatever the verdict (power-off carries no status), so on ppc64 the console alone decides.
const statusPowerOff = 0

// okStatus is the exit status of a machine whose kernel ended normally.
func okStatus(arch string) int {
	if arch == "ppc64" {
		return statusPowerOff
	}
	return statusKernelOK
}

// describeExit explains a QEMU exit status in the kernel's terms.
func describeExit(arch string, s int) string {
	switch {
	case s == statusAttached:
		return "attached to a running console: no exit status"
	case s < 0:
		return "killed"
	case arch == "ppc64" && s == statusPowerOff:
		return "the machine powered off (RTAS power-off carries no status: the console is the verdict)"
	case arch == "ppc64":
		return fmt.Sprintf("QEMU exit status %d (QEMU error? the ppc64 kernel can only power off, with status 0)", s)
	case s == statusQEMUSelf:
		return "QEMU exited by itself (triple fault or reset)"
	case s == statusKernelOK:
		return "kernel exited with status 0"
	case s%2 == 1 && s <= 127:
		return fmt.Sprintf("kernel exited with status %d", (s-1)/2)
	case s%2 == 1 && s >= 193:
		return fmt.Sprintf("kernel crashed on CPU exception vector %d", (s-1)/2-0x60)
	}
	return fmt.Sprintf("QEMU exit status %d (QEMU error?)", s)
}

// checkExit cross-checks the exit status with the console. On amd64 the status is the kernel's own;
// on ppc64 it is 0 for every power-off, so it only tells a power-off from a QEMU error, and a console
// without its summary that ended in a power-off gets its own failure (the kernel stopped early).
func checkExit(arch string, res *Result) {
	s := res.ExitStatus
	r := res.Run
	if s < 0 {
		return // killed: the timeout failure says why
	}
	complete := r.Summary != nil
	ok := okStatus(arch)
	switch {
	case complete && r.Pass() && s != ok:
		r.AddFailure(protocol.Failure{Check: "exit", CPU: -1, Detail: "the console passed but " + describeExit(arch, s)})
	case !complete && len(r.Crashes) == 0 && s != ok:
		detail := describeExit(arch, s)
		if e := stderrExcerpt(res.Stderr); e != "" {
			detail += ": " + e
		}
		r.AddFailure(protocol.Failure{Check: "exit", CPU: -1, Detail: detail})
	case !complete && len(r.Crashes) == 0 && arch == "ppc64":
		// status 0 is also QEMU stopped from outside (SIGTERM, SIGINT): its stderr says so
		if sig := signalLine(res.Stderr); sig != "" {
			r.AddFailure(protocol.Failure{Check: "exit", CPU: -1, Detail: "QEMU was stopped from outside before the summary line: " + sig})
		} else if r.ProtocolSeen() { // else checkProtocolSeen said it
			r.AddFailure(protocol.Failure{Check: "exit", CPU: -1,
				Detail: "QEMU exited with status 0 (the machine powered off) before the summary line: the kernel stopped early; on ppc64 the exit status carries no verdict, the console must"})
		}
	}
}

// signalLine is QEMU's note that a signal ended it ("terminating on signal 15 from pid ..."), or "".
func signalLine(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "terminating on signal") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// checkProtocolSeen fails a console that never printed a protocol line, with what it printed instead:
// a kernel that did not boot, or an image that is not a lazymm kernel of this protocol. Its last
// lines go with the failure (they are the run's, outside any test).
func checkProtocolSeen(res *Result) {
	r := res.Run
	if r.ProtocolSeen() {
		return
	}
	detail := "no protocol line (" + strings.TrimSpace(protocol.Tag) + " ...) on the console: the kernel did not get as far as its boot line, or the image is not a lazymm kernel"
	if n := len(r.Raw); n > 0 {
		detail += fmt.Sprintf("; it printed %d other line(s), the last: %q", n, oneLine(r.Raw[n-1], 200))
	} else {
		detail += "; it printed nothing"
	}
	r.AddFailure(protocol.Failure{Check: "protocol", CPU: -1, Detail: detail})
	for _, t := range r.Tests {
		if t.Name == "run" && len(t.Raw) == 0 { // show the console's last lines with the failure
			t.Raw = r.Raw[max(0, len(r.Raw)-8):]
		}
	}
}

// stderrExcerpt is the first lines of QEMU's stderr that are not warnings (pseries warns about the
// kernel's load address and TCG's missing mitigations on every boot), or its first lines if all are.
func stderrExcerpt(s string) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l != "" && !strings.Contains(l, "warning:") {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return strings.TrimSpace(firstLines(strings.TrimSpace(s), 3))
	}
	return firstLines(strings.Join(keep, "\n"), 3)
}

func firstLines(s string, n int) string {
	ls := strings.SplitN(s, "\n", n+1)
	if len(ls) > n {
		ls = ls[:n]
	}
	return strings.Join(ls, " | ")
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

// checkCPUs fails a run whose kernel brought up fewer or more CPUs than asked for.
func checkCPUs(c Config, res *Result) {
	b := res.Run.Boot
	if b == nil || c.Inject == "ap-missing" { // that run leaves a CPU down on purpose: its test judges it
		return
	}
	if got := b.Get("cpus"); got != fmt.Sprint(c.CPUs) {
		res.Run.AddFailure(protocol.Failure{Check: "cpus", CPU: -1,
			Detail: fmt.Sprintf("asked for %d CPUs, the kernel reports %s online", c.CPUs, got)})
	}
}
