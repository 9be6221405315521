// Boot path: the multiboot loader enters boot32 in 32-bit protected mode (paging off, EAX = multiboot
// magic, EBX = multiboot info). boot32 builds identity page tables for the first 4 GiB, enters long mode,
// and far-returns to boot64, which calls bootMain (Go) and then enters the unmodified Go runtime at its
// ELF entry, _rt0_amd64_linux, with a Linux-style initial stack.

#include "textflag.h"

// boot32 is 32-bit code, so it is written as bytes (the Go assembler only emits 64-bit encodings). It must
// be position-aware without a data section of its own: `call` pushes the address of the table of LEAQ
// instructions that follows it; those are never executed, but the linker fills their RIP-relative
// displacements, from which the 32-bit code computes the absolute addresses of bootPT and boot64
// (physical = link address). Reference assembly is in docs/BOOT.md.
TEXT ·boot32(SB),NOSPLIT|NOFRAME,$0
	BYTE $0xfa	// cli
	BYTE $0xfc	// cld
	BYTE $0x89; BYTE $0xc6	// mov %eax,%esi
	BYTE $0x89; BYTE $0xda	// mov %ebx,%edx
	BYTE $0xbc; BYTE $0x00; BYTE $0x00; BYTE $0x40; BYTE $0x00	// mov $0x400000,%esp
	BYTE $0xe8; BYTE $0x0e; BYTE $0x00; BYTE $0x00; BYTE $0x00	// call 1e
	// table: 2 LEAQs of 7 bytes each, read as data (call above skips 14 bytes)
	LEAQ ·bootPT(SB), AX // [ebp+0]: 48 8d 05 <rel32>
	LEAQ ·boot64(SB), AX // [ebp+7]: 48 8d 05 <rel32>
	BYTE $0x5d	// pop %ebp
	BYTE $0x8b; BYTE $0x5d; BYTE $0x03	// mov 0x3(%ebp),%ebx
	BYTE $0x8d; BYTE $0x5c; BYTE $0x1d; BYTE $0x07	// lea 0x7(%ebp,%ebx,1),%ebx
	BYTE $0x81; BYTE $0xc3; BYTE $0xff; BYTE $0x0f; BYTE $0x00; BYTE $0x00	// add $0xfff,%ebx
	BYTE $0x81; BYTE $0xe3; BYTE $0x00; BYTE $0xf0; BYTE $0xff; BYTE $0xff	// and $0xfffff000,%ebx
	BYTE $0x89; BYTE $0xdf	// mov %ebx,%edi
	BYTE $0xb9; BYTE $0x00; BYTE $0x1c; BYTE $0x00; BYTE $0x00	// mov $0x1c00,%ecx
	BYTE $0x31; BYTE $0xc0	// xor %eax,%eax
	BYTE $0xf3; BYTE $0xab	// rep stos %eax,%es:(%edi)
	BYTE $0x89; BYTE $0x93; BYTE $0x00; BYTE $0x62; BYTE $0x00; BYTE $0x00	// mov %edx,0x6200(%ebx)
	BYTE $0x89; BYTE $0xb3; BYTE $0x04; BYTE $0x62; BYTE $0x00; BYTE $0x00	// mov %esi,0x6204(%ebx)
	BYTE $0x8d; BYTE $0x83; BYTE $0x03; BYTE $0x10; BYTE $0x00; BYTE $0x00	// lea 0x1003(%ebx),%eax
	BYTE $0x89; BYTE $0x03	// mov %eax,(%ebx)
	BYTE $0x8d; BYTE $0x83; BYTE $0x03; BYTE $0x20; BYTE $0x00; BYTE $0x00	// lea 0x2003(%ebx),%eax
	BYTE $0x89; BYTE $0x83; BYTE $0x00; BYTE $0x10; BYTE $0x00; BYTE $0x00	// mov %eax,0x1000(%ebx)
	BYTE $0x05; BYTE $0x00; BYTE $0x10; BYTE $0x00; BYTE $0x00	// add $0x1000,%eax
	BYTE $0x89; BYTE $0x83; BYTE $0x08; BYTE $0x10; BYTE $0x00; BYTE $0x00	// mov %eax,0x1008(%ebx)
	BYTE $0x05; BYTE $0x00; BYTE $0x10; BYTE $0x00; BYTE $0x00	// add $0x1000,%eax
	BYTE $0x89; BYTE $0x83; BYTE $0x10; BYTE $0x10; BYTE $0x00; BYTE $0x00	// mov %eax,0x1010(%ebx)
	BYTE $0x05; BYTE $0x00; BYTE $0x10; BYTE $0x00; BYTE $0x00	// add $0x1000,%eax
	BYTE $0x89; BYTE $0x83; BYTE $0x18; BYTE $0x10; BYTE $0x00; BYTE $0x00	// mov %eax,0x1018(%ebx)
	BYTE $0xb8; BYTE $0x83; BYTE $0x00; BYTE $0x00; BYTE $0x00	// mov $0x83,%eax
	BYTE $0x31; BYTE $0xc9	// xor %ecx,%ecx
	BYTE $0x89; BYTE $0x84; BYTE $0xcb; BYTE $0x00; BYTE $0x20; BYTE $0x00; BYTE $0x00	// mov %eax,0x2000(%ebx,%ecx,8)
	BYTE $0x05; BYTE $0x00; BYTE $0x00; BYTE $0x20; BYTE $0x00	// add $0x200000,%eax
	BYTE $0x41	// inc %ecx
	BYTE $0x81; BYTE $0xf9; BYTE $0x00; BYTE $0x08; BYTE $0x00; BYTE $0x00	// cmp $0x800,%ecx
	BYTE $0x75; BYTE $0xeb	// jne 85
	BYTE $0xc7; BYTE $0x83; BYTE $0x08; BYTE $0x60; BYTE $0x00; BYTE $0x00; BYTE $0xff; BYTE $0xff; BYTE $0x00; BYTE $0x00	// movl $0xffff,0x6008(%ebx)
	BYTE $0xc7; BYTE $0x83; BYTE $0x0c; BYTE $0x60; BYTE $0x00; BYTE $0x00; BYTE $0x00; BYTE $0x9a; BYTE $0xaf; BYTE $0x00	// movl $0xaf9a00,0x600c(%ebx)
	BYTE $0xc7; BYTE $0x83; BYTE $0x10; BYTE $0x60; BYTE $0x00; BYTE $0x00; BYTE $0xff; BYTE $0xff; BYTE $0x00; BYTE $0x00	// movl $0xffff,0x6010(%ebx)
	BYTE $0xc7; BYTE $0x83; BYTE $0x14; BYTE $0x60; BYTE $0x00; BYTE $0x00; BYTE $0x00; BYTE $0x92; BYTE $0xcf; BYTE $0x00	// movl $0xcf9200,0x6014(%ebx)
	BYTE $0x66; BYTE $0xc7; BYTE $0x83; BYTE $0x00; BYTE $0x61; BYTE $0x00; BYTE $0x00; BYTE $0x17; BYTE $0x00	// movw $0x17,0x6100(%ebx)
	BYTE $0x8d; BYTE $0x83; BYTE $0x00; BYTE $0x60; BYTE $0x00; BYTE $0x00	// lea 0x6000(%ebx),%eax
	BYTE $0x89; BYTE $0x83; BYTE $0x02; BYTE $0x61; BYTE $0x00; BYTE $0x00	// mov %eax,0x6102(%ebx)
	BYTE $0x0f; BYTE $0x01; BYTE $0x93; BYTE $0x00; BYTE $0x61; BYTE $0x00; BYTE $0x00	// lgdtl 0x6100(%ebx)
	BYTE $0x0f; BYTE $0x20; BYTE $0xe0	// mov %cr4,%eax
	BYTE $0x83; BYTE $0xc8; BYTE $0x20	// or $0x20,%eax
	BYTE $0x0f; BYTE $0x22; BYTE $0xe0	// mov %eax,%cr4
	BYTE $0x0f; BYTE $0x22; BYTE $0xdb	// mov %ebx,%cr3
	BYTE $0xb9; BYTE $0x80; BYTE $0x00; BYTE $0x00; BYTE $0xc0	// mov $0xc0000080,%ecx
	BYTE $0x0f; BYTE $0x32	// rdmsr
	BYTE $0x0d; BYTE $0x00; BYTE $0x09; BYTE $0x00; BYTE $0x00	// or $0x900,%eax
	BYTE $0x0f; BYTE $0x30	// wrmsr
	BYTE $0x0f; BYTE $0x20; BYTE $0xc0	// mov %cr0,%eax
	BYTE $0x0d; BYTE $0x01; BYTE $0x00; BYTE $0x00; BYTE $0x80	// or $0x80000001,%eax
	BYTE $0x0f; BYTE $0x22; BYTE $0xc0	// mov %eax,%cr0
	BYTE $0x8b; BYTE $0xbb; BYTE $0x00; BYTE $0x62; BYTE $0x00; BYTE $0x00	// mov 0x6200(%ebx),%edi
	BYTE $0x8b; BYTE $0xb3; BYTE $0x04; BYTE $0x62; BYTE $0x00; BYTE $0x00	// mov 0x6204(%ebx),%esi
	BYTE $0x8b; BYTE $0x45; BYTE $0x0a	// mov 0xa(%ebp),%eax
	BYTE $0x8d; BYTE $0x44; BYTE $0x05; BYTE $0x0e	// lea 0xe(%ebp,%eax,1),%eax
	BYTE $0x6a; BYTE $0x08	// push $0x8
	BYTE $0x50	// push %eax
	BYTE $0xcb	// lret

// boot64 runs in long mode with the boot GDT (code 0x08, data 0x10). SI = multiboot magic, DI = multiboot
// info, BX = boot page-table root.
TEXT ·boot64(SB),NOSPLIT|NOFRAME,$0
	MOVL	$0x10, AX
	BYTE $0x8e; BYTE $0xd8 // mov %eax,%ds
	BYTE $0x8e; BYTE $0xc0 // mov %eax,%es
	BYTE $0x8e; BYTE $0xd0 // mov %eax,%ss
	BYTE $0x8e; BYTE $0xe0 // mov %eax,%fs
	BYTE $0x8e; BYTE $0xe8 // mov %eax,%gs
	MOVL	SI, SI
	MOVL	DI, DI
	LEAQ	·bootStack+65536(SB), SP

	// SSE on (Go needs it), AVX state off: CR4.OSXSAVE stays clear so the runtime never uses AVX,
	// which FXSAVE would not preserve across a context switch.
	MOVQ	CR0, AX
	ANDQ	$~0x4, AX // clear EM
	ORQ	$0x22, AX // MP | NE
	MOVQ	AX, CR0
	MOVQ	CR4, AX
	ORQ	$0x600, AX // OSFXSR | OSXMMEXCPT
	MOVQ	AX, CR4
	BYTE $0xdb; BYTE $0xe3 // fninit

	// FS base -> a zero word + 8: Go's ABI wrappers load g from FS:-8, which must read as nil here.
	LEAQ	·bootTLS+8(SB), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	MOVL	$0xc0000100, CX
	WRMSR

	SUBQ	$32, SP
	MOVQ	SI, 0(SP)
	MOVQ	DI, 8(SP)
	CALL	·bootMain(SB)
	MOVQ	16(SP), AX

	// Enter the Go runtime exactly as Linux would enter a static executable.
	MOVQ	AX, SP
	XORL	AX, AX
	XORL	BX, BX
	XORL	CX, CX
	XORL	DX, DX
	XORL	SI, SI
	XORL	DI, DI
	STI
	JMP	_rt0_amd64_linux(SB)

// ap64 is where each AP arrives from the trampoline, in long mode on the trampoline's GDT (same
// selectors as the kernel's). Its CPU index comes from its APIC ID; its stack is apStacks[index].
TEXT ·ap64(SB),NOSPLIT|NOFRAME,$0
	MOVL	$1, AX
	CPUID
	SHRL	$24, BX
	LEAQ	·apicToIndex(SB), AX
	MOVBQZX	(AX)(BX*1), DI
	MOVQ	DI, CX
	INCQ	CX
	IMULQ	$16384, CX // apStackSize
	LEAQ	·apStacks(SB), SP
	ADDQ	CX, SP
	LEAQ	·bootTLS+8(SB), AX // FS as in boot64: Go's ABI wrappers read g at FS-8
	MOVQ	AX, DX
	SHRQ	$32, DX
	MOVL	$0xc0000100, CX
	WRMSR
	BYTE $0xdb; BYTE $0xe3 // fninit
	SUBQ	$16, SP
	MOVQ	DI, 0(SP)
	CALL	·apMain(SB)
	CLI
aphalt:
	HLT
	JMP	aphalt

TEXT ·ap64Addr(SB),NOSPLIT,$0-8
	LEAQ	·ap64(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
