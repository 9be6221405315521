// Command kut times one QEMU run for tools/bench/kut.sh: from starting the command to the first line
// of its console (stdout) that begins with -prefix (the first non-blank line if -prefix is empty), to
// the first line that contains -mark, and to its exit. It never hangs: the command runs in its own
// process group, killed at -timeout, at the first line with -stop, or when kut itself is signalled.
//
// Usage: kut [-prefix P] [-mark S] [-stop] [-timeout D] [-log FILE] -- COMMAND [ARG...]
//
// It prints one line: FIRST_MS MARK_MS WALL_MS STATUS FAILS FIRST_LINE, where a figure it did not see
// is -1, STATUS is the exit status or stopped, timeout or killed, and FAILS counts console lines
// beginning with "FAIL" (a kvm-unit-tests failure). Exit status 0, or 2 when the command cannot start.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type line struct {
	s  string
	at time.Duration // since the start
}

func main() {
	prefix := flag.String("prefix", "", "the first line is the first beginning with this (empty: the first non-blank line)")
	mark := flag.String("mark", "", "also time the first line containing this")
	stop := flag.Bool("stop", false, "kill the command at the first line (no wall time)")
	timeout := flag.Duration("timeout", 60*time.Second, "kill the command after this long")
	logPath := flag.String("log", "", "copy the console to FILE")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: kut [-prefix P] [-mark S] [-stop] [-timeout D] [-log FILE] -- COMMAND [ARG...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 || *timeout <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	var logw io.Writer = io.Discard
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kut:", err)
			os.Exit(2)
		}
		defer f.Close()
		logw = f
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	r, err := measure(flag.Args(), options{*prefix, *mark, *stop, *timeout}, logw, sigs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kut:", err)
		os.Exit(2)
	}
	if r.First < 0 && r.Stderr != "" {
		fmt.Fprintf(os.Stderr, "kut: no first line (%s); the command's stderr ends:\n%s\n", r.Status, r.Stderr)
	}
	fmt.Printf("%d %d %d %s %d %s\n", ms(r.First), ms(r.Mark), ms(r.Wall), r.Status, r.Fails, r.FirstLine)
}

type options struct {
	prefix, mark string
	stop         bool
	timeout      time.Duration
}

// result is one run's figures; a duration not seen is -1.
type result struct {
	First, Mark, Wall time.Duration
	Status            string // the exit status, or stopped, timeout, killed
	Fails             int
	FirstLine, Stderr string
}

// measure runs args (its console copied to logw) and times it; a signal on sigs kills it and is an error.
func measure(args []string, o options, logw io.Writer, sigs <-chan os.Signal) (*result, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr tail
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start: %w", err)
	}
	kill := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	lines := make(chan line, 256)
	go read(out, start, lines)

	r := &result{First: -1, Mark: -1}
	timer := time.NewTimer(o.timeout)
	defer timer.Stop()
loop:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break loop
			}
			fmt.Fprintln(logw, l.s)
			if strings.HasPrefix(l.s, "FAIL") {
				r.Fails++
			}
			if o.mark != "" && r.Mark < 0 && strings.Contains(l.s, o.mark) {
				r.Mark = l.at
			}
			if r.First < 0 && (o.prefix == "" && strings.TrimSpace(l.s) != "" || o.prefix != "" && strings.HasPrefix(l.s, o.prefix)) {
				r.First, r.FirstLine = l.at, strings.TrimSpace(l.s)
				if o.stop {
					r.Status = "stopped"
					kill()
					break loop
				}
			}
		case <-timer.C:
			r.Status = "timeout"
			kill()
			break loop
		case s := <-sigs:
			kill()
			go drain(lines)
			cmd.Wait()
			return nil, fmt.Errorf("%v: killed the command", s)
		}
	}
	go drain(lines) // what it wrote before it died
	cmd.Wait()
	r.Wall = time.Since(start)
	if r.Status == "" {
		r.Status = fmt.Sprint(cmd.ProcessState.ExitCode())
		if cmd.ProcessState.ExitCode() < 0 {
			r.Status = "killed"
		}
	} else {
		r.Wall = -1
	}
	r.Stderr = stderr.String()
	return r, nil
}

func drain(lines <-chan line) {
	for range lines {
	}
}

func ms(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return d.Milliseconds()
}

// read sends the console's lines, each stamped when it arrived; it closes lines at the end.
func read(r io.Reader, start time.Time, lines chan<- line) {
	defer close(lines)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		s, err := br.ReadString('\n')
		if s != "" {
			lines <- line{strings.TrimRight(s, "\r\n"), time.Since(start)}
		}
		if err != nil {
			return
		}
	}
}

// tail keeps the last 4 KiB written to it.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string { return strings.TrimSpace(string(t.b)) }
