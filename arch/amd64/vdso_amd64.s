#include "textflag.h"

// int vdsoClockGettime(clockid_t id /* DI */, struct timespec *ts /* SI */), C ABI, called by the
// runtime's nanotime1/walltime on a small stack: a leaf that touches only AX, CX, DX.
// ns = (tsc - tscBoot) * nsMult >> 32, as tscToNs in time.go; REALTIME adds the boot wall clock.
TEXT ·vdsoClockGettime(SB),NOSPLIT|NOFRAME,$0
	CMPL	DI, $1
	JHI	unsupported
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	SUBQ	·tscBoot(SB), AX
	MULQ	·nsMult(SB)
	SHRQ	$32, AX
	SHLQ	$32, DX
	ORQ	DX, AX
	XORL	DX, DX
	MOVQ	$1000000000, CX
	DIVQ	CX
	CMPL	DI, $0
	JNE	store
	ADDQ	·bootUnix(SB), AX
store:
	MOVQ	AX, 0(SI)
	MOVQ	DX, 8(SI)
	XORL	AX, AX
	RET
unsupported:
	MOVQ	$-22, AX // EINVAL: the runtime only asks for REALTIME and MONOTONIC
	RET

TEXT ·vdsoClockGettimeAddr(SB),NOSPLIT,$0-8
	LEAQ	·vdsoClockGettime(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
