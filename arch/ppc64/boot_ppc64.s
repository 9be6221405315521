#include "textflag.h"

// The message the stub prints, padded to whole doublewords (H_PUT_TERM_CHAR takes 8 bytes from each
// of r6 and r7, high-order byte first: big-endian memory order).
DATA stubMsg<>+0(SB)/8, $"lazymm: "
DATA stubMsg<>+8(SB)/8, $"ppc64 bo"
DATA stubMsg<>+16(SB)/8, $"ot stub "
DATA stubMsg<>+24(SB)/8, $"reached;"
DATA stubMsg<>+32(SB)/8, $" the hos"
DATA stubMsg<>+40(SB)/8, $"ted runt"
DATA stubMsg<>+48(SB)/8, $"ime is n"
DATA stubMsg<>+56(SB)/8, $"ot porte"
DATA stubMsg<>+64(SB)/8, $"d yet (i"
DATA stubMsg<>+72(SB)/8, $"ssue 6) "
DATA stubMsg<>+80(SB)/8, $"       \n"
GLOBL stubMsg<>(SB), RODATA, $88

// RTAS power-off (QEMU's token 0x2003): token, 2 inputs, 1 output, power-on mask (none), status.
DATA rtasOff<>+0(SB)/4, $0x2003
DATA rtasOff<>+4(SB)/4, $2
DATA rtasOff<>+8(SB)/4, $1
DATA rtasOff<>+12(SB)/4, $0
DATA rtasOff<>+16(SB)/4, $0
DATA rtasOff<>+20(SB)/4, $0xffffffff
GLOBL rtasOff<>(SB), NOPTR, $24

// boot: entered from the trapoline with the image at its link address, MSR 32-bit big-endian real
// mode. Hypervisor calls (sc 1) may clobber r0 and r3-r12: the loop keeps its state in r14-r16.
TEXT ·boot(SB),NOSPLIT|NOFRAME,$0
	MOVD	$stubMsg<>(SB), R14
	MOVD	$88, R15
	ADD	R14, R15
loop:
	MOVD	$0x58, R3 // H_PUT_TERM_CHAR
	MOVD	$0, R4    // vterm 0
	MOVD	$8, R5
	MOVD	0(R14), R6
	MOVD	$0, R7
	WORD	$0x44000022 // sc 1
	MOVD	$0, R0 // hypervisor calls may clobber r0 and r3-r12
	ADD	$8, R14
	CMP	R14, R15
	BLT	loop
	MOVD	$0xf000, R3 // H_RTAS
	MOVD	$rtasOff<>(SB), R4
	WORD	$0x44000022
spin:
	BR	spin

TEXT ·bootAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·boot(SB), R3
	MOVD	R3, ret+0(FP)
	RET

// COPYVEC copies the 64 bytes of vector stub sym to physical address dst and makes them fetchable.
#define COPYVEC(sym, dst) \
	MOVD	$sym(SB), R14; \
	MOVD	$dst, R15; \
	MOVD	$16, R16; \
	MOVD	R16, CTR; \
	MOVWZ	0(R14), R17; \
	MOVW	R17, 0(R15); \
	ADD	$4, R14; \
	ADD	$4, R15; \
	BC	16, 0, -4(PC); \
	MOVD	$dst, R15; \
	DCBST	(R15); \
	SYNC; \
	ICBI	(R15); \
	ADD	$32, R15; \
	DCBST	(R15); \
	SYNC; \
	ICBI	(R15); \
	SYNC; \
	ISYNC

// installVectors puts the stubs of trap_ppc64.s at their vectors (the firmware's memory: VOF's
// client interface is not used after this).
TEXT ·installVectors(SB),NOSPLIT|NOFRAME,$0
	COPYVEC(·vec0x200, 0x200)
	COPYVEC(·vec0x300, 0x300)
	COPYVEC(·vec0x380, 0x380)
	COPYVEC(·vec0x400, 0x400)
	COPYVEC(·vec0x480, 0x480)
	COPYVEC(·vec0x600, 0x600)
	COPYVEC(·vec0x700, 0x700)
	COPYVEC(·vec0x800, 0x800)
	COPYVEC(·vec0x900, 0x900)
	COPYVEC(·vec0xc00, 0xc00)
	COPYVEC(·vec0xf20, 0xf20)
	RET

// bootFault is an entry for the crash-dump test: vectors installed, then a trap instruction (tw 31,0,0),
// which must come back as a program-check crash dump.
TEXT ·bootFault(SB),NOSPLIT|NOFRAME,$0
	MOVD	$0, R0
	BL	·installVectors(SB)
	WORD	$0x7fe00008 // tw 31,0,0: trap always
	BR	0(PC)

TEXT ·bootFaultAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·bootFault(SB), R3
	MOVD	R3, ret+0(FP)
	RET
