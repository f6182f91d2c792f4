// avx checks that AVX is usable and that the YMM registers survive
// what the kernel does to a thread: system calls, preemption, migration
// and signal handlers that clobber them; and that handlers see Linux's
// XSAVE signal-frame format and can change the registers there. It
// prints "avx: ok" lines and exits 0, or says what failed and exits 1.
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static void fail(const char *what) {
	printf("avx: FAIL: %s\n", what);
	fflush(stdout);
	_exit(1);
}

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

// usable: CPUID says AVX and OSXSAVE, and XCR0 enables SSE and AVX state.
static void check_usable(void) {
	uint32_t r[4];
	cpuid(1, 0, r);
	if (!(r[2] & (1u << 28)))
		fail("CPUID.1:ECX.AVX is 0 (the test needs a CPU with AVX: QEMU -cpu max)");
	if (!(r[2] & (1u << 27)))
		fail("CPUID.1:ECX.OSXSAVE is 0: the kernel did not enable XSAVE");
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 7) != 7)
		fail("XCR0 does not enable x87, SSE and AVX state");
	cpuid(7, 0, r);
	printf("avx: usable (avx2 %d)\n", (r[1] >> 5) & 1);

	// /proc/cpuinfo lists what CPUID says, OSXSAVE included.
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		fail("cannot open /proc/cpuinfo");
	char line[4096];
	int osxsave = 0, avx = 0;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "flags", 5)) {
			osxsave |= strstr(line, " osxsave") != NULL;
			avx |= strstr(line, " avx ") != NULL || strstr(line, " avx\n") != NULL;
		}
	fclose(f);
	if (!osxsave || !avx)
		fail("/proc/cpuinfo flags lack osxsave or avx");
}

typedef struct { uint64_t q[4]; } ymm;

// Each YMM register i gets the pattern seed*1000 + i*4 + lane in its
// four quadwords, so any lost or swapped half shows.
static void pattern(ymm out[16], uint64_t seed) {
	for (int i = 0; i < 16; i++)
		for (int l = 0; l < 4; l++)
			out[i].q[l] = seed * 1000 + i * 4 + l + 0x5a5a000000000000ull;
}

#define LOADALL(p) \
	"vmovdqu 0(" p "), %%ymm0\n vmovdqu 32(" p "), %%ymm1\n vmovdqu 64(" p "), %%ymm2\n vmovdqu 96(" p "), %%ymm3\n" \
	"vmovdqu 128(" p "), %%ymm4\n vmovdqu 160(" p "), %%ymm5\n vmovdqu 192(" p "), %%ymm6\n vmovdqu 224(" p "), %%ymm7\n" \
	"vmovdqu 256(" p "), %%ymm8\n vmovdqu 288(" p "), %%ymm9\n vmovdqu 320(" p "), %%ymm10\n vmovdqu 352(" p "), %%ymm11\n" \
	"vmovdqu 384(" p "), %%ymm12\n vmovdqu 416(" p "), %%ymm13\n vmovdqu 448(" p "), %%ymm14\n vmovdqu 480(" p "), %%ymm15\n"
#define STOREALL(p) \
	"vmovdqu %%ymm0, 0(" p ")\n vmovdqu %%ymm1, 32(" p ")\n vmovdqu %%ymm2, 64(" p ")\n vmovdqu %%ymm3, 96(" p ")\n" \
	"vmovdqu %%ymm4, 128(" p ")\n vmovdqu %%ymm5, 160(" p ")\n vmovdqu %%ymm6, 192(" p ")\n vmovdqu %%ymm7, 224(" p ")\n" \
	"vmovdqu %%ymm8, 256(" p ")\n vmovdqu %%ymm9, 288(" p ")\n vmovdqu %%ymm10, 320(" p ")\n vmovdqu %%ymm11, 352(" p ")\n" \
	"vmovdqu %%ymm12, 384(" p ")\n vmovdqu %%ymm13, 416(" p ")\n vmovdqu %%ymm14, 448(" p ")\n vmovdqu %%ymm15, 480(" p ")\n"
#define YMMS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
	"xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

// hold loads in into the YMM registers, makes rounds system calls
// (nr, alternating with getppid), spinning spin iterations after each
// so timer interrupts land in the loop too, and stores the registers to
// out. Nothing but the kernel can change them in between.
static void hold(const ymm in[16], ymm out[16], long nr, long rounds, long spin) {
	__asm__ volatile(
		LOADALL("%[in]")
		"1:\n"
		" mov %[nr], %%rax\n"
		" test $1, %[rounds]\n"
		" jz 2f\n"
		" mov $110, %%eax\n" // getppid
		"2: syscall\n"
		" mov %[spin], %%rcx\n"
		"3: dec %%rcx\n"
		" jnz 3b\n"
		" dec %[rounds]\n"
		" jnz 1b\n"
		STOREALL("%[out]")
		"vzeroupper\n"
		: [rounds] "+r"(rounds)
		: [in] "r"(in), [out] "r"(out), [nr] "r"(nr), [spin] "r"(spin)
		: "rax", "rcx", "r11", "memory", "cc", YMMS);
}

static int same(const ymm a[16], const ymm b[16], const char *what) {
	for (int i = 0; i < 16; i++)
		for (int l = 0; l < 4; l++)
			if (a[i].q[l] != b[i].q[l]) {
				printf("avx: %s: ymm%d lane %d = %#llx, want %#llx\n", what, i, l,
				       (unsigned long long)b[i].q[l], (unsigned long long)a[i].q[l]);
				return 0;
			}
	return 1;
}

// A handler for SIGUSR1 that overwrites every YMM register.
static volatile long clobbers;
static void clobber(int sig) {
	(void)sig;
	ymm junk[16];
	pattern(junk, 999);
	__asm__ volatile(LOADALL("%0") "vzeroupper\n" LOADALL("%0") : : "r"(junk) : "memory", YMMS);
	__sync_fetch_and_add(&clobbers, 1);
}

enum { nworkers = 3 };
static volatile int stop;
static pid_t workerTIDs[nworkers];

static void *worker(void *arg) {
	long id = (long)arg;
	workerTIDs[id] = syscall(SYS_gettid);
	ymm in[16], out[16];
	for (long iter = 0; !stop || iter < 3; iter++) {
		pattern(in, id * 100000 + iter);
		memset(out, 0, sizeof out);
		hold(in, out, SYS_sched_yield, 200, 20000);
		if (!same(in, out, "across system calls, preemption and signals"))
			fail("YMM state lost in a worker thread");
	}
	return NULL;
}

// threads: workers hold YMM state across sched_yield, timer preemption
// and SIGUSR1 handlers that clobber it, while the main thread signals
// them.
static void check_threads(void) {
	pthread_t th[nworkers];
	for (long i = 0; i < nworkers; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)i))
			fail("pthread_create");
	for (int i = 0; i < 200; i++) {
		for (int w = 0; w < nworkers; w++)
			if (workerTIDs[w])
				syscall(SYS_tgkill, getpid(), workerTIDs[w], SIGUSR1);
		usleep(2000);
	}
	stop = 1;
	for (int i = 0; i < nworkers; i++)
		pthread_join(th[i], NULL);
	if (clobbers == 0)
		fail("no SIGUSR1 handler ran");
	printf("avx: threads ok\n");
}

// signal: the interrupted code's YMM registers are intact after a
// handler that clobbers them (the signal arrives on its own tgkill).
static void check_signal(void) {
	ymm in[16], out[16];
	pattern(in, 7);
	long before = clobbers;
	pid_t pid = getpid(), tid = syscall(SYS_gettid);
	__asm__ volatile(
		LOADALL("%[in]")
		"mov $234, %%eax\n" // tgkill(pid, tid, SIGUSR1)
		"mov %[pid], %%edi\n"
		"mov %[tid], %%esi\n"
		"mov $10, %%edx\n"
		"syscall\n"
		STOREALL("%[out]")
		"vzeroupper\n"
		:
		: [in] "r"(in), [out] "r"(out), [pid] "r"(pid), [tid] "r"(tid)
		: "rax", "rdi", "rsi", "rdx", "rcx", "r11", "memory", YMMS);
	if (clobbers != before + 1)
		fail("the SIGUSR1 handler did not run");
	if (!same(in, out, "after a clobbering handler"))
		fail("YMM state not restored by rt_sigreturn");
	printf("avx: signal ok\n");
}

// Linux's fpstate layout (asm/sigcontext.h).
#define FP_XSTATE_MAGIC1 0x46505853u
#define FP_XSTATE_MAGIC2 0x46505845u
#define UC_FP_XSTATE 0x1

static volatile const char *frameError;
static const uint64_t newLow = 0x1111222233334444ull, newHigh = 0x5555666677778888ull;

// A SIGUSR2 handler that checks the frame's format and rewrites YMM5
// in it: all four quadwords, so the XMM part and the upper half.
static void edit(int sig, siginfo_t *info, void *ucv) {
	(void)sig;
	(void)info;
	ucontext_t *uc = ucv;
	uint8_t *fp = (uint8_t *)uc->uc_mcontext.fpregs;
	if (!(uc->uc_flags & UC_FP_XSTATE)) {
		frameError = "uc_flags lacks UC_FP_XSTATE";
		return;
	}
	if ((uintptr_t)fp % 64) {
		frameError = "fpstate not 64-byte aligned";
		return;
	}
	uint32_t magic1, extended, xsize, magic2;
	uint64_t xfeatures, xstate_bv;
	memcpy(&magic1, fp + 464, 4);
	memcpy(&extended, fp + 468, 4);
	memcpy(&xfeatures, fp + 472, 8);
	memcpy(&xsize, fp + 480, 4);
	memcpy(&xstate_bv, fp + 512, 8);
	if (magic1 != FP_XSTATE_MAGIC1) {
		frameError = "no FP_XSTATE_MAGIC1 in the software bytes";
		return;
	}
	if ((xfeatures & 7) != 7 || xsize < 832 || extended != xsize + 4) {
		frameError = "bad _fpx_sw_bytes (xfeatures, xstate_size, extended_size)";
		return;
	}
	memcpy(&magic2, fp + xsize, 4);
	if (magic2 != FP_XSTATE_MAGIC2) {
		frameError = "no FP_XSTATE_MAGIC2 after the XSAVE area";
		return;
	}
	if (!(xstate_bv & 4)) {
		frameError = "XSTATE_BV lacks AVX while YMM registers are in use";
		return;
	}
	// XMM5 at 160+5*16, its upper half at 576+5*16.
	memcpy(fp + 160 + 5 * 16, &newLow, 8);
	memcpy(fp + 160 + 5 * 16 + 8, &newLow, 8);
	memcpy(fp + 576 + 5 * 16, &newHigh, 8);
	memcpy(fp + 576 + 5 * 16 + 8, &newHigh, 8);
}

// frame: the handler sees Linux's XSAVE format and its change to the
// saved YMM5 takes effect after rt_sigreturn; the other registers are
// as they were.
static void check_frame(void) {
	struct sigaction sa = {0};
	sa.sa_sigaction = edit;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR2, &sa, NULL);
	ymm in[16], out[16];
	pattern(in, 11);
	pid_t pid = getpid(), tid = syscall(SYS_gettid);
	__asm__ volatile(
		LOADALL("%[in]")
		"mov $234, %%eax\n"
		"mov %[pid], %%edi\n"
		"mov %[tid], %%esi\n"
		"mov $12, %%edx\n"
		"syscall\n"
		STOREALL("%[out]")
		"vzeroupper\n"
		:
		: [in] "r"(in), [out] "r"(out), [pid] "r"(pid), [tid] "r"(tid)
		: "rax", "rdi", "rsi", "rdx", "rcx", "r11", "memory", YMMS);
	if (frameError)
		fail((const char *)frameError);
	in[5].q[0] = in[5].q[1] = newLow;
	in[5].q[2] = in[5].q[3] = newHigh;
	if (!same(in, out, "after a handler edited the frame"))
		fail("the handler's change to the saved YMM5 did not take effect");
	printf("avx: frame ok\n");
}

// altstack: the kernel's AT_MINSIGSTKSZ fits MINSIGSTKSZ, and a handler
// on a MINSIGSTKSZ alternate stack runs and returns with the state
// intact. (Linux on a CPU with AVX-512 needs more than MINSIGSTKSZ.)
static void check_altstack(void) {
	unsigned long min = getauxval(AT_MINSIGSTKSZ);
	if (min == 0 || min > MINSIGSTKSZ) {
		printf("avx: AT_MINSIGSTKSZ %lu, MINSIGSTKSZ %d\n", min, MINSIGSTKSZ);
		fail("signal frames do not fit MINSIGSTKSZ");
	}
	static char stack[MINSIGSTKSZ];
	stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack};
	if (sigaltstack(&ss, NULL))
		fail("sigaltstack");
	struct sigaction sa = {0};
	sa.sa_handler = clobber;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	check_signal();
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	sa.sa_flags = 0;
	sigaction(SIGUSR1, &sa, NULL);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	check_usable();
	struct sigaction sa = {0};
	sa.sa_handler = clobber;
	sigaction(SIGUSR1, &sa, NULL);
	check_signal();
	check_frame();
	check_threads();
	check_altstack();
	printf("avx: all ok\n");
	return 0;
}
