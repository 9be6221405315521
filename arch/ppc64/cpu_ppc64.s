#include "go_asm.h"
#include "textflag.h"

// CPU helpers: SPRG3, the decrementer, the timebase, MSR.EE, idling, cache sync, the firmware's
// client interface. Instructions Go's assembler lacks are WORDs (encodings checked with llvm-mc
// -mcpu=pwr9):
//   mfmsr r3        7c6000a6
//   mtmsrd r3, 1    7c610164 (L=1: only EE and RI change)

#define MFMSR_R3 WORD $0x7c6000a6
#define MTMSRD_R3_L1 WORD $0x7c610164
#define HCALL WORD $0x44000022; MOVD $0, R0

TEXT ·getSPRG3(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	SPR(275), R3
	MOVD	R3, ret+0(FP)
	RET

TEXT ·setSPRG3(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	p+0(FP), R3
	MOVD	R3, SPR(275)
	RET

TEXT ·setDecrementer(SB),NOSPLIT|NOFRAME,$0-4
	MOVWZ	ticks+0(FP), R3
	MOVD	R3, SPR(22) // DEC
	RET

TEXT ·irqEnable(SB),NOSPLIT|NOFRAME,$0
	MFMSR_R3
	OR	$0x8000, R3
	MTMSRD_R3_L1
	RET

TEXT ·irqDisable(SB),NOSPLIT|NOFRAME,$0
	MFMSR_R3
	MOVD	$0x8000, R4
	ANDN	R4, R3
	MTMSRD_R3_L1
	RET

TEXT ·irqSave(SB),NOSPLIT|NOFRAME,$0-8
	MFMSR_R3
	MOVD	$0x8000, R4
	AND	R3, R4, R5
	MOVD	R5, ret+0(FP)
	ANDN	R4, R3
	MTMSRD_R3_L1
	RET

TEXT ·irqRestore(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	flags+0(FP), R5
	MFMSR_R3
	MOVD	$0x8000, R4
	ANDN	R4, R3
	AND	R4, R5
	OR	R5, R3
	MTMSRD_R3_L1
	RET

// idleWait: H_CEDE (0xe0) sets MSR.EE and sleeps until an interrupt is pending, which is then taken
// right after the call returns; then EE goes off again.
// A system reset that lands in an interrupt's entry window while this CPU idles resumes right after
// the sc (idleWaitResumeAddr; trap_ppc64.go's systemReset), with r1 from percpu.idleSP: everything
// else the window changes is dead here (Go's ABI: an asm call clobbers all but r1, r2, r13, g).
TEXT ·idleWait(SB),NOSPLIT|NOFRAME,$0
	MOVD	SPR(275), R4
	MOVD	R1, percpu_idleSP(R4) // for systemReset's resume (r1 is the one register it cannot infer)
	WORD	$0x386000e0 // li r3, 0xe0 (H_CEDE)
	WORD	$0x44000022 // sc 1
idleWaitResume:
	MOVD	$0, R0
	MFMSR_R3
	MOVD	$0x8000, R4
	ANDN	R4, R3
	MTMSRD_R3_L1
	RET

// syncICache(p, n): dcbst each 128-byte line, sync, icbi each line, sync, isync.
TEXT ·syncICache(SB),NOSPLIT|NOFRAME,$0-16
	MOVD	p+0(FP), R3
	MOVD	n+8(FP), R4
	ADD	R3, R4 // end
	MOVD	$~127, R5
	AND	R5, R3 // first line
	MOVD	R3, R6
dc:
	DCBST	(R6)
	ADD	$128, R6
	CMPU	R6, R4
	BLT	dc
	SYNC
	MOVD	R3, R6
ic:
	ICBI	(R6)
	ADD	$128, R6
	CMPU	R6, R4
	BLT	ic
	SYNC
	ISYNC
	RET

// ofCall(entry, args) int64: r3 = args, then a call to the client interface's entry (VOF's is an
// hcall and blr; it may clobber the volatile registers).
TEXT ·ofCall(SB),NOSPLIT,$0-24
	MOVD	entry+0(FP), R4
	MOVD	args+8(FP), R3
	MOVD	R4, CTR
	BL	(CTR)
	MOVD	$0, R0
	MOVW	R3, R3 // the interface returns a 32-bit int
	MOVD	R3, ret+16(FP)
	RET

TEXT ·trapAlways(SB),NOSPLIT|NOFRAME,$0
	WORD	$0x7fe00008 // tw 31,0,0
	RET


TEXT ·readMSR(SB),NOSPLIT|NOFRAME,$0-8
	MFMSR_R3
	MOVD	R3, ret+0(FP)
	RET

TEXT ·idleWaitResumeAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·idleWait+16(SB), R3
	MOVD	R3, ret+0(FP)
	RET
