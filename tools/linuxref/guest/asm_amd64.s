#include "textflag.h"

// func pause()
TEXT ·pause(SB), NOSPLIT, $0-0
	PAUSE
	RET

// func sbFast(x, y *uint64) uint64: the fast side of the store-buffering test, a plain store to *x
// then a plain load of *y, with no barrier between them.
TEXT ·sbFast(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), AX
	MOVQ y+8(FP), BX
	MOVQ $1, (AX)
	MOVQ (BX), CX
	MOVQ CX, ret+16(FP)
	RET

// func sbStoreLoad(y, x *uint64) uint64: the slow side's control, *y = 1 then a load of *x, no barrier.
TEXT ·sbStoreLoad(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), AX
	MOVQ x+8(FP), BX
	MOVQ $1, (AX)
	MOVQ (BX), CX
	MOVQ CX, ret+16(FP)
	RET
