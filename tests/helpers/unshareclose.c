/*
 * unshareclose PORT - close_range() with flags the shim must respect.
 *
 * A worker thread calls close_range(3, ~0U, CLOSE_RANGE_UNSHARE): it gets
 * a private copy of the descriptor table and closes the range there only,
 * so the main thread's connected socket must stay usable.  Then
 * close_range() with an unknown flag (0x80): the kernel refuses it, and
 * nothing may have been closed or reset on the way.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE	(1U << 1)
#endif


static void *
worker(void *arg)
{
	(void)arg;
	print_result("unshare close_range", close_range(3, ~0U, CLOSE_RANGE_UNSHARE));
	return NULL;
}

static int
connected(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0)
		die("unshareclose: cannot connect");
	return fd;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	pthread_t t;
	int a, b;

	if (argc != 2)
		die("usage: unshareclose PORT");
	signal(SIGPIPE, SIG_IGN);
	sa.sin_port = htons((uint16_t)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	a = connected(&sa);
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		die("unshareclose: no thread");
	pthread_join(t, NULL);
	print_result("main write after unshare", write(a, "hello", 5));
	print_result("main close", close(a));

	b = connected(&sa);
	print_result("close_range flag 0x80", close_range((unsigned)b, (unsigned)b, 0x80));
	print_result("write after bad flag", write(b, "hi", 2));
	print_result("close after bad flag", close(b));
	return 0;
}
