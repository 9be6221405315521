package main

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildELF compiles a tiny static Go program for linux/amd64, the shape of the kernel image.
func buildELF(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	os.WriteFile(src, []byte("package main\nfunc main() { println(1) }\n"), 0o644)
	out := filepath.Join(dir, "k.elf")
	cmd := exec.Command("go", "build", "-o", out, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GO111MODULE=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func TestWriteAndFind(t *testing.T) {
	path := buildELF(t)
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"-entry", "main.main", path}, &stdout, &stderr); rc != 0 {
		t.Fatalf("mkimage failed (%d): %s", rc, stderr.String())
	}
	image, _ := os.ReadFile(path)
	h, err := Find(image)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(path) // still a valid ELF with symbols
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	var mainAddr uint64
	for _, s := range syms {
		if s.Name == "main.main" {
			mainAddr = s.Value
		}
	}
	if uint64(h.EntryAddr) != mainAddr || h.LoadAddr != 0x400000 || h.HeaderAddr != h.LoadAddr+uint32(h.Offset) {
		t.Errorf("header %v, main.main at %#x", h, mainAddr)
	}
	if h.Offset%4 != 0 || h.Offset+32 > 8192 || h.BSSEnd < h.LoadEnd {
		t.Errorf("bad placement %v", h)
	}
	// idempotent
	if rc := run([]string{"-entry", "main.main", path}, &stdout, &stderr); rc != 0 {
		t.Fatalf("second run failed: %s", stderr.String())
	}
	again, _ := os.ReadFile(path)
	if !bytes.Equal(image, again) {
		t.Errorf("second run changed the image")
	}
	stdout.Reset()
	if rc := run([]string{"-check", path}, &stdout, &stderr); rc != 0 || !strings.Contains(stdout.String(), "entry_addr=") {
		t.Errorf("-check: %d %q %q", rc, stdout.String(), stderr.String())
	}
}

func TestBadInput(t *testing.T) {
	elfPath := buildELF(t)
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not an elf at all"), 0o644)
	full, _ := os.ReadFile(elfPath)
	trunc := filepath.Join(dir, "trunc")
	os.WriteFile(trunc, full[:100], 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no args", nil, "exactly one"},
		{"bad flag", []string{"-nope", elfPath}, "flag provided but not defined"},
		{"missing file", []string{"-entry", "x", filepath.Join(dir, "missing")}, "no such file"},
		{"not elf", []string{"-entry", "x", junk}, "not an ELF"},
		{"truncated", []string{"-entry", "x", trunc}, "not an ELF"},
		{"no symbol", []string{"-entry", "no.such.symbol", elfPath}, "not found"},
		{"no entry flag", []string{elfPath}, "-entry"},
		{"check unpatched", []string{"-check", elfPath}, "no multiboot header"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		rc := run(c.args, &stdout, &stderr)
		if rc != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s: rc=%d stderr=%q, want 2 and %q", c.name, rc, stderr.String(), c.want)
		}
	}
}

// FuzzImage: arbitrary bytes never panic the planner or the finder.
func FuzzImage(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add(append([]byte("\x02\xb0\xad\x1b\x03\x00\x01\x00\xfb\x4f\x51\xe4"), make([]byte, 64)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := Plan(b, "main.main"); err == nil {
			Write(b, h)
		}
		Find(b)
	})
}
