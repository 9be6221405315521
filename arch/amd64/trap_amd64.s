// Kernel entry and exit. Every entry (exception, interrupt, SYSCALL) builds the same Frame on a per-CPU
// stack (IST for vectors, the syscall stack for SYSCALL), saves the FPU/SSE state into the current
// thread's FXSAVE area (per-CPU pointer at GS:24), and calls trap(f *Frame). trap may replace the Frame
// and the FXSAVE pointer to switch threads; the exit path restores whatever they then name.

#include "textflag.h"

// per-CPU area offsets (see percpu in cpu.go; checked by TestPercpuLayout)
#define PC_SCRATCH 8
#define PC_KSTACK 16
#define PC_CURFX 24
#define PC_NMIFX 40

// The general registers, in Frame order (R15 ends up lowest).
#define PUSH_GPRS PUSHQ AX; PUSHQ BX; PUSHQ CX; PUSHQ DX; PUSHQ SI; PUSHQ DI; PUSHQ BP; PUSHQ R8; PUSHQ R9; PUSHQ R10; PUSHQ R11; PUSHQ R12; PUSHQ R13; PUSHQ R14; PUSHQ R15
#define POP_GPRS POPQ R15; POPQ R14; POPQ R13; POPQ R12; POPQ R11; POPQ R10; POPQ R9; POPQ R8; POPQ BP; POPQ DI; POPQ SI; POPQ DX; POPQ CX; POPQ BX; POPQ AX

// mov %gs:off,%rax (the Go assembler has no GS-relative absolute operand)
#define LOAD_GS(off) BYTE $0x65; BYTE $0x48; BYTE $0x8b; BYTE $0x04; BYTE $0x25; LONG $off

// ENTER_TRAP saves the registers and the FPU state (into the area named at GS:fx) and calls trap(f).
#define ENTER_TRAP(fx) PUSH_GPRS; LOAD_GS(fx); FXSAVE64 (AX); CLD; MOVQ SP, AX; SUBQ $16, SP; MOVQ AX, 0(SP); CALL ·trap(SB); ADDQ $16, SP

// EXIT_TRAP restores the FPU state (from GS:fx) and the registers of the frame at SP, and returns.
#define EXIT_TRAP(fx) LOAD_GS(fx); FXRSTOR64 (AX); POP_GPRS; ADDQ $16, SP; IRETQ

TEXT ·trapCommon(SB),NOSPLIT|NOFRAME,$0
	ENTER_TRAP(PC_CURFX)
	JMP	·trapExit(SB)

// trapExit restores the frame at SP (and the FXSAVE area named at GS:24) and returns from the kernel;
// the vector and error code above the registers are dropped.
TEXT ·trapExit(SB),NOSPLIT|NOFRAME,$0
	EXIT_TRAP(PC_CURFX)

// syscallEntry is LSTAR. SYSCALL at CPL0 leaves RSP on the calling thread's stack (a goroutine or g0
// stack with little room), RIP in RCX, RFLAGS in R11, and IF cleared by FMASK. Switch to the per-CPU
// syscall stack and build an interrupt-shaped frame (vector 0x100), so the return is the same IRETQ
// (SYSRET only returns to ring 3).
TEXT ·syscallEntry(SB),NOSPLIT|NOFRAME,$0
	BYTE $0x65; BYTE $0x48; BYTE $0x89; BYTE $0x24; BYTE $0x25; LONG $PC_SCRATCH // mov %rsp,%gs:8
	BYTE $0x65; BYTE $0x48; BYTE $0x8b; BYTE $0x24; BYTE $0x25; LONG $PC_KSTACK  // mov %gs:16,%rsp
	PUSHQ	$0x10
	BYTE $0x65; BYTE $0xff; BYTE $0x34; BYTE $0x25; LONG $PC_SCRATCH // pushq %gs:8
	PUSHQ	R11
	PUSHQ	$0x08
	PUSHQ	CX
	PUSHQ	$0
	PUSHQ	$0x100
	JMP	·trapCommon(SB)

// enterFrame(f *Frame) leaves the kernel into the thread whose registers are in f: an AP's first
// switch into a thread, with no entry frame of its own to return through.
TEXT ·enterFrame(SB),NOSPLIT|NOFRAME,$0-8
	MOVQ	f+0(FP), SP
	JMP	·trapExit(SB)

// nmiCommon is trapCommon for NMIs: an NMI can arrive in the middle of any other kernel entry, after
// that entry saved the thread's FPU state into GS:24, so it saves and restores the (kernel's) live
// state in a per-CPU area of its own instead of overwriting the thread's.
TEXT ·nmiCommon(SB),NOSPLIT|NOFRAME,$0
	ENTER_TRAP(PC_NMIFX)
	EXIT_TRAP(PC_NMIFX)
