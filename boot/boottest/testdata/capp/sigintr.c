/* sigintr: a signal interrupts blocking calls as on Linux. A helper
 * thread sends SIGALRM (pthread_kill) to the main thread while it
 * blocks in a pipe read or write, an accept or an eventfd read: without
 * SA_RESTART the call fails with EINTR (or returns what it moved, for a
 * write), with SA_RESTART it goes on until the helper provides what it
 * waits for, and an ignored signal does not interrupt it at all.
 * Output compared with native. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static pthread_t mainth;
static volatile int handled, finished;
static int pfd[2], efd, lfd;
static struct sockaddr_un addr;
static void (*after)(void);

static void on_alrm(int sig) { (void)sig; handled++; }

static void msleep(int ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* disposition: 0 handler without SA_RESTART, SA_RESTART, or -1 ignore. */
static void setup(int how, void (*then)(void)) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = how < 0 ? SIG_IGN : on_alrm;
	sa.sa_flags = how < 0 ? 0 : how;
	sigaction(SIGALRM, &sa, 0);
	handled = finished = 0;
	after = then;
}

/* helper signals the main thread once it is (very likely) blocked. With
 * nothing to do after, it keeps signalling until the call returns, so a
 * signal that came before the call blocked cannot leave it hanging. */
static void *helper(void *arg) {
	(void)arg;
	msleep(150);
	if (!after) {
		while (!finished) {
			pthread_kill(mainth, SIGALRM);
			msleep(100);
		}
		return 0;
	}
	pthread_kill(mainth, SIGALRM);
	msleep(200);
	after();
	return 0;
}

static void report(const char *what, long ret, int err) {
	printf("%s: %ld %s, handler %s\n", what, ret, ret < 0 ? strerror(err) : "ok", handled ? "ran" : "did not run");
}

static void write_pipe(void) { write(pfd[1], "data", 4); }
static void write_eventfd(void) { uint64_t v = 5; write(efd, &v, 8); }
static void connect_client(void) {
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&addr, sizeof addr);
}

/* run starts the helper, runs call in the main thread and reports. */
#define RUN(what, how, then, call) do { \
	pthread_t h; setup(how, then); pthread_create(&h, 0, helper, 0); \
	long r_ = (call); int e_ = errno; finished = 1; pthread_join(h, 0); \
	report(what, r_, e_); } while (0)

int main(void) {
	mainth = pthread_self();
	static char buf[100000];
	pipe(pfd);
	RUN("pipe read", 0, 0, read(pfd[0], buf, sizeof buf));
	RUN("pipe read SA_RESTART", SA_RESTART, write_pipe, read(pfd[0], buf, sizeof buf));
	RUN("pipe read SIG_IGN", -1, write_pipe, read(pfd[0], buf, sizeof buf));
	RUN("pipe write", 0, 0, write(pfd[1], buf, sizeof buf));
	close(pfd[0]);
	close(pfd[1]);

	efd = eventfd(0, 0);
	uint64_t v = 0;
	RUN("eventfd read", 0, 0, read(efd, &v, 8));
	RUN("eventfd read SA_RESTART", SA_RESTART, write_eventfd, read(efd, &v, 8));
	printf("eventfd value %d\n", (int)v);

	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof addr.sun_path, "/tmp/sigintr-%d.sock", getpid());
	unlink(addr.sun_path);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 4) != 0) {
		perror("bind/listen");
		return 1;
	}
	RUN("accept", 0, 0, accept(lfd, 0, 0));
	RUN("accept SA_RESTART", SA_RESTART, connect_client, accept(lfd, 0, 0) >= 0);
	unlink(addr.sun_path);
	return 0;
}
