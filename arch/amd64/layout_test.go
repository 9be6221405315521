package amd64

import (
	"testing"
	"unsafe"
)

// trap_amd64.s reads the per-CPU area at fixed offsets and builds Frame by pushes: keep them in step.
func TestPercpuLayout(t *testing.T) {
	var c percpu
	for _, x := range []struct {
		name      string
		got, want uintptr
	}{
		{"scratch", unsafe.Offsetof(c.scratch), 8},
		{"kstack", unsafe.Offsetof(c.kstack), 16},
		{"curFX", unsafe.Offsetof(c.curFX), 24},
		{"id", unsafe.Offsetof(c.id), 32},
		{"nmiFX", unsafe.Offsetof(c.nmiFX), 40},
		{"Frame size", unsafe.Sizeof(Frame{}), 22 * 8},
		{"Frame.Vector", unsafe.Offsetof(Frame{}.Vector), 15 * 8},
		{"Frame.RIP", unsafe.Offsetof(Frame{}.RIP), 17 * 8},
		{"TSS size", unsafe.Sizeof(taskState{}), 104},
	} {
		if x.got != x.want {
			t.Errorf("%s at %d, want %d", x.name, x.got, x.want)
		}
	}
}

// The IDT stubs are 16 bytes apart; an IDT gate encodes handler, selector, IST and type.
func TestIDTGate(t *testing.T) {
	setupIDT()
	base := uint64(vectorsBase())
	for _, v := range []int{0, 2, 8, 14, 0x20, 0xff} {
		g := idt[v]
		h := g[0]&0xffff | (g[0]>>48&0xffff)<<16 | g[1]<<32
		if h != base+uint64(16*v) || g[0]>>16&0xffff != selCode || g[0]>>40&0xff != 0x8e {
			t.Errorf("vector %d gate %#x %#x", v, g[0], g[1])
		}
	}
}
