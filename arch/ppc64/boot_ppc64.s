#include "textflag.h"

// RTAS power-off (QEMU's token 0x2003): token, 2 inputs, 1 output, power-on mask (none), status.
DATA rtasOff<>+0(SB)/4, $0x2003
DATA rtasOff<>+4(SB)/4, $2
DATA rtasOff<>+8(SB)/4, $1
DATA rtasOff<>+12(SB)/4, $0
DATA rtasOff<>+16(SB)/4, $0
DATA rtasOff<>+20(SB)/4, $0xffffffff
GLOBL rtasOff<>(SB), NOPTR, $24

// boot: entered from the trampoline with the image at its link address, MSR 0 (32-bit, big-endian,
// real mode). It installs the exception vectors and goes to 64-bit mode through rfid. Hypervisor
// calls (sc 1) may clobber r0 and r3-r12, and Go's assembler builds constants with R0 as zero: R0 is
// zeroed after each.
TEXT ·boot(SB),NOSPLIT|NOFRAME,$0
	MOVD	$0, R0 // Go code takes R0 as zero (the assembler builds constants with it); firmware does not
	BL	·installVectors(SB)
	// 64-bit mode: rfid to boot64 with MSR = SF | ME (still real mode, big-endian)
	MOVD	$·boot64(SB), R3
	MOVD	R3, SPR(26) // SRR0
	MOVD	$1, R3
	SLD	$63, R3
	OR	$0x1000, R3
	MOVD	R3, SPR(27) // SRR1
	WORD	$0x4c000024 // rfid

// boot64: a stack, a stand-in g, then Go (stubMain), then power off.
TEXT ·boot64(SB),NOSPLIT|NOFRAME,$0
	MOVD	$0, R0
	MOVD	$·bootStack+65280(SB), R1 // 256 bytes below the top: Go's fixed frame and alignment
	MOVD	$·bootG(SB), g
	BL	·stubMain(SB)
	BR	·powerOff(SB)

// powerOff ends the machine: RTAS power-off through H_RTAS. QEMU exits with status 0, whatever the
// run's verdict: the console says it.
TEXT ·powerOff(SB),NOSPLIT|NOFRAME,$0
	MOVD	$0, R0
	MOVD	$0xf000, R3 // H_RTAS
	MOVD	$rtasOff<>(SB), R4
	WORD	$0x44000022
	BR	0(PC)

// hvPutChars(hi, lo uint64, n int): H_PUT_TERM_CHAR on vterm 0.
TEXT ·hvPutChars(SB),NOSPLIT,$0-24
	MOVD	hi+0(FP), R6
	MOVD	lo+8(FP), R7
	MOVD	n+16(FP), R5
	MOVD	$0x58, R3
	MOVD	$0, R4
	WORD	$0x44000022
	MOVD	$0, R0 // hypervisor calls may clobber r0
	RET

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
