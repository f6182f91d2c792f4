/* sys: system calls beyond files for the application tests: mremap,
 * sysinfo, poll as a sleep and on stdout, getrusage after burning CPU.
 * Output compared with native. */
#define _GNU_SOURCE
#include <stdio.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <sys/resource.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
int main(void) {
	char *p = mmap(0, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
	strcpy(p, "remapped data");
	char *q = mremap(p, 4096, 1 << 20, MREMAP_MAYMOVE);
	printf("mremap: %s\n", q == MAP_FAILED ? "failed" : q);
	q[(1<<20) - 1] = 1;
	struct sysinfo si; sysinfo(&si);
	printf("sysinfo: ram>0 %d\n", si.totalram > 0);
	struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
	poll(0, 0, 30);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("poll slept >= 30ms: %d\n", (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 >= 30);
	/* Short sleeps, which the core may wait out in place, last at
	 * least as long as asked. */
	struct timespec s0, s1, d20 = {0, 20000};
	clock_gettime(CLOCK_MONOTONIC, &s0);
	for (int i = 0; i < 100; i++)
		nanosleep(&d20, 0);
	clock_gettime(CLOCK_MONOTONIC, &s1);
	long slept = (s1.tv_sec - s0.tv_sec) * 1000000000L + s1.tv_nsec - s0.tv_nsec;
	printf("nanosleep 100 x 20us >= 2ms: %d\n", slept >= 2000000);
	struct pollfd pf = {1, POLLOUT, 0};
	printf("poll stdout: %d %d\n", poll(&pf, 1, 0), pf.revents);
	/* Burn CPU until the thread's own usage says 60 ms (a fixed span of
	 * wall-clock time is not enough CPU on a loaded host), giving up
	 * after 10 s of wall-clock time if getrusage never gets there. */
	volatile unsigned long spin = 0;
	struct rusage self, thread, children;
	do {
		for (int i = 0; i < 1000000; i++) spin += i;
		clock_gettime(CLOCK_MONOTONIC, &b);
		getrusage(RUSAGE_THREAD, &thread);
	} while (thread.ru_utime.tv_sec * 1000000 + thread.ru_utime.tv_usec + thread.ru_stime.tv_sec * 1000000 + thread.ru_stime.tv_usec < 60000 &&
		 b.tv_sec - a.tv_sec < 10);
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_THREAD, &thread);
	getrusage(RUSAGE_CHILDREN, &children);
	long selfus = (self.ru_utime.tv_sec + self.ru_stime.tv_sec) * 1000000 + self.ru_utime.tv_usec + self.ru_stime.tv_usec;
	long threadus = (thread.ru_utime.tv_sec + thread.ru_stime.tv_sec) * 1000000 + thread.ru_utime.tv_usec + thread.ru_stime.tv_usec;
	printf("getrusage: self >= 50ms %d, thread >= 50ms %d, children %ld\n", selfus >= 50000, threadus >= 50000,
		children.ru_utime.tv_sec + children.ru_utime.tv_usec + children.ru_stime.tv_sec + children.ru_stime.tv_usec);
	int bad = getrusage(5, &self);
	printf("getrusage(5): %d %d\n", bad, errno == EINVAL);
	return 0;
}
