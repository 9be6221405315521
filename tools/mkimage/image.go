package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
)

// Multiboot 1 header with the a.out kludge (flags bit 16): QEMU's and GRUB's multiboot loaders then
// load the file by the header's addresses and never look at the ELF, which they would refuse (64-bit).
const (
	mbMagic     = 0x1badb002
	mbFlags     = 1<<0 | 1<<1 | 1<<16 // page-aligned modules, memory map, address fields valid
	mbHeaderLen = 32
	mbChecksum  = 1<<32 - (mbMagic+mbFlags)&0xffffffff // magic+flags+checksum == 0 mod 2^32
	mbSearch    = 8192                                 // the header must lie in the first 8 KiB, 4-byte aligned
)

// Header is a multiboot header's address fields.
type Header struct {
	Offset                                           int // file offset of the header
	HeaderAddr, LoadAddr, LoadEnd, BSSEnd, EntryAddr uint32
}

func (h Header) String() string {
	return fmt.Sprintf("multiboot header at file offset %#x: header_addr=%#x load_addr=%#x load_end_addr=%#x bss_end_addr=%#x entry_addr=%#x",
		h.Offset, h.HeaderAddr, h.LoadAddr, h.LoadEnd, h.BSSEnd, h.EntryAddr)
}

// Plan computes the header for a 64-bit Go ELF whose entry is the named symbol. Every PT_LOAD must have
// vaddr - offset equal to the load address, since the loader copies the file contiguously.
func Plan(image []byte, entry string) (Header, error) {
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return Header{}, fmt.Errorf("not an ELF file: %w", err)
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return Header{}, fmt.Errorf("not a 64-bit x86-64 ELF (class %v, machine %v)", f.Class, f.Machine)
	}
	var h Header
	var exec *elf.Prog
	found := false
	var loadEnd, bssEnd uint64
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if p.Off == 0 {
			h.LoadAddr = uint32(p.Vaddr)
			found = p.Vaddr < 1<<32
		}
		if p.Flags&elf.PF_X != 0 {
			exec = p
		}
		loadEnd = max(loadEnd, p.Vaddr+p.Filesz)
		bssEnd = max(bssEnd, p.Vaddr+p.Memsz)
	}
	if !found {
		return Header{}, errors.New("no PT_LOAD segment at file offset 0 below 4 GiB")
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Vaddr-p.Off != uint64(h.LoadAddr) {
			return Header{}, fmt.Errorf("segment at vaddr %#x has file offset %#x: not loadable contiguously from %#x", p.Vaddr, p.Off, h.LoadAddr)
		}
	}
	if bssEnd >= 1<<32 || int(loadEnd-uint64(h.LoadAddr)) > len(image) {
		return Header{}, fmt.Errorf("image does not fit the 32-bit multiboot address fields (ends at %#x)", bssEnd)
	}
	h.LoadEnd, h.BSSEnd = uint32(loadEnd), uint32(bssEnd)

	syms, err := f.Symbols()
	if err != nil {
		return Header{}, fmt.Errorf("no symbol table: %w", err)
	}
	for _, s := range syms {
		if s.Name == entry || s.Name == entry+".abi0" {
			h.EntryAddr = uint32(s.Value)
			found = false
		}
	}
	if found {
		return Header{}, fmt.Errorf("entry symbol %q not found", entry)
	}
	if exec == nil || uint64(h.EntryAddr) < exec.Vaddr || uint64(h.EntryAddr) >= exec.Vaddr+exec.Filesz {
		return Header{}, fmt.Errorf("entry %#x is not in the executable segment", h.EntryAddr)
	}

	// Room: zero padding after the ELF, program and (Go puts it first) section headers.
	le := binary.LittleEndian
	start := int(le.Uint64(image[32:]) + uint64(le.Uint16(image[54:]))*uint64(le.Uint16(image[56:])))
	if shoff := le.Uint64(image[40:]); shoff < mbSearch {
		start = max(start, int(shoff)+int(le.Uint16(image[58:]))*int(le.Uint16(image[60:])))
	}
	start = (start + 7) &^ 7
	if start+mbHeaderLen > mbSearch || start+mbHeaderLen > len(image) {
		return Header{}, errors.New("no room for a multiboot header in the first 8 KiB")
	}
	for _, b := range image[start : start+mbHeaderLen] {
		if b != 0 && le.Uint32(image[start:]) != mbMagic { // a previous header is rewritten
			return Header{}, fmt.Errorf("bytes at offset %#x are in use: no zero padding for the header", start)
		}
	}
	h.Offset = start
	h.HeaderAddr = h.LoadAddr + uint32(start)
	return h, nil
}

// Write stores the header into the image in place.
func Write(image []byte, h Header) {
	b := image[h.Offset:]
	le := binary.LittleEndian
	le.PutUint32(b[0:], mbMagic)
	le.PutUint32(b[4:], mbFlags)
	le.PutUint32(b[8:], mbChecksum) // magic+flags+checksum == 0
	le.PutUint32(b[12:], h.HeaderAddr)
	le.PutUint32(b[16:], h.LoadAddr)
	le.PutUint32(b[20:], h.LoadEnd)
	le.PutUint32(b[24:], h.BSSEnd)
	le.PutUint32(b[28:], h.EntryAddr)
}

// Find returns the multiboot header a loader would find in the image.
func Find(image []byte) (Header, error) {
	le := binary.LittleEndian
	for off := 0; off+mbHeaderLen <= min(len(image), mbSearch); off += 4 {
		if le.Uint32(image[off:]) != mbMagic {
			continue
		}
		flags, sum := le.Uint32(image[off+4:]), le.Uint32(image[off+8:])
		if mbMagic+flags+sum != 0 {
			continue
		}
		if flags&(1<<16) == 0 {
			return Header{}, fmt.Errorf("multiboot header at %#x lacks the address fields (flag 16)", off)
		}
		return Header{Offset: off, HeaderAddr: le.Uint32(image[off+12:]), LoadAddr: le.Uint32(image[off+16:]),
			LoadEnd: le.Uint32(image[off+20:]), BSSEnd: le.Uint32(image[off+24:]), EntryAddr: le.Uint32(image[off+28:])}, nil
	}
	return Header{}, errors.New("no multiboot header in the first 8 KiB")
}
