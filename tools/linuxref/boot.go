package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// linuxCmdline: the console; no KASLR (stable addresses); no Spectre/Meltdown mitigations, whose
// page-table isolation adds CR3 writes on every kernel entry that lazymm has no counterpart of;
// quiet boot; a panic ends QEMU (-no-reboot).
const linuxCmdline = "console=ttyS0 nokaslr mitigations=off quiet panic=-1 rdinit=/init"

// qemuArgs boots the kernel and initramfs as the runner boots lazymm (tools/runner/run.go): q35,
// -cpu max, TCG, one CPU per socket, the console on stdio. TCG models no PCID, so Linux runs without
// PCIDs, as lazymm's mm/munmap-shootdown/nopcid. Multi-threaded TCG: the patterns' spinning threads
// need their CPUs to run at once.
func qemuArgs(kernel, initrd string, cpus int) []string {
	return []string{"-machine", "q35", "-m", "512", "-smp", fmt.Sprintf("%d,sockets=%d,cores=1,threads=1", cpus, cpus),
		"-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none", "-serial", "stdio",
		"-accel", "tcg,thread=multi", "-cpu", "max", "-kernel", kernel, "-initrd", initrd, "-append", linuxCmdline}
}

// bootResult is a boot's console and timing.
type bootResult struct {
	console   string
	firstLine time.Duration // QEMU's start to the guest program's first line
	wall      time.Duration
}

// bootLinux runs QEMU until the guest powers off or the timeout, keeping the console in log (and
// echoing it to echo, when not nil).
func bootLinux(ctx context.Context, qemu string, args []string, timeout time.Duration, log, echo io.Writer) (*bootResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: cannot start %s: %v (make setup installs it)", errInput, qemu, err)
	}
	res := &bootResult{}
	var console strings.Builder
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if res.firstLine == 0 && strings.Contains(line, "LR1 ") {
			res.firstLine = time.Since(start)
		}
		console.WriteString(line + "\n")
		fmt.Fprintln(log, line)
		if echo != nil {
			fmt.Fprintln(echo, line)
		}
	}
	werr := cmd.Wait()
	res.console, res.wall = console.String(), time.Since(start)
	if ctx.Err() == context.DeadlineExceeded {
		return res, fmt.Errorf("the Linux guest did not power off within %v (its console: see the log)", timeout)
	}
	if werr != nil {
		return res, fmt.Errorf("QEMU: %v: %s", werr, strings.TrimSpace(stderr.String()))
	}
	return res, nil
}

// openLog creates the console log file.
func openLog(path string) (*os.File, error) { return os.Create(path) }

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s" }
