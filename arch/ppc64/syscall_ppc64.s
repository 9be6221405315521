#include "textflag.h"

// rawSyscall(nr, a0, a1, a2) (r, failed): sc with the Linux ppc64 convention, for the stub's own test
// of the path (the runtime will make these calls itself). The kernel side is trapEntry (vector 0xc00)
// and scDispatch.
TEXT ·rawSyscall(SB),NOSPLIT,$0-48
	MOVD	nr+0(FP), R0
	MOVD	a0+8(FP), R3
	MOVD	a1+16(FP), R4
	MOVD	a2+24(FP), R5
	SYSCALL
	MOVD	$0, R0
	MOVD	R3, r+32(FP)
	MOVD	$0, R4
	BVC	nosoerr
	MOVD	$1, R4
nosoerr:
	MOVD	R4, failed+40(FP)
	RET
