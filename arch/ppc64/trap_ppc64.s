#include "textflag.h"

// Exception vectors and the crash dump, in real mode (MMU off). The firmware's memory below 0x1000
// becomes ours: each vector gets a copy of a small stub (below) that saves r3, r4, CTR and r31 in
// SPRG0-3 and jumps to trapCommon with the vector in r3. trapCommon saves every GPR, prints the crash
// dump in the console protocol (kind=exception: vector, pc = SRR0, msr = SRR1, dar, dsisr, the
// GPRs, and the instruction words at pc) through the hypervisor console, and powers off.
//
// Go's assembler builds constants with R0 as zero and addresses with R31 as a temporary: R31 is saved
// before anything else, and R0 is zeroed again after every hypervisor call, which may clobber it.

#define SPRG0 272
#define SPRG1 273
#define SPRG2 274
#define SPRG3 275
#define SRR0 26
#define SRR1 27
#define DAR 19
#define DSISR 18

#define HCALL WORD $0x44000022; MOVD $0, R0

// SAVE(target) is the common part of every vector stub: no relative branches, so it runs wherever it is
// copied; r0 goes to 0x80 (below the first vector), r31, r3, r4 and CTR to SPRG3, 0, 1 and 2, and CTR
// then holds target. VECTOR(n) goes on to trapCommon with the vector in r3.
#define SAVE(target) \
	MOVD	R0, 128(R0); \
	MOVD	R31, SPR(SPRG3); \
	MOVD	R3, SPR(SPRG0); \
	MOVD	R4, SPR(SPRG1); \
	MOVD	CTR, R4; \
	MOVD	R4, SPR(SPRG2); \
	MOVD	$0, R0; \
	MOVD	$target(SB), R4; \
	MOVD	R4, CTR

#define VECTOR(n) \
	SAVE(·trapCommon); \
	MOVD	$n, R3; \
	BR	(CTR)

TEXT ·vec0x200(SB),NOSPLIT|NOFRAME,$0
	VECTOR(0x200)

TEXT ·vec0x300(SB),NOSPLIT|NOFRAME,$0
	VECTOR(0x300)

TEXT ·vec0x380(SB),NOSPLIT|NOFRAME,$0
	VECTOR(0x380)

TEXT ·vec0x400(SB),NOSPLIT|NOFRAME,$0
	VECTOR(0x400)

TEXT ·vec0x480(SB),NOSPLIT|NOFRAME,$0
	VECTOR(0x480)

TEXT ·vec0x600(SB),NOSPLIT|NOFRAME,$0
	VECTOR(0x600)

TEXT ·vec0x700(SB),NOSPLIT|NOFRAME,$0
	VECTOR(0x700)

TEXT ·vec0x800(SB),NOSPLIT|NOFRAME,$0
	VECTOR(0x800)

TEXT ·vec0x900(SB),NOSPLIT|NOFRAME,$0
	VECTOR(0x900)

// 0xc00 is the system-call vector: the same saves, then scEntry (syscall_ppc64.s) instead of a dump.
TEXT ·vec0xc00(SB),NOSPLIT|NOFRAME,$0
	SAVE(·scEntry)
	BR	(CTR)

TEXT ·vec0xf20(SB),NOSPLIT|NOFRAME,$0
	VECTOR(0xf20)

// regs is where trapCommon saves r0-r31.
GLOBL ·regs(SB), NOPTR, $256

DATA crashHead<>+0(SB)/8, $"LZ1 cras"
DATA crashHead<>+8(SB)/8, $"h cpu=0 "
DATA crashHead<>+16(SB)/8, $"kind=exc"
DATA crashHead<>+24(SB)/8, $"eption v"
DATA crashHead<>+32(SB)/8, $"ector=0x"
GLOBL crashHead<>(SB), RODATA, $40
DATA strPC<>+0(SB)/8, $" pc=0x  "
GLOBL strPC<>(SB), RODATA, $8
DATA strMSR<>+0(SB)/8, $" msr=0x "
GLOBL strMSR<>(SB), RODATA, $8
DATA strDAR<>+0(SB)/8, $" dar=0x "
GLOBL strDAR<>(SB), RODATA, $8
DATA strDSISR<>+0(SB)/8, $" dsisr=0"
DATA strDSISR<>+8(SB)/8, $"x       "
GLOBL strDSISR<>(SB), RODATA, $16
DATA strRegs<>+0(SB)/8, $"\nLZ1 reg"
DATA strRegs<>+8(SB)/8, $"s gprs=0"
DATA strRegs<>+16(SB)/8, $"x       "
GLOBL strRegs<>(SB), RODATA, $24
DATA strBytes<>+0(SB)/8, $"\nLZ1 byt"
DATA strBytes<>+8(SB)/8, $"es at=0x"
GLOBL strBytes<>(SB), RODATA, $16
DATA strHex<>+0(SB)/8, $" hex=   "
GLOBL strHex<>(SB), RODATA, $8
DATA strEnd<>+0(SB)/8, $"\nLZ1 cra"
DATA strEnd<>+8(SB)/8, $"sh-end s"
DATA strEnd<>+16(SB)/8, $"tatus=0x"
GLOBL strEnd<>(SB), RODATA, $24
DATA strNL<>+0(SB)/8, $"\n       "
GLOBL strNL<>(SB), RODATA, $8


// out prints R22 bytes (1..16) from the doublewords in R23 and R24 (high-order byte first).
#define OUT(n) MOVD $0x58, R3; MOVD $0, R4; MOVD $n, R5; MOVD R23, R6; MOVD R24, R7; HCALL

// STR(sym, n) prints the n (multiple of 8, or a last partial word) bytes at sym.
#define STR8(sym, off, n) MOVD $sym+off(SB), R21; MOVD 0(R21), R23; MOVD $0, R24; OUT(n)

// hex16 prints R20 as 16 hex digits: it builds the ASCII in R23 (first 8) and R24 (last 8).
TEXT ·hex16(SB),NOSPLIT|NOFRAME,$0
	MOVD	$0, R23
	MOVD	$0, R24
	MOVD	$16, R25
	MOVD	R20, R26
next:
	SRD	$60, R26, R27 // the top nibble
	SLD	$4, R26
	CMP	R27, $10
	BLT	digit
	ADD	$('a'-10), R27
	BR	put
digit:
	ADD	$'0', R27
put:
	SLD	$8, R23
	SRD	$56, R24, R28 // shift the 16-byte string left by one byte: R23 <- R23<<8 | R24>>56
	OR	R28, R23
	SLD	$8, R24
	OR	R27, R24
	ADD	$-1, R25
	CMP	R25, $0
	BNE	next
	OUT(16)
	RET

// trapCommon: r3 = vector; SPRG0-3 hold r3, r4, CTR, r31.
TEXT ·trapCommon(SB),NOSPLIT|NOFRAME,$0
	MOVD	R3, R17 // the vector
	MOVD	$·regs(SB), R4
	MOVD	R5, 40(R4)
	MOVD	128(R0), R5 // r0, which the vector stub put at 0x80
	MOVD	R5, 0(R4)
	MOVD	R1, 8(R4)
	MOVD	R2, 16(R4)
	MOVD	SPR(SPRG0), R5
	MOVD	R5, 24(R4)
	MOVD	SPR(SPRG1), R5
	MOVD	R5, 32(R4)
	MOVD	R6, 48(R4)
	MOVD	R7, 56(R4)
	MOVD	R8, 64(R4)
	MOVD	R9, 72(R4)
	MOVD	R10, 80(R4)
	MOVD	R11, 88(R4)
	MOVD	R12, 96(R4)
	MOVD	R13, 104(R4)
	MOVD	R14, 112(R4)
	MOVD	R15, 120(R4)
	MOVD	R16, 128(R4)
	MOVD	R17, 136(R4)
	MOVD	R18, 144(R4)
	MOVD	R19, 152(R4)
	MOVD	R20, 160(R4)
	MOVD	R21, 168(R4)
	MOVD	R22, 176(R4)
	MOVD	R23, 184(R4)
	MOVD	R24, 192(R4)
	MOVD	R25, 200(R4)
	MOVD	R26, 208(R4)
	MOVD	R27, 216(R4)
	MOVD	R28, 224(R4)
	MOVD	R29, 232(R4)
	MOVD	SPR(SPRG3), R5
	MOVD	R5, 248(R4)
	MOVD	g, 240(R4) // r30 (Go's g register)
	MOVD	$0, R0

	STR8(crashHead<>, 0, 8)
	STR8(crashHead<>, 8, 8)
	STR8(crashHead<>, 16, 8)
	STR8(crashHead<>, 24, 8)
	STR8(crashHead<>, 32, 8)
	MOVD	R17, R20
	BL	·hex16(SB)
	STR8(strPC<>, 0, 6)
	MOVD	SPR(SRR0), R20
	MOVD	R20, R29 // the faulting pc, for the bytes line
	BL	·hex16(SB)
	STR8(strMSR<>, 0, 7)
	MOVD	SPR(SRR1), R20
	BL	·hex16(SB)
	STR8(strDAR<>, 0, 7)
	MOVD	SPR(DAR), R20
	BL	·hex16(SB)
	STR8(strDSISR<>, 0, 8)
	STR8(strDSISR<>, 8, 1)
	MOVD	SPR(DSISR), R20
	BL	·hex16(SB)

	// the GPRs, as one run of 32 x 16 hex digits
	STR8(strRegs<>, 0, 8)
	STR8(strRegs<>, 8, 8)
	STR8(strRegs<>, 16, 1)
	MOVD	$·regs(SB), R18
	MOVD	$32, R19
gprs:
	MOVD	0(R18), R20
	BL	·hex16(SB)
	ADD	$8, R18
	ADD	$-1, R19
	CMP	R19, $0
	BNE	gprs

	// the instruction words at pc (4 words, when pc is in the first 256 MiB)
	STR8(strBytes<>, 0, 8)
	STR8(strBytes<>, 8, 8)
	MOVD	R29, R20
	BL	·hex16(SB)
	STR8(strHex<>, 0, 5)
	MOVD	$0x0fffffff, R5
	AND	R5, R29
	MOVWZ	0(R29), R20
	SLD	$32, R20
	MOVWZ	4(R29), R5
	OR	R5, R20
	BL	·hex16(SB)
	MOVWZ	8(R29), R20
	SLD	$32, R20
	MOVWZ	12(R29), R5
	OR	R5, R20
	BL	·hex16(SB)

	STR8(strEnd<>, 0, 8)
	STR8(strEnd<>, 8, 8)
	STR8(strEnd<>, 16, 8)
	MOVD	R17, R20 // the status is the vector (RTAS power-off cannot carry it to QEMU's exit status)
	BL	·hex16(SB)
	STR8(strNL<>, 0, 1)

	BR	·powerOff(SB)
