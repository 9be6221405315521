package main

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"

	"lazymm/kernel/protocol"
)

// symbolizer names crash addresses from the kernel ELF's symbol table, gives their source line from
// the Go line table (.gopclntab), and disassembles the instructions around the faulting pc from the
// image, marking the faulting one; it checks the image's bytes against those the kernel dumped. The
// arch comes from the ELF itself (the arch table's isaSpec): amd64 (x86asm, the crash's rip) or
// big-endian ppc64 (ppc64asm, the crash's pc, which is SRR0).
type symbolizer struct {
	arch     string // the arch whose ISA the image is
	isa      isaSpec
	order    binary.ByteOrder // the image's
	syms     []elf.Symbol     // functions sorted by address
	lines    *gosym.Table     // nil without a Go line table
	text     []byte
	textAddr uint64
}

func newSymbolizer(path string) *symbolizer {
	f, err := elf.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	s := &symbolizer{order: f.ByteOrder}
	for _, a := range arches {
		if a.ISA.Machine == f.Machine && a.ISA.Order == f.ByteOrder {
			s.arch, s.isa = a.Name, a.ISA
		}
	}
	if s.arch == "" {
		return nil
	}
	all, err := f.Symbols()
	if err != nil {
		return nil
	}
	for _, sym := range all {
		if elf.ST_TYPE(sym.Info) == elf.STT_FUNC || sym.Section != elf.SHN_UNDEF && sym.Size > 0 {
			s.syms = append(s.syms, sym)
		}
	}
	sort.Slice(s.syms, func(i, j int) bool { return s.syms[i].Value < s.syms[j].Value })
	if text := f.Section(".text"); text != nil {
		s.text, _ = text.Data()
		s.textAddr = text.Addr
		if pcln := f.Section(".gopclntab"); pcln != nil { // gosym reads either byte order
			if data, err := pcln.Data(); err == nil {
				s.lines, _ = gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
			}
		}
	}
	return s
}

// pcName is what the crash line calls the faulting address.
func (s *symbolizer) pcName() string { return s.isa.PCKey }

// line returns "file.go:123" for pc, or "".
func (s *symbolizer) line(pc uint64) string {
	if s.lines == nil {
		return ""
	}
	file, line, fn := s.lines.PCToLine(pc)
	if fn == nil || file == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", filepath.Base(file), line)
}

// decode disassembles the instruction at the start of code, at address pc: Go syntax and length.
func (s *symbolizer) decode(code []byte, pc uint64) (string, int, error) {
	return s.isa.Decode(s, code, pc)
}

// symname names branch targets in ppc64 listings (ppc64asm.GoSyntax's lookup).
func (s *symbolizer) symname(addr uint64) (string, uint64) {
	i := sort.Search(len(s.syms), func(i int) bool { return s.syms[i].Value > addr }) - 1
	if i < 0 || addr >= s.syms[i].Value+max(s.syms[i].Size, 1) {
		return "", 0
	}
	return s.syms[i].Name, s.syms[i].Value
}

// around disassembles the function containing rip from the image: up to before instructions before
// rip, the one at rip (marked =>), and after instructions after it.
func (s *symbolizer) around(rip uint64, before, after int) []string {
	i := sort.Search(len(s.syms), func(i int) bool { return s.syms[i].Value > rip }) - 1
	if i < 0 || s.text == nil || rip < s.textAddr || rip >= s.textAddr+uint64(len(s.text)) {
		return nil
	}
	start, end := s.syms[i].Value, s.syms[i].Value+s.syms[i].Size
	if start < s.textAddr || end > s.textAddr+uint64(len(s.text)) || end <= rip {
		return nil
	}
	var prev []string
	var out []string
	lastLine := ""
	for pc := start; pc < end; {
		inst, n, err := s.decode(s.text[pc-s.textAddr:end-s.textAddr], pc)
		if err != nil {
			return out
		}
		mark := "  "
		if pc == rip {
			mark = "=>"
		}
		ln := s.line(pc)
		where := ""
		if ln != lastLine {
			where, lastLine = "  // "+ln, ln
		}
		l := fmt.Sprintf("  %s %#x: %s%s", mark, pc, inst, where)
		switch {
		case pc < rip:
			prev = append(prev, l)
		case pc == rip:
			if len(prev) > before {
				prev = prev[len(prev)-before:]
			}
			out = append(prev, l)
		case len(out) > 0 && len(out) <= before+after:
			out = append(out, l)
		}
		if pc > rip && len(out) > before+after {
			break
		}
		pc += uint64(n)
	}
	if len(out) == 0 {
		return []string{fmt.Sprintf("  (%s %#x is not at an instruction boundary of %s: a wild jump?)", s.pcName(), rip, s.syms[i].Name)}
	}
	return out
}

func (s *symbolizer) name(addr uint64) string {
	i := sort.Search(len(s.syms), func(i int) bool { return s.syms[i].Value > addr }) - 1
	if i < 0 || addr >= s.syms[i].Value+max(s.syms[i].Size, 1) {
		return "?"
	}
	return fmt.Sprintf("%s+%#x", s.syms[i].Name, addr-s.syms[i].Value)
}

// ppc64Vectors names the ppc64 interrupt vectors a crash dump can carry.
var ppc64Vectors = map[uint64]string{
	0x100: "system reset", 0x200: "machine check", 0x300: "data storage (DAR: the address, DSISR: why)",
	0x380: "data segment", 0x400: "instruction storage", 0x480: "instruction segment",
	0x500: "external interrupt", 0x600: "alignment (DAR: the address)", 0x700: "program check",
	0x800: "floating-point unavailable", 0x900: "decrementer", 0xa00: "directed privileged doorbell",
	0xc00: "system call", 0xd00: "trace", 0xe00: "hypervisor data storage", 0xe20: "hypervisor instruction storage",
	0xe40: "hypervisor emulation assistance", 0xe80: "directed hypervisor doorbell",
	0xf00: "performance monitor", 0xf20: "vector unavailable", 0xf40: "VSX unavailable", 0xf60: "facility unavailable",
}

// ppc64Cause names the ppc64 vector of a crash header and, for a program check, what SRR1 says
// caused it.
func ppc64Cause(h protocol.Line) string {
	v, err := strconv.ParseUint(h.Get("vector"), 0, 64)
	if err != nil {
		return ""
	}
	out := fmt.Sprintf("vector %#x", v)
	if n, ok := ppc64Vectors[v]; ok {
		out += ": " + n
	}
	if msr, err := strconv.ParseUint(h.Get("msr"), 0, 64); err == nil && v == 0x700 {
		for _, b := range []struct {
			bit  uint64
			what string
		}{{0x100000, "floating-point enabled exception"}, {0x80000, "illegal instruction"},
			{0x40000, "privileged instruction"}, {0x20000, "trap instruction"}} {
			if msr&b.bit != 0 {
				out += " (SRR1: " + b.what + ")"
			}
		}
	}
	return out
}

// explain returns human lines for a crash: the function at the faulting pc and the code around it.
func (s *symbolizer) explain(c *protocol.Crash) []string {
	rip, err := strconv.ParseUint(c.Header.Get(s.pcName()), 0, 64)
	if err != nil {
		return nil
	}
	out := []string{fmt.Sprintf("%s %#x is in %s", s.pcName(), rip, s.name(rip))}
	addr := rip
	// real mode ignores the top bits of an effective address (ppc64: a kernel run at 0xc000... is the
	// image's 0x0000...)
	if low := rip &^ s.isa.TopBits; low != rip && s.name(rip) == "?" && s.name(low) != "?" {
		addr = low
		out[0] = fmt.Sprintf("%s %#x (the image's %#x: real mode ignores the top 4 bits) is in %s", s.pcName(), rip, low, s.name(low))
	}
	if s.isa.Cause != nil {
		if cause := s.isa.Cause(c.Header); cause != "" {
			out = append(out, cause)
		}
	}
	if ln := s.line(addr); ln != "" {
		out[0] += " (" + ln + ")"
	}
	if ctx := s.around(addr, 6, 3); len(ctx) > 0 {
		out = append(out, "code around it, from the image:")
		out = append(out, ctx...)
		for _, l := range c.Lines { // the image's bytes must be those the kernel ran
			pl, err := protocol.ParseLine(l)
			if err != nil || pl.Kind != "bytes" {
				continue
			}
			dumped, err := hex.DecodeString(pl.Get("hex"))
			at := addr &^ (s.isa.Align - 1) // the ppc64 kernel dumps from the word that holds pc
			if err == nil && at >= s.textAddr && at-s.textAddr+uint64(len(dumped)) <= uint64(len(s.text)) &&
				!bytes.Equal(dumped, s.text[at-s.textAddr:at-s.textAddr+uint64(len(dumped))]) {
				out = append(out, "  the code the kernel dumped differs from the image's: is -kernel the image that ran?")
			}
		}
		return out
	}
	for _, l := range c.Lines {
		pl, err := protocol.ParseLine(l)
		if err != nil || pl.Kind != "bytes" {
			continue
		}
		code, err := hex.DecodeString(pl.Get("hex"))
		if err != nil {
			continue
		}
		pc := rip &^ (s.isa.Align - 1)
		for n := 0; n < 4 && len(code) > 0; n++ {
			inst, k, err := s.decode(code, pc)
			if err != nil {
				break
			}
			out = append(out, fmt.Sprintf("  %#x: %s", pc, inst))
			code = code[k:]
			pc += uint64(k)
		}
	}
	return out
}
