/*
 * twserver - a static server for the kernel backend's tests, which the
 * library cannot reach.
 *
 *   twserver PORT COUNT REQ [noreuse] [v6]
 *	accept COUNT connections; from each, read REQ bytes, answer "ok\n",
 *	then read on to EOF.  Prints one line: how many gave every byte then
 *	EOF, how many fell short, how many were reset.  Sets SO_REUSEADDR
 *	unless "noreuse"; listens on ::1 with "v6", else on 127.0.0.1.
 *   twserver PORT once noreuse
 *	accept one connection, answer, close first (the TIME_WAIT is here).
 * A "listening" line on stdout says when to connect; bind errors exit 3.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static long req_bytes;
static long complete, shortread, reset;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *
serve(void *arg)
{
	int fd = (int)(long)arg;
	char buf[65536];
	long got = 0;
	bool answered = false, eof = false, rst = false;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);

		if (n == 0) {
			eof = true;
			break;
		}
		if (n < 0) {
			rst = errno == ECONNRESET;
			break;
		}
		got += n;
		if (!answered && got >= req_bytes) {
			answered = true;
			if (write(fd, "ok\n", 3) != 3)
				break;
		}
	}
	close(fd);
	pthread_mutex_lock(&lock);
	if (eof && got == req_bytes)
		complete++;
	else if (rst)
		reset++;
	else
		shortread++;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	bool once = argc > 2 && strcmp(argv[2], "once") == 0;
	bool reuse = true, v6 = false;
	long count = once ? 1 : argc > 2 ? atol(argv[2]) : 1;
	pthread_t *threads;
	int one = 1, lfd;

	if (argc < 3) {
		fprintf(stderr, "usage: twserver PORT COUNT REQ [noreuse] | PORT once noreuse\n");
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		reuse &= strcmp(argv[i], "noreuse") != 0;
		v6 |= strcmp(argv[i], "v6") == 0;
	}
	req_bytes = once ? 1 : argc > 3 ? atol(argv[3]) : 1;
	sa.sin_port = sa6.sin6_port = htons((uint16_t)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (reuse)
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (v6 ? bind(lfd, (struct sockaddr *)&sa6, sizeof sa6) < 0 :
	    bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		printf("bind: %s\n", strerror(errno));
		return 3;
	}
	listen(lfd, 512);
	printf("listening\n");
	fflush(stdout);
	if (once) {
		char buf[64];
		int fd = accept(lfd, NULL, NULL);

		if (read(fd, buf, sizeof buf) > 0 && write(fd, "ok\n", 3) == 3)
			printf("answered, closing first\n");
		close(fd);
		return 0;
	}
	threads = calloc((size_t)count, sizeof *threads);
	for (long i = 0; i < count; i++) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			return 1;
		pthread_create(&threads[i], NULL, serve, (void *)(long)fd);
	}
	for (long i = 0; i < count; i++)
		pthread_join(threads[i], NULL);
	printf("server: %ld connections: %ld every byte then EOF, %ld short, %ld reset\n",
	    count, complete, shortread, reset);
	return 0;
}
