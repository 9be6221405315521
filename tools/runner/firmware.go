package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// kernelFirmware is the -bios of a -kernel boot: the arch's KernelBIOS where QEMU has it, except
// under acpi=off, whose CPUs come from the MP table, which only SeaBIOS (QEMU's default) builds.
func kernelFirmware(b *Boot) []string {
	bios := b.Arch.KernelBIOS
	if bios == "" || slices.Contains(strings.Fields(b.Cmdline), "acpi=off") || !qemuHasFile(b.QEMU, bios) {
		return nil
	}
	return []string{"-bios", bios}
}

// qemuHasFile says whether QEMU's data directory has name: <its binary's directory>/../share/qemu,
// the first place QEMU looks for -bios (qemu -L help lists it). Found without running QEMU, which
// may be a test's stand-in.
func qemuHasFile(qemu, name string) bool {
	bin, err := exec.LookPath(qemu)
	if err != nil {
		return false
	}
	if bin, err = filepath.EvalSymlinks(bin); err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(filepath.Dir(bin), "..", "share", "qemu", name))
	return err == nil
}
