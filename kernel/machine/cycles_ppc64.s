#include "textflag.h"

// func ReadCycles() uint64: the timebase (mfspr r3, TB = SPR 268), for trace timestamps in interrupt
// context.
TEXT ·ReadCycles(SB),NOSPLIT|NOFRAME,$0-8
	WORD	$0x7c6c42a6 // mfspr r3, 268
	MOVD	R3, ret+0(FP)
	RET
