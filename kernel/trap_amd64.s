#include "textflag.h"
#include "layout_amd64.h"

// Trap and system-call entry. Every way into the kernel from a running
// thread builds the same Context on a kernel stack:
//
//   SP+0    832-byte XSAVE area; the entry fills its FXSAVE part (the
//           x87/SSE state of the interrupted code, see fpu.go)
//   SP+832  Context.partial: which FPU state is still live in the CPU
//   SP+840  Frame: FSBase, R15 .. RAX, Vector, ErrorCode, RIP, CS, RFLAGS, RSP, SS
//
// then calls trap(ctx) with the kernel's FS (for the Go ABI wrapper) and
// returns through the same Context with IRETQ. The Go side may overwrite
// the Context with another thread's to switch threads; see sched.go.
//
// Stacks: syscalls switch to the per-CPU syscall stack (never touching the
// caller's stack, which may hold a red zone); interrupts and exceptions use
// IST stacks set in the TSS (kernel and apps share ring 0, so without IST
// the CPU would push onto the interrupted stack).

// Interrupt/exception stubs: push a zero error code where the CPU does not
// push one, then the vector number.
#define NOERR(name, n) TEXT name(SB),NOSPLIT|NOFRAME,$0; PUSHQ $0; PUSHQ $n; JMP trapCommon<>(SB)
#define ERR(name, n) TEXT name(SB),NOSPLIT|NOFRAME,$0; PUSHQ $n; JMP trapCommon<>(SB)

NOERR(·vec0, 0)     // #DE divide error
NOERR(·vec1, 1)     // #DB debug
NOERR(·vec2, 2)     // NMI
NOERR(·vec3, 3)     // #BP breakpoint
NOERR(·vec4, 4)     // #OF overflow
NOERR(·vec5, 5)     // #BR bound
NOERR(·vec6, 6)     // #UD invalid opcode
NOERR(·vec7, 7)     // #NM device not available
ERR(·vec8, 8)       // #DF double fault
NOERR(·vec9, 9)     // coprocessor segment overrun
ERR(·vec10, 10)     // #TS invalid TSS
ERR(·vec11, 11)     // #NP segment not present
ERR(·vec12, 12)     // #SS stack fault
ERR(·vec13, 13)     // #GP general protection
ERR(·vec14, 14)     // #PF page fault
NOERR(·vec15, 15)
NOERR(·vec16, 16)   // #MF x87 error
ERR(·vec17, 17)     // #AC alignment check
NOERR(·vec18, 18)   // #MC machine check
NOERR(·vec19, 19)   // #XM SIMD exception
NOERR(·vec20, 20)   // #VE
ERR(·vec21, 21)     // #CP
NOERR(·vecTimer, 32)      // LAPIC timer
NOERR(·vecWakeup, 240)    // cross-CPU wakeup IPI
NOERR(·vecHalt, 241)      // stop this CPU (fatal error elsewhere)
NOERR(·vecPoll, 242)      // a polling idle thread found work (idleLoop)
NOERR(·vecDev0, 48)       // device interrupts through the IOAPIC
NOERR(·vecDev1, 49)
NOERR(·vecDev2, 50)
NOERR(·vecDev3, 51)
NOERR(·vecDev4, 52)
NOERR(·vecDev5, 53)
NOERR(·vecDev6, 54)
NOERR(·vecDev7, 55)
NOERR(·vecSpurious, 255)  // LAPIC spurious: still goes through trap for counting
NOERR(·vecUnknown, 512)   // any vector without its own stub

// Pieces shared by the entry and exit paths.

#define PUSH_GPRS \
	PUSHQ AX; PUSHQ BX; PUSHQ CX; PUSHQ DX; PUSHQ SI; PUSHQ DI; PUSHQ BP; \
	PUSHQ R8; PUSHQ R9; PUSHQ R10; PUSHQ R11; PUSHQ R12; PUSHQ R13; PUSHQ R14; PUSHQ R15

#define POP_GPRS \
	POPQ R15; POPQ R14; POPQ R13; POPQ R12; POPQ R11; POPQ R10; POPQ R9; POPQ R8; \
	POPQ BP; POPQ DI; POPQ SI; POPQ DX; POPQ CX; POPQ BX; POPQ AX

// The 16 XMM registers at their FXSAVE offsets (160 + 16*n).
#define SAVE_XMM \
	MOVUPS X0, 160(SP); MOVUPS X1, 176(SP); MOVUPS X2, 192(SP); MOVUPS X3, 208(SP); \
	MOVUPS X4, 224(SP); MOVUPS X5, 240(SP); MOVUPS X6, 256(SP); MOVUPS X7, 272(SP); \
	MOVUPS X8, 288(SP); MOVUPS X9, 304(SP); MOVUPS X10, 320(SP); MOVUPS X11, 336(SP); \
	MOVUPS X12, 352(SP); MOVUPS X13, 368(SP); MOVUPS X14, 384(SP); MOVUPS X15, 400(SP)

#define RESTORE_XMM \
	MOVUPS 160(SP), X0; MOVUPS 176(SP), X1; MOVUPS 192(SP), X2; MOVUPS 208(SP), X3; \
	MOVUPS 224(SP), X4; MOVUPS 240(SP), X5; MOVUPS 256(SP), X6; MOVUPS 272(SP), X7; \
	MOVUPS 288(SP), X8; MOVUPS 304(SP), X9; MOVUPS 320(SP), X10; MOVUPS 336(SP), X11; \
	MOVUPS 352(SP), X12; MOVUPS 368(SP), X13; MOVUPS 384(SP), X14; MOVUPS 400(SP), X15

// syscallEntry is the LSTAR target. SYSCALL left RCX = return RIP,
// R11 = RFLAGS, and FMASK cleared IF, DF, TF and AC. Ring 0 to ring 0, so
// CS/SS did not change and RSP is still the caller's.
//
// Unlike interrupts, a system call saves only the SSE registers and
// MXCSR (Go code in the kernel uses them; it never touches x87), marking
// the Context partial; the scheduler completes it with the x87 state
// (and, as after any entry, the YMM upper halves) before the thread's
// Context is saved or copied (completeFX in fpu.go).
TEXT ·syscallEntry(SB),NOSPLIT|NOFRAME,$0
	MOVQ SP, CPU_SCRATCH(GS)
	MOVQ CPU_SYSCALLSTACK(GS), SP
	PUSHQ $0x10                  // SS
	PUSHQ CPU_SCRATCH(GS)        // RSP
	PUSHQ R11                    // RFLAGS
	PUSHQ $0x08                  // CS
	PUSHQ CX                     // RIP
	PUSHQ $0                     // error code
	PUSHQ $VEC_SYSCALL           // vector
	PUSH_GPRS
	CALL saveFS<>(SB)
	SUBQ $CTX_FRAME, SP
	SAVE_XMM
	STMXCSR 24(SP)
	MOVQ $PARTIAL_SYSCALL, CTX_PARTIAL(SP)
	INCQ CPU_DEPTH(GS)
	CLD
	MOVQ SP, AX
	PUSHQ AX                     // func trap(ctx *Context)
	CALL ·trap(SB)
	POPQ AX
	DECQ CPU_DEPTH(GS)
	// The Context may now be another thread's (full) one; its x87
	// and AVX state is already loaded (switchThreads), the SSE state
	// is here.
	LDMXCSR 24(SP)
	RESTORE_XMM
	ADDQ $CTX_FRAME, SP
	CALL restoreFS<>(SB)
	// Return without IRETQ (slow, and it reloads CS and SS for
	// nothing: ring 0 to ring 0): RIP and RSP go to per-CPU slots,
	// RFLAGS is restored with IF still clear, and STI's one-instruction
	// shadow covers the final jump, so no interrupt can arrive while SP
	// is on the way to the thread's stack. Works for any Context, not
	// only a syscall's: every register comes from the frame.
	MOVQ 136(SP), AX             // Frame.RIP (offsets past FSBase)
	MOVQ AX, CPU_RETRIP(GS)
	MOVQ 160(SP), AX             // Frame.RSP
	MOVQ AX, CPU_RETRSP(GS)
	BTRQ $9, 152(SP)             // Frame.RFLAGS without IF
	POP_GPRS
	ADDQ $32, SP                 // vector, error code, RIP, CS
	POPFQ
	MOVQ CPU_RETRSP(GS), SP
	STI                          // threads always run with IF set
	JMP CPU_RETRIP(GS)

// saveFS is called with the GPRs pushed: it pushes the interrupted
// code's FS base below them (taking its return address off the stack
// first, so the word lands where Frame.FSBase belongs) and switches FS
// to the kernel's TLS (whose -8 slot holds this CPU's g), with RDFSBASE and
// WRFSBASE where the CPU has them (CR4.FSGSBASE, set at boot): unlike
// the MSR they do not trap to a hypervisor or end a TCG block.
// Clobbers AX, CX, DX (saved already).
TEXT saveFS<>(SB),NOSPLIT|NOFRAME,$0
	POPQ R8                      // return address
	CMPB ·haveFSGSBase(SB), $0
	JEQ fsmsr
	BYTE $0xF3; BYTE $0x48; BYTE $0x0F; BYTE $0xAE; BYTE $0xC0 // RDFSBASE AX
	PUSHQ AX
	MOVQ CPU_KERNELFS(GS), AX
	BYTE $0xF3; BYTE $0x48; BYTE $0x0F; BYTE $0xAE; BYTE $0xD0 // WRFSBASE AX
	JMP R8
fsmsr:
	MOVL $0xC0000100, CX
	RDMSR
	SHLQ $32, DX
	ORQ DX, AX
	PUSHQ AX
	MOVQ CPU_KERNELFS(GS), AX
	MOVQ AX, DX
	SHRQ $32, DX
	MOVL $0xC0000100, CX
	WRMSR
	JMP R8

// restoreFS pops the FS base word saveFS pushed and loads it.
TEXT restoreFS<>(SB),NOSPLIT|NOFRAME,$0
	POPQ R8                      // return address
	POPQ AX                      // FS base
	CMPB ·haveFSGSBase(SB), $0
	JEQ rfsmsr
	BYTE $0xF3; BYTE $0x48; BYTE $0x0F; BYTE $0xAE; BYTE $0xD0 // WRFSBASE AX
	JMP R8
rfsmsr:
	MOVQ AX, DX
	SHRQ $32, DX
	MOVL $0xC0000100, CX
	WRMSR
	JMP R8

TEXT trapCommon<>(SB),NOSPLIT|NOFRAME,$0
	PUSH_GPRS
	CALL saveFS<>(SB)
	SUBQ $CTX_FRAME, SP          // SP is now 16-byte aligned (see Context)
	FXSAVE64 (SP)
	MOVQ $PARTIAL_TRAP, CTX_PARTIAL(SP) // all but the YMM upper halves
	INCQ CPU_DEPTH(GS)
	CLD

	MOVQ SP, AX
	PUSHQ AX                     // func trap(ctx *Context)
	CALL ·trap(SB)
	POPQ AX

	// fallthrough into the restore path: ctx is at SP.
	JMP ·resumeFromStack(SB)

// resumeFromStack restores the Context at SP and returns into it: the
// FXSAVE part; the YMM upper halves are the Context's already (still
// live since the entry, or loaded by loadFX).
TEXT ·resumeFromStack(SB),NOSPLIT|NOFRAME,$0
	DECQ CPU_DEPTH(GS)
	FXRSTOR64 (SP)
	ADDQ $CTX_FRAME, SP
	CALL restoreFS<>(SB)
	POP_GPRS
	ADDQ $16, SP                 // vector, error code
	IRETQ

// func resumeContext(ctx *Context)
// Switches SP to ctx, a Context the caller placed at the bottom of a
// stack it no longer needs, and returns into it. Used once per CPU to
// leave the boot path and start running threads. Depth is incremented
// first because resumeFromStack decrements it.
TEXT ·resumeContext(SB),NOSPLIT,$0-8
	MOVQ ctx+0(FP), SP
	INCQ CPU_DEPTH(GS)
	JMP ·resumeFromStack(SB)

// func stubAddresses() *[nstubs]uintptr
TEXT ·stubAddresses(SB),NOSPLIT,$0-8
	LEAQ stubTable<>(SB), AX
	MOVQ AX, ret+0(FP)
	RET

// The order must match the stub indexes in idt.go.
DATA stubTable<>+0(SB)/8, $·vec0(SB)
DATA stubTable<>+8(SB)/8, $·vec1(SB)
DATA stubTable<>+16(SB)/8, $·vec2(SB)
DATA stubTable<>+24(SB)/8, $·vec3(SB)
DATA stubTable<>+32(SB)/8, $·vec4(SB)
DATA stubTable<>+40(SB)/8, $·vec5(SB)
DATA stubTable<>+48(SB)/8, $·vec6(SB)
DATA stubTable<>+56(SB)/8, $·vec7(SB)
DATA stubTable<>+64(SB)/8, $·vec8(SB)
DATA stubTable<>+72(SB)/8, $·vec9(SB)
DATA stubTable<>+80(SB)/8, $·vec10(SB)
DATA stubTable<>+88(SB)/8, $·vec11(SB)
DATA stubTable<>+96(SB)/8, $·vec12(SB)
DATA stubTable<>+104(SB)/8, $·vec13(SB)
DATA stubTable<>+112(SB)/8, $·vec14(SB)
DATA stubTable<>+120(SB)/8, $·vec15(SB)
DATA stubTable<>+128(SB)/8, $·vec16(SB)
DATA stubTable<>+136(SB)/8, $·vec17(SB)
DATA stubTable<>+144(SB)/8, $·vec18(SB)
DATA stubTable<>+152(SB)/8, $·vec19(SB)
DATA stubTable<>+160(SB)/8, $·vec20(SB)
DATA stubTable<>+168(SB)/8, $·vec21(SB)
DATA stubTable<>+176(SB)/8, $·vecTimer(SB)
DATA stubTable<>+184(SB)/8, $·vecWakeup(SB)
DATA stubTable<>+192(SB)/8, $·vecHalt(SB)
DATA stubTable<>+200(SB)/8, $·vecDev0(SB)
DATA stubTable<>+208(SB)/8, $·vecDev1(SB)
DATA stubTable<>+216(SB)/8, $·vecDev2(SB)
DATA stubTable<>+224(SB)/8, $·vecDev3(SB)
DATA stubTable<>+232(SB)/8, $·vecDev4(SB)
DATA stubTable<>+240(SB)/8, $·vecDev5(SB)
DATA stubTable<>+248(SB)/8, $·vecDev6(SB)
DATA stubTable<>+256(SB)/8, $·vecDev7(SB)
DATA stubTable<>+264(SB)/8, $·vecSpurious(SB)
DATA stubTable<>+272(SB)/8, $·vecUnknown(SB)
DATA stubTable<>+280(SB)/8, $·syscallEntry(SB)
DATA stubTable<>+288(SB)/8, $·vecPoll(SB)
GLOBL stubTable<>(SB), RODATA, $296
