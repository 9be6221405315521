package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// serve accepts one connection on a free local port and writes body to it, then keeps it open for
// hold (a board goes on after its summary).
func serve(t *testing.T, body string, hold time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write([]byte(body))
		time.Sleep(hold)
		c.Close()
	}()
	return ln.Addr().String()
}

func TestConsoleTCP(t *testing.T) {
	cases := []struct {
		name, body string
		hold       time.Duration
		rc         int
		want       string
	}{
		// the board passes and goes on printing: the summary ends the run, not the connection
		{"pass", goodConsole + "\nboard: rebooting\n", time.Minute, 0, "1 as expected"},
		{"truncated", strings.Join(strings.Split(goodConsole, "\n")[:3], "\n") + "\n", 0, 2, "truncated"},
		{"silent board", "", time.Minute, 2, "no summary on tcp:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr := serve(t, c.body, c.hold)
			var out, errb bytes.Buffer
			start := time.Now()
			rc := run([]string{"-console", "tcp:" + addr, "-timeout", "2s"}, &out, &errb)
			if rc != c.rc || !strings.Contains(out.String()+errb.String(), c.want) {
				t.Errorf("rc %d (want %d), output lacks %q:\n%s%s", rc, c.rc, c.want, out.String(), errb.String())
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
	var out bytes.Buffer
	if rc := run([]string{"-console", "tcp:127.0.0.1:1", "-timeout", "2s"}, &out, &out); rc != 2 || !strings.Contains(out.String(), "-console tcp:127.0.0.1:1") {
		t.Errorf("nothing listening: rc %d: %s", rc, out.String())
	}
	if rc := run([]string{"-console", "tcp:127.0.0.1:1", "-inject", "fault"}, &out, &out); rc != 2 {
		t.Errorf("-console with -inject: rc %d, want 2", rc)
	}
}

// The real thing: QEMU started as a board would be, its console served on TCP, and the runner attached
// to it (needs the kernel: make test sets LAZYMM_KERNEL).
func TestConsoleTCPWithQEMU(t *testing.T) {
	kernel := os.Getenv("LAZYMM_KERNEL")
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if kernel == "" || err != nil {
		t.Skip("needs LAZYMM_KERNEL and qemu-system-x86_64 (make test)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := qemuArgs(planned(t, "-cpus", "2", "-kernel", kernel, "-append", "tests=smoke/goroutines,smp/online")[0])
	for i, a := range args {
		if a == "stdio" && i > 0 && args[i-1] == "-serial" {
			args[i] = fmt.Sprintf("tcp:127.0.0.1:%d,server=on,wait=on", port)
		}
	}
	cmd := exec.Command(qemu, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var out, errb bytes.Buffer
	var rc int
	for try := 0; try < 50; try++ { // QEMU needs a moment to listen
		out.Reset()
		errb.Reset()
		if rc = run([]string{"-console", fmt.Sprintf("tcp:127.0.0.1:%d", port), "-cpus", "2", "-timeout", "60s"}, &out, &errb); rc != 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rc != 0 || !strings.Contains(out.String(), "smp/online") || !strings.Contains(out.String(), "attached to a running console") {
		t.Errorf("rc %d:\n%s%s", rc, out.String(), errb.String())
	}
}
