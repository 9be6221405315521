#include "go_asm.h"
#include "textflag.h"

// XIVE's MMIO (xive_ppc64.go): the thread management area and the sources' ESB pages, reached by
// the hypervisor's cache-inhibited loads and stores (ldcix, stdcix, lhzcix, stbcix), which work in
// real addressing only: each accessor turns MSR.DR (and EE) off around its one access, so it runs
// from any translation mode without a mapping of the MMIO. Encodings as WORDs:
//   mfmsr r5           7ca000a6
//   mtmsrd r6, 0       7cc00164
//   mtmsrd r5, 0       7ca00164
//   ldcix r3, 0, r4    7c6026ea
//   stdcix r3, 0, r4   7c6027ea
//   lhzcix r3, 0, r4   7c60266a
//   stbcix r3, 0, r4   7c6027aa

#define REAL_ON \
	WORD	$0x7ca000a6; \
	MOVD	$0x8010, R6; \
	ANDN	R6, R5, R6; \
	WORD	$0x7cc00164; \
	ISYNC

#define REAL_OFF \
	WORD	$0x7ca00164; \
	ISYNC

// ciLoad64(pa) uint64
TEXT ·ciLoad64(SB),NOSPLIT|NOFRAME,$0-16
	MOVD	pa+0(FP), R4
	REAL_ON
	WORD	$0x7c6026ea
	REAL_OFF
	MOVD	R3, ret+8(FP)
	RET

// ciStore64(pa, v)
TEXT ·ciStore64(SB),NOSPLIT|NOFRAME,$0-16
	MOVD	pa+0(FP), R4
	MOVD	v+8(FP), R3
	SYNC
	REAL_ON
	WORD	$0x7c6027ea
	REAL_OFF
	RET

// ciLoad16(pa) uint16
TEXT ·ciLoad16(SB),NOSPLIT|NOFRAME,$0-10
	MOVD	pa+0(FP), R4
	REAL_ON
	WORD	$0x7c60266a
	REAL_OFF
	MOVH	R3, ret+8(FP)
	RET

// ciStore8(pa, v)
TEXT ·ciStore8(SB),NOSPLIT|NOFRAME,$0-9
	MOVD	pa+0(FP), R4
	MOVBZ	v+8(FP), R3
	SYNC
	REAL_ON
	WORD	$0x7c6027aa
	REAL_OFF
	RET
