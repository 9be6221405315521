package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzImage from the tiny ELF variants")

// A tiny Go program of the kernel's shape: a static linux/amd64 executable with an assembly function
// that Go code refers to (so the linker emits an ABI wrapper and the body is named main.boot32.abi0).
const (
	tinyMain = `package main

func boot32()

var entry = boot32

func main() { println(entry != nil) }
`
	tinyAsm = `#include "textflag.h"

TEXT ·boot32(SB),NOSPLIT|NOFRAME,$0
	BYTE $0xf4 // hlt
	BYTE $0xeb // jmp .-1
	BYTE $0xfd
`
)

var goELF struct {
	once  sync.Once
	image []byte
	err   error
}

// goImage returns a fresh copy of the tiny program built with GOOS=linux GOARCH=amd64 CGO_ENABLED=0.
func goImage(t *testing.T) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	goELF.once.Do(func() {
		dir, err := os.MkdirTemp("", "mkimage-test")
		if err != nil {
			goELF.err = err
			return
		}
		defer os.RemoveAll(dir)
		for name, src := range map[string]string{"go.mod": "module tiny\n\ngo 1.26\n", "main.go": tinyMain, "boot_amd64.s": tinyAsm} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
				goELF.err = err
				return
			}
		}
		out := filepath.Join(dir, "k.elf")
		cmd := exec.Command("go", "build", "-o", out, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
		if b, err := cmd.CombinedOutput(); err != nil {
			goELF.err = fmt.Errorf("go build: %v\n%s", err, b)
			return
		}
		goELF.image, goELF.err = os.ReadFile(out)
	})
	if goELF.err != nil {
		t.Fatal(goELF.err)
	}
	return bytes.Clone(goELF.image)
}

// symbol returns the value of the named symbol according to debug/elf.
func symbol(t *testing.T, image []byte, name string) uint64 {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("no symbol %s", name)
	return 0
}

// checkAgainstELF checks h's fields against what debug/elf says about image.
func checkAgainstELF(t *testing.T, image []byte, h Header, entry uint64) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		t.Fatalf("patched image is no longer an ELF: %v", err)
	}
	if syms, err := f.Symbols(); err != nil || len(syms) == 0 {
		t.Fatalf("patched image lost its symbols: %v", err)
	}
	var loadAddr, loadEnd, bssEnd uint64
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if p.Off == 0 {
			loadAddr = p.Vaddr
		}
		loadEnd = max(loadEnd, p.Vaddr+p.Filesz)
		bssEnd = max(bssEnd, p.Vaddr+p.Memsz)
	}
	le := binary.LittleEndian
	b := image[h.Offset:]
	switch {
	case h.Offset%4 != 0 || h.Offset+32 > 8192:
		t.Errorf("header at %#x: not 4-byte aligned in the first 8 KiB", h.Offset)
	case le.Uint32(b) != 0x1badb002 || le.Uint32(b[4:]) != 0x10003 || le.Uint32(b[8:]) != mbChecksum:
		t.Errorf("magic/flags/checksum: % x", b[:12])
	case le.Uint32(b)+le.Uint32(b[4:])+le.Uint32(b[8:]) != 0:
		t.Errorf("checksum does not sum to 0")
	case uint64(h.LoadAddr) != loadAddr || uint64(h.LoadEnd) != loadEnd || uint64(h.BSSEnd) != bssEnd:
		t.Errorf("%v: ELF loads [%#x, %#x) bss to %#x", h, loadAddr, loadEnd, bssEnd)
	case h.HeaderAddr != h.LoadAddr+uint32(h.Offset) || uint64(h.EntryAddr) != entry:
		t.Errorf("%v: want header_addr %#x, entry %#x", h, h.LoadAddr+uint32(h.Offset), entry)
	case le.Uint32(b[12:]) != h.HeaderAddr || le.Uint32(b[16:]) != h.LoadAddr || le.Uint32(b[20:]) != h.LoadEnd ||
		le.Uint32(b[24:]) != h.BSSEnd || le.Uint32(b[28:]) != h.EntryAddr:
		t.Errorf("%v: bytes % x", h, b[:32])
	}
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOBITS && s.Offset < uint64(h.Offset)+32 && uint64(h.Offset) < s.Offset+s.FileSize {
			t.Errorf("header at %#x overlaps section %s [%#x, %#x)", h.Offset, s.Name, s.Offset, s.Offset+s.FileSize)
		}
	}
}

func TestGoELF(t *testing.T) {
	orig := goImage(t)
	for _, c := range []struct{ entry, sym string }{
		{"main.boot32", "main.boot32.abi0"}, // the assembly body, not its ABI wrapper
		{"main.boot32.abi0", "main.boot32.abi0"},
		{"main.main", "main.main"},
	} {
		t.Run(c.entry, func(t *testing.T) {
			dir := t.TempDir()
			in, out := filepath.Join(dir, "in.elf"), filepath.Join(dir, "out.elf")
			if err := os.WriteFile(in, orig, 0o751); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if rc := run([]string{"-entry", c.entry, "-o", out, in}, &stdout, &stderr); rc != 0 {
				t.Fatalf("mkimage failed (%d): %s", rc, stderr.String())
			}
			if b, _ := os.ReadFile(in); !bytes.Equal(b, orig) {
				t.Errorf("-o modified the input")
			}
			if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o751 {
				t.Errorf("output mode: %v %v", fi.Mode(), err)
			}
			image, _ := os.ReadFile(out)
			h, err := Find(image)
			if err != nil {
				t.Fatal(err)
			}
			checkAgainstELF(t, image, h, symbol(t, image, c.sym))
			onlyHeaderChanged(t, orig, image, h)

			// In place, twice: the same bytes as with -o, and the second run changes nothing.
			for i := 0; i < 2; i++ {
				if rc := run([]string{"-entry", c.entry, in}, &stdout, &stderr); rc != 0 {
					t.Fatalf("in-place run %d failed (%d): %s", i, rc, stderr.String())
				}
				if b, _ := os.ReadFile(in); !bytes.Equal(b, image) {
					t.Fatalf("in-place run %d differs from -o", i)
				}
			}

			stdout.Reset()
			if rc := run([]string{"-check", "-entry", c.entry, out}, &stdout, &stderr); rc != 0 {
				t.Fatalf("-check failed: %s", stderr.String())
			}
			for _, want := range []string{fmt.Sprintf("file offset %#x", h.Offset), fmt.Sprintf("entry_addr    %#x %s", h.EntryAddr, c.sym)} {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("-check output %q lacks %q", stdout.String(), want)
				}
			}
			if r, err := Inspect(out, ""); err != nil || r.Header != h || r.Symbol != c.sym {
				t.Errorf("Inspect: %+v, %v", r, err)
			}
			grubAccepts(t, out)
		})
	}
	t.Logf("tiny Go ELF: %v", mustFind(t, goImageWith(t, "main.boot32")))
}

func goImageWith(t *testing.T, entry string) []byte {
	image := goImage(t)
	if _, err := Patch(image, entry); err != nil {
		t.Fatal(err)
	}
	return image
}

func mustFind(t *testing.T, image []byte) Header {
	h, err := Find(image)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// grubAccepts runs GRUB's own multiboot header check on the image when grub-file is installed.
func grubAccepts(t *testing.T, path string) {
	t.Helper()
	grubFile, err := exec.LookPath("grub-file")
	if err != nil {
		return
	}
	if out, err := exec.Command(grubFile, "--is-x86-multiboot", path).CombinedOutput(); err != nil {
		t.Errorf("grub-file --is-x86-multiboot: %v %s", err, out)
	}
}

// onlyHeaderChanged checks that patched differs from orig only in the header's 32 bytes.
func onlyHeaderChanged(t *testing.T, orig, patched []byte, h Header) {
	t.Helper()
	if len(orig) != len(patched) {
		t.Fatalf("length changed from %d to %d", len(orig), len(patched))
	}
	for i := range orig {
		if orig[i] != patched[i] && (i < h.Offset || i >= h.Offset+32) {
			t.Fatalf("byte %#x changed, outside the header at %#x", i, h.Offset)
		}
	}
}

// tinyELF describes a small hand-made ELF64 x86-64 executable: ELF header, program headers, section
// headers (unless ShdrsLast), Pad bytes of room, .text (16 bytes, symbol SymName), .data (16 nonzero
// bytes and BSS zero-filled bytes), .symtab, .strtab, .shstrtab. Segments: text (offset 0, R+X) and
// data (R+W).
type tinyELF struct {
	Class     elf.Class
	Type      elf.Type
	Machine   elf.Machine
	LoadAddr  uint64
	Pad       int  // bytes between the headers and .text
	PadFill   byte // what they hold
	BSS       uint64
	TextBSS   uint64 // memsz - filesz of the text segment (its zero-filled tail then overlaps .data)
	DataShift uint64 // added to the data segment's vaddr: vaddr - offset then differs from text's
	SymName   string
	SymInData bool
	NoSymtab  bool
	ZeroNote  bool // an all-zero SHT_NOTE section (and PT_NOTE) at the start of the room
	ShdrsLast bool // section headers at the end of the file, as most linkers do
}

func defaultTiny() tinyELF {
	return tinyELF{Class: elf.ELFCLASS64, Type: elf.ET_EXEC, Machine: elf.EM_X86_64, LoadAddr: 0x400000,
		Pad: 64, BSS: 0x1000, SymName: "main.main"}
}

func (c tinyELF) bytes() []byte {
	type section struct {
		name                  string
		typ                   elf.SectionType
		flags                 elf.SectionFlag
		off, size, ent, align uint64
		link, info            uint32
		data                  []byte
	}
	le := binary.LittleEndian
	var strtab, shstrtab bytes.Buffer
	strtab.WriteByte(0)
	shstrtab.WriteByte(0)
	nprog := 2
	secs := []section{{}}
	if c.ZeroNote {
		nprog++
		secs = append(secs, section{name: ".note.zero", typ: elf.SHT_NOTE, flags: elf.SHF_ALLOC, size: 16, align: 4, data: make([]byte, 16)})
	}
	text := []byte{0xf4, 0xeb, 0xfd, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90} // hlt; jmp .-1
	secs = append(secs,
		section{name: ".text", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR, size: 16, align: 16, data: text},
		section{name: ".data", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC | elf.SHF_WRITE, size: 16, align: 16, data: bytes.Repeat([]byte{0x11}, 16)})
	textIdx, dataIdx := len(secs)-2, len(secs)-1
	if c.BSS > 0 {
		secs = append(secs, section{name: ".bss", typ: elf.SHT_NOBITS, flags: elf.SHF_ALLOC | elf.SHF_WRITE, size: c.BSS, align: 16})
	}
	symIdx := -1
	if !c.NoSymtab {
		symIdx = len(secs)
		secs = append(secs,
			section{name: ".symtab", typ: elf.SHT_SYMTAB, size: 48, ent: 24, align: 8, link: uint32(symIdx + 1), info: 1},
			section{name: ".strtab", typ: elf.SHT_STRTAB, align: 1})
	}
	secs = append(secs, section{name: ".shstrtab", typ: elf.SHT_STRTAB, align: 1})
	shnum := len(secs)

	// File layout.
	phoff := uint64(64)
	cur := phoff + uint64(nprog)*56
	shoff := uint64(0)
	if !c.ShdrsLast {
		shoff = cur
		cur += uint64(shnum) * 64
	}
	roomStart := cur
	cur += uint64(c.Pad)
	align := func(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }
	for i := range secs[1:] {
		s := &secs[i+1]
		if s.name == ".note.zero" {
			s.off = roomStart
			continue
		}
		if s.align > 0 {
			cur = align(cur, s.align)
		}
		s.off = cur
		switch s.name {
		case ".symtab":
			sym := make([]byte, 48)
			strtab.WriteString(c.SymName + "\x00")
			le.PutUint32(sym[24:], 1)
			sym[24+4] = byte(elf.STB_GLOBAL)<<4 | byte(elf.STT_FUNC)
			idx, addr := textIdx, c.LoadAddr+secs[textIdx].off
			if c.SymInData {
				idx, addr = dataIdx, c.LoadAddr+secs[dataIdx].off
				sym[24+4] = byte(elf.STB_GLOBAL)<<4 | byte(elf.STT_OBJECT)
			}
			le.PutUint16(sym[24+6:], uint16(idx))
			le.PutUint64(sym[24+8:], addr)
			le.PutUint64(sym[24+16:], 16)
			s.data = sym
		case ".strtab":
			s.data = strtab.Bytes()
			s.size = uint64(len(s.data))
		case ".shstrtab":
			for i := range secs {
				if secs[i].name != "" {
					shstrtab.WriteString(secs[i].name + "\x00")
				}
			}
			s.data = shstrtab.Bytes()
			s.size = uint64(len(s.data))
		}
		if s.typ != elf.SHT_NOBITS {
			cur += s.size
		}
	}
	if c.ShdrsLast {
		shoff = align(cur, 8)
		cur = shoff + uint64(shnum)*64
	}
	image := make([]byte, cur)

	// ELF header.
	copy(image, elf.ELFMAG)
	image[elf.EI_CLASS] = byte(c.Class)
	image[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	image[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	le.PutUint16(image[16:], uint16(c.Type))
	le.PutUint16(image[18:], uint16(c.Machine))
	le.PutUint32(image[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(image[24:], c.LoadAddr+secs[textIdx].off)
	le.PutUint64(image[32:], phoff)
	le.PutUint64(image[40:], shoff)
	le.PutUint16(image[52:], 64)
	le.PutUint16(image[54:], 56)
	le.PutUint16(image[56:], uint16(nprog))
	le.PutUint16(image[58:], 64)
	le.PutUint16(image[60:], uint16(shnum))
	le.PutUint16(image[62:], uint16(shnum-1))

	// Program headers.
	prog := func(i int, typ elf.ProgType, flags elf.ProgFlag, off, vaddr, filesz, memsz, align uint64) {
		b := image[phoff+uint64(i)*56:]
		le.PutUint32(b[0:], uint32(typ))
		le.PutUint32(b[4:], uint32(flags))
		le.PutUint64(b[8:], off)
		le.PutUint64(b[16:], vaddr)
		le.PutUint64(b[24:], vaddr)
		le.PutUint64(b[32:], filesz)
		le.PutUint64(b[40:], memsz)
		le.PutUint64(b[48:], align)
	}
	textEnd := secs[textIdx].off + 16
	prog(0, elf.PT_LOAD, elf.PF_R|elf.PF_X, 0, c.LoadAddr, textEnd, textEnd+c.TextBSS, 0x1000)
	d := secs[dataIdx].off
	prog(1, elf.PT_LOAD, elf.PF_R|elf.PF_W, d, c.LoadAddr+d+c.DataShift, 16, 16+c.BSS, 0x1000)
	if c.ZeroNote {
		prog(2, elf.PT_NOTE, elf.PF_R, roomStart, c.LoadAddr+roomStart, 16, 16, 4)
	}

	// Room, sections and section headers.
	for i := roomStart; i < roomStart+uint64(c.Pad); i++ {
		image[i] = c.PadFill
	}
	name := 1
	for i, s := range secs {
		if s.data != nil {
			copy(image[s.off:], s.data)
		}
		if i == 0 {
			continue
		}
		if s.name == ".bss" {
			s.off = d + 16
		}
		b := image[shoff+uint64(i)*64:]
		le.PutUint32(b[0:], uint32(name))
		name += len(s.name) + 1
		le.PutUint32(b[4:], uint32(s.typ))
		le.PutUint64(b[8:], uint64(s.flags))
		if s.flags&elf.SHF_ALLOC != 0 {
			le.PutUint64(b[16:], c.LoadAddr+s.off)
		}
		le.PutUint64(b[24:], s.off)
		le.PutUint64(b[32:], s.size)
		le.PutUint32(b[40:], s.link)
		le.PutUint32(b[44:], s.info)
		le.PutUint64(b[48:], s.align)
		le.PutUint64(b[56:], s.ent)
	}
	return image
}

// elf32 is a minimal valid 32-bit x86 ELF header with no segments.
func elf32() []byte {
	b := make([]byte, 52)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(elf.ELFCLASS32), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	le := binary.LittleEndian
	le.PutUint16(b[16:], uint16(elf.ET_EXEC))
	le.PutUint16(b[18:], uint16(elf.EM_386))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	le.PutUint16(b[40:], 52)
	return b
}

func TestTinyELF(t *testing.T) {
	for _, c := range []struct {
		name    string
		image   []byte
		entry   string
		wantOff int    // expected header offset, when the image is accepted
		wantErr string // expected error, otherwise
	}{
		{name: "after section headers", image: mod(func(*tinyELF) {}), wantOff: 64 + 2*56 + 7*64},
		{name: "section headers last", image: mod(func(c *tinyELF) { c.ShdrsLast = true }), wantOff: 64 + 2*56},
		{name: "no bss", image: mod(func(c *tinyELF) { c.BSS = 0 }), wantOff: 64 + 2*56 + 6*64},
		{name: "skips zero note", image: mod(func(c *tinyELF) { c.ZeroNote = true }), wantOff: 64 + 3*56 + 8*64 + 16},
		{name: "exactly enough room", image: mod(func(c *tinyELF) { c.Pad = 32 }), wantOff: 64 + 2*56 + 7*64},

		{name: "empty", image: []byte{}, wantErr: "not an ELF"},
		{name: "not ELF", image: []byte("#!/bin/sh\necho not an ELF\n"), wantErr: "not an ELF"},
		{name: "truncated header", image: mod(func(*tinyELF) {})[:40], wantErr: "not a readable ELF"},
		{name: "truncated segments", image: mod(func(*tinyELF) {})[:0x300], wantErr: "not a readable ELF"},
		{name: "ELF32", image: elf32(), wantErr: "not a 64-bit"},
		{name: "wrong machine", image: mod(func(c *tinyELF) { c.Machine = elf.EM_AARCH64 }), wantErr: "not a 64-bit little-endian x86-64"},
		{name: "PIE", image: mod(func(c *tinyELF) { c.Type = elf.ET_DYN }), wantErr: "want ET_EXEC"},
		{name: "missing symbol", image: mod(func(*tinyELF) {}), entry: "main.nope", wantErr: `entry symbol "main.nope" not found`},
		{name: "no symtab", image: mod(func(c *tinyELF) { c.NoSymtab = true }), wantErr: "no symbol table"},
		{name: "entry not executable", image: mod(func(c *tinyELF) { c.SymInData = true }), wantErr: "not in an executable PT_LOAD"},
		{name: "no room", image: mod(func(c *tinyELF) { c.Pad = 8 }), wantErr: "no room"},
		{name: "no zero padding", image: mod(func(c *tinyELF) { c.Pad, c.PadFill = 256, 0xcc }), wantErr: "no room"},
		{name: "segment offset mismatch", image: mod(func(c *tinyELF) { c.DataShift = 0x1000 }), wantErr: "vaddr-offset must be 0x400000"},
		{name: "above 4 GiB", image: mod(func(c *tinyELF) { c.LoadAddr = 0xffff0000; c.BSS = 0x10000 }), wantErr: "32-bit"},
		{name: "load address above 4 GiB", image: mod(func(c *tinyELF) { c.LoadAddr = 1 << 32 }), wantErr: "32-bit"},
		{name: "zero-filled tail over data", image: mod(func(c *tinyELF) { c.TextBSS = 0x20 }), wantErr: "zero-filled part"},
	} {
		t.Run(c.name, func(t *testing.T) {
			entry := c.entry
			if entry == "" {
				entry = "main.main"
			}
			image := bytes.Clone(c.image)
			h, err := Patch(image, entry)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, %v; want error containing %q", h, err, c.wantErr)
				}
				if !bytes.Equal(image, c.image) {
					t.Errorf("failed Patch modified the image")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Offset != c.wantOff {
				t.Errorf("header at %#x, want %#x", h.Offset, c.wantOff)
			}
			checkAgainstELF(t, image, h, symbol(t, image, entry))
			onlyHeaderChanged(t, c.image, image, h)
			again := bytes.Clone(image)
			if _, err := Patch(again, entry); err != nil || !bytes.Equal(again, image) {
				t.Errorf("second Patch: %v, or it changed the image", err)
			}
			if r, err := Verify(image, entry); err != nil || r.Header != h || r.Symbol != entry {
				t.Errorf("Verify: %+v, %v", r, err)
			}
		})
	}
}

// TestVerifyRejects tampers with a good header and expects -check to notice.
func TestVerifyRejects(t *testing.T) {
	good := defaultTiny().bytes()
	h, err := Patch(good, "main.main")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		edit    func(h *Header)
		wantErr string
	}{
		{"no a.out flag", func(h *Header) { h.Flags = 3 }, "flag 16"},
		{"unknown flag", func(h *Header) { h.Flags |= 1 << 5 }, "not defined"},
		{"header_addr below load_addr", func(h *Header) { h.HeaderAddr = h.LoadAddr - 4 }, "header_addr"},
		{"loads from elsewhere", func(h *Header) { h.HeaderAddr -= 8 }, "not 0"},
		{"load_addr", func(h *Header) {
			h.LoadAddr, h.HeaderAddr, h.LoadEnd, h.BSSEnd, h.EntryAddr = h.LoadAddr+0x1000, h.HeaderAddr+0x1000, h.LoadEnd+0x1000, h.BSSEnd+0x1000, h.EntryAddr+0x1000
		}, "ELF loads at"},
		{"load_end_addr", func(h *Header) { h.LoadEnd -= 4 }, "file-backed segments end"},
		{"load_end_addr past the file", func(h *Header) { h.LoadEnd += 0x100000; h.BSSEnd += 0x100000 }, "file ends before"},
		{"bss_end_addr", func(h *Header) { h.BSSEnd += 4 }, "segments end at"},
		{"bss below load end", func(h *Header) { h.BSSEnd = h.LoadEnd - 1 }, "bss_end_addr below"},
		{"entry outside text", func(h *Header) { h.EntryAddr = h.BSSEnd - 4 }, "not in an executable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			image := bytes.Clone(good)
			bad := h
			c.edit(&bad)
			Write(image, bad)
			if _, err := Verify(image, ""); err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Verify: %v, want error containing %q", err, c.wantErr)
			}
		})
	}
	if _, err := Verify(good, "main.nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Verify with a wrong -entry: %v", err)
	}

	// A header mkimage did not write is left alone.
	foreign := defaultTiny().bytes()
	other := h
	other.Flags = 1<<16 | 1<<2
	Write(foreign, other)
	if _, err := Plan(foreign, "main.main"); err == nil || !strings.Contains(err.Error(), "did not write") {
		t.Errorf("Plan over a foreign header: %v", err)
	}
}

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tiny := write("tiny.elf", defaultTiny().bytes())
	junk := write("junk", []byte("not an elf at all"))
	trunc := write("trunc", defaultTiny().bytes()[:100])
	e32 := write("elf32", elf32())
	full := write("full", defaultTiny().bytes())
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no args", nil, "exactly one image file"},
		{"two files", []string{"-entry", "x", tiny, junk}, "exactly one image file"},
		{"bad flag", []string{"-nope", tiny}, "flag provided but not defined: -nope"},
		{"missing flag value", []string{"-entry"}, "flag needs an argument"},
		{"no -entry", []string{tiny}, "-entry SYMBOL is required"},
		{"missing file", []string{"-entry", "x", filepath.Join(dir, "missing")}, "no such file"},
		{"not ELF", []string{"-entry", "x", junk}, "not an ELF"},
		{"truncated", []string{"-entry", "main.main", trunc}, "not a readable ELF"},
		{"ELF32", []string{"-entry", "main.main", e32}, "not a 64-bit"},
		{"no symbol", []string{"-entry", "no.such.symbol", tiny}, `entry symbol "no.such.symbol" not found`},
		{"no room", []string{"-entry", "main.main", write("noroom", mod(func(c *tinyELF) { c.Pad = 8 }))}, "no room"},
		{"check unpatched", []string{"-check", full}, "no multiboot header"},
		{"check missing", []string{"-check", filepath.Join(dir, "missing")}, "no such file"},
		{"check with -o", []string{"-check", "-o", "x", tiny}, "-o makes no sense"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			rc := run(c.args, &stdout, &stderr)
			msg := stderr.String()
			if rc != 2 || !strings.Contains(msg, c.want) || strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "mkimage: ") || stdout.Len() != 0 {
				t.Errorf("rc=%d stderr=%q stdout=%q; want 2 and one line containing %q", rc, msg, stdout.String(), c.want)
			}
		})
	}

	var stdout, stderr bytes.Buffer
	if rc := run([]string{"-h"}, &stdout, &stderr); rc != 0 || !strings.Contains(stdout.String(), "usage: mkimage") {
		t.Errorf("-h: rc=%d %q %q", rc, stdout.String(), stderr.String())
	}
}

func mod(f func(*tinyELF)) []byte {
	c := defaultTiny()
	f(&c)
	return c.bytes()
}

// FuzzImage: arbitrary bytes never panic the planner, the writer, the finder or the verifier, and an
// image Patch accepts verifies and is a fixed point of Patch.
func FuzzImage(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzImage (see fuzzSeeds).
	f.Fuzz(func(t *testing.T, b []byte) {
		Find(b)
		Verify(b, "")
		Verify(b, "main.main")
		image := bytes.Clone(b)
		h, err := Patch(image, "main.main")
		if err != nil {
			if !bytes.Equal(image, b) {
				t.Fatalf("failed Patch (%v) modified the image", err)
			}
			return
		}
		if r, err := Verify(image, "main.main"); err != nil || r.Header != h {
			t.Fatalf("Patch wrote %v, Verify: %+v, %v", h, r, err)
		}
		again := bytes.Clone(image)
		if h2, err := Patch(again, "main.main"); err != nil || h2 != h || !bytes.Equal(again, image) {
			t.Fatalf("second Patch: %v, %v", h2, err)
		}
	})
}

// fuzzSeeds are small images reaching the interesting paths; testdata/fuzz/FuzzImage holds them too
// (go test -run TestFuzzSeeds -update-seeds rewrites it).
func fuzzSeeds() map[string][]byte {
	patched := defaultTiny().bytes()
	Patch(patched, "main.main")
	return map[string][]byte{
		"tiny":         defaultTiny().bytes(),
		"tiny-patched": patched,
		"shdrs-last":   mod(func(c *tinyELF) { c.ShdrsLast, c.Pad = true, 32 }),
		"zero-note":    mod(func(c *tinyELF) { c.ZeroNote = true }),
		"no-room":      mod(func(c *tinyELF) { c.Pad, c.PadFill = 40, 0xcc }),
		"elf32":        elf32(),
		"magic-only":   []byte("\x7fELF\x02\x01\x01"),
		"mb-header":    append([]byte("\x02\xb0\xad\x1b\x03\x00\x01\x00\xfb\x4f\x51\xe4"), make([]byte, 20)...),
	}
}

func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzImage")
	seeds := fuzzSeeds()
	if *updateSeeds {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, b := range seeds {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b); err != nil || string(got) != want {
			t.Errorf("%s/%s is stale or missing (%v): go test ./tools/mkimage -run TestFuzzSeeds -update-seeds", dir, name, err)
		}
	}
}
