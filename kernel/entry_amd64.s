#include "textflag.h"
#include "layout_amd64.h"

// Boot entry. See docs/boot.md for the whole path.
//
// entry32 is the one 32-bit entry for both boot protocols:
//   PVH (Xen ABI, QEMU -kernel, Firecracker): 32-bit protected mode, paging
//     off, flat segments, EBX = physical address of hvm_start_info.
//   Multiboot2 (GRUB): the same, with EAX = 0x36d76289 and EBX = the
//     Multiboot2 information structure.
// No stack, GDT or IDT is provided. The code runs at its physical address
// and must decode identically in 32-bit mode: no REX prefixes, no
// RIP-relative operands, 32-bit operations on the low eight registers.
// Where the Go assembler would emit a 64-bit-only form, raw bytes are used
// and labelled with the mnemonic.
//
// It builds boot page tables in the six pages after the image (runtime·end
// rounded up), enters long mode, and far-returns into entry64.
//
// Boot page tables (physical, relative to T = round_up(end, 4K)):
//   T+0x0000 PML4: [0] -> T+0x1000, [256] -> T+0x4000
//   T+0x1000 PDPT low:    [0] -> T+0x2000 (identity 0..1 GiB),
//                         [256] -> T+0x3000 (KVBASE -> PBASE)
//   T+0x2000 PD identity: 512 x 2 MiB, 0..1 GiB
//   T+0x3000 PD kernel:   KMAPPED_PAGES x 2 MiB from PBASE
//   T+0x4000 PDPT direct: [0] -> T+0x2000 (DIRECTBASE -> 0..1 GiB)
//   T+0x5000 boot GDT (null, code64 0x08, data 0x10), its GDTR at +32,
//            and the TSC stamp taken at entry at +64.
TEXT ·entry32(SB),NOSPLIT|NOFRAME,$0
	CLI
	MOVL AX, SI                  // SI = Multiboot2 magic (PVH: undefined)

	// Find our own physical address: CALL pushes the address of the
	// next instruction, which is the LEAL below.
	BYTE $0xE8; LONG $0          // CALL +0
	LEAL runtime·end(SB), AX     // 32-bit decode: EAX = end - link address of next insn
	BYTE $0x5A                   // POPL DX: DX = physical address of the LEAL
	ADDL DX, AX
	ADDL $6, AX                  // AX = physical address of runtime·end
	ADDL $0xfff, AX
	ANDL $-4096, AX              // AX = T, the page-table base
	MOVL AX, DX                  // DX = T from here on

	// Zero the six pages.
	MOVL DX, DI
	MOVL $(6*1024), CX
	XORL AX, AX
	CLD
	REP; STOSL

	// Stamp the TSC at T+0x5000+64 for boot timing (a few dozen
	// instructions after the first one).
	MOVL DX, CX
	RDTSC
	MOVL AX, (0x5000+64)(CX)
	MOVL DX, (0x5000+68)(CX)
	MOVL CX, DX

	// PML4.
	LEAL 0x1003(DX), AX          // present | writable
	MOVL AX, 0(DX)
	LEAL 0x4003(DX), AX
	MOVL AX, 2048(DX)            // slot 256: the direct map

	// PDPT low: identity GiB 0 and the kernel GiB at KVBASE (slot 256).
	LEAL 0x2003(DX), AX
	MOVL AX, 0x1000(DX)
	LEAL 0x3003(DX), AX
	MOVL AX, (0x1000+2048)(DX)

	// PDPT direct: GiB 0 of the direct map shares the identity PD.
	LEAL 0x2003(DX), AX
	MOVL AX, 0x4000(DX)

	// PD identity: 512 entries of 2 MiB, present|writable|PS.
	LEAL 0x2000(DX), DI
	MOVL $0x83, AX
	MOVL $512, CX
ident:
	MOVL AX, 0(DI)
	ADDL $0x200000, AX
	ADDL $8, DI
	DECL CX
	JNZ ident

	// PD kernel: KMAPPED_PAGES entries from PBASE.
	LEAL 0x3000(DX), DI
	MOVL $(PBASE+0x83), AX
	MOVL $KMAPPED_PAGES, CX
kern:
	MOVL AX, 0(DI)
	ADDL $0x200000, AX
	ADDL $8, DI
	DECL CX
	JNZ kern

	// Boot GDT: null, 64-bit code (0x08), data (0x10).
	LEAL 0x5000(DX), DI
	MOVL $0x00000000, 8(DI)
	MOVL $0x00209A00, 12(DI)
	MOVL $0x0000FFFF, 16(DI)
	MOVL $0x00CF9200, 20(DI)
	MOVW $23, 32(DI)             // GDTR limit
	MOVL DI, 34(DI)              // GDTR base
	LGDT 32(DI)

	// CR4: PAE | OSFXSR | OSXMMEXCPT (SSE is needed by all Go code).
	MOVL CR4, AX
	ORL $0x620, AX
	MOVL AX, CR4
	MOVL DX, CR3
	// EFER: SCE | LME | NXE. RDMSR/WRMSR use EDX: keep T in DI.
	MOVL DX, DI
	MOVL $0xC0000080, CX
	RDMSR
	ORL $0x901, AX
	WRMSR
	MOVL DI, DX
	// CR0: PG | PE | MP, clear EM (x87 emulation) and TS.
	MOVL CR0, AX
	ANDL $-13, AX                // ~(EM|TS) = ~0xC
	ORL $-0x7ffffffd, AX         // 0x80000003
	MOVL AX, CR0

	// Now in compatibility mode. Far-return into entry64 through the
	// 64-bit code selector; entry64's physical address is found as above.
	BYTE $0xE8; LONG $0          // CALL +0
	LEAL ·entry64(SB), AX
	BYTE $0x5D                   // POPL BP
	ADDL BP, AX
	ADDL $6, AX                  // AX = physical address of entry64
	BYTE $0x6A; BYTE $0x08       // PUSHL $0x08
	BYTE $0x50                   // PUSHL AX
	BYTE $0xCB                   // LRETL

// entry64 runs in 64-bit mode at its physical (identity-mapped) address.
// It moves to the kernel's virtual alias and calls start64.
// On entry: SI = Multiboot2 magic, BX = boot info (physical), DX = T.
TEXT ·entry64(SB),NOSPLIT|NOFRAME,$0
	// Upper halves of registers are undefined after the mode switch.
	MOVL SI, SI
	MOVL BX, BX
	MOVL DX, DX
	LEAQ ·entry64high(SB), AX    // RIP-relative: the low alias
	MOVQ $KOFFSET, CX
	ADDQ CX, AX
	JMP AX

TEXT ·entry64high(SB),NOSPLIT|NOFRAME,$0
	MOVL $0x10, AX
	MOVW AX, DS
	MOVW AX, ES
	MOVW AX, SS
	MOVW AX, FS
	MOVW AX, GS
	LEAQ ·bootStack+BOOTSTACK_SIZE(SB), SP

	// Go code reads g from FS:-8 in every ABI0 wrapper: point FS at
	// bootTLS[1] with bootTLS[0] = &bootG, a zeroed g whose stack guard
	// of 0 makes every prologue check pass.
	LEAQ ·bootG(SB), AX
	LEAQ ·bootTLS(SB), DI
	MOVQ AX, 0(DI)
	ADDQ $8, DI
	MOVQ DI, AX
	MOVQ DI, R8
	SHRQ $32, R8
	MOVQ DX, R9                  // WRMSR needs DX
	MOVL R8, DX
	MOVL $0xC0000100, CX
	WRMSR
	MOVQ R9, DX

	// func start64(magic, info, tables uint64)
	SUBQ $32, SP
	MOVQ SI, 0(SP)
	MOVQ BX, 8(SP)
	MOVQ DX, 16(SP)
	CALL ·start64(SB)
	// start64 never returns.
	HLT

// func cpuSelf() uintptr
TEXT ·cpuSelf(SB),NOSPLIT,$0-8
	MOVQ CPU_SELF(GS), AX
	MOVQ AX, ret+0(FP)
	RET

// func rt0Address() uintptr
// The Go runtime's Linux entry point, where the first kernel thread starts.
TEXT ·rt0Address(SB),NOSPLIT,$0-8
	LEAQ _rt0_amd64_linux(SB), AX
	MOVQ AX, ret+0(FP)
	RET

// func idleAddress() uintptr
TEXT ·idleAddress(SB),NOSPLIT,$0-8
	LEAQ ·idleLoop(SB), AX
	MOVQ AX, ret+0(FP)
	RET

// idleLoop is the body of each CPU's idle thread. It runs with
// interrupts on; the trap path switches away from it. Before halting it
// polls its CPU's inbox for idlePollSpins rounds with sched.polling set,
// during which a CPU that wakes a thread here sends no IPI (pushInbox):
// an IPI is an APIC write (a VM exit, under TCG one that waits for
// QEMU's big lock) and, at the halted end, a host thread's sleep and
// wake-up. Work found is taken with INT $vecPoll, whose trap drains the
// inbox. No PAUSE in the loop: under TCG it ends the translation block.
// BX = &sched.inbox, R12 = &sched.polling (set with the thread).
TEXT ·idleLoop(SB),NOSPLIT|NOFRAME,$0
idle:
	STI
	MOVQ ·idlePollSpins(SB), CX
	TESTQ CX, CX
	JZ halt
	MOVL $1, AX
	XCHGL AX, (R12)              // polling = 1
poll:
	CMPL (BX), $-1               // inbox != noThread
	JNE found
	DECQ CX
	JNZ poll
	XORL AX, AX
	XCHGL AX, (R12)              // polling = 0: wakers send IPIs again
	CMPL (BX), $-1               // one that saw polling = 1 pushed before
	JNE found
halt:
	HLT
	JMP idle
found:
	INT $242                     // vecPoll
	JMP idle

// apEntry64 is where an application processor arrives from the real-mode
// trampoline (smp.go), in 64-bit mode with paging on, on the stack the
// boot CPU chose for it. It points FS at the CPU's kernel TLS (whose g
// covers that stack) and calls apStart64, which never returns.
TEXT ·apEntry64(SB),NOSPLIT|NOFRAME,$0
	MOVQ ·apBootFS(SB), AX
	MOVQ AX, DX
	SHRQ $32, DX
	MOVL $0xC0000100, CX
	WRMSR
	CALL ·apStart64(SB)
	HLT

// func apEntryAddress() uintptr
TEXT ·apEntryAddress(SB),NOSPLIT,$0-8
	LEAQ ·apEntry64(SB), AX
	MOVQ AX, ret+0(FP)
	RET

// func pclntabAddress() (tab, text uintptr)
// The runtime's function table and the start of text, for naming PCs in
// fatal reports without allocating (symbolize.go).
TEXT ·pclntabAddress(SB),NOSPLIT,$0-16
	LEAQ runtime·pclntab(SB), AX
	MOVQ AX, tab+0(FP)
	LEAQ runtime·text(SB), AX
	MOVQ AX, text+8(FP)
	RET
