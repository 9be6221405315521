package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
)

// The ppc64 image (docs/PPC64.md): QEMU's pseries loader puts each segment at 0x400000 + (vaddr &
// 0x0fffffff) and its firmware (VOF or SLOF) enters at the lowest loaded address in 32-bit big-endian
// real mode, never at e_entry. PatchPPC64 adds a segment below the Go image that holds a
// position-independent trampoline: it copies itself above the loaded image, copies the image down by
// 0x400000 so that every address is its link address (Go code uses absolute addresses), makes the
// copied code visible to instruction fetch, and jumps to the entry symbol. The ELF keeps its sections
// and symbols; only a program header and the trampoline's bytes, in the zero padding after the
// program headers, are added.

const (
	spaprLoad   = 0x400000   // where QEMU's pseries loader puts vaddr 0
	trampVaddr  = 0xf000     // the trampoline segment's address: below Go's first segment (0x10000)
	trampMarker = 0x6c7a7070 // "lzpp": the trampoline's last word, to find and rewrite it
	cacheLine   = 128
)

// ppc encodes the few POWER instructions the trampoline needs.
type ppc []uint32

func (p *ppc) emit(w ...uint32) { *p = append(*p, w...) }
func (p ppc) here() int         { return len(p) * 4 }

func (p *ppc) li32(r, v uint32) { // lis r,v@h ; ori r,r,v@l
	p.emit(15<<26|r<<21|v>>16, 24<<26|r<<21|r<<16|v&0xffff)
}
func (p *ppc) mtctr(r uint32) { p.emit(0x7c0903a6 | r<<21) }
func (p *ppc) addi(rt, ra, d int32) {
	p.emit(14<<26 | uint32(rt)<<21 | uint32(ra)<<16 | uint32(d)&0xffff)
}
func (p *ppc) mr(ra, rs uint32) { p.emit(31<<26 | rs<<21 | ra<<16 | rs<<11 | 444<<1) }
func (p *ppc) bdnz(target int) { // to byte offset target
	p.emit(16<<26 | 16<<21 | uint32(target-p.here())&0xfffc)
}

// copyLoop copies ctr words from (r12) to (r11), ascending (safe when the destination is below the
// source).
func (p *ppc) copyLoop() {
	top := p.here()
	p.emit(32<<26|14<<21|12<<16, 36<<26|14<<21|11<<16) // lwz r14,0(r12) ; stw r14,0(r11)
	p.addi(12, 12, 4)
	p.addi(11, 11, 4)
	p.bdnz(top)
}

// syncCode makes n bytes of new code at address base visible to instruction fetch: dcbst every line,
// sync, icbi every line, sync, isync.
func (p *ppc) syncCode(base, n uint32) {
	lines := (n + cacheLine - 1) / cacheLine
	for _, op := range []uint32{54, 982} { // dcbst, icbi
		p.li32(15, base)
		p.li32(13, lines)
		p.mtctr(13)
		top := p.here()
		p.emit(31<<26 | 15<<11 | op<<1) // dcbst/icbi 0,r15
		p.addi(15, 15, cacheLine)
		p.bdnz(top)
		p.emit(0x7c0004ac) // sync
	}
	p.emit(0x4c00012c) // isync
}

// trampoline builds the code for an image loaded at [lo, hi) (link addresses) entering at entry, and
// the powernv path (ppc64_powernv.go) for the segments segs, with the code at file offset codeOff; it
// returns the powernv descriptor's offset in the code too.
func trampoline(lo, hi, entry uint32, segs []loadSeg, codeOff uint64) ([]byte, int) {
	high := (spaprLoad+hi+0xffff)&^0xffff + 0x10000 // a copy of the trampoline, above the loaded image
	var t ppc
	t.emit(0x48000005) // bl .+4
	t.emit(0x7d4802a6) // mflr r10: the trampoline's address + 4
	t.addi(10, 10, -4) // r10 = where the loader put the trampoline
	t.li32(11, high)   // stage 1: copy the whole trampoline to high
	t.mr(12, 10)
	nPatch := len(t)
	t.li32(13, 0) // patched below: the trampoline's length in words
	t.mtctr(13)
	t.copyLoop()
	syncAt := len(t)
	t.syncCode(high, 0) // patched below: the trampoline's length
	stage2Patch := len(t)
	t.li32(11, 0) // patched: high + stage 2's offset
	t.mtctr(11)
	t.emit(0x4e800420) // bctr
	stage2 := t.here()
	// stage 2, running at high: the image down to its link addresses
	t.li32(12, spaprLoad+lo)
	t.li32(11, lo)
	t.li32(13, (hi-lo+3)/4)
	t.mtctr(13)
	t.copyLoop()
	t.syncCode(lo, hi-lo)
	t.li32(11, entry)
	t.mtctr(11)
	t.emit(0x4e800420) // bctr
	desc := powernvPath(&t, codeOff, segs, lo, hi, entry)
	t.emit(trampMarker)
	words := uint32(len(t))
	var u ppc
	u.li32(13, words)
	t[nPatch], t[nPatch+1] = u[0], u[1]
	u = nil
	u.syncCode(high, words*4)
	copy(t[syncAt:], u[:len(u)])
	u = nil
	u.li32(11, high+uint32(stage2))
	t[stage2Patch], t[stage2Patch+1] = u[0], u[1]
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32(t))
	return b.Bytes(), desc
}

// PatchPPC64 adds the trampoline segment to image (a GOARCH=ppc64 Go ELF) so that QEMU's pseries
// firmware, and skiboot on powernv through e_entry (ppc64_powernv.go), enter entry with the image at
// its link addresses. Rerunning it rewrites the same bytes.
func PatchPPC64(image []byte, entry string) (tramp uint64, err error) {
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2MSB || f.Machine != elf.EM_PPC64 || f.Type != elf.ET_EXEC {
		return 0, errors.New("not a big-endian ppc64 executable (GOARCH=ppc64)")
	}
	target, err := lookup(f, entry)
	if err != nil {
		return 0, err
	}
	be := binary.BigEndian
	phoff := be.Uint64(image[32:])
	phnum := int(be.Uint16(image[56:]))
	lo, hi, slot := goSegments(image, phoff, phnum)
	if lo == ^uint64(0) || lo <= trampVaddr || hi >= 0x10000000 {
		return 0, fmt.Errorf("segments span [%#x, %#x): the pseries loader needs them above %#x and below 256 MiB", lo, hi, trampVaddr)
	}
	segs, err := goLoads(image, phoff, phnum)
	if err != nil {
		return 0, err
	}
	code, _ := trampoline(uint32(lo), uint32(hi), uint32(target), segs, 0) // its length
	if slot < 0 {
		if phoff, err = growProgramHeaders(image, f, phoff, phnum, len(code)); err != nil {
			return 0, err
		}
		slot = phnum
	}
	code, desc := trampoline(uint32(lo), uint32(hi), uint32(target), segs, trampOffset(image, phoff))
	writeTrampoline(image, phoff, slot, code)
	setEntry(image, desc)
	return spaprLoad + trampVaddr, nil
}

const phsize = 56 // the size of an ELF64 program header

// goSegments returns the span [lo, hi) of the Go image's PT_LOAD segments (lo is ^0 when there are
// none) and the index of the trampoline's program header from an earlier run, or -1.
func goSegments(image []byte, phoff uint64, phnum int) (lo, hi uint64, slot int) {
	be := binary.BigEndian
	lo, hi, slot = ^uint64(0), 0, -1
	for i := 0; i < phnum; i++ {
		ph := image[phoff+uint64(i)*phsize:]
		if elf.ProgType(be.Uint32(ph)) != elf.PT_LOAD {
			continue
		}
		vaddr, memsz := be.Uint64(ph[16:]), be.Uint64(ph[40:])
		if vaddr == trampVaddr {
			slot = i // ours, from an earlier run
			continue
		}
		lo, hi = min(lo, vaddr), max(hi, vaddr+memsz)
	}
	return lo, hi, slot
}

// growProgramHeaders makes room for one more program header, for the trampoline: Go's ppc64 images
// put the section headers right after the program headers, so the table moves, one entry longer, to
// the zero padding after both (and before the first section's data), followed by the trampoline
// (codeLen bytes). It returns the table's new offset; entry phnum is left for the caller to fill.
func growProgramHeaders(image []byte, f *elf.File, phoff uint64, phnum, codeLen int) (uint64, error) {
	be := binary.BigEndian
	start := phoff + uint64(phnum)*phsize // the end of what is in use
	shoff, shnum := be.Uint64(image[40:]), uint64(be.Uint16(image[60:]))
	start = max(start, shoff+shnum*uint64(be.Uint16(image[58:])))
	firstData := uint64(len(image))
	for _, sec := range f.Sections {
		if sec.Type != elf.SHT_NOBITS && sec.Size > 0 && sec.Offset < firstData {
			firstData = sec.Offset
		}
	}
	newPhoff := (start + 7) &^ 7
	codeOff := (newPhoff + uint64(phnum+1)*phsize + 15) &^ 15
	if codeOff+uint64(codeLen) > firstData || !allZero(image[start:codeOff+uint64(codeLen)]) {
		return 0, fmt.Errorf("no free room for %d program headers and a %d-byte trampoline before file offset %#x", phnum+1, codeLen, firstData)
	}
	copy(image[newPhoff:], image[phoff:phoff+uint64(phnum)*phsize])
	for k := phoff; k < phoff+uint64(phnum)*phsize; k++ {
		if k < newPhoff {
			image[k] = 0
		}
	}
	be.PutUint64(image[32:], newPhoff)
	be.PutUint16(image[56:], uint16(phnum+1))
	movePHDR(image, newPhoff, phnum)
	return newPhoff, nil
}

// movePHDR points the PT_PHDR entry, which describes the table itself, at the table's new offset
// (and its addresses by as much) with the new length.
func movePHDR(image []byte, newPhoff uint64, phnum int) {
	be := binary.BigEndian
	for i := 0; i < phnum; i++ {
		p := image[newPhoff+uint64(i)*phsize:]
		if elf.ProgType(be.Uint32(p)) == elf.PT_PHDR {
			delta := newPhoff - be.Uint64(p[8:])
			be.PutUint64(p[8:], newPhoff)
			be.PutUint64(p[16:], be.Uint64(p[16:])+delta)
			be.PutUint64(p[24:], be.Uint64(p[24:])+delta)
			be.PutUint64(p[32:], uint64(phnum+1)*phsize)
			be.PutUint64(p[40:], uint64(phnum+1)*phsize)
		}
	}
}

// trampOffset is the trampoline's file offset: right after the program header table, 16-byte aligned.
func trampOffset(image []byte, phoff uint64) uint64 {
	return (phoff + uint64(binary.BigEndian.Uint16(image[56:]))*phsize + 15) &^ 15
}

// writeTrampoline fills program header slot with the trampoline's PT_LOAD at trampVaddr and puts the
// code right after the program header table, 16-byte aligned.
func writeTrampoline(image []byte, phoff uint64, slot int, code []byte) {
	be := binary.BigEndian
	codeOff := trampOffset(image, phoff)
	ph := image[phoff+uint64(slot)*phsize:]
	be.PutUint32(ph[0:], uint32(elf.PT_LOAD))
	be.PutUint32(ph[4:], uint32(elf.PF_R|elf.PF_X))
	be.PutUint64(ph[8:], codeOff)
	be.PutUint64(ph[16:], trampVaddr)
	be.PutUint64(ph[24:], trampVaddr)
	be.PutUint64(ph[32:], uint64(len(code)))
	be.PutUint64(ph[40:], uint64(len(code)))
	be.PutUint64(ph[48:], 4)
	copy(image[codeOff:], code)
}
