#include "go_asm.h"
#include "textflag.h"

// RTAS power-off (QEMU's token 0x2003): token, 2 inputs, 1 output, power-on mask (none), status.
DATA rtasOff<>+0(SB)/4, $0x2003
DATA rtasOff<>+4(SB)/4, $2
DATA rtasOff<>+8(SB)/4, $1
DATA rtasOff<>+12(SB)/4, $0
DATA rtasOff<>+16(SB)/4, $0
DATA rtasOff<>+20(SB)/4, $0xffffffff
GLOBL rtasOff<>(SB), NOPTR, $24

// The entries: the trampoline jumps to one of them with the image at its link address, MSR 0 (32-bit,
// big-endian, real mode) and r5 = VOF's client-interface entry. Each sets the mode stubMain runs
// (bootMode: 0 boot, 1 bootFault, 2 bootClobber, 3 bootKernelFault, 4 bootStub) and goes on to bootCommon.
// Hypervisor calls (sc 1) may clobber r0 and r3-r12, and Go's assembler builds constants with R0 as
// zero: R0 is zeroed after each.
TEXT ·boot(SB),NOSPLIT|NOFRAME,$0
	MOVD	$0, R14
	BR	·bootCommon(SB)

// bootStub runs the boot stub's own proofs (sc, the decrementer, register preservation) instead of
// the runtime.
TEXT ·bootStub(SB),NOSPLIT|NOFRAME,$0
	MOVD	$4, R14
	BR	·bootCommon(SB)

// bootFault is the crash-dump test's entry: once trap is in place, a trap instruction.
TEXT ·bootFault(SB),NOSPLIT|NOFRAME,$0
	MOVD	$1, R14
	BR	·bootCommon(SB)

// bootClobber is the negative control of the register check: trap damages r20 on each tick.
TEXT ·bootClobber(SB),NOSPLIT|NOFRAME,$0
	MOVD	$2, R14
	BR	·bootCommon(SB)

// bootKernelFault: trap itself faults (on an sc), which must still give one crash dump.
TEXT ·bootKernelFault(SB),NOSPLIT|NOFRAME,$0
	MOVD	$3, R14
	BR	·bootCommon(SB)

// bootCommon keeps r5 and the mode, then goes to 64-bit mode through rfid with MSR = SF|ME|FP|VEC|VSX
// (still real mode, big-endian, EE off). Entered in hypervisor mode (MSR.HV: skiboot on powernv,
// opal_ppc64.go), it keeps r3, the device tree, instead of r5, and HV in the MSR.
TEXT ·bootCommon(SB),NOSPLIT|NOFRAME,$0
	MOVD	$0, R0 // Go code takes R0 as zero (the assembler builds constants with it); firmware does not
	WORD	$0x7cc000a6 // mfmsr r6
	MOVD	$1, R7
	SLD	$60, R7 // MSR.HV
	AND	R7, R6
	CMP	R6, $0
	BEQ	guest
	MOVD	$·fdtAddr(SB), R8
	MOVD	R3, 0(R8)
	MOVD	$·msrHVBit(SB), R8
	MOVD	R6, 0(R8)
	MOVD	$·powernv(SB), R8
	MOVD	$1, R9
	MOVB	R9, 0(R8)
	MOVD	$0, R5 // no client interface
guest:
	MOVD	$·promEntry(SB), R3
	MOVWZ	R5, R5
	MOVD	R5, 0(R3)
	MOVD	$·bootMode(SB), R3
	MOVD	R14, 0(R3)
	MOVD	$·boot64(SB), R3
	MOVD	R3, SPR(26) // SRR0
	MOVD	$1, R3
	SLD	$63, R3
	MOVD	$(const_msrVEC|const_msrVSX|const_msrFP|const_msrME), R4
	OR	R4, R3
	OR	R6, R3
	MOVD	R3, SPR(27) // SRR1
	WORD	$0x4c000024 // rfid

// boot64: SPRG3 = &cpus[0], a stack, a stand-in g, then Go: bootInit (the per-CPU area, the timebase
// frequency, the vectors), stubMain, and power off.
TEXT ·boot64(SB),NOSPLIT|NOFRAME,$0
	MOVD	$0, R0
	MOVD	$·cpus(SB), R3
	MOVD	R3, SPR(275) // SPRG3
	MOVD	$·bootStack+65280(SB), R1 // 256 bytes below the top: Go's fixed frame and alignment
	MOVD	$·bootG(SB), g
	BL	·bootInit(SB)
	BL	·stubMain(SB)
	BR	·powerOff(SB)

// powerOff ends the machine: RTAS power-off through H_RTAS (OPAL's on powernv). QEMU exits with
// status 0, whatever the run's verdict: the console says it.
TEXT ·powerOff(SB),NOSPLIT|NOFRAME,$0
	MOVD	$0, R0
	MOVBZ	·powernv(SB), R3
	CMP	R3, $0
	BEQ	rtas
	BR	·opalPowerOff(SB) // powernv: OPAL_CEC_POWER_DOWN (opal_ppc64.go)
rtas:
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

TEXT ·bootFaultAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·bootFault(SB), R3
	MOVD	R3, ret+0(FP)
	RET

TEXT ·bootClobberAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·bootClobber(SB), R3
	MOVD	R3, ret+0(FP)
	RET

TEXT ·bootKernelFaultAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·bootKernelFault(SB), R3
	MOVD	R3, ret+0(FP)
	RET

TEXT ·bootStubAddr(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	$·bootStub(SB), R3
	MOVD	R3, ret+0(FP)
	RET
