// Privileged instructions the Go compiler cannot emit. All NOSPLIT, no frame: callable from trap context.

#include "textflag.h"

TEXT ·outb(SB),NOSPLIT,$0-3
	MOVW	port+0(FP), DX
	MOVB	v+2(FP), AX
	OUTB
	RET

TEXT ·inb(SB),NOSPLIT,$0-9
	MOVW	port+0(FP), DX
	INB
	MOVB	AX, ret+8(FP)
	RET

TEXT ·outl(SB),NOSPLIT,$0-8
	MOVW	port+0(FP), DX
	MOVL	v+4(FP), AX
	OUTL
	RET

TEXT ·rdmsr(SB),NOSPLIT,$0-16
	MOVL	msr+0(FP), CX
	RDMSR
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+8(FP)
	RET

TEXT ·wrmsr(SB),NOSPLIT,$0-16
	MOVL	msr+0(FP), CX
	MOVQ	v+8(FP), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	WRMSR
	RET

TEXT ·cpuid(SB),NOSPLIT,$0-24
	MOVL	leaf+0(FP), AX
	MOVL	sub+4(FP), CX
	CPUID
	MOVL	AX, a+8(FP)
	MOVL	BX, b+12(FP)
	MOVL	CX, c+16(FP)
	MOVL	DX, d+20(FP)
	RET

TEXT ·readCR0(SB),NOSPLIT,$0-8
	MOVQ	CR0, AX
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·writeCR0(SB),NOSPLIT,$0-8
	MOVQ	v+0(FP), AX
	MOVQ	AX, CR0
	RET

TEXT ·readCR2(SB),NOSPLIT,$0-8
	MOVQ	CR2, AX
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·readCR3(SB),NOSPLIT,$0-8
	MOVQ	CR3, AX
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·readCR4(SB),NOSPLIT,$0-8
	MOVQ	CR4, AX
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·writeCR3(SB),NOSPLIT,$0-8
	MOVQ	v+0(FP), AX
	MOVQ	AX, CR3
	RET

TEXT ·writeCR4(SB),NOSPLIT,$0-8
	MOVQ	v+0(FP), AX
	MOVQ	AX, CR4
	RET

// invpcid(typ, pcid, va): the 16-byte descriptor is built on the stack (PCID, then the address).
TEXT ·invpcid(SB),NOSPLIT,$16-24
	MOVQ	pcid+8(FP), AX
	MOVQ	AX, 0(SP)
	MOVQ	va+16(FP), AX
	MOVQ	AX, 8(SP)
	MOVQ	typ+0(FP), AX
	// INVPCID AX, (SP): 66 0F 38 82 /r, ModRM 0x04 (reg AX, [SIB]), SIB 0x24 ([RSP])
	BYTE $0x66; BYTE $0x0f; BYTE $0x38; BYTE $0x82; BYTE $0x04; BYTE $0x24
	RET

TEXT ·invlpg(SB),NOSPLIT,$0-8
	MOVQ	va+0(FP), AX
	INVLPG	(AX)
	RET

// lgdt/lidt take the address of a 10-byte pseudo-descriptor.
TEXT ·lgdt(SB),NOSPLIT,$0-8
	MOVQ	p+0(FP), AX
	LGDT	(AX)
	RET

TEXT ·lidt(SB),NOSPLIT,$0-8
	MOVQ	p+0(FP), AX
	LIDT	(AX)
	RET

TEXT ·ltr(SB),NOSPLIT,$0-2
	MOVW	sel+0(FP), AX
	LTR	AX
	RET

TEXT ·fxsave(SB),NOSPLIT,$0-8
	MOVQ	p+0(FP), AX
	FXSAVE64	(AX)
	RET

// stihlt enables interrupts and halts in one window (STI's one-instruction shadow covers HLT), so a
// wake-up interrupt cannot slip in between; it returns with interrupts disabled again.
TEXT ·stihlt(SB),NOSPLIT,$0
	STI
	HLT
	CLI
	RET

TEXT ·cli(SB),NOSPLIT,$0
	CLI
	RET

TEXT ·rdrand(SB),NOSPLIT,$0-9
	RDRANDQ	AX
	SETCS	ret1+8(FP)
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·vectorsBase(SB),NOSPLIT,$0-8
	LEAQ	·vectors(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·syscallEntryAddr(SB),NOSPLIT,$0-8
	LEAQ	·syscallEntry(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// haltForever is where a machine without isa-debug-exit ends.
TEXT ·haltForever(SB),NOSPLIT,$0
	CLI
loop:
	HLT
	JMP	loop

TEXT ·imageEnd(SB),NOSPLIT,$0-8
	LEAQ	runtime·end(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// bootEntry returns boot32's address; calling it from init keeps the boot path (boot32 -> boot64 ->
// bootMain, vectors, syscallEntry) alive through the linker's dead-code elimination.
TEXT ·bootEntry(SB),NOSPLIT,$0-8
	LEAQ	·boot32(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// irqSave disables interrupts and returns the previous RFLAGS; irqRestore puts IF back.
TEXT ·irqSave(SB),NOSPLIT,$0-8
	PUSHFQ
	POPQ	AX
	CLI
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·irqRestore(SB),NOSPLIT,$0-8
	MOVQ	flags+0(FP), AX
	PUSHQ	AX
	POPFQ
	RET

