package main

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"

	"golang.org/x/arch/x86/x86asm"

	"lazymm/tools/internal/console"
)

// symbolizer names crash addresses from the kernel ELF's symbol table, gives their source line from
// the Go line table (.gopclntab), and disassembles the instructions around the faulting RIP from the
// image, marking the faulting one; it checks the image's bytes against those the kernel dumped.
type symbolizer struct {
	syms     []elf.Symbol // functions sorted by address
	lines    *gosym.Table // nil without a Go line table
	text     []byte
	textAddr uint64
}

func newSymbolizer(path string) *symbolizer {
	f, err := elf.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	all, err := f.Symbols()
	if err != nil {
		return nil
	}
	s := &symbolizer{}
	for _, sym := range all {
		if elf.ST_TYPE(sym.Info) == elf.STT_FUNC || sym.Section != elf.SHN_UNDEF && sym.Size > 0 {
			s.syms = append(s.syms, sym)
		}
	}
	sort.Slice(s.syms, func(i, j int) bool { return s.syms[i].Value < s.syms[j].Value })
	if text := f.Section(".text"); text != nil {
		s.text, _ = text.Data()
		s.textAddr = text.Addr
		if pcln := f.Section(".gopclntab"); pcln != nil {
			if data, err := pcln.Data(); err == nil {
				s.lines, _ = gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
			}
		}
	}
	return s
}

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
		inst, err := x86asm.Decode(s.text[pc-s.textAddr:end-s.textAddr], 64)
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
		l := fmt.Sprintf("  %s %#x: %s%s", mark, pc, x86asm.GoSyntax(inst, pc, nil), where)
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
		pc += uint64(inst.Len)
	}
	if len(out) == 0 {
		return []string{fmt.Sprintf("  (rip %#x is not at an instruction boundary of %s: a wild jump?)", rip, s.syms[i].Name)}
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

// explain returns human lines for a crash: the function at rip and the first instructions.
func (s *symbolizer) explain(c *console.Crash) []string {
	rip, err := strconv.ParseUint(c.Header.Get("rip"), 0, 64)
	if err != nil {
		return nil
	}
	out := []string{fmt.Sprintf("rip %#x is in %s", rip, s.name(rip))}
	if ln := s.line(rip); ln != "" {
		out[0] += " (" + ln + ")"
	}
	if ctx := s.around(rip, 6, 3); len(ctx) > 0 {
		out = append(out, "code around it, from the image:")
		out = append(out, ctx...)
		for _, l := range c.Lines { // the image's bytes must be those the kernel ran
			pl, err := console.ParseLine(l)
			if err != nil || pl.Kind != "bytes" {
				continue
			}
			dumped, err := hex.DecodeString(pl.Get("hex"))
			if err == nil && rip >= s.textAddr && rip-s.textAddr+uint64(len(dumped)) <= uint64(len(s.text)) &&
				!bytes.Equal(dumped, s.text[rip-s.textAddr:rip-s.textAddr+uint64(len(dumped))]) {
				out = append(out, "  the code the kernel dumped differs from the image's: is -kernel the image that ran?")
			}
		}
		return out
	}
	for _, l := range c.Lines {
		pl, err := console.ParseLine(l)
		if err != nil || pl.Kind != "bytes" {
			continue
		}
		code, err := hex.DecodeString(pl.Get("hex"))
		if err != nil {
			continue
		}
		pc := rip
		for n := 0; n < 4 && len(code) > 0; n++ {
			inst, err := x86asm.Decode(code, 64)
			if err != nil {
				break
			}
			out = append(out, fmt.Sprintf("  %#x: %s", pc, x86asm.GoSyntax(inst, pc, nil)))
			code = code[inst.Len:]
			pc += uint64(inst.Len)
		}
	}
	return out
}
