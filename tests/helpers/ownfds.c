/*
 * ownfds - programs that collide with the descriptors a library may keep
 * for itself at high numbers (the reaper's), each printing what it saw.
 *
 *	ownfds stale PORT	raw close_range over them, then reuse the numbers
 *	ownfds fill PORT	close one socket, then dup2() onto every number
 *	ownfds race PORT N	dup2() onto a high number while another thread closes sockets
 *	ownfds fork PORT	close one socket, then _Fork(); the child lives on
 *	ownfds rawepoll PORT	a socket in epoll through the raw system call, then close()
 *	ownfds logstale PORT LOG FILE	the log file's number closed raw, then a file of
 *				the program's put on it, a connection made, the file closed
 *	ownfds logrange PORT LOG	the log file's number closed raw, then close_range()
 *				over it: errno must be kept
 *
 * PORT is a local server that answers each line with "ok\n" and never
 * closes first.  Run under `ulimit -n 64` (stale, fill) or higher (race).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"

static int port;

static int
dial(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int s = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("ownfds: connect: %s", strerror(errno));
	return s;
}

/* A line out, "ok" back: the connection works. */
static bool
ask(int s)
{
	char buf[8];

	return write(s, "hi\n", 3) == 3 && read(s, buf, sizeof buf) >= 2 && buf[0] == 'o';
}

static long
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L;
}

static int
floor_of_limit(void)
{
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	return (int)(rl.rlim_cur - rl.rlim_cur / 4);
}

/* Sleep ms, and say how much CPU the process burnt meanwhile. */
static void
idle_cpu(int ms)
{
	long before = cpu_ms();

	usleep((useconds_t)ms * 1000);
	printf("cpu_ms: %ld\n", cpu_ms() - before);
}

static int
stale(void)
{
	int s = dial(), lo = floor_of_limit(), fds[16], n = 0, good = 0, p[2];

	if (!ask(s))
		die("ownfds: no answer");
	close(s);				/* waits on a duplicate up there */
	while ((s = open("/dev/null", O_RDONLY)) >= 0 && s < lo - 1)
		;
	/* The close the library cannot see: everything from the floor up. */
	printf("raw_close_range: %ld\n", syscall(SYS_close_range, lo, ~0U, 0));
	/* Above the two numbers pipe() takes next: close_range() over stale ones keeps errno. */
	errno = 12345;
	n = close_range((unsigned)lo + 2, (unsigned)lo + 8, 0);
	printf("close_range_stale: %d errno %d\n", n, errno);
	n = 0;
	if (pipe(p) < 0)
		die("ownfds: pipe: %s", strerror(errno));
	printf("pipe_at: %d\n", p[0]);
	printf("close_pipe: %d\n", close(p[0]));
	printf("pipe_still_open: %d\n", fcntl(p[0], F_GETFD) >= 0);
	close(p[1]);
	for (n = 0; n < 8; n++)
		fds[n] = dial();
	printf("sockets_from: %d\n", fds[0]);
	idle_cpu(2500);				/* past the 2 s wait of the first close */
	for (int i = 0; i < n; i++)
		good += ask(fds[i]);
	printf("sockets_working: %d of %d\n", good, n);
	return 0;
}

static int
fill(void)
{
	int s = dial(), null = open("/dev/null", O_RDONLY), moved = 0;
	struct rlimit rl;

	if (!ask(s))
		die("ownfds: no answer");
	close(s);
	getrlimit(RLIMIT_NOFILE, &rl);
	for (int fd = 3; fd < (int)rl.rlim_cur; fd++)
		if (fd != null && dup2(null, fd) == fd)
			moved++;
	printf("dup2_done: %d\n", moved);
	idle_cpu(2500);
	return 0;
}

static volatile int racing = 1;
static int high;

static void *
closer(void *arg)
{
	long n = (long)arg;

	for (long i = 0; i < n; i++) {
		int s = dial();

		close(s);
	}
	racing = 0;
	return NULL;
}

static int
race(long closes)
{
	pthread_t t;
	long rounds = 0, left_open = 0, bad_rc = 0;
	int p[2];

	high = floor_of_limit() < 1024 ? floor_of_limit() + 4 : 1028;
	pthread_create(&t, NULL, closer, (void *)closes);
	while (racing) {
		if (pipe(p) < 0)
			die("ownfds: pipe: %s", strerror(errno));
		if (dup2(p[0], high) == high) {
			struct stat pst, st;

			fstat(p[0], &pst);
			if (close(high) != 0)
				bad_rc++;
			else if (fstat(high, &st) == 0 && st.st_ino == pst.st_ino &&
			    st.st_dev == pst.st_dev) {
				/* Still our pipe: the number is free only once another takes it. */
				left_open++;
				(void)syscall(SYS_close, high);
			}
		}
		close(p[0]);
		close(p[1]);
		rounds++;
	}
	pthread_join(t, NULL);
	printf("rounds: %ld\n", rounds);
	printf("close_failed: %ld\n", bad_rc);
	printf("left_open: %ld\n", left_open);
	return 0;
}

static int
forked(void)
{
	int s = dial();
	pid_t child;

	if (!ask(s))
		die("ownfds: no answer");
	close(s);
	if ((child = _Fork()) == 0) {
		pause();		/* lives until killed, holding whatever it inherited */
		_exit(0);
	}
	printf("child: %d\n", (int)child);
	fflush(stdout);
	pause();
	return 0;
}

/*
 * epoll_ctl through syscall(2), which no library sees, for writability
 * (always there, and nothing consumes it); then close() and a pipe on the
 * same number: does epoll_wait still report the number?
 */
static int
rawepoll(void)
{
	struct epoll_event ev = { .events = EPOLLOUT }, out;
	int ep = epoll_create1(EPOLL_CLOEXEC), s = dial(), p[2];

	ev.data.fd = s;
	if (syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, s, &ev) < 0)
		die("ownfds: epoll_ctl: %s", strerror(errno));
	close(s);
	if (pipe(p) < 0)
		die("ownfds: pipe: %s", strerror(errno));
	printf("pipe_on_same_number: %d\n", p[0] == s);
	printf("reported: %d\n", epoll_wait(ep, &out, 1, 100));
	return 0;
}

/* The number the library's log file LOG is open on, or -1. */
static int
log_number(const char *log)
{
	char link[64], target[4096];

	for (int fd = 3; fd < 65536; fd++) {
		ssize_t n;

		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		if ((n = readlink(link, target, sizeof target - 1)) < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, log) == 0)
			return fd;
	}
	return -1;
}

/*
 * The library's log descriptor closed where it cannot see, and a file of
 * the program's given that very number: no log line may go into the
 * file, and close() of it must close it.
 */
static int
logstale(const char *log, const char *file)
{
	int at = log_number(log), f, mine, s;
	struct stat st;

	printf("log_at: %d\n", at);
	if (at < 0)
		return 1;
	printf("raw_close: %ld\n", syscall(SYS_close, at));
	if ((f = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		die("ownfds: open %s: %s", file, strerror(errno));
	mine = fcntl(f, F_DUPFD, at);
	close(f);
	printf("file_at_log_number: %d\n", mine == at);
	s = dial();			/* logged at info level */
	if (!ask(s))
		die("ownfds: no answer");
	close(s);
	fstat(mine, &st);
	printf("file_bytes: %lld\n", (long long)st.st_size);
	errno = 0;
	printf("close_file: %d\n", close(mine));
	printf("file_still_open: %d\n", fcntl(mine, F_GETFD) >= 0);
	return 0;
}

static int
logrange(const char *log)
{
	int at = log_number(log), rc, err;

	printf("log_at: %d\n", at);
	if (at < 0)
		return 1;
	printf("raw_close: %ld\n", syscall(SYS_close, at));
	errno = 12345;
	rc = close_range((unsigned)at, (unsigned)at + 8, 0);
	err = errno;
	printf("close_range: %d errno %d\n", rc, err);
	return 0;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		die("usage: ownfds stale|fill|race|fork PORT [N]");
	port = atoi(argv[2]);
	if (strcmp(argv[1], "stale") == 0)
		return stale();
	if (strcmp(argv[1], "fill") == 0)
		return fill();
	if (strcmp(argv[1], "race") == 0)
		return race(argc > 3 ? atol(argv[3]) : 2000);
	if (strcmp(argv[1], "fork") == 0)
		return forked();
	if (strcmp(argv[1], "rawepoll") == 0)
		return rawepoll();
	if (strcmp(argv[1], "logrange") == 0 && argc > 3)
		return logrange(argv[3]);
	if (strcmp(argv[1], "logstale") == 0 && argc > 4)
		return logstale(argv[3], argv[4]);
	die("ownfds: unknown %s", argv[1]);
}
