#include "textflag.h"

// func userStore(p *uint64, v uint64) (ok bool)
TEXT ·userStore(SB),NOSPLIT,$0-17
	MOVD	p+0(FP), R3
	MOVD	v+8(FP), R4
	MOVD	$1, R5
	BL	·userStoreInsn(SB) // R5 = 0 if the store took a write fault
	MOVB	R5, ok+16(FP)
	RET

// userStoreInsn's first instruction is the store a write fault may hit (userStoreFixup).
TEXT ·userStoreInsn(SB),NOSPLIT|NOFRAME,$0-0
	MOVD	R4, 0(R3)
	RET

TEXT ·userStoreInsnAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·userStoreInsn(SB), R3
	MOVD	R3, ret+0(FP)
	RET
