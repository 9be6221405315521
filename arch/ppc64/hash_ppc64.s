#include "go_asm.h"
#include "textflag.h"

// The hash MMU's instructions (hash_ppc64.go): the SLB's.

// slbmte(rs, rb): slbmte r3, r4; isync.
TEXT ·slbmte(SB),NOSPLIT|NOFRAME,$0-16
	MOVD	rs+0(FP), R3
	MOVD	rb+8(FP), R4
	WORD	$0x7c602324 // slbmte r3, r4
	ISYNC
	RET

// slbie(rb): slbie r3; isync (QEMU drops the CPU's translations at the context synchronization).
TEXT ·slbie(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	rb+0(FP), R3
	WORD	$0x7c001b64 // slbie r3
	ISYNC
	RET

// slbmfee(i) uint64: the ESID word (ESID, V) of SLB entry i.
TEXT ·slbmfee(SB),NOSPLIT|NOFRAME,$0-16
	MOVD	i+0(FP), R4
	WORD	$0x7c602726 // slbmfee r3, r4
	MOVD	R3, ret+8(FP)
	RET

// slbmfev(i) uint64: the VSID word (VSID, flags) of SLB entry i.
TEXT ·slbmfev(SB),NOSPLIT|NOFRAME,$0-16
	MOVD	i+0(FP), R4
	WORD	$0x7c6026a6 // slbmfev r3, r4
	MOVD	R3, ret+8(FP)
	RET

// slbSwitch(first, rs, rb): switch_slb's SLB work in one frameless call (the root load's chain is
// the deepest of the trap path): slbie every valid entry from index first on whose ESID lies in the
// user slot (EA bits 0-24 = 128: ESID word >> 39), isync, then slbmte rs, rb if rb is not zero.
TEXT ·slbSwitch(SB),NOSPLIT|NOFRAME,$0-24
	MOVD	first+0(FP), R5
	MOVD	$0x08000000, R8
loop:
	CMP	R5, $32
	BGE	done
	WORD	$0x7cc02f26 // slbmfee r6, r5
	AND	R8, R6, R7
	CMP	R7, $0
	BEQ	next
	SRD	$39, R6, R7
	CMP	R7, $128
	BNE	next
	RLDICR	$0, R6, $35, R7 // the ESID alone
	WORD	$0x7c003b64 // slbie r7
next:
	ADD	$1, R5
	BR	loop
done:
	ISYNC
	MOVD	rb+16(FP), R4
	CMP	R4, $0
	BEQ	out
	MOVD	rs+8(FP), R3
	WORD	$0x7c602324 // slbmte r3, r4
	ISYNC
out:
	RET

// tlbieHash(rb): ptesync; tlbie rb, r0=0 with RIC 0, PRS 0, R 0: a hashed-page-table translation of
// LPID 0 by its virtual address, on every CPU (Linux's __tlbie for a 4 KiB page on ISA 3.0). The
// caller ends the batch with tlbSync (eieio; tlbsync; ptesync).
TEXT ·tlbieHash(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	rb+0(FP), R3
	MOVD	$0, R4
	WORD	$0x7c4004ac // ptesync
	WORD	$0x7c801a64 // tlbie r3, r4, 0, 0, 0
	RET

// tlbielHashAll: tlbiel IS=3, RIC=2, PRS=0, R=0: this CPU's every partition-scoped (hash)
// translation, as Linux's tlbiel_all_isa300 for hash.
TEXT ·tlbielHashAll(SB),NOSPLIT|NOFRAME,$0
	MOVD	$0, R4
	MOVD	$0xc00, R3 // IS = 3
	WORD	$0x7c4004ac
	WORD	$0x7c881a24 // tlbiel r3, r4, 2, 0, 0
	WORD	$0x7c4004ac
	RET

// tlbielHash(rb): tlbieHash's operation on this CPU only (tlbiel), then ptesync.
TEXT ·tlbielHash(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	rb+0(FP), R3
	MOVD	$0, R4
	WORD	$0x7c4004ac // ptesync
	WORD	$0x7c801a24 // tlbiel r3, r4, 0, 0, 0
	WORD	$0x7c4004ac
	RET
