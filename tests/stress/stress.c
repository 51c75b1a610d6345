/*
 * stress - threads hammering socket/dup/dup2/fcntl/close/open with the
 * shim linked into the program (so ThreadSanitizer sees all of it).
 *
 *	stress THREADS ITERATIONS [soak]
 *
 * Every thread checks, after each step, that the table agrees with the
 * kernel about the descriptors it owns.  At the end the table must be
 * empty and the process must hold the descriptors it started with.
 *
 * With "soak", every iteration also connects, to one of three listeners
 * on ports 7901-7903 that accept and close at once; run it with a policy
 * that gives each port its own close strategy (see tests/run-all.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../helpers/helper.h"

#include "fdtable.h"
#include "mem.h"

static long iterations;
static int listen_port;
static bool soak;
static unsigned long mismatches;
static int stopping;

static bool
tracked(int fd)
{
	bool found = false;

	if (fdt_enter()) {
		found = fdt_find(fd) != NULL;
		fdt_leave();
	}
	return found;
}

static void
expect(bool ok, const char *what, long i)
{
	if (!ok && __atomic_fetch_add(&mismatches, 1, __ATOMIC_RELAXED) < 10)
		fprintf(stderr, "stress: iteration %ld: %s\n", i, what);
}

static void *
worker(void *arg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	long id = (long)arg;

	sa.sin_port = htons((unsigned short)listen_port);
	for (long i = 0; i < iterations; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		int f = open("/dev/null", O_RDONLY);
		int d, e;

		if (s < 0 || f < 0) {
			expect(false, strerror(errno), i);
			break;
		}
		expect(tracked(s), "new socket not tracked", i);
		if (soak) {
			sa.sin_port = htons((unsigned short)(7901 + i % 3));
			(void)connect(s, (struct sockaddr *)&sa, sizeof sa);
			if (i % 2)
				(void)write(s, "x", 1);
		} else if (i % 64 == id) {
			/* Non-blocking: a full backlog must not stall the storm. */
			(void)fcntl(s, F_SETFL, O_NONBLOCK);
			(void)connect(s, (struct sockaddr *)&sa, sizeof sa);
		}
		d = dup(s);
		expect(tracked(d), "dup not tracked", i);
		/* dup2 the socket over the file, then the file's number is the socket's. */
		e = dup2(s, f);
		expect(e == f && tracked(f), "dup2 target not tracked", i);
		close(s);
		expect(tracked(d) && tracked(f), "closing one copy untracked the others", i);
		close(d);
		s = fcntl(f, i % 2 ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
		expect(tracked(s), "F_DUPFD not tracked", i);
		close(f);
		close(s);
		/* The numbers are free again; a file in their place is not a socket. */
		f = open("/dev/null", O_RDONLY);
		expect(!tracked(f), "a fresh file inherited a socket's entry", i);
		close(f);
	}
	return NULL;
}

/* The program's descriptors: the shim's own (the reaper's) do not count. */
static int
program_fds(void)
{
	int n = count_fds();

	for (int fd = 0; fd < TW_FLAG_SLOTS; fd++)
		n -= fdt_is_internal(fd);
	return n;
}

/* A soak listener: accept and close at once, so peers often close first. */
static void *
acceptor(void *arg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_port = htons((unsigned short)(long)arg);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 4096) < 0) {
		perror("stress: soak listener");
		exit(1);
	}
	while (!__atomic_load_n(&stopping, __ATOMIC_RELAXED)) {
		int c = accept4(l, NULL, NULL, SOCK_NONBLOCK);
		if (c >= 0)
			close(c);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	int threads = argc > 1 ? atoi(argv[1]) : 4;
	pthread_t tid[64];
	int lfd, before, after;
	unsigned left;

	iterations = argc > 2 ? atol(argv[2]) : 100000;
	soak = argc > 3 && strcmp(argv[3], "soak") == 0;
	if (threads < 1 || threads > 64)
		threads = 4;
	/* A listener whose backlog absorbs the connects; nothing accepts. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
		perror("stress: listener");
		return 1;
	}
	listen_port = ntohs(sa.sin_port);
	if (soak)
		for (long port = 7901; port <= 7903; port++) {
			pthread_t a;
			pthread_create(&a, NULL, acceptor, (void *)port);
			pthread_detach(a);
		}
	usleep(100000);
	before = program_fds();
	for (int t = 0; t < threads; t++)
		pthread_create(&tid[t], NULL, worker, (void *)(long)t);
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	/* What the reaper still holds is finished within its waits (100 ms). */
	usleep(300000);
	after = program_fds();
	if (fdt_enter()) {
		left = fdt_count();
		fdt_leave();
	} else {
		left = ~0u;
	}
	close(lfd);
	printf("stress: %d threads x %ld iterations%s: %lu mismatches, %u entries left "
	    "(the listeners are %d), descriptors %d before, %d after, %zu kB mapped by the shim\n",
	    threads, iterations, soak ? " with connects" : "", mismatches, left, soak ? 4 : 1,
	    before, after, tw_mem_mapped() / 1024);
	__atomic_store_n(&stopping, 1, __ATOMIC_RELAXED);
	return mismatches == 0 && left == (soak ? 4u : 1u) && before == after ? 0 : 1;
}
