/*
 * twclient - a static client for the kernel backend's tests.
 *
 *   twclient ADDR PORT COUNT REQ
 *	COUNT connections one after another: connect, send REQ bytes, read
 *	the answer to its end, close (first, so the TIME_WAIT is here).
 *	Prints "client: N of COUNT" and, at the first failure, its error.
 *   twclient ADDR PORT info | info-own
 *	one connection; prints the options it has once connected:
 *	"port P keepalive K idle I intvl V cnt C nodelay N user_timeout U".
 *	info-own first sets its own: TCP_NODELAY 1, SO_KEEPALIVE 1 with
 *	TCP_KEEPIDLE 100.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof v;

	getsockopt(fd, level, name, &v, &len);
	return v;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	bool info = argc > 3 && strncmp(argv[3], "info", 4) == 0;
	bool own = info && strcmp(argv[3], "info-own") == 0;
	long count = info ? 1 : argc > 3 ? atol(argv[3]) : 1;
	long req = argc > 4 ? atol(argv[4]) : 100;
	char *buf;
	long done = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: twclient ADDR PORT COUNT REQ | ADDR PORT info\n");
		return 2;
	}
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	buf = calloc(1, (size_t)(req > 4096 ? req : 4096));
	for (long i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		ssize_t n;

		if (own) {
			int one = 1, idle = 100;

			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
			setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			printf("client: %ld of %ld; connect #%ld: %s\n", done, count, i + 1,
			    strerror(errno));
			return 1;
		}
		if (info) {
			struct sockaddr_in me;
			socklen_t len = sizeof me;

			getsockname(fd, (struct sockaddr *)&me, &len);
			printf("port %u keepalive %d idle %d intvl %d cnt %d nodelay %d user_timeout %d\n",
			    ntohs(me.sin_port), opt(fd, SOL_SOCKET, SO_KEEPALIVE),
			    opt(fd, IPPROTO_TCP, TCP_KEEPIDLE), opt(fd, IPPROTO_TCP, TCP_KEEPINTVL),
			    opt(fd, IPPROTO_TCP, TCP_KEEPCNT), opt(fd, IPPROTO_TCP, TCP_NODELAY),
			    opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
		}
		if (write(fd, buf, (size_t)req) != req) {
			printf("client: %ld of %ld; write #%ld: %s\n", done, count, i + 1,
			    strerror(errno));
			return 1;
		}
		while ((n = read(fd, buf, 4096)) > 0)
			if (memchr(buf, '\n', (size_t)n) != NULL)
				break;
		close(fd);
		done++;
	}
	printf("client: %ld of %ld\n", done, count);
	return 0;
}
