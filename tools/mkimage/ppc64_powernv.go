package main

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// The powernv entry (docs/PPC64.md). skiboot, the OPAL firmware of QEMU's powernv machines, takes
// the image file as it is, at its kernel load base, and runs it in place: it enters at the file
// offset of e_entry within the PT_LOAD that holds it, and, where no executable section holds
// e_entry, reads e_entry as an ELFv1 function descriptor whose first doubleword is the code
// (skiboot's core/init.c, try_load_elf64). So the trampoline segment also carries a descriptor, which
// e_entry names, and the code it points at: it copies each Go segment from the file to its link
// address, zeroes its bss, makes the code visible to instruction fetch and jumps to the entry symbol,
// in 64-bit hypervisor mode, leaving r3 (skiboot's device tree) alone. The pseries path at the
// segment's start is unchanged: its firmware enters the lowest loaded address, never e_entry.

// loadSeg is one of the Go image's PT_LOAD segments.
type loadSeg struct{ vaddr, off, filesz, memsz uint64 }

// goLoads lists the Go image's PT_LOAD segments (not the trampoline's).
func goLoads(image []byte, phoff uint64, phnum int) ([]loadSeg, error) {
	be := binary.BigEndian
	var segs []loadSeg
	for i := 0; i < phnum; i++ {
		ph := image[phoff+uint64(i)*phsize:]
		if elf.ProgType(be.Uint32(ph)) != elf.PT_LOAD || be.Uint64(ph[16:]) == trampVaddr {
			continue
		}
		s := loadSeg{vaddr: be.Uint64(ph[16:]), off: be.Uint64(ph[8:]), filesz: be.Uint64(ph[32:]), memsz: be.Uint64(ph[40:])}
		if s.vaddr%4 != 0 || s.filesz%4 != 0 || s.off%4 != 0 {
			return nil, fmt.Errorf("segment at %#x: the powernv copy wants word-aligned addresses and sizes", s.vaddr)
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// powernvPath appends the descriptor and the powernv code to t, which starts at file offset codeOff.
// It returns the descriptor's byte offset in t.
func powernvPath(t *ppc, codeOff uint64, segs []loadSeg, lo, hi, entry uint32) int {
	if len(*t)%2 != 0 {
		t.emit(0x60000000) // nop: the descriptor is doubleword-aligned (codeOff is 16-aligned)
	}
	desc := t.here()
	t.emit(0, trampVaddr+uint32(desc)+8) // the descriptor: the code right after it
	start := t.here()
	t.emit(0x48000005) // bl .+4
	t.emit(0x7d4802a6) // mflr r10
	t.addi(10, 10, -int32(start+4))
	t.li32(9, uint32(codeOff))
	t.emit(31<<26 | 9<<21 | 9<<16 | 10<<11 | 40<<1) // subf r9,r9,r10: r9 = where the file was loaded
	for _, s := range segs {
		t.li32(12, uint32(s.off))
		t.emit(31<<26 | 12<<21 | 12<<16 | 9<<11 | 266<<1) // add r12,r12,r9
		t.li32(11, uint32(s.vaddr))
		if s.filesz > 0 {
			t.li32(13, uint32(s.filesz/4))
			t.mtctr(13)
			t.copyLoop()
		}
		if zero := (s.memsz - s.filesz + 3) / 4; zero > 0 {
			t.li32(13, uint32(zero))
			t.mtctr(13)
			t.addi(14, 0, 0) // li r14,0
			top := t.here()
			t.emit(36<<26 | 14<<21 | 11<<16) // stw r14,0(r11)
			t.addi(11, 11, 4)
			t.bdnz(top)
		}
	}
	t.syncCode(lo, hi-lo)
	t.li32(11, entry)
	t.mtctr(11)
	t.emit(0x4e800420) // bctr
	return desc
}

// setEntry points e_entry at the trampoline's descriptor.
func setEntry(image []byte, desc int) {
	binary.BigEndian.PutUint64(image[24:], trampVaddr+uint64(desc))
}
