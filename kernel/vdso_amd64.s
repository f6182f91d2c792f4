#include "go_asm.h"
#include "textflag.h"

// The vDSO's functions (vdso.go). Callers are C code (libc) and the Go
// runtime's vdsoCall, with the C ABI: arguments in DI and SI, result in
// AX; AX, CX, DX, SI, DI and R8-R11 may be clobbered. They run on the
// caller's stack and thread, in whichever address the kernel is, so
// they use no stack (NOFRAME, no calls), no TLS and no g: only the TSC
// and the clock's constants, read as nanotime in clock.go reads them.

// NANOTIME leaves nanoseconds since clock.tsc0 in AX, clobbering DX:
// ((rdtsc - tsc0) * mult) >> 32, with a 128-bit product.
#define NANOTIME \
	RDTSC; \
	SHLQ	$32, DX; \
	ORQ	DX, AX; \
	SUBQ	·clock+clockSource_tsc0(SB), AX; \
	MULQ	·clock+clockSource_mult(SB); \
	SHRQ	$32, AX; \
	SHLQ	$32, DX; \
	ORQ	DX, AX

// Clock ids answered here, as bit masks over ids 0-7 (CLOCK_REALTIME 0,
// REALTIME_COARSE 5; MONOTONIC 1, MONOTONIC_RAW 4, MONOTONIC_COARSE 6,
// BOOTTIME 7). Others (the CPU-time clocks) take the system call.
#define REALTIME_IDS 0x21
#define MONOTONIC_IDS 0xd2

// int clock_gettime(clockid_t id, struct timespec *ts)
TEXT ·vdsoClockGettime(SB),NOSPLIT|NOFRAME,$0
	MOVL	DI, CX
	CMPL	CX, $7
	JA	syscall		// unsigned: negative ids (CPU clocks of pids) too
	MOVL	$MONOTONIC_IDS, R8
	SHRL	CX, R8
	TESTL	$1, R8
	JNZ	monotonic
	MOVL	$REALTIME_IDS, R8
	SHRL	CX, R8
	TESTL	$1, R8
	JZ	syscall
	NANOTIME
	ADDQ	·clock+clockSource_wallAtBoot(SB), AX
	JMP	store
monotonic:
	NANOTIME
store:
	MOVQ	$1000000000, CX
	XORL	DX, DX
	DIVQ	CX
	MOVQ	AX, 0(SI)	// tv_sec
	MOVQ	DX, 8(SI)	// tv_nsec
	XORL	AX, AX
	RET
syscall:
	MOVL	$228, AX	// SYS_clock_gettime, with DI and SI as given
	SYSCALL
	RET

// int gettimeofday(struct timeval *tv, struct timezone *tz)
TEXT ·vdsoGettimeofday(SB),NOSPLIT|NOFRAME,$0
	TESTQ	DI, DI
	JZ	zone
	NANOTIME
	ADDQ	·clock+clockSource_wallAtBoot(SB), AX
	MOVQ	$1000000000, CX
	XORL	DX, DX
	DIVQ	CX
	MOVQ	AX, 0(DI)	// tv_sec
	MOVQ	DX, AX
	MOVQ	$1000, CX
	XORL	DX, DX
	DIVQ	CX
	MOVQ	AX, 8(DI)	// tv_usec
zone:
	TESTQ	SI, SI
	JZ	done
	MOVQ	$0, 0(SI)	// UTC, no DST: both ints zero
done:
	XORL	AX, AX
	RET

// time_t time(time_t *t)
TEXT ·vdsoTime(SB),NOSPLIT|NOFRAME,$0
	NANOTIME
	ADDQ	·clock+clockSource_wallAtBoot(SB), AX
	MOVQ	$1000000000, CX
	XORL	DX, DX
	DIVQ	CX
	TESTQ	DI, DI
	JZ	2(PC)
	MOVQ	AX, 0(DI)
	RET

// func vdsoFuncAddresses() (clockGettime, gettimeofday, time uintptr)
TEXT ·vdsoFuncAddresses(SB),NOSPLIT,$0-24
	LEAQ	·vdsoClockGettime(SB), AX
	MOVQ	AX, clockGettime+0(FP)
	LEAQ	·vdsoGettimeofday(SB), AX
	MOVQ	AX, gettimeofday+8(FP)
	LEAQ	·vdsoTime(SB), AX
	MOVQ	AX, time+16(FP)
	RET
