package tests

import (
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// The IDT points vector v at vectors+16*v: check in the linked kernel that each slot pushes its own
// vector number (and a zero error code where the CPU pushes none), so a layout change cannot silently
// send interrupts to the wrong handler.
func TestVectorStubs(t *testing.T) {
	im := loadText(t, kernel)
	var base uint64
	for _, s := range im.funcs {
		if s.Name == "lazymm/arch/amd64.vectors.abi0" {
			base = s.Value
		}
	}
	if base == 0 {
		t.Fatal("no vectors symbol in the kernel")
	}
	text, code := im.text, im.code
	hasError := map[int]bool{8: true, 10: true, 11: true, 12: true, 13: true, 14: true, 17: true, 21: true, 29: true, 30: true}
	for v := 0; v < 256; v++ {
		off := base + uint64(16*v) - text.Addr
		b := code[off:]
		pushes := []int64{}
		for len(pushes) < 2 {
			inst, err := x86asm.Decode(b, 64)
			if err != nil || inst.Op != x86asm.PUSH {
				break
			}
			pushes = append(pushes, int64(inst.Args[0].(x86asm.Imm)))
			b = b[inst.Len:]
		}
		want := []int64{0, int64(v)}
		if hasError[v] {
			want = []int64{int64(v)}
		}
		if len(pushes) < len(want) || pushes[len(want)-1] != int64(v) || len(want) == 2 && pushes[0] != 0 {
			t.Errorf("vector %d stub pushes %v, want %v", v, pushes, want)
		}
	}
}
