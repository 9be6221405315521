#include "go_asm.h"
#include "textflag.h"

// apEntry is where RTAS start-cpu starts a CPU: real mode, MSR = SF|ME, r3 = its index. It takes its
// percpu and stack from apStart[r3], sets SPRG3, g and R0, and calls apMain(r3).
TEXT ·apEntry(SB),NOSPLIT|NOFRAME,$0
	MOVD	$0, R0
	MOVD	$·apStart(SB), R4
	SLD	$4, R3, R5
	ADD	R5, R4
	MOVD	0(R4), R6
	MOVD	8(R4), R1
	MOVD	R6, SPR(275) // SPRG3
	MOVD	percpu_g(R6), g
	MOVD	R3, 32(R1)
	BL	·apMain(SB)
	BR	0(PC)

TEXT ·apEntryAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·apEntry(SB), R3
	MOVD	R3, ret+0(FP)
	RET

// apSchedule(kstack) becomes trap context on this CPU's trap stack (depth 1), as if a trap had come,
// runs apIdle(f) on the Frame there, and leaves through trapExit into the thread it loaded.
TEXT ·apSchedule(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	kstack+0(FP), R1
	MOVD	SPR(275), R4
	MOVD	$1, R5
	MOVD	R5, percpu_depth(R4)
	ADD	$64, R1, R3 // the Frame, at FRM above the stack pointer, as trapEntry builds it
	MOVD	R3, 32(R1)
	BL	·apIdle(SB)
	BR	·trapExit(SB)
