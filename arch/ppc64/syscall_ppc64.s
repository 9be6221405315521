#include "textflag.h"

// The system-call entry: sc (LEV 0) lands at 0xc00, whose stub saved r0 (the call number) at 0x80,
// r3, r4, CTR and r31 in SPRG0-3. scEntry fills scf with the number and the arguments (r3-r8, the
// Linux ppc64 convention), switches to its own stack, runs the Go dispatcher, and returns through rfid
// with the result in r3 and, on error, CR0.SO set (r3 then holds the positive errno). One CPU only
// for now: scf and scStack are not per CPU yet.

TEXT ·scEntry(SB),NOSPLIT|NOFRAME,$0
	MOVD	$·scf(SB), R4
	MOVD	128(R0), R3
	MOVD	R3, 0(R4) // nr
	MOVD	SPR(272), R3
	MOVD	R3, 8(R4) // a0 = r3
	MOVD	SPR(273), R3
	MOVD	R3, 16(R4) // a1 = r4
	MOVD	R5, 24(R4)
	MOVD	R6, 32(R4)
	MOVD	R7, 40(R4)
	MOVD	R8, 48(R4)
	MOVD	R1, 72(R4) // the caller's stack
	MOVD	SPR(26), R3
	MOVD	R3, 80(R4) // SRR0: where to return
	MOVD	SPR(27), R3
	MOVD	R3, 88(R4) // SRR1: the caller's MSR
	MOVD	LR, R3
	MOVD	R3, 96(R4)
	MOVD	g, 104(R4)
	MOVD	$·scStack+16128(SB), R1
	MOVD	$·bootG(SB), g
	BL	·scDispatch(SB)
	MOVD	$0, R0
	MOVD	$·scf(SB), R4
	MOVD	96(R4), R3
	MOVD	R3, LR
	MOVD	104(R4), g
	MOVD	80(R4), R3
	MOVD	R3, SPR(26)
	MOVD	88(R4), R3
	MOVD	R3, SPR(27)
	MOVD	SPR(274), R3
	MOVD	R3, CTR
	MOVD	SPR(275), R31
	WORD	$0x7ca00026 // mfcr r5
	MOVD	$0x10000000, R6
	ANDN	R6, R5 // CR0.SO clear
	MOVBZ	64(R4), R7 // scf.err
	CMP	R7, $0
	BEQ	ok
	OR	R6, R5 // CR0.SO set: r3 is an errno
ok:
	WORD	$0x7cb80120 // mtcrf 0x80, r5
	MOVD	56(R4), R3 // the result
	MOVD	72(R4), R1
	WORD	$0x4c000024 // rfid

// rawSyscall(nr, a0, a1, a2) (r, failed): sc with the Linux ppc64 convention, for the stub's own test
// of the path (the runtime will make these calls itself).
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
