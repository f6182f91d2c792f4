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
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
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

static int efd_blocking;
static void *efd_writer(void *arg) {
	usleep(50000); /* let main block in read first */
	uint64_t v = 5;
	write(efd_blocking, &v, 8);
	return arg;
}

/* eventfd and epoll files as Linux has them: one counter behind every
 * dup, EFD_SEMAPHORE, a blocking read woken by a write, an epoll set
 * that lives while any dup of it is open. */
static void eventfds(void) {
	uint64_t v = 0;
	int e = eventfd(3, EFD_SEMAPHORE);
	int e2 = dup(e);
	read(e2, &v, 8);
	printf("eventfd semaphore read: %llu\n", (unsigned long long)v);
	v = 4;
	write(e, &v, 8);
	read(e2, &v, 8);
	printf("eventfd shared by dup: %llu\n", (unsigned long long)v);

	/* O_NONBLOCK belongs to the open file: set through one dup, it
	 * holds for the other (a read of the empty counter fails). */
	int z = eventfd(0, 0), z2 = dup(z);
	fcntl(z2, F_SETFL, fcntl(z2, F_GETFL) | O_NONBLOCK);
	int shared = (fcntl(z, F_GETFL) & O_NONBLOCK) != 0, zr = -2;
	errno = 0;
	if (shared)
		zr = read(z, &v, 8); /* would block for ever otherwise */
	printf("eventfd O_NONBLOCK shared by dup: %d %d %d\n", shared, zr, errno == EAGAIN);
	close(z);
	close(z2);

	efd_blocking = eventfd(0, 0);
	pthread_t w;
	pthread_create(&w, 0, efd_writer, 0);
	v = 0;
	int n = read(efd_blocking, &v, 8);
	pthread_join(w, 0);
	printf("eventfd blocking read: %d %llu\n", n, (unsigned long long)v);

	int ep = epoll_create1(0);
	int ep2 = dup(ep);
	close(ep);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42}, out = {0};
	int added = epoll_ctl(ep2, EPOLL_CTL_ADD, e2, &ev);
	n = epoll_wait(ep2, &out, 1, 1000);
	printf("epoll through a dup: %d %d %llu\n", added, n, (unsigned long long)out.data.u64);

	errno = 0;
	int bad = eventfd(0, 0x40);
	printf("eventfd bad flags: %d %d\n", bad, errno == EINVAL);
	close(e);
	close(e2);
	close(ep2);
	close(efd_blocking);
}

static volatile sig_atomic_t pipes;
static void on_pipe(int s) { pipes++; (void)s; }

/* A write nobody can read raises SIGPIPE and fails with EPIPE; send
 * with MSG_NOSIGNAL only fails. */
static void sigpipe(void) {
	struct sigaction sa = {0};
	sa.sa_handler = on_pipe;
	sigaction(SIGPIPE, &sa, 0);
	int p[2];
	pipe(p);
	close(p[0]);
	errno = 0;
	int n = write(p[1], "x", 1);
	printf("sigpipe: pipe write %d epipe %d signals %d\n", n, errno == EPIPE, (int)pipes);
	close(p[1]);
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	close(sv[1]);
	errno = 0;
	n = send(sv[0], "x", 1, MSG_NOSIGNAL);
	printf("sigpipe: send MSG_NOSIGNAL %d epipe %d signals %d\n", n, errno == EPIPE, (int)pipes);
	errno = 0;
	n = send(sv[0], "x", 1, 0);
	printf("sigpipe: send %d epipe %d signals %d\n", n, errno == EPIPE, (int)pipes);
	close(sv[0]);
	signal(SIGPIPE, SIG_DFL);
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

	eventfds();
	sigpipe();

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
