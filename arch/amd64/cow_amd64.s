#include "textflag.h"

// func userStore(p *uint64, v uint64) (ok bool)
TEXT ·userStore(SB),NOSPLIT,$8-17
	MOVQ	p+0(FP), DI
	MOVQ	v+8(FP), AX
	MOVQ	$1, BX
	CALL	·userStoreInsn(SB) // BX = 0 if the store took a write fault
	MOVB	BX, ok+16(FP)
	RET

// userStoreInsn's first instruction is the store a write fault may hit (userStoreFixup).
TEXT ·userStoreInsn(SB),NOSPLIT|NOFRAME,$0-0
	MOVQ	AX, (DI)
	RET

TEXT ·userStoreInsnAddr(SB),NOSPLIT,$0-8
	LEAQ	·userStoreInsn(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
