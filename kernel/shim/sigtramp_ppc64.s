#include "textflag.h"

// sigreturnTramp is where a signal handler returns (its LR): rt_sigreturn, with r1 at the frame
// DeliverSignals built. Linux puts the same two instructions in the vDSO (__kernel_sigtramp_rt64).
TEXT ·sigreturnTramp(SB),NOSPLIT|NOFRAME,$0
	MOVD	$172, R0 // rt_sigreturn
	SYSCALL
	BR	0(PC)

TEXT ·sigreturnTrampAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·sigreturnTramp(SB), R3
	MOVD	R3, ret+0(FP)
	RET
