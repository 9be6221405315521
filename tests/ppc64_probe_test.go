package tests

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The POWER platform probe: the facts docs/PPC64.md (figures in docs/PPC64-FIGURES.md) builds the ppc64 boot on, checked against the QEMU
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

// buildPPC64 builds the kernel for GOARCH=ppc64 and makes it bootable with mkimage -arch ppc64 entering
// at entry; it returns the image's path.
func buildPPC64(t *testing.T, entry string) string {
	t.Helper()
	return buildPPC64In(t, t.TempDir(), entry)
}

// buildPPC64In is buildPPC64 writing the image into dir.
func buildPPC64In(t *testing.T, dir, entry string) string {
	t.Helper()
	img := filepath.Join(dir, "lazymm-ppc64.elf")
	for _, args := range [][]string{
		{"build", "-o", img, "./kernel/cmd/lazymm"},
		{"run", "./tools/mkimage", "-arch", "ppc64", "-entry", entry, img},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=ppc64", kernelGOFLAGS())
		if args[0] == "run" {
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // the tool runs on the host
		}
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, b)
		}
	}
	return img
}

// bootPPC64 builds the kernel for GOARCH=ppc64 entering at entry (buildPPC64), boots it on pseries+VOF
// and returns its console once it powered off.
func bootPPC64(t *testing.T, entry string) string {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-ppc64"); err != nil {
		t.Skip("qemu-system-ppc64 is not installed (make setup installs it)")
	}
	img := buildPPC64(t, entry)
	out, took := runPseries(t, img, 30*time.Second, "no power-off")
	t.Logf("%s: %v from QEMU start to power-off", entry, took.Round(time.Millisecond))
	return out
}

// The ppc64 boot stub's own proofs (entry bootStub; entry boot goes on to the hosted runtime): the same
// kernel main built for GOARCH=ppc64, made bootable by mkimage -arch ppc64 (a trampoline segment that
// relocates the image to its link addresses), boots on pseries+VOF into arch/ppc64's stub, which
// installs the exception vectors, goes to 64-bit mode and runs Go code (nosplit, on its own stack).
// Every entry goes through trapEntry and the Go trap(f *Frame): sc (write and ENOSYS), then the
// decrementer at a 1 ms period under a loop that keeps known values in GPRs, FPRs, VSRs, CR, CTR,
// XER, FPSCR and VSCR across 20 ticks (with trap's exit setting every register to all ones before
// restoring it), then idleWait (H_CEDE) woken by the ticks.
func TestPPC64BootStub(t *testing.T) {
	out := bootPPC64(t, "lazymm/arch/ppc64.bootStub")
	for _, want := range []string{
		"lazymm: ppc64 boot stub reached in 64-bit mode, running Go code\n",
		"lazymm: ppc64 write(2) through sc and the 0xc00 vector\n", // the system-call path: sc, trapEntry, trap, rfid
		"lazymm: ppc64 unknown system call: ENOSYS with CR0.SO\n",  // the error convention
		"lazymm: ppc64 timebase 512000000 Hz (device tree)\n",      // VOF's client interface, before the vectors
		"lazymm: ppc64 MSR.EE: irqEnable, irqSave, irqRestore, irqDisable work\n",
		"lazymm: ppc64 CAS: radix, GTSE", // client-architecture-support through VOF, what QEMU agreed
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q: %q", want, out)
		}
	}
	for _, bad := range []string{"FAILED", "lazymm: ppc64 MSR is"} {
		if strings.Contains(out, bad) {
			t.Errorf("console says %q: %q", bad, out)
		}
	}
	m := regexp.MustCompile(`lazymm: ppc64 decrementer: 20 ticks in (\d+) us, registers preserved\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no decrementer proof: %q", out)
	}
	if us, _ := strconv.Atoi(m[1]); us < 19000 {
		t.Errorf("20 ticks of a 1 ms decrementer took %d us: the period is off", us)
	}
	if !regexp.MustCompile(`lazymm: ppc64 idleWait: 5 ticks in \d+ us, \d+ H_CEDE calls\n`).MatchString(out) {
		t.Errorf("idleWait was not woken by the decrementer: %q", out)
	}
}

// Negative control of the register proof: with trap adding 1 to the interrupted r20 on each tick
// (entry bootClobber), the check must fail, and name r20.
func TestPPC64RegisterClobber(t *testing.T) {
	out := bootPPC64(t, "lazymm/arch/ppc64.bootClobber")
	if want := "lazymm: ppc64 decrementer: FAILED, r20 lost across the interrupts\n"; !strings.Contains(out, want) {
		t.Errorf("console lacks %q: %q", want, out)
	}
	if strings.Contains(out, "registers preserved") {
		t.Errorf("a clobbered register passed the check: %q", out)
	}
}

// checkCrashDump checks a console that holds one crash dump of a trap instruction, and nothing else:
// the program-check vector, the pc, SRR1's trap bit in 64-bit mode, the GPRs, the trap's own word.
func checkCrashDump(t *testing.T, out string) {
	t.Helper()
	// every entry negotiates CAS first (one line, before the vectors): not part of the dump
	if cas, rest, ok := strings.Cut(out, "\n"); ok && strings.HasPrefix(cas, "lazymm: ppc64 CAS: ") {
		out = rest
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("want crash, regs, bytes, crash-end lines; console: %q", out)
	}
	for i, want := range []string{"LZ1 crash cpu=0 kind=exception vector=0x0000000000000700 pc=0x", "LZ1 regs gprs=0x", "LZ1 bytes at=0x", "LZ1 crash-end status=0x0000000000000700"} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d %q does not start with %q", i, lines[i], want)
		}
	}
	m := regexp.MustCompile(` msr=0x([0-9a-f]{16}) `).FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("no msr in %q", lines[0])
	}
	msr, _ := strconv.ParseUint(m[1], 16, 64)
	if msr&0x20000 == 0 || msr>>63 == 0 {
		t.Errorf("SRR1 %#x lacks the trap bit (0x20000) or 64-bit mode: %q", msr, lines[0])
	}
	if !strings.Contains(lines[2], "hex=7fe00008") {
		t.Errorf("the bytes at pc are not the trap instruction (tw 31,0,0): %q", lines[2])
	}
	if n := len(strings.TrimPrefix(lines[1], "LZ1 regs gprs=0x")); n != 32*16 {
		t.Errorf("%d hex digits of GPRs, want 32 x 16", n)
	}
}

// A trap instruction once the vectors are in place comes back as a crash dump in the console protocol
// (trap's default case).
func TestPPC64CrashDump(t *testing.T) {
	checkCrashDump(t, bootPPC64(t, "lazymm/arch/ppc64.bootFault"))
}

// A fault inside trap context itself (trap runs a trap instruction while serving an sc) nests on the
// per-CPU nested stack and still gives exactly one dump, then power-off: no loop, no second dump. The
// dump's r1 is on CPU 0's trap stack (kstk) and its r30 is trap context's stand-in g: the fault was
// in trap context.
func TestPPC64KernelFault(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-ppc64"); err != nil {
		t.Skip("qemu-system-ppc64 is not installed (make setup installs it)")
	}
	img := buildPPC64(t, "lazymm/arch/ppc64.bootKernelFault")
	out, _ := runPseries(t, img, 30*time.Second, "no power-off")
	checkCrashDump(t, out)
	f, err := elf.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	sym := map[string]elf.Symbol{}
	for _, s := range syms {
		sym[s.Name] = s
	}
	kstk, trapG := sym["lazymm/arch/ppc64.kstk"], sym["lazymm/arch/ppc64.trapG"]
	m := regexp.MustCompile(`LZ1 regs gprs=0x([0-9a-f]{512})`).FindStringSubmatch(out)
	if m == nil || kstk.Size == 0 || trapG.Size == 0 {
		t.Fatalf("no GPRs in the dump or no kstk/trapG in the image: %q", out)
	}
	r1, _ := strconv.ParseUint(m[1][16:32], 16, 64)
	r30, _ := strconv.ParseUint(m[1][30*16:31*16], 16, 64)
	if r1 < kstk.Value || r1 >= kstk.Value+kstk.Size/64 {
		t.Errorf("the dump's r1 %#x is not on CPU 0's trap stack [%#x, %#x)", r1, kstk.Value, kstk.Value+kstk.Size/64)
	}
	if r30 != trapG.Value {
		t.Errorf("the dump's r30 %#x is not trap context's g %#x", r30, trapG.Value)
	}
}

// The trap-path rules (tests/trappath_test.go) on the ppc64 kernel: from trapEntry, following direct
// branches (b, bl, ba), no function reached may have a stack check (a call to runtime.morestack*) or
// make an indirect call (bcctrl, bclrl). Jump tables (bctr) stay inside their function and are allowed.
func TestPPC64TrapPathRules(t *testing.T) {
	img := buildPPC64(t, "lazymm/arch/ppc64.boot")
	reached, bad := ppc64TrapWalk(t, img, "lazymm/arch/ppc64.trapEntry")
	if len(bad) > 0 {
		t.Errorf("trap-path rule broken:\n%s", strings.Join(bad, "\n"))
	}
	// the walk must follow calls, or it proves nothing
	for _, f := range []string{"lazymm/arch/ppc64.trap", "lazymm/arch/ppc64.scDispatch", "lazymm/arch/ppc64.crash", "lazymm/kernel/shim.Syscall", "lazymm/kernel/shim.EnsurePage", "lazymm/arch/ppc64.hvPutChars.abi0", "lazymm/arch/ppc64.powerOff.abi0"} {
		if !reached[f] {
			t.Errorf("the walk from trapEntry did not reach %s", f)
		}
	}
	// negative control: the allocator is stack-checked
	if _, bad := ppc64TrapWalk(t, img, "runtime.mallocgc"); len(bad) == 0 {
		t.Errorf("the walk from runtime.mallocgc found no stack check")
	}
}

// ppc64TrapWalk walks the direct branches from root (by name, with or without the .abi0 suffix) in the
// big-endian ppc64 image and returns the functions reached and the rules broken.
func ppc64TrapWalk(t *testing.T, path, root string) (map[string]bool, []string) {
	im := loadText(t, path)
	start := -1
	for i, s := range im.funcs {
		if s.Name == root || s.Name == root+".abi0" {
			start = i
		}
	}
	if start < 0 {
		t.Fatalf("%s not in the kernel", root)
	}
	parent := map[int]int{start: -1}
	pathTo := func(i int) string {
		var p []string
		for ; i >= 0; i = parent[i] {
			p = append([]string{im.funcs[i].Name}, p...)
		}
		return strings.Join(p, " -> ")
	}
	var bad []string
	for queue := []int{start}; len(queue) > 0; queue = queue[1:] {
		fi := queue[0]
		fn := im.funcs[fi]
		code := im.code[fn.Value-im.text.Addr : fn.Value-im.text.Addr+fn.Size]
		for off := 0; off+4 <= len(code); off += 4 {
			w := binary.BigEndian.Uint32(code[off:])
			pc := fn.Value + uint64(off)
			switch {
			case w>>26 == 18: // b, ba, bl, bla
				li := uint64(int64(int32(w<<6)>>6) &^ 3)
				target := li
				if w&2 == 0 {
					target += pc
				}
				ti := im.find(target)
				if ti < 0 || ti == fi {
					continue
				}
				if strings.HasPrefix(im.funcs[ti].Name, "runtime.morestack") {
					bad = append(bad, "stack check in "+pathTo(fi))
				} else if _, seen := parent[ti]; !seen {
					parent[ti] = fi
					queue = append(queue, ti)
				}
			case w&0xfc0007ff == 0x4c000421, w&0xfc0007ff == 0x4c000021: // bcctrl, bclrl
				bad = append(bad, fmt.Sprintf("indirect call (%#08x at %#x) in %s", w, pc, pathTo(fi)))
			}
		}
	}
	reached := map[string]bool{}
	for i := range parent {
		reached[im.funcs[i].Name] = true
	}
	sort.Strings(bad)
	return reached, bad
}
