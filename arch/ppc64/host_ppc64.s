#include "go_asm.h"
#include "textflag.h"

// enterRuntime(pc, sp, msr): the runtime's first instruction with r1 at the initial stack (argc,
// argv, envp, auxv, as Linux leaves them) and msr (64-bit, translation and EE on) through rfid.
TEXT ·enterRuntime(SB),NOSPLIT|NOFRAME,$0-24
	MOVD	pc+0(FP), R3
	MOVD	sp+8(FP), R4
	MOVD	msr+16(FP), R5
	MOVD	R3, SPR(26) // SRR0
	MOVD	R5, SPR(27) // SRR1
	MOVD	R4, R1
	MOVD	$0, R3
	MOVD	$0, R4
	MOVD	$0, R5
	WORD	$0x4c000024 // rfid

// rt0Addr is the code address of _rt0_ppc64_linux, an ELFv1 function descriptor (its first
// doubleword is the entry).
TEXT ·rt0Addr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$_rt0_ppc64_linux(SB), R3
	MOVD	0(R3), R3
	MOVD	R3, ret+0(FP)
	RET

// darn() uint64: darn r3, L=1 (a 64-bit conditioned random number; all ones when none is ready).
TEXT ·darn(SB),NOSPLIT|NOFRAME,$0-8
	WORD	$0x7c6105e6
	MOVD	R3, ret+0(FP)
	RET
