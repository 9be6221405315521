package main

import (
	"debug/elf"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"

	"golang.org/x/arch/x86/x86asm"

	"lazymm/tools/internal/console"
)

// symbolizer names crash addresses from the kernel ELF's symbol table and disassembles the code bytes
// the kernel dumped at the faulting RIP.
type symbolizer struct {
	syms []elf.Symbol // functions sorted by address
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
	return s
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
