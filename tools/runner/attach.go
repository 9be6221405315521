package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"lazymm/kernel/protocol"
)

// A board that is already running lazymm (booted by GRUB or petitboot) is judged from its console
// instead of a QEMU the runner starts: -console tcp:HOST:PORT (a console server, or QEMU's
// -serial tcp::PORT,server) or -console /dev/ttyUSB0[,BAUD] (set raw at BAUD with stty). The run
// ends at the summary line, at the end of the stream, or at -timeout; there is no exit status to
// cross-check, so the console alone decides.

// statusAttached is the exit status of an attached run: there is none.
const statusAttached = -2

// Attach reads a running machine's console and judges it as Boot does.
func Attach(c Config) (*Result, error) {
	rc, err := openConsole(c.Console)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	start := time.Now()
	res := &Result{Run: protocol.NewRun(), BootMS: -1, ExitStatus: statusAttached}
	lines := make(chan string, 256)
	go readLines(rc, lines)
	timer := time.NewTimer(c.Timeout)
	defer timer.Stop()
loop:
	for {
		select {
		case s, ok := <-lines:
			if !ok {
				break loop
			}
			res.feed(c, s, start)
			if res.Run.Summary != nil {
				break loop // the kernel is done; the board may go on printing (or reset)
			}
		case <-timer.C:
			res.Run.AddFailure(protocol.Failure{Check: "timeout", CPU: -1,
				Detail: fmt.Sprintf("no summary on %s after %v", c.Console, c.Timeout)})
			break loop
		}
	}
	res.WallMS = time.Since(start).Milliseconds()
	checkProtocolSeen(res)
	checkCPUs(c, res)
	res.Run.Finish()
	return res, nil
}

// openConsole opens tcp:HOST:PORT or a serial device (PATH[,BAUD]).
func openConsole(spec string) (io.ReadCloser, error) {
	if addr, ok := strings.CutPrefix(spec, "tcp:"); ok {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return nil, fmt.Errorf("-console %s: %v", spec, err)
		}
		return conn, nil
	}
	path, baud, _ := strings.Cut(spec, ",")
	if baud != "" {
		if out, err := exec.Command("stty", "-F", path, baud, "raw", "-echo").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("-console %s: stty: %v: %s", spec, err, strings.TrimSpace(string(out)))
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-console %s: %v", spec, err)
	}
	return f, nil
}
