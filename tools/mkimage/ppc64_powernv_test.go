package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"
)

// skiboot's reading of e_entry (core/init.c, try_load_elf64) must land on the powernv path: the
// PT_LOAD holding e_entry, no executable section holding it (so it is read as a descriptor), and the
// descriptor's code, at its file offset, starting with bl .+4.
func TestPatchPPC64Powernv(t *testing.T) {
	img := buildPPC64(t)
	if _, err := PatchPPC64(img, "main.main"); err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	var ph *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Vaddr <= f.Entry && f.Entry < p.Vaddr+p.Memsz {
			ph = p
			break
		}
	}
	if ph == nil || ph.Vaddr != trampVaddr {
		t.Fatalf("e_entry %#x is not in the trampoline segment: %+v", f.Entry, ph)
	}
	for _, s := range f.Sections {
		if s.Addr <= f.Entry && f.Entry < s.Addr+s.Size && s.Flags&elf.SHF_EXECINSTR != 0 {
			t.Fatalf("e_entry %#x lies in executable section %s: skiboot would run it as code", f.Entry, s.Name)
		}
	}
	be := binary.BigEndian
	desc := be.Uint64(img[f.Entry-ph.Vaddr+ph.Off:])
	code := desc - ph.Vaddr + ph.Off // skiboot's kernel_entry, less its load base
	if desc < ph.Vaddr || desc >= ph.Vaddr+ph.Filesz || desc%4 != 0 {
		t.Fatalf("the descriptor points at %#x, outside the trampoline", desc)
	}
	if w := be.Uint32(img[code:]); w != 0x48000005 {
		t.Errorf("the powernv path starts with %#x, not bl .+4", w)
	}
	end := ph.Off + ph.Filesz
	if w := be.Uint32(img[end-8:]); w != 0x4e800420 {
		t.Errorf("the powernv path ends with %#x before the marker, not bctr", w)
	}
}
