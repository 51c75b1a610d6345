/*
 * errnos - return values and errno of the hooked calls on error paths and
 * of successful calls (which must leave errno alone).  The integration
 * test runs it bare and under the library and compares the output.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SHOW(expr) do {							\
	errno = 12345;							\
	long rc_ = (long)(expr);					\
	printf("%-48s rc=%ld errno=%s\n", #expr, rc_ < 0 ? -1 : rc_ >= 0 ? 0 : rc_,	\
	    errno == 12345 ? "kept" : strerrorname_np(errno));		\
} while (0)

int
main(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(9) };
	int s, n;

	SHOW(close(-1));
	SHOW(close(1000));
	SHOW(socket(12345, SOCK_STREAM, 0));
	SHOW(socket(AF_INET, SOCK_STREAM, 12345));
	SHOW(dup(-1));
	SHOW(dup2(-1, 5));
	SHOW(dup3(0, 0, 0));
	SHOW(fcntl(-1, F_DUPFD, 0));
	SHOW(close_range(10, 5, 0));
	SHOW(shutdown(-1, SHUT_WR));
	SHOW(setsockopt(-1, SOL_SOCKET, SO_REUSEADDR, &n, sizeof n));
	SHOW(listen(-1, 5));
	SHOW(accept(-1, NULL, NULL));
	SHOW(connect(-1, (struct sockaddr *)&sa, sizeof sa));

	s = socket(AF_INET, SOCK_STREAM, 0);
	SHOW(connect(s, (struct sockaddr *)&sa, sizeof sa));		/* refused */
	SHOW(close(s));
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	SHOW(connect(s, (struct sockaddr *)&sa6, sizeof sa6));		/* wrong family */
	SHOW(bind(s, (struct sockaddr *)&sa6, sizeof sa6));
	SHOW(accept(s, NULL, NULL));					/* not listening */
	SHOW(shutdown(s, SHUT_WR));					/* not connected */
	SHOW(listen(s, 5));
	SHOW(accept(s, NULL, NULL));					/* EAGAIN */
	SHOW(close(s));
	SHOW(close(s));							/* EBADF */
	s = socket(AF_INET, SOCK_STREAM, 0);
	n = 1;
	SHOW(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &n, sizeof n));
	SHOW(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &n, 1));		/* EINVAL */
	SHOW(dup2(s, s));
	SHOW(fcntl(s, F_GETFD));
	SHOW(close(s));
	return 0;
}
