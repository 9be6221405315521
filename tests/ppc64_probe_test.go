package tests

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The POWER platform probe: the facts docs/PPC64.md builds the ppc64 boot on, checked against the QEMU
// installed here rather than trusted. A hand-made big-endian ELF with one segment is booted on
// `-machine pseries,x-vof=on -cpu power9`; its code, entered at the lowest loaded address in 32-bit
// big-endian real mode, prints through the hypervisor console (H_PUT_TERM_CHAR) and powers the machine
// off through RTAS (H_RTAS with QEMU's power-off token 0x2003). If QEMU's entry state, load address,
// console or RTAS tokens change, this test says so before the ppc64 kernel does.

// POWER instruction encodings used by the probe.
func ppcLI(rt, v uint32) uint32      { return 14<<26 | rt<<21 | v&0xffff }
func ppcLIS(rt, v uint32) uint32     { return 15<<26 | rt<<21 | v&0xffff }
func ppcORI(ra, rs, v uint32) uint32 { return 24<<26 | rs<<21 | ra<<16 | v&0xffff }

// ppcSLDI is rldicr ra,rs,n,63-n.
func ppcSLDI(ra, rs, n uint32) uint32 {
	me := 63 - n
	return 30<<26 | rs<<21 | ra<<16 | (n&31)<<11 | ((me&31)<<1|me>>5)<<5 | 1<<2 | (n>>5)<<1
}

const (
	ppcHcall     = 0x44000022 // sc 1
	ppcSpin      = 0x48000000 // b .
	hPutTermChar = 0x58
	hRTAS        = 0xf000
	rtasPowerOff = 0x2003 // QEMU's RTAS tokens count from 0x2000: display-character, get-time-of-day, set-time-of-day, power-off, ..., start-cpu (0x2006)
	probeVaddr   = 0x100000
	spaprLoad    = 0x400000 // QEMU's pseries loads an ELF at 0x400000 + (vaddr & 0x0fffffff)
)

// probeELF builds the probe: print "LZ! " on vterm 0, then power off; the RTAS argument buffer sits
// 0x100 into the segment, at the physical address the loader put it.
func probeELF() []byte {
	buf := uint32(spaprLoad + probeVaddr + 0x100)
	code := []uint32{
		ppcLI(3, hPutTermChar), ppcLI(4, 0), ppcLI(5, 4),
		ppcLIS(6, 0x4c5a), ppcORI(6, 6, 0x2120), ppcSLDI(6, 6, 32), ppcLI(7, 0), // "LZ! " in r6's high bytes
		ppcHcall,
		ppcLI(3, 0), ppcORI(3, 3, hRTAS), ppcLIS(4, buf>>16), ppcORI(4, 4, buf&0xffff),
		ppcHcall,
		ppcSpin,
	}
	var text bytes.Buffer
	binary.Write(&text, binary.BigEndian, code)
	text.Write(make([]byte, 0x100-text.Len()))
	binary.Write(&text, binary.BigEndian, []uint32{rtasPowerOff, 2, 1, 0, 0, 0xffffffff})
	var img bytes.Buffer
	be := binary.BigEndian
	// ELF64 header: big endian, ET_EXEC, EM_PPC64 (21), one program header right after it
	img.Write([]byte{0x7f, 'E', 'L', 'F', 2, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	binary.Write(&img, be, struct {
		Type, Machine                                   uint16
		Version                                         uint32
		Entry, Phoff, Shoff                             uint64
		Flags                                           uint32
		Ehsize, Phentsize, Phnum, Shentsize, Shnum, Str uint16
	}{2, 21, 1, probeVaddr, 64, 0, 2, 64, 56, 1, 64, 0, 0})
	binary.Write(&img, be, struct {
		Type, Flags                             uint32
		Off, Vaddr, Paddr, Filesz, Memsz, Align uint64
	}{1, 7, 0x1000, probeVaddr, probeVaddr, uint64(text.Len()), uint64(text.Len()), 0x1000})
	img.Write(make([]byte, 0x1000-img.Len()))
	img.Write(text.Bytes())
	return img.Bytes()
}

func TestPPC64PlatformProbe(t *testing.T) {
	elf := filepath.Join(t.TempDir(), "probe.elf")
	if err := os.WriteFile(elf, probeELF(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, took := runPseries(t, elf, 20*time.Second, "the probe did not power the machine off (RTAS power-off)")
	if out != "LZ! " {
		t.Errorf("console %q, want %q: the entry at the lowest loaded address or H_PUT_TERM_CHAR changed", out, "LZ! ")
	}
	t.Logf("pseries+VOF: entry, hypervisor console and RTAS power-off in %v (the ppc64 floor)", took.Round(time.Millisecond))
}

// runPseries boots img on pseries+VOF and returns its console once the machine powered off, and how
// long that took; it fails the test with hang when the machine is still up after limit.
func runPseries(t *testing.T, img string, limit time.Duration, hang string) (string, time.Duration) {
	t.Helper()
	qemu, err := exec.LookPath("qemu-system-ppc64")
	if err != nil {
		t.Skip("qemu-system-ppc64 is not installed (make setup installs it)")
	}
	cmd := exec.Command(qemu, "-machine", "pseries,x-vof=on", "-cpu", "power9", "-m", "512", "-nodefaults",
		"-display", "none", "-serial", "stdio", "-no-reboot", "-kernel", img)
	var out bytes.Buffer
	cmd.Stdout = &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(limit):
		cmd.Process.Kill()
		t.Fatalf("%s; console: %q", hang, out.String())
	}
	if err != nil {
		t.Fatalf("QEMU: %v; console: %q", err, out.String())
	}
	return out.String(), time.Since(start)
}

// bootPPC64 builds the kernel for GOARCH=ppc64, makes it bootable with mkimage -arch ppc64 entering at
// entry, boots it on pseries+VOF and returns its console once it powered off.
func bootPPC64(t *testing.T, entry string) string {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-ppc64"); err != nil {
		t.Skip("qemu-system-ppc64 is not installed (make setup installs it)")
	}
	img := filepath.Join(t.TempDir(), "lazymm-ppc64.elf")
	for _, args := range [][]string{
		{"build", "-gcflags=lazymm/arch/...=-B", "-gcflags=lazymm/mm/...=-B", "-gcflags=lazymm/kernel=-B", "-o", img, "./kernel/cmd/lazymm"},
		{"run", "./tools/mkimage", "-arch", "ppc64", "-entry", entry, img},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=ppc64")
		if args[0] == "run" {
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // the tool runs on the host
		}
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, b)
		}
	}
	out, took := runPseries(t, img, 30*time.Second, "no power-off")
	t.Logf("%s: %v from QEMU start to power-off", entry, took.Round(time.Millisecond))
	return out
}

// The ppc64 kernel image as far as it goes: the same kernel main built for GOARCH=ppc64, made bootable
// by mkimage -arch ppc64 (a trampoline segment that relocates the image to its link addresses), boots
// on pseries+VOF into arch/ppc64's stub, which installs the exception vectors, goes to 64-bit mode and
// runs Go code (nosplit, on its own stack) that says loudly that the hosted runtime is not ported yet,
// then powers the machine off.
func TestPPC64BootStub(t *testing.T) {
	out := bootPPC64(t, "lazymm/arch/ppc64.boot")
	for _, want := range []string{
		"lazymm: ppc64 boot stub reached in 64-bit mode, running Go code; the hosted runtime is not ported yet",
		"lazymm: ppc64 write(2) through sc and the 0xc00 vector\n", // the system-call path: sc, scEntry, Go, rfid
		"lazymm: ppc64 unknown system call: ENOSYS with CR0.SO\n",  // the error convention
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q: %q", want, out)
		}
	}
}

// A trap instruction after the vectors are in place comes back as a crash dump in the console
// protocol: the program-check vector, the pc, SRR1's trap bit, the GPRs, and the trap's own word.
func TestPPC64CrashDump(t *testing.T) {
	out := bootPPC64(t, "lazymm/arch/ppc64.bootFault")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("want crash, regs, bytes, crash-end lines; console: %q", out)
	}
	for i, want := range []string{"LZ1 crash cpu=0 kind=exception vector=0x0000000000000700 pc=0x", "LZ1 regs gprs=0x", "LZ1 bytes at=0x", "LZ1 crash-end status=0x0000000000000700"} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d %q does not start with %q", i, lines[i], want)
		}
	}
	if !strings.Contains(lines[0], "msr=0x0000000000020000") {
		t.Errorf("SRR1 lacks the trap bit: %q", lines[0])
	}
	if !strings.Contains(lines[2], "hex=7fe00008") {
		t.Errorf("the bytes at pc are not the trap instruction (tw 31,0,0): %q", lines[2])
	}
	if n := len(strings.TrimPrefix(lines[1], "LZ1 regs gprs=0x")); n != 32*16 {
		t.Errorf("%d hex digits of GPRs, want 32 x 16", n)
	}
}
