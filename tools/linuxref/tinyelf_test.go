package main

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// TestTinyELF checks the child program's header, disassembles its code, and runs it with and without
// its thread where the host can (linux/amd64).
func TestTinyELF(t *testing.T) {
	b, err := tinyELF()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not an ELF file: %v", err)
	}
	if f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC || len(f.Progs) != 1 || f.Entry != tinyCodeAt {
		t.Fatalf("header: machine %v type %v progs %d entry %#x", f.Machine, f.Type, len(f.Progs), f.Entry)
	}
	code := b[tinyCodeAt-tinyBase:]
	var text []string
	for len(code) > 0 {
		in, err := x86asm.Decode(code, 64)
		if err != nil {
			t.Fatalf("cannot decode at %d: %v", len(b)-len(code), err)
		}
		text = append(text, x86asm.IntelSyntax(in, 0, nil))
		code = code[in.Len:]
	}
	asm := strings.Join(text, "\n")
	for _, want := range []string{"syscall", "mov eax, 0x38", "mov eax, 0xe7", "mov eax, 0x3c", "mov eax, 0xca"} {
		if !strings.Contains(asm, want) {
			t.Errorf("no %q in the code:\n%s", want, asm)
		}
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs only on linux/amd64")
	}
	path := filepath.Join(t.TempDir(), "lrchild")
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{nil, {"thread"}} {
		if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
			t.Errorf("lrchild %v: %v %s", args, err, out)
		}
	}
	// the spawner: a count of 0 runs nothing; 5 execs /bin/lrchild, which the host lacks (the guest
	// has it), so the first child's exec fails and the spawner exits with status 1
	if err := exec.Command(path, "spawn", "").Run(); err != nil {
		t.Errorf("lrchild spawn 0: %v", err)
	}
	if _, err := os.Stat(childPath); err == nil {
		t.Skipf("the host has %s: the failing spawn is not checked", childPath)
	}
	if err := exec.Command(path, "spawn", "\x05").Run(); err == nil || err.(*exec.ExitError).ExitCode() != 1 {
		t.Errorf("lrchild spawn 5 without %s: %v, want exit status 1", childPath, err)
	}
}
