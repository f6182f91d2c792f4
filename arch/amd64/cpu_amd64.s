#include "textflag.h"

// Each function is one instruction with ABI0 argument plumbing. Functions
// here are leaves with no frame, so they are NOSPLIT and safe in trap
// handlers and before the Go runtime starts.

// func Inb(port uint16) uint8
TEXT ·Inb(SB),NOSPLIT,$0-9
	MOVW port+0(FP), DX
	INB
	MOVB AX, ret+8(FP)
	RET

// func Outb(port uint16, v uint8)
TEXT ·Outb(SB),NOSPLIT,$0-3
	MOVW port+0(FP), DX
	MOVB v+2(FP), AX
	OUTB
	RET

// func Inw(port uint16) uint16
TEXT ·Inw(SB),NOSPLIT,$0-10
	MOVW port+0(FP), DX
	INW
	MOVW AX, ret+8(FP)
	RET

// func Outw(port uint16, v uint16)
TEXT ·Outw(SB),NOSPLIT,$0-4
	MOVW port+0(FP), DX
	MOVW v+2(FP), AX
	OUTW
	RET

// func Inl(port uint16) uint32
TEXT ·Inl(SB),NOSPLIT,$0-12
	MOVW port+0(FP), DX
	INL
	MOVL AX, ret+8(FP)
	RET

// func Outl(port uint16, v uint32)
TEXT ·Outl(SB),NOSPLIT,$0-8
	MOVW port+0(FP), DX
	MOVL v+4(FP), AX
	OUTL
	RET

// func RDMSR(msr uint32) uint64
TEXT ·RDMSR(SB),NOSPLIT,$0-16
	MOVL msr+0(FP), CX
	RDMSR
	SHLQ $32, DX
	ORQ DX, AX
	MOVQ AX, ret+8(FP)
	RET

// func WRMSR(msr uint32, v uint64)
TEXT ·WRMSR(SB),NOSPLIT,$0-16
	MOVL msr+0(FP), CX
	MOVQ v+8(FP), AX
	MOVQ AX, DX
	SHRQ $32, DX
	WRMSR
	RET

// func CPUID(leaf, sub uint32) (eax, ebx, ecx, edx uint32)
TEXT ·CPUID(SB),NOSPLIT,$0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func RDTSC() uint64
TEXT ·RDTSC(SB),NOSPLIT,$0-8
	RDTSC
	SHLQ $32, DX
	ORQ DX, AX
	MOVQ AX, ret+0(FP)
	RET

// func RDRAND() (v uint64, ok bool)
TEXT ·RDRAND(SB),NOSPLIT,$0-9
	BYTE $0x48; BYTE $0x0f; BYTE $0xc7; BYTE $0xf0 // RDRAND RAX
	SETCS ok+8(FP)
	MOVQ AX, v+0(FP)
	RET

// func RDSEED() (v uint64, ok bool)
TEXT ·RDSEED(SB),NOSPLIT,$0-9
	BYTE $0x48; BYTE $0x0f; BYTE $0xc7; BYTE $0xf8 // RDSEED RAX
	SETCS ok+8(FP)
	MOVQ AX, v+0(FP)
	RET

// func ReadCR0() uint64
TEXT ·ReadCR0(SB),NOSPLIT,$0-8
	MOVQ CR0, AX
	MOVQ AX, ret+0(FP)
	RET

// func ReadCR2() uint64
TEXT ·ReadCR2(SB),NOSPLIT,$0-8
	MOVQ CR2, AX
	MOVQ AX, ret+0(FP)
	RET

// func ReadCR3() uint64
TEXT ·ReadCR3(SB),NOSPLIT,$0-8
	MOVQ CR3, AX
	MOVQ AX, ret+0(FP)
	RET

// func ReadCR4() uint64
TEXT ·ReadCR4(SB),NOSPLIT,$0-8
	MOVQ CR4, AX
	MOVQ AX, ret+0(FP)
	RET

// func WriteCR0(v uint64)
TEXT ·WriteCR0(SB),NOSPLIT,$0-8
	MOVQ v+0(FP), AX
	MOVQ AX, CR0
	RET

// func WriteCR3(v uint64)
TEXT ·WriteCR3(SB),NOSPLIT,$0-8
	MOVQ v+0(FP), AX
	MOVQ AX, CR3
	RET

// func WriteCR4(v uint64)
TEXT ·WriteCR4(SB),NOSPLIT,$0-8
	MOVQ v+0(FP), AX
	MOVQ AX, CR4
	RET

// func INVLPG(addr uintptr)
TEXT ·INVLPG(SB),NOSPLIT,$0-8
	MOVQ addr+0(FP), AX
	INVLPG (AX)
	RET

// func LGDT(p uintptr)
TEXT ·LGDT(SB),NOSPLIT,$0-8
	MOVQ p+0(FP), AX
	LGDT (AX)
	RET

// func LIDT(p uintptr)
TEXT ·LIDT(SB),NOSPLIT,$0-8
	MOVQ p+0(FP), AX
	LIDT (AX)
	RET

// func LTR(sel uint16)
TEXT ·LTR(SB),NOSPLIT,$0-2
	MOVW sel+0(FP), AX
	LTR AX
	RET

// func ReloadSegments(code, data uint16)
// CS can only be changed by a far transfer: push the new CS and the
// return address and LRETQ to the next instruction.
TEXT ·ReloadSegments(SB),NOSPLIT,$0-4
	MOVWQZX data+2(FP), AX
	MOVW AX, DS
	MOVW AX, ES
	MOVW AX, SS
	// FS and GS are left alone: loading a selector there may clear the
	// base, and Go code finds g through FS.
	MOVWQZX code+0(FP), AX
	LEAQ done<>(SB), BX
	// PUSHQ AX; PUSHQ BX as bytes: the assembler's push/pop balance
	// check cannot see that LRETQ pops both.
	BYTE $0x50                 // PUSHQ AX
	BYTE $0x53                 // PUSHQ BX
	BYTE $0x48; BYTE $0xcb     // LRETQ
	RET

TEXT done<>(SB),NOSPLIT|NOFRAME,$0
	RET

// func HLT()
TEXT ·HLT(SB),NOSPLIT,$0-0
	HLT
	RET

// func CLI()
TEXT ·CLI(SB),NOSPLIT,$0-0
	CLI
	RET

// func STI()
TEXT ·STI(SB),NOSPLIT,$0-0
	STI
	RET

// func Flags() uint64
TEXT ·Flags(SB),NOSPLIT,$0-8
	PUSHFQ
	POPQ AX
	MOVQ AX, ret+0(FP)
	RET

// func Pause()
TEXT ·Pause(SB),NOSPLIT,$0-0
	PAUSE
	RET

// func FXSave(p uintptr)
TEXT ·FXSave(SB),NOSPLIT,$0-8
	MOVQ p+0(FP), AX
	FXSAVE64 (AX)
	RET

// func FNINIT()
TEXT ·FNINIT(SB),NOSPLIT,$0-0
	BYTE $0xdb; BYTE $0xe3 // FNINIT
	RET

// func Breakpoint()
TEXT ·Breakpoint(SB),NOSPLIT,$0-0
	INT $3
	RET

// func FXRstor(p uintptr)
TEXT ·FXRstor(SB),NOSPLIT,$0-8
	MOVQ p+0(FP), AX
	FXRSTOR64 (AX)
	RET

// func XGetBV(index uint32) uint64
// XGETBV reads the extended control register ECX into EDX:EAX.
TEXT ·XGetBV(SB),NOSPLIT,$0-16
	MOVL index+0(FP), CX
	BYTE $0x0f; BYTE $0x01; BYTE $0xd0 // XGETBV
	SHLQ $32, DX
	ORQ DX, AX
	MOVQ AX, ret+8(FP)
	RET

// func XSetBV(index uint32, v uint64)
// XSETBV writes EDX:EAX to the extended control register ECX.
TEXT ·XSetBV(SB),NOSPLIT,$0-16
	MOVL index+0(FP), CX
	MOVQ v+8(FP), AX
	MOVQ AX, DX
	SHRQ $32, DX
	BYTE $0x0f; BYTE $0x01; BYTE $0xd1 // XSETBV
	RET

// func XSave(p uintptr, mask uint64)
// XSAVE64 stores the state components in mask (EDX:EAX, intersected
// with XCR0 by the CPU) into the standard-format area at p.
TEXT ·XSave(SB),NOSPLIT,$0-16
	MOVQ p+0(FP), DI
	MOVQ mask+8(FP), AX
	MOVQ AX, DX
	SHRQ $32, DX
	XSAVE64 (DI)
	RET

// func XRstor(p uintptr, mask uint64)
// XRSTOR64 loads the state components in mask from the area at p: those
// whose XSTATE_BV bit is set from memory, the others to their initial
// configuration.
TEXT ·XRstor(SB),NOSPLIT,$0-16
	MOVQ p+0(FP), DI
	MOVQ mask+8(FP), AX
	MOVQ AX, DX
	SHRQ $32, DX
	XRSTOR64 (DI)
	RET
