/* timers: alarm, setitimer, POSIX timers and timerfd as on Linux.
 * SIGALRM from alarm interrupts a blocking read (EINTR); setitimer
 * ticks; timer_create's signals carry SI_TIMER, sigev_value and
 * overrun counts, to the process or one thread (SIGEV_THREAD_ID);
 * timerfd counts expirations and wakes epoll, poll and blocking reads.
 * Timing varies, so only facts (counts within ranges) are printed.
 * Output compared with native. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000L

static volatile int alrms, usr1s, usr2s, profs, vtalrms, profcode, proftid;
static volatile int usr1code, usr1value, usr1tid;
static volatile int usr2overrun, usr2getoverrun;
static timer_t usr2timer;
static pid_t maintid;

static void msleep(int ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * MS};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* show prints a call's result and, when it fails, its errno (read after
 * the call: argument order is unspecified). */
#define show(label, expr)                                                          \
	do {                                                                       \
		errno = 0;                                                         \
		long r_ = (long)(expr);                                            \
		int e_ = errno;                                                    \
		printf("%s = %ld (%s)\n", label, r_, r_ == -1 ? strerror(e_) : "-"); \
	} while (0)

static int64_t now(clockid_t c) {
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static pid_t gettid_(void) { return syscall(SYS_gettid); }

static void on_alrm(int sig) { (void)sig; alrms++; }

static void on_usr1(int sig, siginfo_t *si, void *uc) {
	(void)sig; (void)uc;
	usr1s++;
	usr1code = si->si_code;
	usr1value = si->si_value.sival_int;
	usr1tid = gettid_();
}

static void on_usr2(int sig, siginfo_t *si, void *uc) {
	(void)sig; (void)uc;
	/* The first signal, pending while blocked; the timer may tick
	 * again before it is disarmed. */
	if (usr2s++ == 0) {
		usr2overrun = si->si_overrun;
		usr2getoverrun = timer_getoverrun(usr2timer);
	}
}

static void on_prof(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	if (sig == SIGVTALRM) {
		vtalrms++;
		return;
	}
	profs++;
	profcode = si->si_code;
	proftid = gettid_();
}

/* burn uses CPU until clock c says ms more have passed. */
static void burn(clockid_t c, int ms) {
	int64_t end = now(c) + ms * MS;
	while (now(c) < end) {}
}

static void handle(int sig, void (*h)(int), void (*a)(int, siginfo_t *, void *)) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	if (a) {
		sa.sa_sigaction = a;
		sa.sa_flags = SA_SIGINFO;
	} else {
		sa.sa_handler = h;
	}
	sigaction(sig, &sa, 0);
}

static struct itimerspec its(int64_t value, int64_t interval) {
	struct itimerspec t = {{interval / 1000000000, interval % 1000000000}, {value / 1000000000, value % 1000000000}};
	return t;
}

static int64_t ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

/* waitfor sleeps until *flag or about 2 s passed. */
static void waitfor(volatile int *flag) {
	for (int i = 0; i < 200 && !*flag; i++) msleep(10);
}

static void test_alarm(void) {
	int p[2];
	char c;
	pipe(p);
	handle(SIGALRM, on_alrm, 0);
	printf("alarm(5) = %u\n", alarm(5));
	printf("alarm(1) = %u\n", alarm(1));
	int64_t t0 = now(CLOCK_MONOTONIC);
	ssize_t n = read(p[0], &c, 1);
	int e = errno;
	int64_t took = now(CLOCK_MONOTONIC) - t0;
	printf("alarm: read = %zd (%s), handled %d, after 0.5-3 s %d\n", n, n < 0 ? strerror(e) : "-", alrms,
	       took > 500 * MS && took < 3000 * MS);
	printf("alarm(0) after = %u\n", alarm(0));
	close(p[0]);
	close(p[1]);
}

static void test_setitimer(void) {
	struct itimerval it = {{0, 20000}, {0, 20000}}, cur;
	alrms = 0;
	printf("setitimer = %d\n", setitimer(ITIMER_REAL, &it, 0));
	msleep(300);
	int ticks = alrms;
	printf("getitimer = %d\n", getitimer(ITIMER_REAL, &cur));
	printf("setitimer: ticks in 300 ms in 5..16 %d\n", ticks >= 5 && ticks <= 16);
	printf("getitimer: interval 20 ms %d, value in (0, 20 ms] %d\n",
	       cur.it_interval.tv_sec == 0 && cur.it_interval.tv_usec == 20000,
	       cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0 && cur.it_value.tv_usec <= 20000);
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, 0);
	int after = alrms;
	msleep(100);
	printf("setitimer off: no more ticks %d\n", alrms == after);
	struct itimerval bad = {{0, 0}, {0, 1000000}};
	show("setitimer bad usec", setitimer(ITIMER_REAL, &bad, 0));
	show("setitimer bad which", setitimer(7, &it, 0));
}

static void *waiter(void *arg) {
	*(volatile pid_t *)arg = gettid_();
	waitfor(&usr1s);
	return 0;
}

static void test_posix_timers(void) {
	timer_t t;
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	handle(SIGUSR1, 0, on_usr1);

	/* SIGEV_SIGNAL, one-shot, to the process. */
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	sev.sigev_value.sival_int = 42;
	printf("timer_create = %d\n", timer_create(CLOCK_MONOTONIC, &sev, &t));
	struct itimerspec v = its(30 * MS, 0), cur;
	printf("timer_settime = %d\n", timer_settime(t, 0, &v, 0));
	timer_gettime(t, &cur);
	printf("timer_gettime: value in (0, 30 ms] %d, interval 0 %d\n", ns(cur.it_value) > 0 && ns(cur.it_value) <= 30 * MS,
	       ns(cur.it_interval) == 0);
	waitfor(&usr1s);
	printf("SIGEV_SIGNAL: signals %d, SI_TIMER %d, value %d, main thread %d\n", usr1s, usr1code == SI_TIMER, usr1value,
	       usr1tid == maintid);
	timer_gettime(t, &cur);
	printf("expired one-shot: value 0 %d\n", ns(cur.it_value) == 0);

	/* TIMER_ABSTIME on CLOCK_REALTIME. */
	usr1s = 0;
	v = its(now(CLOCK_REALTIME) + 50 * MS, 0);
	timer_delete(t);
	timer_create(CLOCK_REALTIME, &sev, &t);
	int64_t t0 = now(CLOCK_MONOTONIC);
	printf("timer_settime(TIMER_ABSTIME) = %d\n", timer_settime(t, TIMER_ABSTIME, &v, 0));
	waitfor(&usr1s);
	printf("absolute: signals %d, not early %d\n", usr1s, now(CLOCK_MONOTONIC) - t0 >= 45 * MS);
	printf("timer_delete = %d\n", timer_delete(t));
	show("timer_delete again", timer_delete(t));

	/* SIGEV_THREAD_ID: to one thread. */
	volatile pid_t tid = 0;
	pthread_t th;
	usr1s = 0;
	pthread_create(&th, 0, waiter, (void *)&tid);
	while (!tid) msleep(1);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_notify_thread_id = tid;
	printf("timer_create(SIGEV_THREAD_ID) = %d\n", timer_create(CLOCK_MONOTONIC, &sev, &t));
	v = its(20 * MS, 0);
	timer_settime(t, 0, &v, 0);
	pthread_join(th, 0);
	printf("SIGEV_THREAD_ID: signals %d, to that thread %d\n", usr1s, usr1tid == tid);
	timer_delete(t);
	sev.sigev_notify_thread_id = 999999;
	show("timer_create(SIGEV_THREAD_ID, no such thread)", timer_create(CLOCK_MONOTONIC, &sev, &t));

	/* Overruns: the signal stays blocked while a periodic timer runs. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, &old);
	handle(SIGUSR2, 0, on_usr2);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR2;
	timer_create(CLOCK_BOOTTIME, &sev, &usr2timer);
	v = its(10 * MS, 10 * MS);
	timer_settime(usr2timer, 0, &v, 0);
	msleep(200);
	sigprocmask(SIG_SETMASK, &old, 0);
	v = its(0, 0);
	timer_settime(usr2timer, 0, &v, 0);
	printf("overrun: signalled %d, si_overrun in 8..25 %d, timer_getoverrun the same %d\n", usr2s > 0,
	       usr2overrun >= 8 && usr2overrun <= 25, usr2getoverrun == usr2overrun);
	timer_delete(usr2timer);

	/* SIGEV_NONE: nothing sent, the time still runs. */
	sev.sigev_notify = SIGEV_NONE;
	timer_create(CLOCK_MONOTONIC, &sev, &t);
	v = its(1000 * MS, 0);
	timer_settime(t, 0, &v, 0);
	msleep(20);
	timer_gettime(t, &cur);
	printf("SIGEV_NONE: value in [0.5 s, 1 s) %d\n", ns(cur.it_value) >= 500 * MS && ns(cur.it_value) < 1000 * MS);
	timer_delete(t);

	/* Bad arguments. */
	errno = 0;
	show("timer_create(clock 42)", timer_create(42, 0, &t));
	timer_create(CLOCK_MONOTONIC, 0, &t);
	struct itimerspec bad = its(0, 0);
	bad.it_value.tv_nsec = 1000000000;
	show("timer_settime(bad nsec)", timer_settime(t, 0, &bad, 0));
	show("timer_settime(NULL)", syscall(SYS_timer_settime, (long)t, 0, 0, 0));
	show("timer_gettime(bad pointer)", syscall(SYS_timer_gettime, (long)t, (void *)8));
	timer_delete(t);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = 0;
	show("timer_create(signal 0)", timer_create(CLOCK_MONOTONIC, &sev, &t));
}

static void test_timerfd(void) {
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	uint64_t n = 0;
	printf("timerfd_create = %d, cloexec %d\n", fd >= 0, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	show("read unarmed", read(fd, &n, 8));
	struct itimerspec v = its(20 * MS, 20 * MS), cur;
	printf("timerfd_settime = %d\n", timerfd_settime(fd, 0, &v, 0));
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, got;
	printf("epoll_ctl = %d\n", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	int r = epoll_wait(ep, &got, 1, 2000);
	printf("epoll_wait = %d, EPOLLIN %d, data %u\n", r, (got.events & EPOLLIN) != 0, got.data.u32);
	msleep(100);
	ssize_t rn = read(fd, &n, 8);
	printf("read = %zd, count in 2..12 %d\n", rn, n >= 2 && n <= 12);
	printf("epoll_wait after read = %d\n", epoll_wait(ep, &got, 1, 0));
	timerfd_gettime(fd, &cur);
	printf("timerfd_gettime: interval 20 ms %d, value in (0, 20 ms] %d\n", ns(cur.it_interval) == 20 * MS,
	       ns(cur.it_value) > 0 && ns(cur.it_value) <= 20 * MS);
	struct pollfd pfd = {fd, POLLIN, 0};
	r = poll(&pfd, 1, 2000);
	printf("poll = %d, POLLIN %d\n", r, (pfd.revents & POLLIN) != 0);
	v = its(0, 0);
	timerfd_settime(fd, 0, &v, 0);
	show("read after disarm", read(fd, &n, 8));
	close(ep);
	close(fd);

	/* Blocking, absolute on CLOCK_REALTIME. */
	fd = timerfd_create(CLOCK_REALTIME, 0);
	v = its(now(CLOCK_REALTIME) + 50 * MS, 0);
	int64_t t0 = now(CLOCK_MONOTONIC);
	printf("timerfd_settime(TFD_TIMER_ABSTIME) = %d\n", timerfd_settime(fd, TFD_TIMER_ABSTIME, &v, 0));
	n = 0;
	rn = read(fd, &n, 8);
	printf("blocking read = %zd, count %llu, not early %d\n", rn, (unsigned long long)n,
	       now(CLOCK_MONOTONIC) - t0 >= 45 * MS);
	show("short read", read(fd, &n, 4));
	close(fd);
	show("timerfd_create(bad flags)", timerfd_create(CLOCK_MONOTONIC, 1));
}

static volatile int sleeperdone;

static void *sleeper(void *arg) {
	(void)arg;
	msleep(200);
	sleeperdone = 1;
	return 0;
}

static void test_cputime(void) {
	handle(SIGPROF, 0, on_prof);
	handle(SIGVTALRM, 0, on_prof);

	/* ITIMER_PROF and ITIMER_VIRTUAL tick with the process's CPU time. */
	struct itimerval it = {{0, 10000}, {0, 10000}}, off = {{0, 0}, {0, 0}};
	printf("setitimer(ITIMER_PROF) = %d\n", setitimer(ITIMER_PROF, &it, 0));
	printf("setitimer(ITIMER_VIRTUAL) = %d\n", setitimer(ITIMER_VIRTUAL, &it, 0));
	burn(CLOCK_PROCESS_CPUTIME_ID, 200);
	setitimer(ITIMER_PROF, &off, 0);
	setitimer(ITIMER_VIRTUAL, &off, 0);
	printf("ITIMER_PROF: SIGPROFs for 200 ms of CPU in 10..25 %d, SI_KERNEL %d\n", profs >= 10 && profs <= 25,
	       profcode == SI_KERNEL);
	printf("ITIMER_VIRTUAL: SIGVTALRMs in 5..25 %d\n", vtalrms >= 5 && vtalrms <= 25);

	/* A thread's CPU-time timer, as Go's profiler makes them. */
	timer_t t;
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGPROF;
	sev.sigev_notify_thread_id = gettid_();
	printf("timer_create(CLOCK_THREAD_CPUTIME_ID) = %d\n", timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &t));
	struct itimerspec v = its(10 * MS, 10 * MS), cur;
	timer_settime(t, 0, &v, 0);
	profs = 0;
	msleep(100);
	printf("sleeping: no SIGPROF %d\n", profs == 0);
	timer_gettime(t, &cur);
	printf("timer_gettime while sleeping: value in (5 ms, 10 ms] %d\n", ns(cur.it_value) > 5 * MS && ns(cur.it_value) <= 10 * MS);
	burn(CLOCK_THREAD_CPUTIME_ID, 200);
	v = its(0, 0);
	timer_settime(t, 0, &v, 0);
	printf("burning: SIGPROFs for 200 ms of CPU in 10..25 %d, SI_TIMER %d, this thread %d\n", profs >= 10 && profs <= 25,
	       profcode == SI_TIMER, proftid == maintid);
	timer_delete(t);

	/* Another thread's CPU clock (pthread_getcpuclockid): it sleeps. */
	pthread_t th;
	clockid_t cid;
	pthread_create(&th, 0, sleeper, 0);
	pthread_getcpuclockid(th, &cid);
	sev.sigev_notify = SIGEV_SIGNAL;
	printf("timer_create(sleeper's CPU clock) = %d\n", timer_create(cid, &sev, &t));
	v = its(5 * MS, 0);
	timer_settime(t, 0, &v, 0);
	profs = 0;
	burn(CLOCK_THREAD_CPUTIME_ID, 50);
	printf("sleeper's clock: no SIGPROF while it sleeps %d\n", profs == 0);
	pthread_join(th, 0);
	timer_delete(t);
	errno = 0;
	show("timerfd_create(CLOCK_THREAD_CPUTIME_ID)", timerfd_create(CLOCK_THREAD_CPUTIME_ID, 0));
}

int main(void) {
	setvbuf(stdout, 0, _IONBF, 0);
	maintid = gettid_();
	test_alarm();
	test_setitimer();
	test_posix_timers();
	test_timerfd();
	test_cputime();
	printf("done\n");
	return 0;
}
