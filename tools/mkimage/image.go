package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
)

// Multiboot 1 header with the a.out kludge (flags bit 16): QEMU's and GRUB's multiboot loaders then load
// the file by the header's address fields and never look at the ELF, which they would refuse (64-bit).
// The loader copies file bytes [text, text+load_end_addr-load_addr) to load_addr, where text is the
// header's file offset minus (header_addr-load_addr), zeroes memory up to bss_end_addr and jumps to
// entry_addr in 32-bit protected mode with paging off.
const (
	mbMagic     = 0x1badb002
	mbFlags     = 1<<0 | 1<<1 | 1<<16               // page-aligned modules, memory info, address fields valid
	mbChecksum  = uint32(1<<32 - mbMagic - mbFlags) // magic+flags+checksum == 0 mod 2^32
	mbKnown     = 1<<0 | 1<<1 | 1<<2 | 1<<16        // the flags multiboot 1 defines (GRUB refuses bits 3-15)
	mbAOut      = 1 << 16
	mbHeaderLen = 32
	mbSearch    = 8192 // loaders look for the header in the first 8 KiB, 4-byte aligned
	mbAlign     = 8    // mkimage places it 8-byte aligned
)

// Header is a multiboot 1 header with the a.out-kludge address fields, and where it lies in the file.
type Header struct {
	Offset                                           int // file offset of the magic
	Flags                                            uint32
	HeaderAddr, LoadAddr, LoadEnd, BSSEnd, EntryAddr uint32
}

func (h Header) String() string {
	return fmt.Sprintf("multiboot header at file offset %#x: flags=%#x header_addr=%#x load_addr=%#x load_end_addr=%#x bss_end_addr=%#x entry_addr=%#x",
		h.Offset, h.Flags, h.HeaderAddr, h.LoadAddr, h.LoadEnd, h.BSSEnd, h.EntryAddr)
}

// bytes encodes the header as a loader reads it.
func (h Header) bytes() []byte {
	b := make([]byte, mbHeaderLen)
	le := binary.LittleEndian
	le.PutUint32(b[0:], mbMagic)
	le.PutUint32(b[4:], h.Flags)
	le.PutUint32(b[8:], -(mbMagic + h.Flags))
	le.PutUint32(b[12:], h.HeaderAddr)
	le.PutUint32(b[16:], h.LoadAddr)
	le.PutUint32(b[20:], h.LoadEnd)
	le.PutUint32(b[24:], h.BSSEnd)
	le.PutUint32(b[28:], h.EntryAddr)
	return b
}

// Report is a verified header with the name of the ELF symbol at its entry address.
type Report struct {
	Header
	Symbol string // "" when no symbol has the entry address as its value
}

func (r Report) String() string {
	sym := r.Symbol
	if sym == "" {
		sym = "(no symbol)"
	}
	return fmt.Sprintf("multiboot header at file offset %#x, flags %#x\n"+
		"  header_addr   %#x\n  load_addr     %#x\n  load_end_addr %#x\n  bss_end_addr  %#x\n  entry_addr    %#x %s",
		r.Offset, r.Flags, r.HeaderAddr, r.LoadAddr, r.LoadEnd, r.BSSEnd, r.EntryAddr, sym)
}

// span is a half-open range of file offsets.
type span struct{ lo, hi uint64 }

func (s span) overlaps(lo, hi uint64) bool { return s.lo < hi && lo < s.hi }

// layout is what a multiboot loader has to reproduce of an ELF: one contiguous copy of the file from
// offset 0 to loadAddr, zeroes up to bssEnd.
type layout struct {
	f                         *elf.File
	loadAddr, loadEnd, bssEnd uint64
	firstFilesz               uint64 // file size of the PT_LOAD at offset 0: the header must lie in it
	searchFrom                uint64 // end of the ELF, program and (when at the start) section headers
	reserved                  []span // file bytes the header must not overlap
}

// add returns a+b, or false when that overflows.
func add(a, b uint64) (uint64, bool) { return a + b, a+b >= a }

// parseELF checks that image is a 64-bit x86-64 executable that a loader copying the file contiguously
// to its first segment's address reproduces exactly, and returns that layout.
func parseELF(image []byte) (*layout, error) {
	f, err := openX86ELF(image)
	if err != nil {
		return nil, err
	}
	l := &layout{f: f, searchFrom: 64}
	if err := l.reserveHeaders(image); err != nil {
		return nil, err
	}
	loads, err := l.loadSegments()
	if err != nil {
		return nil, err
	}
	if err := l.checkLoads(loads, uint64(len(image))); err != nil {
		return nil, err
	}
	if err := l.checkZeroTails(loads, image); err != nil {
		return nil, err
	}
	return l, nil
}

// openX86ELF reads image as an ELF file and checks that it is a 64-bit little-endian x86-64
// executable.
func openX86ELF(image []byte) (*elf.File, error) {
	if len(image) < 4 || string(image[:4]) != elf.ELFMAG {
		return nil, errors.New("not an ELF file (bad magic)")
	}
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return nil, fmt.Errorf("not a readable ELF file: %v", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("not a 64-bit little-endian x86-64 ELF (%v, %v, %v)", f.Class, f.Data, f.Machine)
	}
	if f.Type != elf.ET_EXEC {
		return nil, fmt.Errorf("ELF type is %v, want ET_EXEC (a position-dependent static executable)", f.Type)
	}
	return f, nil
}

// reserveHeaders reserves the ELF header, the program headers, every section's contents and the
// section header table, and moves searchFrom past the headers that lie at the start of the file.
func (l *layout) reserveHeaders(image []byte) error {
	f := l.f
	le := binary.LittleEndian
	phoff, shoff := le.Uint64(image[32:]), le.Uint64(image[40:])
	phentsize, shentsize := uint64(le.Uint16(image[54:])), uint64(le.Uint16(image[58:]))

	l.reserved = append(l.reserved, span{0, 64})
	// debug/elf has read the program headers, so they lie within the file.
	phEnd := phoff + uint64(len(f.Progs))*phentsize
	l.reserved = append(l.reserved, span{phoff, phEnd})
	l.searchFrom = max(l.searchFrom, phEnd)
	firstData := uint64(math.MaxUint64) // where the first section's contents start
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NULL || s.Type == elf.SHT_NOBITS || s.FileSize == 0 {
			continue
		}
		end, ok := add(s.Offset, s.FileSize)
		if !ok {
			return fmt.Errorf("section %q at %#x overflows", s.Name, s.Offset)
		}
		l.reserved = append(l.reserved, span{s.Offset, end})
		firstData = min(firstData, s.Offset)
	}
	if shoff != 0 && len(f.Sections) > 0 {
		shEnd, ok := add(shoff, uint64(len(f.Sections))*shentsize)
		if !ok {
			return fmt.Errorf("section header table at %#x overflows", shoff)
		}
		l.reserved = append(l.reserved, span{shoff, shEnd})
		if shoff < firstData { // at the start, as Go's linker puts it: search after it
			l.searchFrom = max(l.searchFrom, shEnd)
		}
	}
	return nil
}

// loadSegments returns the PT_LOAD segments, reserving the file bytes of every other segment, and
// sets loadAddr from the PT_LOAD at file offset 0, which must exist: the header must be loaded.
func (l *layout) loadSegments() ([]*elf.Prog, error) {
	var loads []*elf.Prog
	first := false
	for _, p := range l.f.Progs {
		if p.Type != elf.PT_LOAD {
			if end, ok := add(p.Off, p.Filesz); ok && p.Filesz > 0 {
				l.reserved = append(l.reserved, span{p.Off, end})
			}
			continue
		}
		loads = append(loads, p)
		if p.Off == 0 && !first {
			first = true
			l.loadAddr, l.firstFilesz = p.Vaddr, p.Filesz
		}
	}
	if len(loads) == 0 {
		return nil, errors.New("no PT_LOAD segment")
	}
	if !first {
		return nil, errors.New("no PT_LOAD segment at file offset 0: the multiboot header must be loaded with the image")
	}
	return loads, nil
}

// checkLoads checks that one contiguous copy of the file (size bytes) to loadAddr puts every PT_LOAD
// at its address, within the 32-bit address fields, and sets loadEnd and bssEnd.
func (l *layout) checkLoads(loads []*elf.Prog, size uint64) error {
	for _, p := range loads {
		if p.Vaddr-p.Off != l.loadAddr {
			return fmt.Errorf("PT_LOAD at vaddr %#x has file offset %#x: vaddr-offset must be %#x for the loader's single contiguous copy of the file",
				p.Vaddr, p.Off, l.loadAddr)
		}
		if p.Filesz > p.Memsz {
			return fmt.Errorf("PT_LOAD at vaddr %#x has filesz %#x > memsz %#x", p.Vaddr, p.Filesz, p.Memsz)
		}
		fileEnd, ok1 := add(p.Vaddr, p.Filesz)
		memEnd, ok2 := add(p.Vaddr, p.Memsz)
		if !ok1 || !ok2 || memEnd > math.MaxUint32 {
			return fmt.Errorf("PT_LOAD at vaddr %#x (memsz %#x) does not fit the 32-bit multiboot address fields", p.Vaddr, p.Memsz)
		}
		if p.Off+p.Filesz > size {
			return fmt.Errorf("PT_LOAD at vaddr %#x ends at file offset %#x, past the end of the file (%#x)", p.Vaddr, p.Off+p.Filesz, size)
		}
		l.loadEnd = max(l.loadEnd, fileEnd)
		l.bssEnd = max(l.bssEnd, memEnd)
	}
	return nil
}

// checkZeroTails: the loader zeroes only [loadEnd, bssEnd); a segment's zero-filled tail below
// loadEnd gets the file's bytes at the matching offsets instead, so those must be zero.
func (l *layout) checkZeroTails(loads []*elf.Prog, image []byte) error {
	for _, p := range loads {
		lo, hi := p.Vaddr+p.Filesz, min(p.Vaddr+p.Memsz, l.loadEnd)
		if lo >= hi {
			continue
		}
		if !allZero(image[lo-l.loadAddr : hi-l.loadAddr]) {
			return fmt.Errorf("PT_LOAD at vaddr %#x: its zero-filled part [%#x, %#x) lies below load_end_addr %#x, where the loader copies nonzero file bytes",
				p.Vaddr, lo, hi, l.loadEnd)
		}
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// execContains reports whether addr lies in the file-backed part of an executable PT_LOAD.
func (l *layout) execContains(addr uint64) bool {
	for _, p := range l.f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && addr >= p.Vaddr && addr-p.Vaddr < p.Filesz {
			return true
		}
	}
	return false
}

// free reports whether the header may occupy file bytes [off, off+mbHeaderLen).
func (l *layout) free(off uint64) bool {
	end := off + mbHeaderLen
	if off < l.searchFrom || end > mbSearch || end > l.firstFilesz {
		return false
	}
	for _, s := range l.reserved {
		if s.overlaps(off, end) {
			return false
		}
	}
	return true
}

// lookup returns the value of the function symbol named entry. An assembly function that Go code also
// refers to has an ABI wrapper: the wrapper then carries the plain name and the assembly body the name
// with ".abi0", and the assembly body is the one meant.
func lookup(f *elf.File, entry string) (uint64, error) {
	syms, err := f.Symbols()
	if err != nil {
		return 0, fmt.Errorf("no symbol table (%v): -entry needs an unstripped ELF", err)
	}
	var plain, abi0 []elf.Symbol
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF {
			continue
		}
		switch s.Name {
		case entry:
			plain = append(plain, s)
		case entry + ".abi0":
			abi0 = append(abi0, s)
		}
	}
	pick := abi0
	if len(pick) == 0 {
		pick = plain
	}
	if len(pick) == 0 {
		return 0, fmt.Errorf("entry symbol %q not found", entry)
	}
	for _, s := range pick[1:] {
		if s.Value != pick[0].Value {
			return 0, fmt.Errorf("entry symbol %q is defined more than once, at %#x and %#x", s.Name, pick[0].Value, s.Value)
		}
	}
	return pick[0].Value, nil
}

// symbolAt names the function symbol whose value is addr.
func symbolAt(f *elf.File, addr uint64) string {
	syms, _ := f.Symbols()
	name := ""
	for _, s := range syms {
		if s.Value == addr && s.Section != elf.SHN_UNDEF && (name == "" || elf.ST_TYPE(s.Info) == elf.STT_FUNC) {
			name = s.Name
		}
	}
	return name
}

// Plan computes the header for image, a 64-bit Go ELF whose 32-bit entry is the function entry, and
// the file offset to write it at: an existing header written by mkimage (rewritten, so a second run
// changes nothing), else the first 8-byte aligned run of 32 zero bytes after the ELF headers that no
// section or segment uses and the first segment loads.
func Plan(image []byte, entry string) (Header, error) {
	l, err := parseELF(image)
	if err != nil {
		return Header{}, err
	}
	addr, err := lookup(l.f, entry)
	if err != nil {
		return Header{}, err
	}
	if !l.execContains(addr) {
		return Header{}, fmt.Errorf("entry symbol %q at %#x is not in an executable PT_LOAD segment", entry, addr)
	}

	off := uint64(0)
	if old, err := Find(image); err == nil {
		if old.Flags != mbFlags || !l.free(uint64(old.Offset)) {
			return Header{}, fmt.Errorf("the file already has a multiboot header that mkimage did not write (%v)", old)
		}
		off = uint64(old.Offset)
	} else {
		start := (l.searchFrom + mbAlign - 1) &^ (mbAlign - 1)
		for o := start; o+mbHeaderLen <= min(mbSearch, l.firstFilesz); o += mbAlign {
			if l.free(o) && allZero(image[o:o+mbHeaderLen]) {
				off = o
				break
			}
		}
		if off == 0 {
			return Header{}, fmt.Errorf("no room for the multiboot header: no %d zero bytes at an %d-byte aligned offset in [%#x, %#x) outside the ELF's headers, sections and segments",
				mbHeaderLen, mbAlign, start, min(mbSearch, l.firstFilesz))
		}
	}
	return Header{
		Offset:     int(off),
		Flags:      mbFlags,
		HeaderAddr: uint32(l.loadAddr + off),
		LoadAddr:   uint32(l.loadAddr),
		LoadEnd:    uint32(l.loadEnd),
		BSSEnd:     uint32(l.bssEnd),
		EntryAddr:  uint32(addr),
	}, nil
}

// Write stores h into image at h.Offset.
func Write(image []byte, h Header) { copy(image[h.Offset:], h.bytes()) }

// Patch plans the header for image, writes it in place and checks that a loader finds that header.
func Patch(image []byte, entry string) (Header, error) {
	h, err := Plan(image, entry)
	if err != nil {
		return Header{}, err
	}
	Write(image, h)
	if got, err := Find(image); err != nil || got != h {
		return Header{}, fmt.Errorf("internal error: wrote %v, a loader would find %v (%v)", h, got, err)
	}
	return h, nil
}

// Find returns the multiboot header a loader finds in image: the first 4-byte aligned magic in the first
// 8 KiB whose checksum holds.
func Find(image []byte) (Header, error) {
	le := binary.LittleEndian
	for off := 0; off+mbHeaderLen <= min(len(image), mbSearch); off += 4 {
		b := image[off:]
		if le.Uint32(b) != mbMagic || mbMagic+le.Uint32(b[4:])+le.Uint32(b[8:]) != 0 {
			continue
		}
		return Header{Offset: off, Flags: le.Uint32(b[4:]), HeaderAddr: le.Uint32(b[12:]), LoadAddr: le.Uint32(b[16:]),
			LoadEnd: le.Uint32(b[20:]), BSSEnd: le.Uint32(b[24:]), EntryAddr: le.Uint32(b[28:])}, nil
	}
	return Header{}, errors.New("no multiboot header in the first 8 KiB")
}

// Verify checks that image carries a multiboot header that QEMU and GRUB accept and that makes them load
// exactly what the ELF describes, with the entry in an executable segment. A non-empty entry must also
// name the function at the header's entry address.
func Verify(image []byte, entry string) (Report, error) {
	h, err := Find(image)
	if err != nil {
		return Report{}, err
	}
	// The loaders' own checks.
	if h.Flags&mbAOut == 0 {
		return Report{}, fmt.Errorf("%v: flag 16 (address fields) is not set, and loaders refuse a 64-bit ELF", h)
	}
	if h.Flags&^mbKnown != 0 {
		return Report{}, fmt.Errorf("%v: flags %#x are not defined by multiboot 1", h, h.Flags&^mbKnown)
	}
	if h.HeaderAddr < h.LoadAddr || uint64(h.HeaderAddr-h.LoadAddr) > uint64(h.Offset) {
		return Report{}, fmt.Errorf("%v: header_addr is not within the loaded file", h)
	}
	text := uint64(h.Offset) - uint64(h.HeaderAddr-h.LoadAddr) // file offset copied to load_addr
	loadEnd := uint64(h.LoadEnd)
	if h.LoadEnd == 0 { // the rest of the file
		loadEnd = uint64(h.LoadAddr) + uint64(len(image)) - text
	}
	if loadEnd < uint64(h.LoadAddr) {
		return Report{}, fmt.Errorf("%v: load_end_addr below load_addr", h)
	}
	if loadEnd > math.MaxUint32 {
		return Report{}, fmt.Errorf("%v: the loaded file does not fit below 4 GiB", h)
	}
	if text+loadEnd-uint64(h.LoadAddr) > uint64(len(image)) {
		return Report{}, fmt.Errorf("%v: the file ends before load_end_addr", h)
	}
	bssEnd := uint64(h.BSSEnd)
	if h.BSSEnd == 0 { // no bss
		bssEnd = loadEnd
	}
	if bssEnd < loadEnd {
		return Report{}, fmt.Errorf("%v: bss_end_addr below load_end_addr", h)
	}

	// What the ELF says must be loaded.
	l, err := parseELF(image)
	if err != nil {
		return Report{}, err
	}
	switch {
	case text != 0:
		return Report{}, fmt.Errorf("%v: loads the file from offset %#x, not 0", h, text)
	case uint64(h.LoadAddr) != l.loadAddr:
		return Report{}, fmt.Errorf("%v: the ELF loads at %#x", h, l.loadAddr)
	case loadEnd != l.loadEnd:
		return Report{}, fmt.Errorf("%v: the ELF's file-backed segments end at %#x", h, l.loadEnd)
	case bssEnd != l.bssEnd:
		return Report{}, fmt.Errorf("%v: the ELF's segments end at %#x", h, l.bssEnd)
	case !l.execContains(uint64(h.EntryAddr)):
		return Report{}, fmt.Errorf("%v: entry_addr is not in an executable PT_LOAD segment", h)
	}
	r := Report{Header: h, Symbol: symbolAt(l.f, uint64(h.EntryAddr))}
	if entry != "" {
		want, err := lookup(l.f, entry)
		if err != nil {
			return Report{}, err
		}
		if want != uint64(h.EntryAddr) {
			return Report{}, fmt.Errorf("%v: entry symbol %q is at %#x", h, entry, want)
		}
	}
	return r, nil
}

// Inspect reads the image at path and verifies its multiboot header (see Verify).
func Inspect(path, entry string) (Report, error) {
	image, err := os.ReadFile(path)
	if err != nil {
		return Report{}, err
	}
	r, err := Verify(image, entry)
	if err != nil {
		return Report{}, fmt.Errorf("%s: %v", path, err)
	}
	return r, nil
}

// oneLine keeps an error message to a single line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
