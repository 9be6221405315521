package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// buildGuest compiles the guest program (tools/linuxref/guest) as a static Linux amd64 binary.
func buildGuest(dir string) (string, error) {
	out := filepath.Join(dir, "lrguest")
	cmd := exec.Command("go", "build", "-o", out, "./tools/linuxref/guest")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the guest program: %v\n%s", err, stderr.String())
	}
	return out, nil
}

// initScript is the guest's /init: busybox's shell mounts what the guest program reads (procfs,
// sysfs, tracefs, debugfs for the scheduler's debug file), runs it, and powers the machine off.
func initScript(patterns []string, dump bool) string {
	if dump {
		patterns = append([]string{"-dump"}, patterns...)
	}
	return `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
/bin/lrguest run ` + strings.Join(patterns, " ") + `
echo "LR1 exit status=$?"
poweroff -f
`
}

// initramfsEntries are the initramfs's members: the directories, the console device, busybox and
// the applets /init uses, the guest program, the tiny child program and /init.
func initramfsEntries(busybox, guest []byte, patterns []string, dump bool) ([]cpioEntry, error) {
	child, err := tinyELF()
	if err != nil {
		return nil, err
	}
	var es []cpioEntry
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp"} {
		es = append(es, cpioEntry{Name: d, Mode: modeDir | 0o755})
	}
	es = append(es, cpioEntry{Name: "dev/console", Mode: modeChar | 0o600, Major: 5, Minor: 1},
		cpioEntry{Name: "bin/busybox", Mode: modeFile | 0o755, Data: busybox})
	for _, applet := range []string{"sh", "mount", "echo", "cat", "poweroff"} {
		es = append(es, cpioEntry{Name: "bin/" + applet, Mode: modeSymlink | 0o777, Data: []byte("busybox")})
	}
	return append(es,
		cpioEntry{Name: "bin/lrguest", Mode: modeFile | 0o755, Data: guest},
		cpioEntry{Name: childPath[1:], Mode: modeFile | 0o755, Data: child},
		cpioEntry{Name: "init", Mode: modeFile | 0o755, Data: []byte(initScript(patterns, dump))}), nil
}

// writeInitramfs packs the initramfs into dir/initramfs.cpio.
func writeInitramfs(dir, busyboxPath, guestPath string, patterns []string, dump bool) (string, error) {
	busybox, err := os.ReadFile(busyboxPath)
	if err != nil {
		return "", err
	}
	guest, err := os.ReadFile(guestPath)
	if err != nil {
		return "", err
	}
	es, err := initramfsEntries(busybox, guest, patterns, dump)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "initramfs.cpio")
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	err = writeCpio(f, es)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return out, err
}
