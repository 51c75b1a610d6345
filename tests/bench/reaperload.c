/*
 * reaperload N M - the cost of a waiting close with N others pending.  A
 * child process accepts and keeps every connection, so each peer-first
 * close stays pending (run it under close = peer-first with a long wait).
 * Makes N such closes, then times M more connect()+close() pairs and
 * prints the median, the 99th percentile and the worst of close() alone, in
 * microseconds.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static int
dial(const struct sockaddr_in *sa)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (const struct sockaddr *)sa, sizeof *sa) < 0) {
		perror("reaperload: connect");
		exit(1);
	}
	return s;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int n, m, lfd;
	long *took;
	pid_t child;

	if (argc != 3)
		return 2;
	n = atoi(argv[1]);
	m = atoi(argv[2]);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		return 1;
	if ((child = fork()) == 0) {
		for (;;)
			(void)accept(lfd, NULL, NULL);	/* kept open: never the first to close */
	}
	close(lfd);
	for (int i = 0; i < n; i++)
		close(dial(&sa));
	took = calloc((size_t)m, sizeof *took);
	for (int i = 0; i < m; i++) {
		int s = dial(&sa);
		long t0 = now_us();

		close(s);
		took[i] = now_us() - t0;
	}
	qsort(took, (size_t)m, sizeof *took, cmp_long);
	printf("%ld %ld %ld\n", took[m / 2], took[m * 99 / 100], took[m - 1]);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 0;
}
