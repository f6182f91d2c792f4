/* sys: system calls beyond files for the application tests: mremap,
 * sysinfo, poll as a sleep and on stdout. Output compared with native. */
#define _GNU_SOURCE
#include <stdio.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
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
	struct pollfd pf = {1, POLLOUT, 0};
	printf("poll stdout: %d %d\n", poll(&pf, 1, 0), pf.revents);
	return 0;
}
