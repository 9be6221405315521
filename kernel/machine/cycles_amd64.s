#include "textflag.h"

// func ReadCycles() uint64: the time-stamp counter, for trace timestamps in interrupt context, where the
// Machine interface's Cycles (an indirect call) may not be used.
TEXT ·ReadCycles(SB),NOSPLIT,$0-8
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET
