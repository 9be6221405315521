#include "textflag.h"

// regCheck(pat *[34]uint64, ticks *uint64, until, deadline uint64, buf *[4]uint64) (bad uint64): the
// decrementer proof. It loads known values (pat, see regPat in boot_ppc64.go) into r14-r29, F14-F17,
// VSR52-55 (V20-V23, all 128 bits), CR2-CR7, CTR, XER, FPSCR and VSCR, spins with only r3-r10 and CR0
// until
// *ticks reaches until (the interrupts come meanwhile, with EE on), then checks every value. It
// returns 0 if all survived, else 1 + the index in pat of the first one lost (for the vector
// registers, of its first doubleword), or 99 if the timebase passed deadline first. FPSCR and VSCR
// are put back as they were (buf[2], buf[3]); buf[0:2] is scratch.
#define MFVSCR_V0 WORD $0x10000604
#define MTVSCR_V0 WORD $0x10000644

TEXT ·regCheck(SB),NOSPLIT,$0-48
	MOVD	pat+0(FP), R3
	MOVD	ticks+8(FP), R4
	MOVD	until+16(FP), R5
	MOVD	deadline+24(FP), R10
	MOVD	buf+32(FP), R6
	MOVD	0(R3), R14
	MOVD	8(R3), R15
	MOVD	16(R3), R16
	MOVD	24(R3), R17
	MOVD	32(R3), R18
	MOVD	40(R3), R19
	MOVD	48(R3), R20
	MOVD	56(R3), R21
	MOVD	64(R3), R22
	MOVD	72(R3), R23
	MOVD	80(R3), R24
	MOVD	88(R3), R25
	MOVD	96(R3), R26
	MOVD	104(R3), R27
	MOVD	112(R3), R28
	MOVD	120(R3), R29
	FMOVD	128(R3), F14
	FMOVD	136(R3), F15
	FMOVD	144(R3), F16
	FMOVD	152(R3), F17
	MOVD	$160, R7
	LXVD2X	(R3)(R7), VS52
	ADD	$16, R7
	LXVD2X	(R3)(R7), VS53
	ADD	$16, R7
	LXVD2X	(R3)(R7), VS54
	ADD	$16, R7
	LXVD2X	(R3)(R7), VS55
	MOVD	224(R3), R7
	MOVFL	R7, $0x3f // mtcrf: CR2-CR7
	MOVD	232(R3), R7
	MOVD	R7, CTR
	MOVD	240(R3), R7
	MOVD	R7, XER
	MOVFL	FPSCR, F0
	FMOVD	F0, 16(R6)
	MFVSCR_V0
	MFVSRLD	V0, R7
	MOVD	R7, 24(R6)
	FMOVD	248(R3), F0
	MOVFL	F0, FPSCR
	MOVD	256(R3), R7
	MTVSRDD	R7, R7, V0
	MTVSCR_V0
spin:
	MOVD	SPR(268), R9 // TB
	CMPU	R9, R10
	BGT	timeout
	MOVD	0(R4), R9
	CMPU	R9, R5
	BLT	spin
	MOVD	$1, R8
	MOVD	0(R3), R7
	CMP	R7, R14
	BNE	fail
	MOVD	$2, R8
	MOVD	8(R3), R7
	CMP	R7, R15
	BNE	fail
	MOVD	$3, R8
	MOVD	16(R3), R7
	CMP	R7, R16
	BNE	fail
	MOVD	$4, R8
	MOVD	24(R3), R7
	CMP	R7, R17
	BNE	fail
	MOVD	$5, R8
	MOVD	32(R3), R7
	CMP	R7, R18
	BNE	fail
	MOVD	$6, R8
	MOVD	40(R3), R7
	CMP	R7, R19
	BNE	fail
	MOVD	$7, R8
	MOVD	48(R3), R7
	CMP	R7, R20
	BNE	fail
	MOVD	$8, R8
	MOVD	56(R3), R7
	CMP	R7, R21
	BNE	fail
	MOVD	$9, R8
	MOVD	64(R3), R7
	CMP	R7, R22
	BNE	fail
	MOVD	$10, R8
	MOVD	72(R3), R7
	CMP	R7, R23
	BNE	fail
	MOVD	$11, R8
	MOVD	80(R3), R7
	CMP	R7, R24
	BNE	fail
	MOVD	$12, R8
	MOVD	88(R3), R7
	CMP	R7, R25
	BNE	fail
	MOVD	$13, R8
	MOVD	96(R3), R7
	CMP	R7, R26
	BNE	fail
	MOVD	$14, R8
	MOVD	104(R3), R7
	CMP	R7, R27
	BNE	fail
	MOVD	$15, R8
	MOVD	112(R3), R7
	CMP	R7, R28
	BNE	fail
	MOVD	$16, R8
	MOVD	120(R3), R7
	CMP	R7, R29
	BNE	fail
	MOVD	$17, R8
	FMOVD	F14, 0(R6)
	MOVD	0(R6), R9
	MOVD	128(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	$18, R8
	FMOVD	F15, 0(R6)
	MOVD	0(R6), R9
	MOVD	136(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	$19, R8
	FMOVD	F16, 0(R6)
	MOVD	0(R6), R9
	MOVD	144(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	$20, R8
	FMOVD	F17, 0(R6)
	MOVD	0(R6), R9
	MOVD	152(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	$21, R8
	STXVD2X	VS52, (R6)
	MOVD	0(R6), R9
	MOVD	160(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	8(R6), R9
	MOVD	168(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	$23, R8
	STXVD2X	VS53, (R6)
	MOVD	0(R6), R9
	MOVD	176(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	8(R6), R9
	MOVD	184(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	$25, R8
	STXVD2X	VS54, (R6)
	MOVD	0(R6), R9
	MOVD	192(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	8(R6), R9
	MOVD	200(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	$27, R8
	STXVD2X	VS55, (R6)
	MOVD	0(R6), R9
	MOVD	208(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	8(R6), R9
	MOVD	216(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	$29, R8
	MOVW	CR, R9
	MOVD	224(R3), R7
	XOR	R7, R9
	MOVD	$0xffffff, R7
	AND	R7, R9
	CMP	R9, $0
	BNE	fail
	MOVD	$30, R8
	MOVD	CTR, R9
	MOVD	232(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	$31, R8
	MOVD	XER, R9
	MOVD	240(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	$32, R8
	MOVFL	FPSCR, F0
	FMOVD	F0, 0(R6)
	MOVWZ	4(R6), R9 // the low word: the upper one holds DRN
	MOVD	248(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	$33, R8
	MFVSCR_V0
	MFVSRLD	V0, R9
	MOVD	256(R3), R7
	CMP	R7, R9
	BNE	fail
	MOVD	$0, R8
fail:
	FMOVD	16(R6), F0
	MOVFL	F0, FPSCR
	MOVD	24(R6), R7
	MTVSRDD	R7, R7, V0
	MTVSCR_V0
	MOVD	R8, bad+40(FP)
	RET
timeout:
	MOVD	$99, R8
	BR	fail
