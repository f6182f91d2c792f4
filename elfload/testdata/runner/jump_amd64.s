#include "textflag.h"

// func jump(entry, sp uintptr)
TEXT ·jump(SB), NOSPLIT, $0-16
	MOVQ	entry+0(FP), AX
	MOVQ	sp+8(FP), BX
	MOVQ	BX, SP
	XORQ	BX, BX
	XORQ	CX, CX
	XORQ	DX, DX // no atexit function for libc's _start
	XORQ	SI, SI
	XORQ	DI, DI
	XORQ	R8, R8
	XORQ	R9, R9
	XORQ	R10, R10
	XORQ	R11, R11
	XORQ	R12, R12
	XORQ	R13, R13
	XORQ	R14, R14
	XORQ	R15, R15
	JMP	AX
