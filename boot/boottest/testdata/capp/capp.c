/* capp: a C program for the application boot tests, built static with
 * musl and glibc and as static-PIE: threads, a signal, files, errors.
 * Its output is compared with a native run. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int counter;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg) {
	for (int i = 0; i < 10000; i++) {
		pthread_mutex_lock(&mu);
		counter++;
		pthread_mutex_unlock(&mu);
	}
	return arg;
}

static volatile sig_atomic_t got;
static void on_usr1(int s) { got = s; }

int main(int argc, char **argv) {
	pthread_t t[4];
	for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, worker, 0);
	for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
	printf("threads: %d\n", counter);

	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, 0);
	raise(SIGUSR1);
	printf("signal: %d\n", got);

	char path[] = "/tmp/capp-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) { perror("mkstemp"); return 1; }
	const char msg[] = "hello file\n";
	write(fd, msg, sizeof msg - 1);
	lseek(fd, 0, SEEK_SET);
	char buf[64] = {0};
	int n = read(fd, buf, sizeof buf - 1);
	struct stat st;
	fstat(fd, &st);
	close(fd);
	printf("file: %d bytes, size %ld, regular %d: %s", n, (long)st.st_size, S_ISREG(st.st_mode), buf);
	unlink(path);
	printf("unlinked: %d\n", access(path, F_OK) != 0 && errno == ENOENT);

	char *m = malloc(1 << 20);
	memset(m, 7, 1 << 20);
	printf("malloc: %d\n", m[12345]);
	free(m);

	for (int i = 1; i < argc; i++) printf("arg: %s\n", argv[i]);
	if (argc > 1 && strcmp(argv[1], "segv") == 0) {
		fflush(stdout);
		*(volatile int *)16 = 1;
	}
	return argc > 1 && strcmp(argv[1], "exit7") == 0 ? 7 : 0;
}
