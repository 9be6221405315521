package ppc64

// Frame and FPState are what trapEntry (trap_ppc64.s) saves at every kernel entry and restores on the
// way out; trap may replace both (a thread switch copies another thread's Frame over *f and points
// percpu.curFP at that thread's FPState). The offsets in the comments are the assembly's (go_asm.h).

// Frame is a thread's register state at a kernel entry (exception, interrupt or sc).
type Frame struct {
	GPR    [32]uint64 // 0: r0..r31
	PC     uint64     // 256: SRR0 (for sc: the instruction after it)
	MSR    uint64     // 264: SRR1
	LR     uint64     // 272
	CTR    uint64     // 280
	CR     uint64     // 288
	XER    uint64     // 296
	Vector uint64     // 304: 0x300, 0x500, 0x700, 0x900, 0xc00, ...
	DAR    uint64     // 312
	DSISR  uint64     // 320
	_      uint64     // 328
}

// FPState is a thread's floating-point and vector state: VSR0-63 (FPRs are the high halves of
// VSR0-31), FPSCR and VSCR. 16-byte aligned.
//
// VSR[i][0] is doubleword 0 of VSR i (for i < 32: FPR i), VSR[i][1] doubleword 1; VSR 32-63 are the
// vector registers V0-V31. FPSCR is the 64-bit FPSCR image (mffs). VSCR holds the 32-bit VSCR in its
// low-order word (mfvscr puts it in word 3 of a VR, which mfvsrld reads), the high word zero.
type FPState struct {
	VSR   [64][2]uint64 // 0
	FPSCR uint64        // 1024
	VSCR  uint64        // 1032
}
