/* appbench: the application benchmark of `make bench` (cmd/gosvbench).
 * The same static binary runs as the application of gosv and under the
 * init of the Linux baseline guest. It prints one machine-readable line
 * per measure, "APPBENCH <name> <value>", timed with
 * clock_gettime(CLOCK_MONOTONIC):
 *
 *   APPBENCH main_ns <monotonic clock at the start of main, ns>
 *   APPBENCH syscall_ns <ns per getppid() system call>
 *   APPBENCH thread_us <us per pthread_create + pthread_join>
 *   APPBENCH futex_us <us per futex wake/wait round trip between two threads>
 *   APPBENCH done
 *
 * The first line is written at the very start of main, so the host can
 * time its arrival on the serial console. Lines are written with write(2),
 * one call each, so no stdio buffering delays them. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SYSCALLS 200000
#define THREADS 2000
#define ROUNDTRIPS 20000

/* From <linux/futex.h>, which musl-gcc does not see. */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_PRIVATE_FLAG 128

static long long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void out(const char *fmt, ...) {
	char buf[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 1) n = sizeof buf - 1;
	for (int off = 0; off < n;) {
		ssize_t w = write(1, buf + off, n - off);
		if (w <= 0) return;
		off += w;
	}
}

static void *nothing(void *arg) { return arg; }

/* The ball: 1 while it is the partner thread's turn, 0 while main's. */
static volatile int ball;

static long futex(volatile int *addr, int op, int val) {
	return syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val, 0, 0, 0);
}

static void *partner(void *arg) {
	(void)arg;
	for (int i = 0; i < ROUNDTRIPS; i++) {
		while (__atomic_load_n(&ball, __ATOMIC_ACQUIRE) != 1)
			futex(&ball, FUTEX_WAIT, 0);
		__atomic_store_n(&ball, 0, __ATOMIC_RELEASE);
		futex(&ball, FUTEX_WAKE, 1);
	}
	return 0;
}

int main(void) {
	out("APPBENCH main_ns %lld\n", now_ns());

	/* (a) System-call round trip; syscall() so libc cannot cache it. */
	for (int i = 0; i < 1000; i++) syscall(SYS_getppid);
	long long t0 = now_ns();
	for (int i = 0; i < SYSCALLS; i++) syscall(SYS_getppid);
	long long t1 = now_ns();
	out("APPBENCH syscall_ns %.1f\n", (double)(t1 - t0) / SYSCALLS);

	/* (b) Thread create + join. */
	t0 = now_ns();
	for (int i = 0; i < THREADS; i++) {
		pthread_t t;
		if (pthread_create(&t, 0, nothing, 0) != 0 || pthread_join(t, 0) != 0) {
			out("APPBENCH error thread %d\n", i);
			return 1;
		}
	}
	t1 = now_ns();
	out("APPBENCH thread_us %.2f\n", (double)(t1 - t0) / THREADS / 1000);

	/* (c) Futex ping-pong: main hands the ball over and waits for it
	 * back; the partner does the reverse. */
	pthread_t p;
	if (pthread_create(&p, 0, partner, 0) != 0) {
		out("APPBENCH error futex thread\n");
		return 1;
	}
	t0 = now_ns();
	for (int i = 0; i < ROUNDTRIPS; i++) {
		__atomic_store_n(&ball, 1, __ATOMIC_RELEASE);
		futex(&ball, FUTEX_WAKE, 1);
		while (__atomic_load_n(&ball, __ATOMIC_ACQUIRE) != 0)
			futex(&ball, FUTEX_WAIT, 1);
	}
	t1 = now_ns();
	pthread_join(p, 0);
	out("APPBENCH futex_us %.2f\n", (double)(t1 - t0) / ROUNDTRIPS / 1000);

	out("APPBENCH done\n");
	return 0;
}
