#include "go_asm.h"
#include "textflag.h"

// powernv's machine instructions (opal_ppc64.go). Encodings Go's assembler lacks are WORDs:
//   mfmsr r14        7dc000a6
//   mtmsrd r14, 0    7dc00164
//   hrfid            4c000224
//   stop             4c0002e4
//   mfmsr r3         7c6000a6
//   mtmsrd r3, 1     7c610164
//   msgsnd r3        7c00199c

#define HSRR0 314
#define HSRR1 315
#define LPCR 318
#define PTCR 464
#define PSSCR 855

// OPAL_CALL calls OPAL as Linux's __opal_call (opal-wrappers.S) does: token in r0 (from R17),
// arguments in r3-r8, r2 = OPAL's base, MSR as now but for EE, IR, DR and LE (interrupts off, real
// mode, big-endian), entered through hrfid with LR pointing back here. OPAL switches to its own stack,
// restores r1 and the non-volatile registers, and returns with blr in real mode: the MSR
// (translation, EE), r2 and LR are put back from r14-r16, which OPAL preserves; r3 is its result.
// The image is mapped one to one, so the code and the static buffers passed are where OPAL finds
// them. r18-r29 survive it.
#define OPAL_CALL \
	MOVD	LR, R16; \
	MOVD	R2, R15; \
	WORD	$0x7dc000a6; \
	MOVD	$0x8031, R9; \
	ANDN	R9, R14, R10; \
	MOVD	R10, SPR(HSRR1); \
	MOVD	·opalEntry(SB), R11; \
	MOVD	R11, SPR(HSRR0); \
	MOVD	·opalBase(SB), R2; \
	MOVD	R17, R0; \
	BL	·opalEnter(SB); \
	WORD	$0x7dc00164; \
	ISYNC; \
	MOVD	R15, R2; \
	MOVD	R16, LR; \
	MOVD	$0, R0

// opalEnter enters OPAL (OPAL_CALL has set HSRR0/HSRR1, and LR is the way back).
TEXT ·opalEnter(SB),NOSPLIT|NOFRAME,$0
	WORD	$0x4c000224 // hrfid

// opalCall6(token, a0, ..., a5) int64: one OPAL call, of up to six arguments.
TEXT ·opalCall6(SB),NOSPLIT|NOFRAME,$0-64
	MOVD	token+0(FP), R17
	MOVD	a0+8(FP), R3
	MOVD	a1+16(FP), R4
	MOVD	a2+24(FP), R5
	MOVD	a3+32(FP), R6
	MOVD	a4+40(FP), R7
	MOVD	a5+48(FP), R8
	OPAL_CALL
	MOVD	R3, ret+56(FP)
	RET

// opalWrite(p, n): n bytes at p (static: its address is physical) on OPAL's console, terminal 0.
// OPAL_CONSOLE_WRITE takes what its buffer has room for and says how much in opalLen; the rest is
// retried after OPAL_POLL_EVENTS, as Linux's opal_put_chars does, at most 1000 times. In assembly,
// without a frame: it is the end of the console's nosplit chains.
TEXT ·opalWrite(SB),NOSPLIT|NOFRAME,$0-16
	MOVD	p+0(FP), R18
	MOVD	n+8(FP), R19
	MOVD	$1000, R20
loop:
	CMP	R19, $0
	BEQ	done
	ADD	$-1, R20
	CMP	R20, $0
	BLT	done
	MOVD	$·opalLen(SB), R4
	MOVD	R19, 0(R4)
	MOVD	$0, R3
	MOVD	R18, R5
	MOVD	$const_opalConsoleWrite, R17
	OPAL_CALL
	CMP	R3, $0
	BNE	poll
	MOVD	·opalLen(SB), R6
	CMPU	R6, R19
	BLE	took
	MOVD	R19, R6
took:
	ADD	R6, R18
	SUB	R6, R19
	CMP	R19, $0
	BEQ	done
poll:
	MOVD	$const_opalPollEvents, R17
	MOVD	$0, R3
	OPAL_CALL
	BR	loop
done:
	RET

// stopWait is idleWait on powernv: with EE off, stop (PSSCR 0: level 0, EC=0) sleeps until an
// interrupt is pending (LPCR's wake-up bits) and goes on after the instruction, so none is lost
// between the caller's check and the sleep; then EE on takes it, here, and EE goes off again.
TEXT ·stopWait(SB),NOSPLIT|NOFRAME,$0
	SYNC
	WORD	$0x4c0002e4 // stop
	WORD	$0x7c6000a6 // mfmsr r3
	OR	$0x8000, R3
	WORD	$0x7c610164 // mtmsrd r3, 1
	MOVD	$0x8000, R4
	ANDN	R4, R3
	WORD	$0x7c610164
	RET

TEXT ·getLPCR(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	SPR(LPCR), R3
	MOVD	R3, ret+0(FP)
	RET

TEXT ·setLPCR(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	v+0(FP), R3
	MOVD	R3, SPR(LPCR)
	ISYNC
	RET

// setPTCR(v): the partition table; ptesync first, so the table's entries are visible to the walk.
TEXT ·setPTCR(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	v+0(FP), R3
	WORD	$0x7c4004ac // ptesync
	MOVD	R3, SPR(PTCR)
	ISYNC
	RET

TEXT ·setPSSCR(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	v+0(FP), R3
	MOVD	R3, SPR(PSSCR)
	ISYNC
	RET

// doorbell(pir): msgsnd of a directed hypervisor doorbell (type 5, Linux's PPC_DBELL_SERVER) to the
// thread pir: vector 0xe80 there, taken when its MSR.EE is on; the delivery clears it. The sync
// orders the sender's ipiPending update before it.
TEXT ·doorbell(SB),NOSPLIT|NOFRAME,$0-4
	MOVWZ	pir+0(FP), R3
	MOVD	$5, R4
	SLD	$27, R4
	OR	R4, R3
	SYNC
	WORD	$0x7c00199c // msgsnd r3
	RET

// pnvAPEntry is where OPAL_START_CPU starts a CPU: real mode, HV, big-endian. It takes its index
// from its PIR's place in hwIDs (not from r3: that is skiboot's convention, not OPAL's API) and goes
// to apEntry, as RTAS start-cpu would, through rfid: MSR = SF|HV|ME (skiboot turns ME off).
TEXT ·pnvAPEntry(SB),NOSPLIT|NOFRAME,$0
	MOVD	$0, R0
	MOVD	SPR(1023), R4 // PIR
	MOVD	$·hwIDs(SB), R5
	MOVD	·firmwareCPUs(SB), R6
	MOVD	$0, R3
find:
	CMP	R3, R6
	BGE	lost
	MOVWZ	0(R5), R7
	CMPW	R7, R4
	BEQ	found
	ADD	$1, R3
	ADD	$4, R5
	BR	find
lost:
	BR	0(PC) // a thread the device tree did not list: it stays here
found:
	MOVD	$·apEntry(SB), R7
	MOVD	R7, SPR(26) // SRR0
	MOVD	$9, R8
	SLD	$60, R8 // SF|HV
	OR	$const_msrME, R8
	MOVD	R8, SPR(27) // SRR1
	WORD	$0x4c000024 // rfid

TEXT ·pnvAPEntryAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·pnvAPEntry(SB), R3
	MOVD	R3, ret+0(FP)
	RET

TEXT ·readPIR(SB),NOSPLIT|NOFRAME,$0-4
	MOVD	SPR(1023), R3
	MOVW	R3, ret+0(FP)
	RET
