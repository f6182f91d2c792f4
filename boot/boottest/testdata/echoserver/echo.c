/* echoserver: a static C TCP echo server, one thread per connection, as
 * unmodified programs are written. It listens on the port in argv[1]
 * (default 7) and echoes what it reads. A connection that sends "QUIT\n"
 * as its first line ends the program with status 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve(void *arg) {
	int fd = (int)(long)arg;
	char buf[4096];
	ssize_t n;
	int first = 1;
	while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		if (first && n >= 5 && memcmp(buf, "QUIT\n", 5) == 0) {
			write(fd, "bye\n", 4);
			close(fd);
			exit(0);
		}
		first = 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, n - off);
			if (w <= 0) {
				close(fd);
				return NULL;
			}
			off += w;
		}
	}
	if (n < 0)
		perror("echoserver: read");
	close(fd);
	return NULL;
}

int main(int argc, char **argv) {
	int port = argc > 1 ? atoi(argv[1]) : 7;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0) {
		perror("socket");
		return 1;
	}
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 128) < 0) {
		perror("bind/listen");
		return 1;
	}
	printf("echoserver: listening on %d\n", port);
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			perror("accept");
			continue;
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 64 << 10);
		int err = pthread_create(&t, &at, serve, (void *)(long)c);
		if (err != 0) {
			fprintf(stderr, "echoserver: pthread_create: %s\n", strerror(err));
			close(c);
		}
	}
}
