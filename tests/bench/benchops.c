/*
 * benchops OP N - repeat one operation N times, for instruction counting
 * under callgrind (bare and preloaded; the difference over two values of N
 * is the shim's cost per call) and for the scale measurements.
 *
 *	close N		close() of a file descriptor (made without hooks)
 *	open N		open() + close() of /dev/null
 *	pipe N		pipe() + close() of both ends
 *	fopen N		fopen() + fclose() of /dev/null
 *	read N		read() of one byte from /dev/zero
 *	socket N	socket() + close() of a TCP socket
 *	connect N	socket() + connect() + close() to a listener in-process
 *	cycle N [time]	the same with accept4() and close() of the accepted socket
 *			through libc (both ends meet the policy); with "time",
 *			prints the nanoseconds per cycle
 *	lookup N HELD	setsockopt() N times on one of HELD tracked sockets
 *	pool N PORT [PORT2 FILL]
 *			N connects to 127.0.0.1:PORT, each timed ("a US" a line;
 *			the client closes first, so its ports stay busy); with
 *			PORT2, FILL untimed connects to it first, then one timed
 *			("b US") after each of the N
 *	threads T N	T threads, each N times socket() + connect() + close()
 *			(with a reset) to a listener in-process; prints the
 *			seconds taken
 *	hold N		open N TCP sockets and print how much VmRSS grew
 */
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static long
rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kb;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_in listen_sa;
static long per_thread;

/* Accept and close through raw system calls: only the clients meet the shim. */
static void *
acceptor(void *arg)
{
	int l = *(int *)arg;

	for (;;) {
		int a = (int)syscall(SYS_accept4, l, NULL, NULL, 0);
		if (a >= 0)
			syscall(SYS_close, a);
	}
	return NULL;
}

/* Each closes with a reset: no TIME_WAIT piles up to slow the kernel's port search. */
static void *
client(void *arg)
{
	struct linger reset = { 1, 0 };

	(void)arg;
	for (long i = 0; i < per_thread; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (connect(s, (struct sockaddr *)&listen_sa, sizeof listen_sa) < 0) {
			perror("benchops: connect");
			exit(1);
		}
		setsockopt(s, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
		close(s);
	}
	return NULL;
}

static int
threads(int nthreads, long n)
{
	socklen_t len = sizeof listen_sa;
	pthread_t acc, *tid = calloc((size_t)nthreads, sizeof *tid);
	int l = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	double t0;

	listen_sa.sin_family = AF_INET;
	listen_sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (tid == NULL || bind(l, (struct sockaddr *)&listen_sa, sizeof listen_sa) < 0 ||
	    listen(l, 4096) < 0 || getsockname(l, (struct sockaddr *)&listen_sa, &len) < 0) {
		perror("benchops: listener");
		return 1;
	}
	pthread_create(&acc, NULL, acceptor, &l);
	per_thread = n;
	t0 = now_s();
	for (int i = 0; i < nthreads; i++)
		pthread_create(&tid[i], NULL, client, NULL);
	for (int i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	printf("%.6f\n", now_s() - t0);
	return 0;
}

/* connect() to 127.0.0.1:port and close first; the microseconds connect() took, or -1. */
static double
timed_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM, 0);
	double t0 = now_s(), us;

	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("benchops: connect");
		return -1;
	}
	us = (now_s() - t0) * 1e6;
	close(s);
	return us;
}

/*
 * pool N PORT [PORT2 FILL]: FILL untimed connects to PORT2 first, then N
 * rounds of a timed connect to PORT ("a US") and, with PORT2, one to it
 * ("b US"): the two destinations' 4-tuples fill apart, interleaved.
 */
static int
pool(long n, int port, int port2, long fill)
{
	double a, b;

	for (long i = 0; i < fill; i++)
		if (timed_connect(port2) < 0)
			return 1;
	for (long i = 0; i < n; i++) {
		if ((a = timed_connect(port)) < 0)
			return 1;
		printf("a %.1f\n", a);
		if (port2 > 0) {
			if ((b = timed_connect(port2)) < 0)
				return 1;
			printf("b %.1f\n", b);
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 1000;
	const char *op = argc > 1 ? argv[1] : "close";
	int one = 1;

	if (strcmp(op, "close") == 0) {
		int base = open("/dev/null", O_RDONLY);
		for (long i = 0; i < n; i++) {
			int fd = (int)syscall(SYS_dup, base);
			close(fd);
		}
	} else if (strcmp(op, "open") == 0) {
		for (long i = 0; i < n; i++)
			close(open("/dev/null", O_RDONLY));
	} else if (strcmp(op, "pipe") == 0) {
		int fds[2];
		for (long i = 0; i < n; i++)
			if (pipe(fds) == 0) {
				close(fds[0]);
				close(fds[1]);
			}
	} else if (strcmp(op, "fopen") == 0) {
		for (long i = 0; i < n; i++) {
			FILE *f = fopen("/dev/null", "r");
			if (f != NULL)
				fclose(f);
		}
	} else if (strcmp(op, "read") == 0) {
		int fd = open("/dev/zero", O_RDONLY);
		char c;
		for (long i = 0; i < n; i++)
			if (read(fd, &c, 1) != 1)
				return 1;
	} else if (strcmp(op, "socket") == 0) {
		for (long i = 0; i < n; i++)
			close(socket(AF_INET, SOCK_STREAM, 0));
	} else if (strcmp(op, "connect") == 0 || strcmp(op, "cycle") == 0) {
		bool hooked = strcmp(op, "cycle") == 0;
		struct sockaddr_in sa = { .sin_family = AF_INET,
		    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof sa;
		int l = socket(AF_INET, SOCK_STREAM, 0);
		double t0;

		bind(l, (struct sockaddr *)&sa, sizeof sa);
		listen(l, 128);
		getsockname(l, (struct sockaddr *)&sa, &len);
		t0 = now_s();
		for (long i = 0; i < n; i++) {
			int s = socket(AF_INET, SOCK_STREAM, 0);
			connect(s, (struct sockaddr *)&sa, sizeof sa);
			if (hooked) {
				close(accept4(l, NULL, NULL, 0));
			} else {
				int a = (int)syscall(SYS_accept4, l, NULL, NULL, 0);
				syscall(SYS_close, a);
			}
			close(s);
		}
		if (argc > 3 && strcmp(argv[3], "time") == 0 && n > 0)
			printf("%.0f\n", (now_s() - t0) * 1e9 / (double)n);
	} else if (strcmp(op, "lookup") == 0 || strcmp(op, "hold") == 0) {
		long held = strcmp(op, "hold") == 0 ? n : argc > 3 ? atol(argv[3]) : 10;
		struct rlimit rl = { (rlim_t)held + 100, (rlim_t)held + 100 };
		long before, after;
		int s = -1;

		setrlimit(RLIMIT_NOFILE, &rl);
		before = rss_kb();
		for (long i = 0; i < held; i++)
			if ((s = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
				perror("benchops: socket");
				return 1;
			}
		after = rss_kb();
		if (strcmp(op, "hold") == 0) {
			printf("held %ld sockets: VmRSS grew by %ld kB\n", held, after - before);
			return 0;
		}
		for (long i = 0; i < n; i++)
			setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	} else if (strcmp(op, "pool") == 0) {
		return pool(n, argc > 3 ? atoi(argv[3]) : 9100, argc > 5 ? atoi(argv[4]) : 0,
		    argc > 5 ? atol(argv[5]) : 0);
	} else if (strcmp(op, "threads") == 0) {
		return threads(atoi(argv[2]), argc > 3 ? atol(argv[3]) : 1000);
	} else {
		fprintf(stderr, "benchops: unknown op %s\n", op);
		return 2;
	}
	return 0;
}
