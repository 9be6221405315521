package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleConsole is a console as the guest prints it, kernel lines and all.
const sampleConsole = `[    0.000000] Linux version 6.1.0-57-amd64
LR1 linux release=6.1.0-57-amd64 cpus=4 pcid=false invpcid=false uptime_s=3.74
LR1 cmdline msg=console=ttyS0 nokaslr
LR1 probe name=ftf ok=yes
LR1 probe name=sw ok=no msg=no symbol switch_mm_irqs_off in /proc/kallsyms
LR1 begin pattern=munmap-shootdown
LR1 count name=stale_reads value=0
LR1 count name=flush_ipis value=39 cpus=0,12,15,12
LR1 count name=lazy_skipped value=12 cpus=12,0,0,0
LR1 count name=cr3_flush value=43 cpus=1,14,14,14
LR1 end pattern=munmap-shootdown ms=801
LR1 begin pattern=exit-while-lazy
LR1 error msg=exit-while-lazy: the pattern process ended with status 3
LR1 end pattern=exit-while-lazy ms=10
LR1 done
LR1 exit status=0
[    7.229482] reboot: Power down
`

func TestParseConsole(t *testing.T) {
	r, err := parseConsole(sampleConsole)
	if err != nil {
		t.Fatal(err)
	}
	if r.release != "6.1.0-57-amd64" || r.cpus != 4 || r.pcid || r.uptime != 3.74 || r.cmdline != "console=ttyS0 nokaslr" {
		t.Errorf("header: %+v", r)
	}
	if r.probes["ftf"] != "" || !strings.Contains(r.probes["sw"], "no symbol switch_mm_irqs_off") {
		t.Errorf("probes: %v", r.probes)
	}
	if len(r.patterns) != 2 {
		t.Fatalf("%d patterns, want 2", len(r.patterns))
	}
	p := r.patterns[0]
	if p.name != "munmap-shootdown" || p.ms != 801 || p.counts["flush_ipis"] != 39 || p.perCPU["flush_ipis"][2] != 15 || !p.ended {
		t.Errorf("pattern: %+v", p)
	}
	if e := r.patterns[1].errors; len(e) != 1 || !strings.Contains(e[0], "status 3") {
		t.Errorf("the second pattern's errors: %v", e)
	}
}

// TestParseConsoleErrors: a console the guest did not write whole is an error, never a panic.
func TestParseConsoleErrors(t *testing.T) {
	for _, c := range []struct{ console, want string }{
		{"", "no LR1 line"},
		{"Kernel panic - not syncing: VFS: Unable to mount root fs\n", "no LR1 line"},
		{"LR1 linux release=x cpus=4\n", "ends before"},
		{"LR1 linux release=x cpus=four\nLR1 done\n", "cpus"},
		{"LR1 frobnicate x=1\nLR1 done\n", "unknown kind frobnicate"},
		{"LR1 count name=x value=1\nLR1 done\n", "outside a pattern"},
		{"LR1 begin pattern=a\nLR1 count name=x value=one\n", "integer value"},
		{"LR1 begin pattern=a\nLR1 begin pattern=b\n", "begins inside"},
		{"LR1 begin pattern=a\nLR1 end pattern=b ms=1\n", "end of b inside a"},
		{"LR1 begin pattern=a\nLR1 count name=x value=1 cpus=1,x\n", "cpus"},
		{"LR1 probe bare\nLR1 done\n", "not key=value"},
	} {
		_, err := parseConsole(c.console)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("console %q: error %v, want one saying %q", c.console, err, c.want)
		}
	}
}

// TestBadInput: bad flags, a missing kernel image, an unparsable console and an unreadable report
// give exit status 2 and say why.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	garbled := filepath.Join(dir, "console.log")
	os.WriteFile(garbled, []byte("LR1 linux release=x cpus=4\nLR1 ???\n"), 0o644)
	report := filepath.Join(dir, "report.json")
	os.WriteFile(report, []byte("{not json"), 0o644)
	good := filepath.Join(dir, "good.log")
	os.WriteFile(good, []byte(sampleConsole), 0o644)
	work := filepath.Join(dir, "work")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-rules", "5.4"}, "want 6.1 or mainline"},
		{[]string{"-patterns", "munmap-shootdown,nope"}, `unknown pattern "nope"`},
		{[]string{"-cpus", "1"}, "want 2..16"},
		{[]string{"-kernel", filepath.Join(dir, "vmlinuz-missing")}, "no such kernel image file"},
		{[]string{"-console", filepath.Join(dir, "absent.log")}, "-console"},
		{[]string{"-console", garbled}, "unknown kind ???"},
		{[]string{"-console", good, "-lazymm-json", report}, "report.json"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		var out, errb bytes.Buffer
		rc := run(append([]string{"-work", work}, c.args...), &out, &errb)
		if rc != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("linuxref %v: status %d, stderr %q; want 2 and %q", c.args, rc, errb.String(), c.want)
		}
	}
}
