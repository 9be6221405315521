package ppc64

import "unsafe"

// The documented layouts, pinned at compile time: each constant below is -(got ^ want), which is a
// negative uintptr, a compile error, unless got == want. trap_ppc64.s takes its offsets from go_asm.h,
// so it follows the structs anyway; these keep the structs what Frame's and percpu's comments (and
// the shim to come) say they are.
const (
	_ = -(unsafe.Offsetof(Frame{}.PC) ^ 256)
	_ = -(unsafe.Offsetof(Frame{}.MSR) ^ 264)
	_ = -(unsafe.Offsetof(Frame{}.LR) ^ 272)
	_ = -(unsafe.Offsetof(Frame{}.CTR) ^ 280)
	_ = -(unsafe.Offsetof(Frame{}.CR) ^ 288)
	_ = -(unsafe.Offsetof(Frame{}.XER) ^ 296)
	_ = -(unsafe.Offsetof(Frame{}.Vector) ^ 304)
	_ = -(unsafe.Offsetof(Frame{}.DAR) ^ 312)
	_ = -(unsafe.Offsetof(Frame{}.DSISR) ^ 320)
	_ = -(unsafe.Sizeof(Frame{}) ^ 336)

	_ = -(unsafe.Offsetof(FPState{}.FPSCR) ^ 1024)
	_ = -(unsafe.Offsetof(FPState{}.VSCR) ^ 1032)
	_ = -(unsafe.Sizeof(FPState{}) ^ 1040)

	_ = -(unsafe.Offsetof(percpu{}.scratch) ^ 8)
	_ = -(unsafe.Offsetof(percpu{}.kstack) ^ 56)
	_ = -(unsafe.Offsetof(percpu{}.curFP) ^ 64)
	_ = -(unsafe.Offsetof(percpu{}.g) ^ 72)
	_ = -(unsafe.Offsetof(percpu{}.id) ^ 80)
	_ = -(unsafe.Offsetof(percpu{}.depth) ^ 88)
	_ = -(unsafe.Offsetof(percpu{}.nstack) ^ 96)
	_ = -(unsafe.Offsetof(percpu{}.nestFP) ^ 104)
	_ = -(unsafe.Offsetof(percpu{}.poison) ^ 112)
	_ = -(unsafe.Offsetof(percpu{}.nmiStack) ^ 120)
	_ = -(unsafe.Offsetof(percpu{}.nmiFP) ^ 128)

	// hash's rings are powers of two: ringAdd masks instead of dividing
	_ = -uintptr(ringKernel & (ringKernel - 1))
	_ = -uintptr(ringUser & (ringUser - 1))
)
