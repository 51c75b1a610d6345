/*
 * legacy_server - a server written the way many are: no SO_REUSEADDR, one
 * connection at a time, "pong\n" for every request.
 *
 *	legacy_server [-m wait|close] [-n COUNT] PORT
 *
 * -m wait	(default) answer, then wait for the client to close first
 * -m close	answer and close at once: the server closes first, and its
 *		side keeps each connection's TIME_WAIT, which is what makes a
 *		quick restart fail with "Address already in use"
 * -n COUNT	exit after COUNT connections (default: run until killed)
 *
 * Prints "ready" on stdout once it listens.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void
serve(int fd, int close_first)
{
	char buf[256];
	ssize_t n;

	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (memchr(buf, '\n', (size_t)n) != NULL)
			break;
	if (n > 0 && write(fd, "pong\n", 5) != 5)
		return;
	if (!close_first)
		while (read(fd, buf, sizeof buf) > 0)
			;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	long count = -1, served = 0;
	int c, lfd, close_first = 0;

	while ((c = getopt(argc, argv, "m:n:")) != -1) {
		switch (c) {
		case 'm':
			close_first = strcmp(optarg, "close") == 0;
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: legacy_server [-m wait|close] [-n COUNT] PORT\n");
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: legacy_server [-m wait|close] [-n COUNT] PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sa.sin6_port = htons((unsigned short)atoi(argv[optind]));
	lfd = socket(AF_INET6, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 128) < 0) {
		fprintf(stderr, "legacy_server: port %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (count < 0 || served < count) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "legacy_server: accept: %s\n", strerror(errno));
			return 1;
		}
		serve(fd, close_first);
		close(fd);
		served++;
	}
	close(lfd);
	return 0;
}
