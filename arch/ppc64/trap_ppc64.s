#include "go_asm.h"
#include "textflag.h"

// The one kernel entry: every exception vector, interrupt and sc comes through trapEntry, which saves
// the full register state (a Frame on this CPU's trap stack, the FP/VMX/VSX state into the FPState at
// percpu.curFP), calls the Go function trap(f *Frame) in trap context, and restores whatever Frame
// and curFP trap left (a thread switch replaces both) before rfid.
//
// The vectors (installVectors, trap_ppc64.go) are three instructions each, written at boot:
//   mtspr SPRG1, r3    7c7143a6
//   li r3, vector      38600000|vector
//   ba trapEntry       48000002|address  (absolute: trapEntry must lie below 32 MiB)
// They fit the 32-byte spacing of 0xf00/0xf20/0xf40 and need neither CTR nor a constant load.
//
// trapEntry's state on arrival: r3 = the vector, SPRG1 = the interrupted r3, SRR0/SRR1 (and DAR,
// DSISR) as the interrupt set them, MSR = SF|ME (EE, FP, VEC, VSX off), real mode. SPRG3 holds
// this CPU's percpu (cpu_ppc64.go); SPRG2 takes r4, percpu.scratch the rest until the Frame exists.
// Nesting: percpu.depth counts entries in progress. An entry from outside trap context (depth 0)
// builds its Frame at the top of percpu.kstack and saves into percpu.curFP; an entry inside trap
// context (a fault in the kernel: depth 1) uses percpu.nstack and percpu.nestFP, so the crash dump it
// leads to still runs, and the interrupted thread's FP state stays intact; a third level (a fault
// in that dump) powers off at once.
//
// Go's ABI: R0 is zero, R1 the stack, R30 g (here percpu.g, a stand-in with stackguard 0), R31 the
// assembler's temporary; every other register is the callee's to clobber. trap is called through its
// ABI0 wrapper, with f at 32(R1) (the fixed frame is 32 bytes: LR save and reserved words).

#define SPRG1 273
#define SPRG2 274
#define SPRG3 275
#define SRR0 26
#define SRR1 27
#define DAR 19
#define DSISR 18

#define S_VEC percpu_scratch+0
#define S_R1 percpu_scratch+8
#define S_R5 percpu_scratch+16
#define S_CR percpu_scratch+24
#define S_FP percpu_scratch+32

// The trap stack: the Frame (336 bytes, 352 reserved) at its top, below it the caller's 64-byte area
// for trap's call: 0-31 the fixed frame, 32 the argument. FRM is the Frame's offset from R1.
#define FRM 64

#define MFMSR_R5 WORD $0x7ca000a6
#define MTMSRD_R5 WORD $0x7ca00164 // mtmsrd r5, 0
#define MFVSCR_V0 WORD $0x10000604
#define MTVSCR_V0 WORD $0x10000644
#define RFID WORD $0x4c000024

TEXT ·trapEntry(SB),NOSPLIT|NOFRAME,$0
	MOVD	R4, SPR(SPRG2)
	MOVD	SPR(SPRG3), R4
	MOVD	R3, S_VEC(R4)
	MOVD	R1, S_R1(R4)
	MOVD	R5, S_R5(R4)
	MOVW	CR, R5 // mfcr, before the compares below change CR0
	MOVD	R5, S_CR(R4)
	MOVD	percpu_depth(R4), R5
	ADD	$1, R5, R3
	MOVD	R3, percpu_depth(R4)
	CMP	R5, $0
	BNE	nested
	MOVD	percpu_kstack(R4), R1
	MOVD	percpu_curFP(R4), R5
	BR	build
nested:
	CMP	R5, $1
	BNE	nmi
	MOVD	percpu_nstack(R4), R1
	MOVD	percpu_nestFP(R4), R5
	BR	build
nmi: // depth 2 -> 3: only a system reset may come here (trap crashes otherwise)
	CMP	R5, $2
	BNE	dead
	MOVD	percpu_nmiStack(R4), R1
	MOVD	percpu_nmiFP(R4), R5
build:
	MOVD	R5, S_FP(R4)
	// R1 is trapReserve below the stack's top already (setupCPU): the Frame and trap's call area
	// lie above it. (Not an ADD here: the linker would count this separate stack against the
	// goroutine stack's nosplit budget.)
	// first what a nested entry would overwrite: the scratch (SPRG1, SPRG2, percpu.scratch), SRR0,
	// SRR1, DAR, DSISR; the FP area's address goes in the Frame's spare word
	MOVD	S_R1(R4), R5
	MOVD	R5, FRM+8(R1)
	MOVD	SPR(SPRG1), R5
	MOVD	R5, FRM+24(R1)
	MOVD	SPR(SPRG2), R5
	MOVD	R5, FRM+32(R1)
	MOVD	S_R5(R4), R5
	MOVD	R5, FRM+40(R1)
	MOVD	SPR(SRR0), R5
	MOVD	R5, FRM+Frame_PC(R1)
	MOVD	SPR(SRR1), R5
	MOVD	R5, FRM+Frame_MSR(R1)
	MOVD	S_CR(R4), R5
	MOVD	R5, FRM+Frame_CR(R1)
	MOVD	S_VEC(R4), R5
	MOVD	R5, FRM+Frame_Vector(R1)
	MOVD	SPR(DAR), R5
	MOVD	R5, FRM+Frame_DAR(R1)
	MOVD	SPR(DSISR), R5
	MOVD	R5, FRM+Frame_DSISR(R1)
	MOVD	S_FP(R4), R5
	MOVD	R5, FRM+Frame_DSISR+8(R1)
	BR	·trapEntrySaved(SB)

// dead: a fault while the dump of a fault in trap context runs. Nothing is left to trust: power off.
dead:
	MOVD	$0, R0
	BR	·powerOff(SB)

// trapEntrySaved goes on from trapEntry once nothing a nested entry would overwrite is needed: up to
// here (the window [trapEntry, trapEntrySaved)) a system reset cannot return, from here it can.
TEXT ·trapEntrySaved(SB),NOSPLIT|NOFRAME,$0
	// MSR.RI on (mtmsrd L=1: EE off, RI on): from here a system reset nests and returns
	MOVD	$2, R5
	WORD	$0x7ca10164 // mtmsrd r5, 1
	// the GPRs still live, and LR, CTR, XER
	MOVD	R0, FRM+0(R1)
	MOVD	R2, FRM+16(R1)
	MOVD	R6, FRM+48(R1)
	MOVD	R7, FRM+56(R1)
	MOVD	R8, FRM+64(R1)
	MOVD	R9, FRM+72(R1)
	MOVD	R10, FRM+80(R1)
	MOVD	R11, FRM+88(R1)
	MOVD	R12, FRM+96(R1)
	MOVD	R13, FRM+104(R1)
	MOVD	R14, FRM+112(R1)
	MOVD	R15, FRM+120(R1)
	MOVD	R16, FRM+128(R1)
	MOVD	R17, FRM+136(R1)
	MOVD	R18, FRM+144(R1)
	MOVD	R19, FRM+152(R1)
	MOVD	R20, FRM+160(R1)
	MOVD	R21, FRM+168(R1)
	MOVD	R22, FRM+176(R1)
	MOVD	R23, FRM+184(R1)
	MOVD	R24, FRM+192(R1)
	MOVD	R25, FRM+200(R1)
	MOVD	R26, FRM+208(R1)
	MOVD	R27, FRM+216(R1)
	MOVD	R28, FRM+224(R1)
	MOVD	R29, FRM+232(R1)
	MOVD	g, FRM+240(R1)
	MOVD	R31, FRM+248(R1)
	MOVD	$0, R0
	MOVD	LR, R5
	MOVD	R5, FRM+Frame_LR(R1)
	MOVD	CTR, R5
	MOVD	R5, FRM+Frame_CTR(R1)
	MOVD	XER, R5
	MOVD	R5, FRM+Frame_XER(R1)

	// FP, VMX and VSX on (the interrupt cleared them), translation too once the MMU is on, then
	// VSR0-63, FPSCR, VSCR
	MFMSR_R5
	MOVD	·trapMSR(SB), R6 // FP|VEC|VSX|RI, and IR|DR once the MMU is on (mmu_ppc64.go)
	OR	R6, R5
	MTMSRD_R5
	ISYNC
	MOVD	FRM+Frame_DSISR+8(R1), R3 // this entry's FP area
	MOVD	$16, R6
	MOVD	$32, R7
	MOVD	$48, R8
	MOVD	$64, R9
	MOVD	$80, R10
	MOVD	$96, R11
	MOVD	$112, R12
	MOVD	R3, R5
	STXVD2X	VS0, (R5)
	STXVD2X	VS1, (R5)(R6)
	STXVD2X	VS2, (R5)(R7)
	STXVD2X	VS3, (R5)(R8)
	STXVD2X	VS4, (R5)(R9)
	STXVD2X	VS5, (R5)(R10)
	STXVD2X	VS6, (R5)(R11)
	STXVD2X	VS7, (R5)(R12)
	ADD	$128, R5
	STXVD2X	VS8, (R5)
	STXVD2X	VS9, (R5)(R6)
	STXVD2X	VS10, (R5)(R7)
	STXVD2X	VS11, (R5)(R8)
	STXVD2X	VS12, (R5)(R9)
	STXVD2X	VS13, (R5)(R10)
	STXVD2X	VS14, (R5)(R11)
	STXVD2X	VS15, (R5)(R12)
	ADD	$128, R5
	STXVD2X	VS16, (R5)
	STXVD2X	VS17, (R5)(R6)
	STXVD2X	VS18, (R5)(R7)
	STXVD2X	VS19, (R5)(R8)
	STXVD2X	VS20, (R5)(R9)
	STXVD2X	VS21, (R5)(R10)
	STXVD2X	VS22, (R5)(R11)
	STXVD2X	VS23, (R5)(R12)
	ADD	$128, R5
	STXVD2X	VS24, (R5)
	STXVD2X	VS25, (R5)(R6)
	STXVD2X	VS26, (R5)(R7)
	STXVD2X	VS27, (R5)(R8)
	STXVD2X	VS28, (R5)(R9)
	STXVD2X	VS29, (R5)(R10)
	STXVD2X	VS30, (R5)(R11)
	STXVD2X	VS31, (R5)(R12)
	ADD	$128, R5
	STXVD2X	VS32, (R5)
	STXVD2X	VS33, (R5)(R6)
	STXVD2X	VS34, (R5)(R7)
	STXVD2X	VS35, (R5)(R8)
	STXVD2X	VS36, (R5)(R9)
	STXVD2X	VS37, (R5)(R10)
	STXVD2X	VS38, (R5)(R11)
	STXVD2X	VS39, (R5)(R12)
	ADD	$128, R5
	STXVD2X	VS40, (R5)
	STXVD2X	VS41, (R5)(R6)
	STXVD2X	VS42, (R5)(R7)
	STXVD2X	VS43, (R5)(R8)
	STXVD2X	VS44, (R5)(R9)
	STXVD2X	VS45, (R5)(R10)
	STXVD2X	VS46, (R5)(R11)
	STXVD2X	VS47, (R5)(R12)
	ADD	$128, R5
	STXVD2X	VS48, (R5)
	STXVD2X	VS49, (R5)(R6)
	STXVD2X	VS50, (R5)(R7)
	STXVD2X	VS51, (R5)(R8)
	STXVD2X	VS52, (R5)(R9)
	STXVD2X	VS53, (R5)(R10)
	STXVD2X	VS54, (R5)(R11)
	STXVD2X	VS55, (R5)(R12)
	ADD	$128, R5
	STXVD2X	VS56, (R5)
	STXVD2X	VS57, (R5)(R6)
	STXVD2X	VS58, (R5)(R7)
	STXVD2X	VS59, (R5)(R8)
	STXVD2X	VS60, (R5)(R9)
	STXVD2X	VS61, (R5)(R10)
	STXVD2X	VS62, (R5)(R11)
	STXVD2X	VS63, (R5)(R12)
	MOVFL	FPSCR, F0 // mffs (F0 is saved)
	FMOVD	F0, FPState_FPSCR(R3)
	MFVSCR_V0 // VSCR in word 3 of V0 (VS32, saved)
	MFVSRLD	V0, R5
	MOVD	R5, FPState_VSCR(R3)

	// trap(f)
	MOVD	percpu_g(R4), g
	ADD	$FRM, R1, R3
	MOVD	R3, 32(R1)
	BL	·trap(SB)
	BR	·trapExit(SB)

// trapExit leaves trap context into the Frame at FRM(R1) (R1 as trapEntry set it: percpu.kstack or
// nstack), with the FP state of percpu.curFP (nestFP for a nested entry), and decrements the depth.
// apSchedule enters it too, to start a CPU's first thread.
TEXT ·trapExit(SB),NOSPLIT|NOFRAME,$0
	// the Frame and curFP as trap left them (nestFP, nmiFP for nested entries). A system reset may
	// still come and return (MSR.RI is on) until the depth goes down, just before SRR0/SRR1.
	MOVD	$0, R0
	MOVD	SPR(SPRG3), R4
	MOVD	percpu_depth(R4), R5
	MOVD	percpu_curFP(R4), R3
	CMP	R5, $1
	BEQ	out
	MOVD	percpu_nestFP(R4), R3
	CMP	R5, $2
	BEQ	out
	MOVD	percpu_nmiFP(R4), R3
out:
	// test only (percpu.poison): set every register to all ones (VSRs, GPRs, CR, CTR, XER, LR;
	// FPSCR and VSCR from all-ones words), so that a register the restore below forgot shows even if
	// trap's code left it alone. A constant, not an inversion: two ticks would undo an inversion.
	MOVD	percpu_poison(R4), R5
	CMP	R5, $0
	BEQ	restore
	XXLEQV	VS0, VS0, VS0
	XXLEQV	VS1, VS1, VS1
	XXLEQV	VS2, VS2, VS2
	XXLEQV	VS3, VS3, VS3
	XXLEQV	VS4, VS4, VS4
	XXLEQV	VS5, VS5, VS5
	XXLEQV	VS6, VS6, VS6
	XXLEQV	VS7, VS7, VS7
	XXLEQV	VS8, VS8, VS8
	XXLEQV	VS9, VS9, VS9
	XXLEQV	VS10, VS10, VS10
	XXLEQV	VS11, VS11, VS11
	XXLEQV	VS12, VS12, VS12
	XXLEQV	VS13, VS13, VS13
	XXLEQV	VS14, VS14, VS14
	XXLEQV	VS15, VS15, VS15
	XXLEQV	VS16, VS16, VS16
	XXLEQV	VS17, VS17, VS17
	XXLEQV	VS18, VS18, VS18
	XXLEQV	VS19, VS19, VS19
	XXLEQV	VS20, VS20, VS20
	XXLEQV	VS21, VS21, VS21
	XXLEQV	VS22, VS22, VS22
	XXLEQV	VS23, VS23, VS23
	XXLEQV	VS24, VS24, VS24
	XXLEQV	VS25, VS25, VS25
	XXLEQV	VS26, VS26, VS26
	XXLEQV	VS27, VS27, VS27
	XXLEQV	VS28, VS28, VS28
	XXLEQV	VS29, VS29, VS29
	XXLEQV	VS30, VS30, VS30
	XXLEQV	VS31, VS31, VS31
	XXLEQV	VS32, VS32, VS32
	XXLEQV	VS33, VS33, VS33
	XXLEQV	VS34, VS34, VS34
	XXLEQV	VS35, VS35, VS35
	XXLEQV	VS36, VS36, VS36
	XXLEQV	VS37, VS37, VS37
	XXLEQV	VS38, VS38, VS38
	XXLEQV	VS39, VS39, VS39
	XXLEQV	VS40, VS40, VS40
	XXLEQV	VS41, VS41, VS41
	XXLEQV	VS42, VS42, VS42
	XXLEQV	VS43, VS43, VS43
	XXLEQV	VS44, VS44, VS44
	XXLEQV	VS45, VS45, VS45
	XXLEQV	VS46, VS46, VS46
	XXLEQV	VS47, VS47, VS47
	XXLEQV	VS48, VS48, VS48
	XXLEQV	VS49, VS49, VS49
	XXLEQV	VS50, VS50, VS50
	XXLEQV	VS51, VS51, VS51
	XXLEQV	VS52, VS52, VS52
	XXLEQV	VS53, VS53, VS53
	XXLEQV	VS54, VS54, VS54
	XXLEQV	VS55, VS55, VS55
	XXLEQV	VS56, VS56, VS56
	XXLEQV	VS57, VS57, VS57
	XXLEQV	VS58, VS58, VS58
	XXLEQV	VS59, VS59, VS59
	XXLEQV	VS60, VS60, VS60
	XXLEQV	VS61, VS61, VS61
	XXLEQV	VS62, VS62, VS62
	XXLEQV	VS63, VS63, VS63
	MOVFL	F0, FPSCR
	MTVSCR_V0
	MOVD	$-1, R5
	MOVFL	R5, $0xff
	MOVD	R5, CTR
	MOVD	R5, XER
	MOVD	R5, LR
	MOVD	R5, R0
	MOVD	R5, R2
	MOVD	R5, R13
	MOVD	R5, R14
	MOVD	R5, R15
	MOVD	R5, R16
	MOVD	R5, R17
	MOVD	R5, R18
	MOVD	R5, R19
	MOVD	R5, R20
	MOVD	R5, R21
	MOVD	R5, R22
	MOVD	R5, R23
	MOVD	R5, R24
	MOVD	R5, R25
	MOVD	R5, R26
	MOVD	R5, R27
	MOVD	R5, R28
	MOVD	R5, R29
	MOVD	R5, g
	MOVD	R5, R31
	MOVD	$0, R0
restore:
	MOVD	FPState_VSCR(R3), R5
	MTVSRDD	R5, R5, V0
	MTVSCR_V0
	FMOVD	FPState_FPSCR(R3), F0
	MOVFL	F0, FPSCR // mtfsf 0xff
	MOVD	$16, R6
	MOVD	$32, R7
	MOVD	$48, R8
	MOVD	$64, R9
	MOVD	$80, R10
	MOVD	$96, R11
	MOVD	$112, R12
	MOVD	R3, R5
	LXVD2X	(R5), VS0
	LXVD2X	(R5)(R6), VS1
	LXVD2X	(R5)(R7), VS2
	LXVD2X	(R5)(R8), VS3
	LXVD2X	(R5)(R9), VS4
	LXVD2X	(R5)(R10), VS5
	LXVD2X	(R5)(R11), VS6
	LXVD2X	(R5)(R12), VS7
	ADD	$128, R5
	LXVD2X	(R5), VS8
	LXVD2X	(R5)(R6), VS9
	LXVD2X	(R5)(R7), VS10
	LXVD2X	(R5)(R8), VS11
	LXVD2X	(R5)(R9), VS12
	LXVD2X	(R5)(R10), VS13
	LXVD2X	(R5)(R11), VS14
	LXVD2X	(R5)(R12), VS15
	ADD	$128, R5
	LXVD2X	(R5), VS16
	LXVD2X	(R5)(R6), VS17
	LXVD2X	(R5)(R7), VS18
	LXVD2X	(R5)(R8), VS19
	LXVD2X	(R5)(R9), VS20
	LXVD2X	(R5)(R10), VS21
	LXVD2X	(R5)(R11), VS22
	LXVD2X	(R5)(R12), VS23
	ADD	$128, R5
	LXVD2X	(R5), VS24
	LXVD2X	(R5)(R6), VS25
	LXVD2X	(R5)(R7), VS26
	LXVD2X	(R5)(R8), VS27
	LXVD2X	(R5)(R9), VS28
	LXVD2X	(R5)(R10), VS29
	LXVD2X	(R5)(R11), VS30
	LXVD2X	(R5)(R12), VS31
	ADD	$128, R5
	LXVD2X	(R5), VS32
	LXVD2X	(R5)(R6), VS33
	LXVD2X	(R5)(R7), VS34
	LXVD2X	(R5)(R8), VS35
	LXVD2X	(R5)(R9), VS36
	LXVD2X	(R5)(R10), VS37
	LXVD2X	(R5)(R11), VS38
	LXVD2X	(R5)(R12), VS39
	ADD	$128, R5
	LXVD2X	(R5), VS40
	LXVD2X	(R5)(R6), VS41
	LXVD2X	(R5)(R7), VS42
	LXVD2X	(R5)(R8), VS43
	LXVD2X	(R5)(R9), VS44
	LXVD2X	(R5)(R10), VS45
	LXVD2X	(R5)(R11), VS46
	LXVD2X	(R5)(R12), VS47
	ADD	$128, R5
	LXVD2X	(R5), VS48
	LXVD2X	(R5)(R6), VS49
	LXVD2X	(R5)(R7), VS50
	LXVD2X	(R5)(R8), VS51
	LXVD2X	(R5)(R9), VS52
	LXVD2X	(R5)(R10), VS53
	LXVD2X	(R5)(R11), VS54
	LXVD2X	(R5)(R12), VS55
	ADD	$128, R5
	LXVD2X	(R5), VS56
	LXVD2X	(R5)(R6), VS57
	LXVD2X	(R5)(R7), VS58
	LXVD2X	(R5)(R8), VS59
	LXVD2X	(R5)(R9), VS60
	LXVD2X	(R5)(R10), VS61
	LXVD2X	(R5)(R11), VS62
	LXVD2X	(R5)(R12), VS63
	MOVD	FRM+Frame_LR(R1), R5
	MOVD	R5, LR
	MOVD	FRM+Frame_CTR(R1), R5
	MOVD	R5, CTR
	MOVD	FRM+Frame_XER(R1), R5
	MOVD	R5, XER
	MOVD	FRM+Frame_CR(R1), R5
	MOVFL	R5, $0xff // mtcrf 0xff
	// the GPRs but r1, r4 and r5, while a system reset may still come and return (MSR.RI is on:
	// a nested entry saves and restores every register)
	MOVD	FRM+0(R1), R0
	MOVD	FRM+16(R1), R2
	MOVD	FRM+24(R1), R3
	MOVD	FRM+48(R1), R6
	MOVD	FRM+56(R1), R7
	MOVD	FRM+64(R1), R8
	MOVD	FRM+72(R1), R9
	MOVD	FRM+80(R1), R10
	MOVD	FRM+88(R1), R11
	MOVD	FRM+96(R1), R12
	MOVD	FRM+104(R1), R13
	MOVD	FRM+112(R1), R14
	MOVD	FRM+120(R1), R15
	MOVD	FRM+128(R1), R16
	MOVD	FRM+136(R1), R17
	MOVD	FRM+144(R1), R18
	MOVD	FRM+152(R1), R19
	MOVD	FRM+160(R1), R20
	MOVD	FRM+168(R1), R21
	MOVD	FRM+176(R1), R22
	MOVD	FRM+184(R1), R23
	MOVD	FRM+192(R1), R24
	MOVD	FRM+200(R1), R25
	MOVD	FRM+208(R1), R26
	MOVD	FRM+216(R1), R27
	MOVD	FRM+224(R1), R28
	MOVD	FRM+232(R1), R29
	MOVD	FRM+240(R1), g
	MOVD	FRM+248(R1), R31
	MOVD	$0, R5
	BR	·trapExitLast(SB)

// trapExitLast: MSR.RI off (mtmsrd L=1 with a zero register clears EE and RI), SRR0/SRR1, the depth
// down, the last three registers, rfid. From the mtspr SRR0 on, a system reset could not be
// returned from, and says so. QEMU ends a translation block at the mtmsrd, so a reset often lands
// right after it (trapExitLast+4): nothing is lost yet there, and systemReset returns to it.
TEXT ·trapExitLast(SB),NOSPLIT|NOFRAME,$0
	WORD	$0x7ca10164 // mtmsrd r5, 1
	MOVD	FRM+Frame_PC(R1), R5
	MOVD	R5, SPR(SRR0)
	MOVD	FRM+Frame_MSR(R1), R5
	MOVD	R5, SPR(SRR1)
	MOVD	SPR(SPRG3), R4
	MOVD	percpu_depth(R4), R5
	ADD	$-1, R5
	MOVD	R5, percpu_depth(R4)
	MOVD	FRM+32(R1), R4
	MOVD	FRM+40(R1), R5
	MOVD	FRM+8(R1), R1
	RFID

TEXT ·trapEntryAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·trapEntry(SB), R3
	MOVD	R3, ret+0(FP)
	RET

TEXT ·trapEntrySavedAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·trapEntrySaved(SB), R3
	MOVD	R3, ret+0(FP)
	RET

TEXT ·trapExitLastAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·trapExitLast(SB), R3
	MOVD	R3, ret+0(FP)
	RET
