package main

import (
	"io"
	"os"
	"testing"
	"time"
)

func run(t *testing.T, script string, o options) *result {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = 10 * time.Second
	}
	r, err := measure([]string{"sh", "-c", script}, o, io.Discard, make(chan os.Signal))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFirstLineMarkAndExit(t *testing.T) {
	r := run(t, "echo; echo 'enabling apic'; echo 'found 4 cpus'; echo 'FAIL: x'; exit 3", options{mark: "found "})
	if r.First < 0 || r.FirstLine != "enabling apic" || r.Mark < r.First || r.Wall < r.Mark {
		t.Errorf("times first %v mark %v wall %v, first line %q", r.First, r.Mark, r.Wall, r.FirstLine)
	}
	if r.Status != "3" || r.Fails != 1 {
		t.Errorf("status %s, %d FAIL lines; want 3, 1", r.Status, r.Fails)
	}
}

func TestPrefixAndStop(t *testing.T) {
	start := time.Now()
	r := run(t, "echo 'lazymm: ppc64 CAS'; echo 'LZ1 boot arch=x'; sleep 30", options{prefix: "LZ1 ", stop: true})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("-stop took %v: the command was not killed at its first line", took)
	}
	if r.Status != "stopped" || r.FirstLine != "LZ1 boot arch=x" || r.Wall != -1 {
		t.Errorf("status %s, first line %q, wall %v", r.Status, r.FirstLine, r.Wall)
	}
}

func TestTimeout(t *testing.T) {
	r := run(t, "sleep 30", options{timeout: 200 * time.Millisecond})
	if r.Status != "timeout" || r.First != -1 || r.Wall != -1 {
		t.Errorf("status %s, first %v, wall %v; want timeout, -1, -1", r.Status, r.First, r.Wall)
	}
}
