#include "go_asm.h"
#include "textflag.h"

// hcall(op, a0, a1, a2, a3) int64: sc 1. Hypervisor calls may clobber r0 and r3-r12: R0 is zeroed
// again (Go takes it as zero).
TEXT ·hcall(SB),NOSPLIT,$0-48
	MOVD	op+0(FP), R3
	MOVD	a0+8(FP), R4
	MOVD	a1+16(FP), R5
	MOVD	a2+24(FP), R6
	MOVD	a3+32(FP), R7
	WORD	$0x44000022 // sc 1
	MOVD	$0, R0
	MOVD	R3, ret+40(FP)
	RET

// hcall2 is hcall returning r4 too (H_ENTER's slot, H_XIRR's XIRR).
TEXT ·hcall2(SB),NOSPLIT,$0-56
	MOVD	op+0(FP), R3
	MOVD	a0+8(FP), R4
	MOVD	a1+16(FP), R5
	MOVD	a2+24(FP), R6
	MOVD	a3+32(FP), R7
	WORD	$0x44000022 // sc 1
	MOVD	$0, R0
	MOVD	R3, ret+40(FP)
	MOVD	R4, ret1+48(FP)
	RET

// setPIDR(pid): mtspr PIDR (48), then isync so later translations use it.
TEXT ·setPIDR(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	pid+0(FP), R3
	MOVD	R3, SPR(48)
	ISYNC
	RET

// setMSR(msr): mtmsrd r3 (L=0), isync.
TEXT ·setMSR(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	msr+0(FP), R3
	WORD	$0x7c600164 // mtmsrd r3, 0
	ISYNC
	RET

// tlbielPage(va, pid): ptesync; tlbiel RB=va (IS=0: this page, AP=0: 4 KiB), RS=pid<<32, RIC=0,
// PRS=1 (process-scoped), R=1 (radix); ptesync.
TEXT ·tlbielPage(SB),NOSPLIT|NOFRAME,$0-16
	MOVD	va+0(FP), R3
	MOVD	pid+8(FP), R4
	SLD	$32, R4
	RLDICR	$0, R3, $51, R3 // the page's effective address, IS and AP zero
	WORD	$0x7c4004ac // ptesync
	WORD	$0x7c831a24 // tlbiel r3, r4, 0, 1, 1
	WORD	$0x7c4004ac
	RET

// tlbielPID(pid): tlbiel with IS=1: every translation of the PID.
TEXT ·tlbielPID(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	pid+0(FP), R4
	SLD	$32, R4
	MOVD	$0x400, R3 // IS = 1 (RB bits 52:53)
	WORD	$0x7c4004ac
	WORD	$0x7c831a24
	WORD	$0x7c4004ac
	RET

TEXT ·imageEnd(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$runtime·end(SB), R3
	MOVD	R3, ret+0(FP)
	RET

// tlbielPIDAll(pid): tlbiel IS=1 (the PID) with RIC=2: the TLB, the page-walk cache and the cached
// process-table entry (after a root change or freed page tables).
TEXT ·tlbielPIDAll(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	pid+0(FP), R4
	SLD	$32, R4
	MOVD	$0x400, R3 // IS = 1
	WORD	$0x7c4004ac
	WORD	$0x7c8b1a24 // tlbiel r3, r4, RIC=2, PRS=1, R=1
	WORD	$0x7c4004ac
	RET

// tlbielAll: tlbiel IS=3, RIC=2: every process-scoped translation and cached entry, all PIDs.
TEXT ·tlbielAll(SB),NOSPLIT|NOFRAME,$0
	MOVD	$0, R4
	MOVD	$0xc00, R3 // IS = 3
	WORD	$0x7c4004ac
	WORD	$0x7c8b1a24
	WORD	$0x7c4004ac
	RET

// getPIDR() uint64: mfspr PIDR (48).
TEXT ·getPIDR(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	SPR(48), R3
	MOVD	R3, ret+0(FP)
	RET

TEXT ·ptesync(SB),NOSPLIT|NOFRAME,$0
	WORD	$0x7c4004ac
	RET

// tlbiePage(va, pid): tlbie RB=va (IS=0, AP=0), RS=pid<<32, RIC=0, PRS=1, R=1: every CPU drops the
// page (after tlbSync).
TEXT ·tlbiePage(SB),NOSPLIT|NOFRAME,$0-16
	MOVD	va+0(FP), R3
	MOVD	pid+8(FP), R4
	SLD	$32, R4
	RLDICR	$0, R3, $51, R3
	WORD	$0x7c4004ac // ptesync
	WORD	$0x7c831a64 // tlbie r3, r4, 0, 1, 1
	RET

// tlbiePIDAll(pid): tlbie IS=1 (the PID), RIC=2.
TEXT ·tlbiePIDAll(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	pid+0(FP), R4
	SLD	$32, R4
	MOVD	$0x400, R3
	WORD	$0x7c4004ac
	WORD	$0x7c8b1a64 // tlbie r3, r4, RIC=2, PRS=1, R=1
	RET

// tlbSync: eieio; tlbsync; ptesync: the tlbies before it are done on every CPU.
TEXT ·tlbSync(SB),NOSPLIT|NOFRAME,$0
	WORD	$0x7c0006ac // eieio
	WORD	$0x7c00046c // tlbsync
	WORD	$0x7c4004ac // ptesync
	RET
