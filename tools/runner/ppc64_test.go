package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"lazymm/kernel/catalog"
	"lazymm/kernel/protocol"
)

// The runner's ppc64 paths: QEMU's pseries command line, a verdict from the console alone (RTAS
// power-off exits 0 whatever happened), and crash dumps symbolized from a big-endian image.

// qemuArgsCases are runner flags and the QEMU arguments they must give (in this order, each a run of
// adjacent arguments; K is the kernel image), and those they must not.
var qemuArgsCases = []struct {
	name string
	args []string
	want []string
	not  []string
}{
	// the runner's words first, then -append's
	{"ppc64", []string{"-arch", "ppc64", "-cpus", "4", "-tcg", "single", "-inject", "fault", "-seed", "7", "-append", "scenario=exit-nmi"},
		[]string{"-machine pseries,x-vof=on", "-m 512", "-smp 4", "-nodefaults", "-no-reboot", "-serial stdio",
			"-kernel K", "-accel tcg,thread=single -cpu power9", "-append inject=fault seed=7 scenario=exit-nmi"},
		[]string{"isa-debug-exit", "q35", "-cdrom", "-cpu max", "-S"}},
	{"ppc64 machine given", []string{"-arch", "ppc64", "-machine", "pseries", "-mem", "256"},
		[]string{"-machine pseries,x-vof=on", "-m 256", "-smp 1", "-kernel K"}, []string{"-append"}},
	{"ppc64 gdb", []string{"-arch", "ppc64", "-cpus", "2", "-gdb", "1234"},
		[]string{"-gdb tcp:127.0.0.1:1234 -S", "-kernel K"}, nil},
	{"ppc64 words", []string{"-arch", "ppc64", "-nopcid", "-duration", "1m", "-append", "tests=smoke/"},
		[]string{"-append duration=1m0s nopcid tests=smoke/"}, nil},
	{"ppc64 mmu", []string{"-arch", "ppc64", "-mmu", "hash", "-scheme", "hazard", "-trace", "t.json"},
		[]string{"-append scheme=hazard trace=1 hash"}, nil},
	{"amd64", []string{"-cpus", "2", "-tcg", "multi", "-inject", "fault"},
		[]string{"-machine q35", "-smp 2,sockets=2,cores=1,threads=1", "-serial stdio", "-device isa-debug-exit,iobase=0xf4,iosize=0x04",
			"-kernel K", "-accel tcg,thread=multi -cpu max", "-append inject=fault"},
		[]string{"pseries", "power9"}},
}

func TestQEMUArgs(t *testing.T) {
	kernel := testKernel(t)
	for _, c := range qemuArgsCases {
		t.Run(c.name, func(t *testing.T) {
			b := planned(t, append([]string{"-kernel", kernel}, c.args...)...)[0]
			args := qemuArgs(b)
			line := " " + strings.Join(args, " ") + " "
			at := 0
			for _, w := range c.want {
				w = strings.ReplaceAll(w, "K", kernel)
				i := strings.Index(line[at:], " "+w+" ")
				if i < 0 {
					t.Errorf("%q not found (in order) in %q", w, line)
					continue
				}
				at += i + len(w)
			}
			for _, n := range c.not {
				if strings.Contains(line, n) {
					t.Errorf("%q should not be in %q", n, line)
				}
			}
			if i := slices.Index(args, "-append"); i >= 0 && args[i+1] != b.Cmdline {
				t.Errorf("-append %q, want the boot's command line %q", args[i+1], b.Cmdline)
			}
		})
	}
}

// ppc64Crash is the crash dump of the ppc64 kernel (arch/ppc64 crash()) for a trap instruction.
const ppc64Crash = `LZ1 crash cpu=0 kind=exception vector=0x0000000000000700 pc=0x00000000000a0ac0 msr=0x8000000002823000 dar=0x0000000000000000 dsisr=0x0000000000000000
LZ1 regs gprs=0x` + "%s" + `
LZ1 bytes at=0x00000000000a0ac0 hex=7fe000084e8000200000000000000000
LZ1 crash-end status=0x0000000000000700`

// ppc64Stub is what the ppc64 image printed before the hosted runtime: no protocol at all.
const ppc64Stub = `lazymm: ppc64 boot stub reached in 64-bit mode, running Go code; the hosted runtime is not ported yet (issue 6)
lazymm: ppc64 write(2) through sc and the 0xc00 vector
lazymm: ppc64 idleWait: 5 ticks in 5650 us, 5 H_CEDE calls`

// pseriesWarnings are what QEMU's pseries prints on stderr on every TCG boot.
const pseriesWarnings = `echo 'qemu-system-ppc64: warning: spapr: kernel_addr changed from 0x400000 to 0x40f000' >&2
echo "qemu-system-ppc64: warning: TCG doesn't support requested feature, cap-cfpc=workaround" >&2`

// ppc64OutcomeCase is a fake pseries console and status, the runner's flags, the exit status and
// what the output must (want) and must not (not) say.
type ppc64OutcomeCase struct {
	name   string
	script string
	args   []string
	rc     int
	want   []string
	not    []string
}

func ppc64OutcomeCases() []ppc64OutcomeCase {
	ppcGood := strings.Replace(goodConsole, "arch=amd64", "arch=ppc64", 1)
	crash := fmt.Sprintf(ppc64Crash, strings.Repeat("0", 512))
	cat := func(console string, status int) string {
		return pseriesWarnings + "\ncat <<'X'\n" + console + "\nX\nexit " + fmt.Sprint(status)
	}
	return []ppc64OutcomeCase{
		// RTAS power-off: QEMU exits 0, the summary passes
		{"pass", cat(ppcGood, 0), nil, 0, []string{"1 as expected", "the machine powered off"}, nil},
		// a passing console with a status power-off cannot give: QEMU itself failed
		{"qemu status", cat(ppcGood, 1), nil, 1, []string{"exit: the console passed but QEMU exit status 1"}, nil},
		// QEMU exited 0 but the summary never came: the power-off carries no verdict, so this fails
		{"power-off before summary", cat(strings.Join(strings.Split(ppcGood, "\n")[:3], "\n"), 0), nil, 2,
			[]string{"exit: QEMU exited with status 0 (the machine powered off) before the summary line", "truncated"}, nil},
		// the kernel of today: it boots to its stub, prints no protocol, powers off
		{"stub", cat(ppc64Stub, 0), nil, 2,
			[]string{"protocol: no protocol line (LZ1 ...)", "other console output of run", "idleWait: 5 ticks", "truncated"},
			[]string{"before the summary line"}},
		{"silent", pseriesWarnings + "\nexit 0", nil, 2, []string{"printed nothing", "truncated"}, nil},
		// QEMU stopped by a signal exits 0 too, and says so on stderr
		{"terminated", "echo 'LZ1 begin name=smoke/goroutines scheme=- scenario=- inject=- expect=pass'\necho 'qemu-system-ppc64: terminating on signal 15 from pid 1' >&2\nexit 0", nil, 2,
			[]string{"exit: QEMU was stopped from outside before the summary line: qemu-system-ppc64: terminating on signal 15"}, []string{"powered off) before"}},
		{"garbled", "printf 'LZ1 boot arch=ppc64 cpus=1\\x00 ===\\n'; exit 0", nil, 2, []string{"protocol: console line 1"}, nil},
		// a crash dump: the console's verdict, whatever the exit status says
		{"crash", cat("LZ1 boot arch=ppc64 cpus=1 mem_mb=512 go=go1.26 cmdline=-\nLZ1 begin name=smoke/goroutines scheme=- scenario=- inject=- expect=pass\n"+crash, 0), nil, 1,
			[]string{"crash on cpu 0: CPU exception vector 0x0000000000000700 at pc=0x00000000000a0ac0", "crash dump:", "LZ1 crash-end status=0x0000000000000700"},
			[]string{"before the summary line"}},
		// an injected fault caught by the crash dump is as expected, with QEMU's 0
		{"injected crash", cat("LZ1 boot arch=ppc64 cpus=1 mem_mb=512 go=go1.26 cmdline=-\nLZ1 begin name=inject/fault scheme=- scenario=- inject=fault expect=fail\n"+crash, 0),
			[]string{"-inject", "fault"}, 0, []string{"inject/fault", "as expected"}, []string{"UNEXPECTED"}},
		// an injected bug whose test skips (no address spaces yet) is not as expected, and says why
		{"injected skip", cat("LZ1 boot arch=ppc64 cpus=2 mem_mb=512 go=go1.26 cmdline=-\nLZ1 begin name=inject/mmput-twice scheme=- scenario=- inject=mmput-twice expect=fail catch=user-fault\n"+
			"LZ1 end name=inject/mmput-twice outcome=skip ms=1 reason=\"no address spaces on ppc64 yet\"\nLZ1 summary tests=1 passed=0 failed=1", 0),
			[]string{"-inject", "mmput-twice", "-cpus", "2"}, 1, []string{"inject/mmput-twice: expected to fail, but was skipped: no address spaces on ppc64 yet"}, []string{"but passed"}},
		// a QEMU that refuses the machine: its error, not its warnings, in the detail
		{"qemu error", pseriesWarnings + "\necho 'qemu-system-ppc64: Memory size 0x12c00000 is not aligned to 256 MiB' >&2\nexit 1", nil, 2,
			[]string{"QEMU exit status 1 (QEMU error?", "Memory size 0x12c00000 is not aligned"}, []string{"kernel_addr changed"}},
		// a guest that hangs is killed at the timeout, even with nothing printed
		{"hang", "exec sleep 60", []string{"-timeout", "1s"}, 2, []string{"timeout: no end after 1s (1 planned tests at 1 CPUs): QEMU killed before the boot line", "printed nothing"}, nil},
		{"hang after begin", "echo 'LZ1 begin name=inject/hang scheme=- scenario=- inject=hang expect=fail'; exec sleep 60",
			[]string{"-timeout", "1s", "-inject", "hang"}, 0, []string{"timeout"}, nil},
	}
}

func TestRunnerOutcomesPPC64(t *testing.T) {
	kernel := testKernel(t)
	for _, c := range ppc64OutcomeCases() {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			jsonPath := filepath.Join(t.TempDir(), "r.json")
			args := append([]string{"-arch", "ppc64", "-kernel", kernel, "-qemu", fakeQEMU(t, c.script), "-json", jsonPath}, append(oneTest, c.args...)...)
			start := time.Now()
			rc := run(args, &out, &errb)
			if rc != c.rc {
				t.Errorf("rc = %d, want %d\nstdout:\n%s\nstderr:\n%s", rc, c.rc, out.String(), errb.String())
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, n := range c.not {
				if strings.Contains(out.String(), n) {
					t.Errorf("output has %q:\n%s", n, out.String())
				}
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v", took)
			}
			var rep jsonReport
			b, err := os.ReadFile(jsonPath)
			if err != nil || json.Unmarshal(b, &rep) != nil || rep.Arch != "ppc64" || (rep.Outcome == "pass") != (c.rc == 0) {
				t.Errorf("json report: %v %s", err, b)
			}
		})
	}
}

// checkExit's verdicts per arch: on ppc64 status 0 is every power-off, anything else QEMU's own.
func TestCheckExit(t *testing.T) {
	cases := []struct {
		arch     string
		status   int
		complete bool // the summary line came
		crash    bool
		want     string // the exit failure's detail, "" for none
	}{
		{"ppc64", 0, true, false, ""},
		{"ppc64", 1, true, false, "the console passed but QEMU exit status 1"},
		{"ppc64", 0, false, false, "before the summary line"},
		{"ppc64", 0, false, true, ""}, // the crash says it
		{"ppc64", 1, false, false, "QEMU exit status 1 (QEMU error?"},
		{"ppc64", -1, false, false, ""}, // killed: the timeout says it
		{"amd64", 1, true, false, ""},
		{"amd64", 0, true, false, "the console passed but QEMU exited by itself"},
		{"amd64", 1, false, false, ""},
		{"amd64", 0, false, false, "QEMU exited by itself"},
		{"amd64", 219, false, true, ""},
	}
	for _, c := range cases {
		r := protocol.NewRun()
		r.Feed("LZ1 begin name=a scheme=- scenario=- inject=- expect=pass")
		if c.crash {
			for _, l := range strings.Split(fmt.Sprintf(ppc64Crash, strings.Repeat("0", 512)), "\n") {
				r.Feed(l)
			}
		} else {
			r.Feed("LZ1 end name=a outcome=pass ms=1")
		}
		if c.complete {
			r.Feed("LZ1 summary tests=1 passed=1 failed=0")
		}
		res := &Result{Boot: &Boot{Arch: archNamed(c.arch)}, Run: r, ExitStatus: c.status}
		checkExit(res)
		got := ""
		for _, tt := range r.Tests {
			for _, f := range tt.Failures {
				if f.Check == "exit" {
					got = f.Detail
				}
			}
		}
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("%s status %d complete %v crash %v: exit failure %q, want %q", c.arch, c.status, c.complete, c.crash, got, c.want)
		}
	}
}

func TestRunnerPPC64Defaults(t *testing.T) {
	var out, errb bytes.Buffer
	// no -kernel: the arch's own image
	if rc := run([]string{"-arch", "ppc64"}, &out, &errb); rc != 2 || !strings.Contains(errb.String(), filepath.Join("build", "ppc64", "lazymm.elf")) {
		t.Errorf("rc %d: %s", rc, errb.String())
	}
	if strings.HasPrefix(runtime.GOARCH, "ppc64") {
		return
	}
	kernel := filepath.Join(t.TempDir(), "k.elf")
	os.WriteFile(kernel, []byte("x"), 0o644)
	errb.Reset()
	if rc := run([]string{"-arch", "ppc64", "-kernel", kernel, "-kvm"}, &out, &errb); rc != 2 || !strings.Contains(errb.String(), "needs a ppc64 host") {
		t.Errorf("-kvm on %s: rc %d: %s", runtime.GOARCH, rc, errb.String())
	}
	if archNamed("ppc64").GDB() != "gdb-multiarch" {
		t.Errorf("a ppc64 kernel on %s needs gdb-multiarch", runtime.GOARCH)
	}
}

// crashProg is a small Go program whose function faults at a known line; built for each arch, its
// image is what the symbolizer reads (debug/gosym reads a big-endian .gopclntab as well).
const crashProg = `package main

//go:noinline
func crashHere(p *int) int {
	x := *p + 1
	return x * 3
}

func main() { println(crashHere(nil)) }
`

// buildCrashProg cross-compiles crashProg for goarch and returns the image and crashHere's symbol.
func buildCrashProg(t *testing.T, goarch string) (string, elf.Symbol) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module crashprog\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(crashProg), 0o644)
	img := filepath.Join(dir, "prog-"+goarch)
	cmd := exec.Command(goTool, "build", "-o", img, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build for %s: %v\n%s", goarch, err, b)
	}
	f, err := elf.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	for _, s := range syms {
		if s.Name == "main.crashHere" {
			return img, s
		}
	}
	t.Fatalf("no main.crashHere in the %s image", goarch)
	return "", elf.Symbol{}
}

// imageBytes reads n bytes of the image's .text at addr (nil outside it).
func imageBytes(t *testing.T, img string, addr uint64, n int) []byte {
	t.Helper()
	f, err := elf.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	text := f.Section(".text")
	data, _ := text.Data()
	if addr < text.Addr || addr-text.Addr+uint64(n) > uint64(len(data)) {
		return nil
	}
	return data[addr-text.Addr : addr-text.Addr+uint64(n)]
}

func TestSymbolizeCrash(t *testing.T) {
	type crashCase struct {
		name  string
		pc    func(fn uint64) uint64
		dump  func(image []byte) string // the bytes line's hex, from the image's 16 bytes at pc
		want  []string
		not   []string
		crash func(pc uint64, hexs string) string
	}
	ppcCrash := func(vector, msr string) func(uint64, string) string {
		return func(pc uint64, hexs string) string {
			return fmt.Sprintf("LZ1 crash cpu=1 kind=exception vector=%s pc=%#016x msr=%s dar=0x0000000000000000 dsisr=0x0000000040000000\n"+
				"LZ1 regs gprs=0x%s\nLZ1 bytes at=%#016x hex=%s\nLZ1 crash-end status=%s", vector, pc, msr, strings.Repeat("0", 512), pc, hexs, vector)
		}
	}
	amdCrash := func(pc uint64, hexs string) string {
		return fmt.Sprintf("LZ1 crash cpu=0 kind=exception vector=14 name=#PF error=0x0 rip=%#x rsp=0x1 cr2=0x0 cr3=0x1000\n"+
			"LZ1 bytes at=%#x hex=%s\nLZ1 crash-end status=220", pc, pc, hexs)
	}
	same := func(b []byte) string { return hex.EncodeToString(b) }
	other := func(b []byte) string { return strings.Repeat("60000000", 4) } // nops: not what the image has
	for _, arch := range []struct {
		goarch string
		cases  []crashCase
	}{
		{"ppc64", []crashCase{
			{"in the function", func(fn uint64) uint64 { return fn + 8 }, same,
				[]string{"pc 0x", "is in main.crashHere+0x8 (main.go:", "vector 0x300: data storage", "code around it, from the image:", "=> 0x", "main.go:5"},
				[]string{"differs from the image's", "rip"}, ppcCrash("0x0000000000000300", "0x8000000000001000")},
			{"program check", func(fn uint64) uint64 { return fn + 4 }, same,
				[]string{"is in main.crashHere+0x4", "vector 0x700: program check (SRR1: trap instruction)"}, nil,
				ppcCrash("0x0000000000000700", "0x8000000002823000")},
			{"dump differs", func(fn uint64) uint64 { return fn + 8 }, other,
				[]string{"the code the kernel dumped differs from the image's"}, nil, ppcCrash("0x300", "0x0")},
			{"top bits", func(fn uint64) uint64 { return 0xc000000000000000 | fn + 8 }, same,
				[]string{"(the image's 0x", "real mode ignores the top 4 bits) is in main.crashHere+0x8", "=> 0x"}, nil, ppcCrash("0x300", "0x0")},
			// outside the image: the dumped bytes are disassembled instead (tw 31,0,0; blr)
			{"outside the image", func(uint64) uint64 { return 0x40 }, func([]byte) string { return "7fe000084e800020" },
				[]string{"pc 0x40 is in ?", "0x40: TW", "0x44: RET"}, []string{"code around it"}, ppcCrash("0x700", "0x20000")},
		}},
		{"amd64", []crashCase{
			{"in the function", func(fn uint64) uint64 { return fn }, same,
				[]string{"rip 0x", "is in main.crashHere+0x0 (main.go:", "=> 0x"}, []string{"differs", "vector 0x"}, amdCrash},
		}},
	} {
		t.Run(arch.goarch, func(t *testing.T) {
			img, fn := buildCrashProg(t, arch.goarch)
			s := newSymbolizer(img)
			if s == nil || s.arch != arch.goarch || s.lines == nil {
				t.Fatalf("symbolizer of the %s image: %+v", arch.goarch, s)
			}
			for _, c := range arch.cases {
				pc := c.pc(fn.Value)
				code := imageBytes(t, img, (pc&^(0xf<<60))&^3, 16)
				r := protocol.NewRun()
				for _, l := range strings.Split(c.crash(pc, c.dump(code)), "\n") {
					r.Feed(l)
				}
				if len(r.Crashes) != 1 {
					t.Fatalf("%s: %d crashes parsed", c.name, len(r.Crashes))
				}
				got := strings.Join(s.explain(r.Crashes[0]), "\n")
				t.Logf("%s:\n%s", c.name, got)
				for _, w := range c.want {
					if !strings.Contains(got, w) {
						t.Errorf("%s: lacks %q:\n%s", c.name, w, got)
					}
				}
				for _, n := range c.not {
					if strings.Contains(got, n) {
						t.Errorf("%s: has %q:\n%s", c.name, n, got)
					}
				}
			}
		})
	}
}

// POWER encodings for the probe kernels below (as in tests/ppc64_probe_test.go).
func ppcLI(rt, v uint32) uint32       { return 14<<26 | rt<<21 | v&0xffff }
func ppcLIS(rt, v uint32) uint32      { return 15<<26 | rt<<21 | v&0xffff }
func ppcORI(ra, rs, v uint32) uint32  { return 24<<26 | rs<<21 | ra<<16 | v&0xffff }
func ppcORIS(ra, rs, v uint32) uint32 { return 25<<26 | rs<<21 | ra<<16 | v&0xffff }

// ppcSLDI is rldicr ra,rs,n,63-n.
func ppcSLDI(ra, rs, n uint32) uint32 {
	me := 63 - n
	return 30<<26 | rs<<21 | ra<<16 | (n&31)<<11 | ((me&31)<<1|me>>5)<<5 | 1<<2 | (n>>5)<<1
}

// ppcLoad64 sets register r to v.
func ppcLoad64(r uint32, v uint64) []uint32 {
	return []uint32{ppcLIS(r, uint32(v>>48)), ppcORI(r, r, uint32(v>>32)), ppcSLDI(r, r, 32),
		ppcORIS(r, r, uint32(v>>16)), ppcORI(r, r, uint32(v))}
}

// probeKernel is a stand-in ppc64 kernel for pseries+VOF: entered at its lowest loaded address in
// 32-bit real mode, it prints console through H_PUT_TERM_CHAR (16 bytes a call) and then powers the
// machine off through RTAS, or spins (powerOff false).
func probeKernel(console string, powerOff bool) []byte {
	const vaddr, load = 0x100000, 0x400000 // QEMU's pseries loads at 0x400000 + (vaddr & 0x0fffffff)
	var code []uint32
	for b := []byte(console); len(b) > 0; {
		var chunk [16]byte
		n := copy(chunk[:], b)
		b = b[n:]
		code = append(code, ppcLI(3, 0x58), ppcLI(4, 0), ppcLI(5, uint32(n))) // H_PUT_TERM_CHAR, vterm 0
		code = append(code, ppcLoad64(6, binary.BigEndian.Uint64(chunk[:8]))...)
		code = append(code, ppcLoad64(7, binary.BigEndian.Uint64(chunk[8:]))...)
		code = append(code, 0x44000022) // sc 1
	}
	bufOff := (len(code)*4 + 64 + 0xff) &^ 0xff
	if powerOff {
		buf := uint32(load + vaddr + bufOff)
		code = append(code, ppcLI(3, 0), ppcORI(3, 3, 0xf000), ppcLIS(4, buf>>16), ppcORI(4, 4, buf), 0x44000022) // H_RTAS
	}
	code = append(code, 0x48000000) // b .
	var text bytes.Buffer
	binary.Write(&text, binary.BigEndian, code)
	text.Write(make([]byte, bufOff-text.Len()))
	binary.Write(&text, binary.BigEndian, []uint32{0x2003, 2, 1, 0, 0, 0xffffffff}) // power-off
	var img bytes.Buffer
	img.Write([]byte{0x7f, 'E', 'L', 'F', 2, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	binary.Write(&img, binary.BigEndian, struct {
		Type, Machine                                   uint16
		Version                                         uint32
		Entry, Phoff, Shoff                             uint64
		Flags                                           uint32
		Ehsize, Phentsize, Phnum, Shentsize, Shnum, Str uint16
	}{2, 21, 1, vaddr, 64, 0, 2, 64, 56, 1, 64, 0, 0})
	binary.Write(&img, binary.BigEndian, struct {
		Type, Flags                             uint32
		Off, Vaddr, Paddr, Filesz, Memsz, Align uint64
	}{1, 7, 0x1000, vaddr, vaddr, uint64(text.Len()), uint64(text.Len()), 0x1000})
	img.Write(make([]byte, 0x1000-img.Len()))
	img.Write(text.Bytes())
	return img.Bytes()
}

// The runner's own pseries machine, booting stand-in kernels: the console is read from the
// hypervisor vterm, a power-off (status 0) is judged by the console alone, a hang is killed.
func TestPPC64BootWithQEMU(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-ppc64"); err != nil {
		t.Skip("qemu-system-ppc64 is not installed (make setup installs it)")
	}
	good := strings.Replace(goodConsole, "arch=amd64 cpus=1", "arch=ppc64 cpus=2", 1) + "\n"
	cases := []struct {
		name     string
		console  string
		powerOff bool
		args     []string
		rc       int
		want     []string
	}{
		{"pass", good, true, nil, 0, []string{"1 as expected", "the machine powered off"}},
		{"power-off before summary", strings.Join(strings.Split(good, "\n")[:2], "\n") + "\n", true, nil, 2,
			[]string{"QEMU exited with status 0 (the machine powered off) before the summary line", "truncated"}},
		{"no protocol", "lazymm: a stub\n", true, nil, 2, []string{"no protocol line", `the last: "lazymm: a stub"`}},
		{"hang after summary", good, false, []string{"-timeout", "3s"}, 2, []string{"timeout: no end after 3s (1 planned tests at 2 CPUs): QEMU killed after smoke/goroutines ended", "host load average"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "probe.elf")
			if err := os.WriteFile(img, probeKernel(c.console, c.powerOff), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			start := time.Now()
			rc := run(append([]string{"-arch", "ppc64", "-cpus", "2", "-kernel", img, "-v"}, append(oneTest, c.args...)...), &out, &errb)
			t.Logf("console (-v) and QEMU's stderr:\n%s\nrunner:\n%s", errb.String(), out.String())
			if rc != c.rc {
				t.Errorf("rc %d, want %d:\n%s%s", rc, c.rc, out.String(), errb.String())
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s%s", w, out.String(), errb.String())
				}
			}
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}

// The kernel command line reaches the ppc64 kernel as /chosen/bootargs of the device tree VOF serves,
// and -cpus as the CPU nodes: the runner's QEMU command line, with the tree dumped instead of booted.
func TestPPC64DeviceTree(t *testing.T) {
	qemu, err := exec.LookPath("qemu-system-ppc64")
	if err != nil {
		t.Skip("qemu-system-ppc64 is not installed (make setup installs it)")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "probe.elf")
	os.WriteFile(img, probeKernel("", true), 0o644)
	b := planned(t, "-arch", "ppc64", "-cpus", "3", "-kernel", img, "-inject", "refcount-no-grab", "-seed", "42", "-append", "scheme=hazard,refcount")[0]
	dtb := filepath.Join(dir, "tree.dtb")
	args := qemuArgs(b)
	for i, a := range args {
		if a == "pseries,x-vof=on" {
			args[i] += ",dumpdtb=" + dtb
		}
	}
	if b, err := exec.Command(qemu, args...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	tree, err := os.ReadFile(dtb)
	if err != nil {
		t.Fatal(err)
	}
	props := fdtProps(t, tree)
	if got, want := props["/chosen/bootargs"], b.Cmdline+"\x00"; got != want {
		t.Errorf("/chosen/bootargs %q, want %q", got, want)
	}
	cpus := 0
	for k := range props {
		if strings.HasPrefix(k, "/cpus/PowerPC,POWER9@") && strings.HasSuffix(k, "/device_type") {
			cpus++
		}
	}
	if cpus != b.CPUs {
		t.Errorf("%d CPU nodes, want %d", cpus, b.CPUs)
	}
}

// fdtProps reads a flattened device tree into path/property -> value.
func fdtProps(t *testing.T, b []byte) map[string]string {
	t.Helper()
	be := binary.BigEndian
	if len(b) < 40 || be.Uint32(b) != 0xd00dfeed {
		t.Fatalf("not a device tree")
	}
	structOff, stringsOff := be.Uint32(b[8:]), be.Uint32(b[12:])
	cstr := func(off uint32) string {
		e := bytes.IndexByte(b[off:], 0)
		return string(b[off : off+uint32(e)])
	}
	props := map[string]string{}
	var path []string
	for p := structOff; int(p)+4 <= len(b); {
		tok := be.Uint32(b[p:])
		p += 4
		switch tok {
		case 1: // begin node
			name := cstr(p)
			path = append(path, name)
			p = (p + uint32(len(name)) + 1 + 3) &^ 3
		case 2: // end node
			path = path[:len(path)-1]
		case 3: // property
			n, nameOff := be.Uint32(b[p:]), be.Uint32(b[p+4:])
			props[strings.Join(path, "/")+"/"+cstr(stringsOff+nameOff)] = string(b[p+8 : p+8+n])
			p = (p + 8 + n + 3) &^ 3
		case 4: // nop
		case 9: // end
			return props
		default:
			t.Fatalf("bad device-tree token %d", tok)
		}
	}
	return props
}

// -mmu is ppc64's: radix (default), radix-tlbie, which adds the kernel word tlbie, or hash, which adds
// hash; any other value, or -mmu on amd64, are usage errors. Each mode's bugs are the catalogue's.
func TestMMUFlag(t *testing.T) {
	for mode, want := range map[string]string{"radix-tlbie": "tlbie", "hash": "hash", "radix": ""} {
		if got := planned(t, "-arch", "ppc64", "-mmu", mode)[0].Cmdline; got != want {
			t.Errorf("%s: kernel words %q, want %q", mode, got, want)
		}
	}
	for mode, want := range map[string]string{"hash": "skip-hpte-remove", "radix": "skip-tlbie"} {
		var injects []string
		for _, b := range planned(t, "-arch", "ppc64", "-mmu", mode, "-inject", "all", "-cpus", "4") {
			injects = append(injects, b.Inject)
		}
		if !slices.Contains(injects, want) || slices.Equal(injects, catalog.Names(catalog.Bugs("ppc64", mode))) == false {
			t.Errorf("%s's bugs %v: want the catalogue's, with %s", mode, injects, want)
		}
	}
	for _, args := range [][]string{{"-arch", "ppc64", "-mmu", "x"}, {"-mmu", "radix"}} {
		var out strings.Builder
		if rc := run(append(args, "-list"), &out, &out); rc != 2 {
			t.Errorf("%v: exit %d, want 2:\n%s", args, rc, out.String())
		}
	}
}
