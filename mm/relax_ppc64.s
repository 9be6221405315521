#include "textflag.h"

// func Relax(): cpu_relax's SMT priority nops.
TEXT ·Relax(SB),NOSPLIT|NOFRAME,$0
	WORD	$0x7c210b78 // or 1,1,1 (HMT_low)
	WORD	$0x7c421378 // or 2,2,2 (HMT_medium)
	RET
