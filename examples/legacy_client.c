/*
 * legacy_client - a client written the way many are: a new TCP connection
 * per request, no socket options, close() as soon as the answer is in.
 * Closing first puts each connection's TIME_WAIT on this side, and with
 * enough requests to one server the ephemeral ports run out.
 *
 *	legacy_client [-n COUNT] [-q] [-r] [-w] HOST PORT
 *
 * Sends "ping\n", reads the answer up to a newline (with -w: to EOF, so the
 * server closes first, as an HTTP/1.0 client does; with -r: with recv()
 * rather than read()), closes.  Prints how many requests completed and the
 * first error; exits 0 only if all did.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int wait_eof, use_recv;

static int
one_request(const struct addrinfo *ai)
{
	char buf[256];
	ssize_t n;
	int fd = socket(ai->ai_family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    write(fd, "ping\n", 5) != 5) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	while ((n = use_recv ? recv(fd, buf, sizeof buf, 0) : read(fd, buf, sizeof buf)) > 0)
		if (!wait_eof && memchr(buf, '\n', (size_t)n) != NULL)
			break;
	if (n < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
#ifdef NATIVE_ABORT
	/* The benchmark's "patched natively" build: what close = abort does. */
	struct linger l = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
#endif
	return close(fd);
}

int
main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	long count = 1, ok = 0, failed = 0, first_fail = 0;
	int c, quiet = 0, first_errno = 0, rc;

	while ((c = getopt(argc, argv, "n:qrw")) != -1) {
		switch (c) {
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		case 'q':
			quiet = 1;
			break;
		case 'r':
			use_recv = 1;
			break;
		case 'w':
			wait_eof = 1;
			break;
		default:
			fprintf(stderr, "usage: legacy_client [-n COUNT] [-q] [-r] [-w] HOST PORT\n");
			return 2;
		}
	}
	if (argc - optind != 2 || count < 1) {
		fprintf(stderr, "usage: legacy_client [-n COUNT] [-q] [-r] [-w] HOST PORT\n");
		return 2;
	}
	if ((rc = getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai)) != 0) {
		fprintf(stderr, "legacy_client: %s: %s\n", argv[optind], gai_strerror(rc));
		return 2;
	}
	for (long i = 1; i <= count; i++) {
		if (one_request(ai) == 0) {
			ok++;
			continue;
		}
		if (failed++ == 0) {
			first_fail = i;
			first_errno = errno;
		}
		/* Past the first hundred failures nothing new will be learned. */
		if (failed >= 100)
			break;
	}
	freeaddrinfo(ai);
	if (!quiet || failed) {
		printf("legacy_client: %ld of %ld requests completed", ok, count);
		if (failed)
			printf("; first failure at request %ld: %s", first_fail,
			    strerror(first_errno));
		printf("\n");
	}
	return ok == count ? 0 : 1;
}
