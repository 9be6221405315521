package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// buildPPC64 cross-compiles a tiny Go program for GOARCH=ppc64 (a real Go image layout: section
// headers right after the program headers).
func buildPPC64(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module probe\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"hi\") }\n"), 0o644)
	out := filepath.Join(dir, "p.elf")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=ppc64", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot cross-compile for ppc64: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPatchPPC64(t *testing.T) {
	img := buildPPC64(t)
	orig := append([]byte(nil), img...)
	at, err := PatchPPC64(img, "main.main")
	if err != nil {
		t.Fatal(err)
	}
	if at != spaprLoad+trampVaddr {
		t.Errorf("entered at %#x, want %#x", at, spaprLoad+trampVaddr)
	}
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("the patched image is no longer an ELF: %v", err)
	}
	o, _ := elf.NewFile(bytes.NewReader(orig))
	if len(f.Progs) != len(o.Progs)+1 || len(f.Sections) != len(o.Sections) {
		t.Fatalf("%d program headers (was %d), %d sections (was %d)", len(f.Progs), len(o.Progs), len(f.Sections), len(o.Sections))
	}
	var tramp *elf.Prog
	lowest := ^uint64(0)
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			lowest = min(lowest, p.Vaddr)
			if p.Vaddr == trampVaddr {
				tramp = p
			}
		}
		if p.Type == elf.PT_PHDR && p.Filesz != uint64(len(f.Progs))*56 {
			t.Errorf("PT_PHDR covers %d bytes for %d headers", p.Filesz, len(f.Progs))
		}
	}
	if tramp == nil || lowest != trampVaddr || tramp.Flags&elf.PF_X == 0 {
		t.Fatalf("no executable trampoline segment at the lowest address (%#x): %+v", lowest, tramp)
	}
	code := make([]byte, tramp.Filesz)
	tramp.ReadAt(code, 0)
	if w := binary.BigEndian.Uint32(code); w != 0x48000005 {
		t.Errorf("the trampoline starts with %#x, not bl .+4", w)
	}
	if w := binary.BigEndian.Uint32(code[len(code)-4:]); w != trampMarker {
		t.Errorf("the trampoline ends with %#x, not its marker", w)
	}
	if syms, err := f.Symbols(); err != nil || len(syms) == 0 {
		t.Errorf("symbols lost: %v", err)
	}
	again := append([]byte(nil), img...)
	if _, err := PatchPPC64(again, "main.main"); err != nil || !bytes.Equal(again, img) {
		t.Errorf("a second run changed the image (%v)", err)
	}
	if _, err := PatchPPC64(append([]byte(nil), orig...), "no.such.symbol"); err == nil {
		t.Error("an unknown entry symbol accepted")
	}
	if _, err := PatchPPC64([]byte("\x7fELF not really"), "main.main"); err == nil {
		t.Error("garbage accepted")
	}
}
