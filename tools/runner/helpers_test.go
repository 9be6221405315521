package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lazymm/kernel/catalog"
)

// fakeQEMU writes a shell script that plays a canned console and exits with a given status, standing in
// for QEMU so the runner's own logic is tested without booting anything.
func fakeQEMU(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "qemu")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// oneTest makes a boot plan exactly goodConsole's test.
var oneTest = []string{"-append", "tests=smoke/goroutines"}

// goodConsole is a passing console of the boot oneTest plans (its boot line echoes that command line,
// which an attached run plans from).
const goodConsole = `LZ1 boot arch=amd64 cpus=1 mem_mb=511 go=go1.26.8 cmdline="tests=smoke/goroutines"
LZ1 begin name=smoke/goroutines scheme=- scenario=- inject=- expect=pass
LZ1 metric name=smoke/goroutines x=3
LZ1 end name=smoke/goroutines outcome=pass ms=2
LZ1 summary tests=1 passed=1 failed=0`

// fakeArgs are the shell lines of a fake QEMU that read what the runner gave it: the command line
// ($cmdline), the injection in it ($inj) and the CPUs of -smp ($cpus).
const fakeArgs = `cmdline=$(printf '%s\n' "$@" | grep -A1 -x -- -append | tail -1)
inj=$(printf '%s\n' "$cmdline" | tr ' ' '\n' | grep '^inject=' | head -1 | cut -d= -f2)
cpus=$(printf '%s\n' "$@" | grep -A1 -x -- -smp | tail -1 | cut -d, -f1)
`

// injectConsole is a fake kernel that runs the injection named on its command line, at the CPUs it
// was given, expecting the catalogue's detector (of the arch's default MMU mode) and reporting it
// caught by that detector, or by the check luck names for it (caught by luck only).
func injectConsole(luck map[string]string) string {
	var cases strings.Builder
	for _, in := range catalog.Injections {
		amd64 := catalog.Arches[0].MMUs[0] // the fake boots amd64 in its default mode
		catch, check, sum := in.Detector(amd64), in.Detector(amd64), "passed=1 failed=0"
		if check == "" {
			check = "crash"
		}
		if l, ok := luck[in.Name]; ok {
			check, sum = l, "passed=0 failed=1" // the kernel knows its catch too
		}
		kv := ""
		if catch != "" {
			kv = " catch=" + catch
		}
		fmt.Fprintf(&cases, "%s) kv='%s' check=%s sum='%s' ;;\n", in.Name, kv, check, sum)
	}
	return fakeArgs + `case "$inj" in
` + cases.String() + `esac
cat <<X
LZ1 boot arch=amd64 cpus=$cpus mem_mb=511 go=go1.26.8 cmdline=-
LZ1 begin name=inject/$inj scheme=- scenario=- inject=$inj expect=fail$kv
LZ1 fail name=inject/$inj check=$check cpu=0 loc=a detail=d
LZ1 end name=inject/$inj outcome=fail ms=1
LZ1 summary tests=1 $sum
X
exit 1`
}

// testKernel is a file that serves as -kernel (the fakes never read it).
func testKernel(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "k.elf")
	if err := os.WriteFile(p, []byte("not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// planned runs the runner's steps up to the boots, as run does, for flags args (-kernel and -qemu
// default to files that exist).
func planned(t *testing.T, args ...string) []*Boot {
	t.Helper()
	f, _, err := parseFlags(append([]string{"-kernel", os.Args[0], "-qemu", "/bin/true"}, args...), io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	c, err := buildConfig(f, io.Discard)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	boots, err := planBoots(c, io.Discard)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return boots
}

// runOut runs the runner and returns its status, stdout and stderr.
func runOut(args ...string) (int, string, string) {
	var out, errb strings.Builder
	rc := run(args, &out, &errb)
	return rc, out.String(), errb.String()
}
