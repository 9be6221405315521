package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

// A board that is already running lazymm (booted by GRUB or petitboot) is judged from its console
// instead of a QEMU the runner starts: -console tcp:HOST:PORT (a console server, or QEMU's
// -serial tcp::PORT,server) or -console /dev/ttyUSB0[,BAUD] (set raw at BAUD with stty). What came
// before the kernel's boot line is ignored (a console server replays the board's last run). The run
// ends at the summary line, at the end of the stream, or at the timeout; there is no exit status to
// cross-check, so the console alone decides, and the tests are planned from the command line the
// boot line echoes.

// statusAttached is the exit status of an attached run: there is none.
const statusAttached = -2

// attach reads a running machine's console and judges it as bootQEMU does.
func attach(ctx context.Context, b *Boot) (*Result, error) {
	rc, err := openConsole(b.Console)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	start := time.Now()
	res := newResult(b)
	res.ExitStatus = statusAttached
	res.consume(ctx, rc, start, true, func() { rc.Close() })
	res.WallMS = time.Since(start).Milliseconds()
	res.judge()
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
