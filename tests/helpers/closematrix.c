/*
 * closematrix - one cell of the close strategy matrix: one connection in one
 * usage pattern, played by two processes.  "us" runs under the library and
 * closes the way the pattern says; "peer" runs bare and reports what its
 * application saw: how many bytes, how its read ended, whether a reset came
 * after the EOF, what a late write returned, what its shutdown() and a read
 * after it returned, what its first poll() after our close reported.
 *
 *	closematrix us PATTERN PORT RESULT DONE
 *	closematrix peer PATTERN PORT RESULT US_RESULT
 *
 * The side that listens is the peer, except in "serverfirst", where we are
 * the server.  The other side retries its connect until the listener is up,
 * so both can start together.  "us" stays alive after its close until the
 * file DONE exists, so that a close finished by the library's thread is not
 * cut short by the exit.  Each side writes one line of KEY=VALUE to RESULT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper.h"

enum { REQ = 100, RESP = 10000, UPLOAD = 100000, BANNER = 20, SLOW = 200000,
       PIPELINED = 10, LATE_ANSWER = 1000 };

/* How long a peer waits after its EOF before it looks for a reset and
 * closes: far longer than its delayed ACK of our FIN (at most 200 ms, 40 ms
 * on loopback), so a reset that ACK provokes has surely arrived. */
enum { SETTLE_MS = 300, SLOW_READER_MS = 300, GIVE_UP_MS = 100,
       PEER_CLOSES_AFTER_MS = 50, IO_TIMEOUT_S = 10 };

/* How long after our close a busy peer first polls: well past its delayed
 * ACK of our FIN (40 ms on loopback) and past peer-first's 200 ms, so that
 * whatever our close provokes has arrived, whichever strategy. */
enum { BUSY_PEER_MS = 400 };

static const char *pattern;
static FILE *result;

static bool
is(const char *name)
{
	return strcmp(pattern, name) == 0;
}

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* "ok", or the errno's symbolic name for the few a socket gives here. */
static const char *
outcome(int rc, int err)
{
	if (rc >= 0)
		return "ok";
	switch (err) {
	case EPIPE: return "EPIPE";
	case ECONNRESET: return "ECONNRESET";
	case EAGAIN: return "timeout";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ENOTCONN: return "ENOTCONN";
	default: return "other";
	}
}

static void
timeouts(int fd)
{
	struct timeval tv = { IO_TIMEOUT_S, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static struct sockaddr_in
loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int
accept_one(int port, int rcvbuf)
{
	struct sockaddr_in a = loopback(port);
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0), c;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (rcvbuf > 0)		/* inherited by the accepted socket */
		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0)
		die("closematrix: listen on %d: %s", port, strerror(errno));
	if ((c = accept(l, NULL, NULL)) < 0)
		die("closematrix: accept: %s", strerror(errno));
	close(l);
	timeouts(c);
	return c;
}

static int
connect_retrying(int port)
{
	struct sockaddr_in a = loopback(port);

	for (int i = 0; i < 1000; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
			timeouts(s);
			return s;
		}
		if (errno != ECONNREFUSED)
			die("closematrix: connect to %d: %s", port, strerror(errno));
		close(s);
		sleep_ms(10);
	}
	die("closematrix: nothing listens on %d", port);
}

static void
send_all(int fd, size_t n)
{
	char buf[16384];

	memset(buf, 'x', sizeof buf);
	while (n > 0) {
		ssize_t w = write(fd, buf, n < sizeof buf ? n : sizeof buf);

		if (w < 0)
			die("closematrix: %s: write: %s", pattern, strerror(errno));
		n -= (size_t)w;
	}
}

static void
read_exact(int fd, size_t n)
{
	char buf[16384];

	while (n > 0) {
		ssize_t r = read(fd, buf, n < sizeof buf ? n : sizeof buf);

		if (r <= 0)
			die("closematrix: %s: short read: %s", pattern, r ? strerror(errno) : "EOF");
		n -= (size_t)r;
	}
}

/* ---- the side under test ---- */

static long long sent;

static void
us_send(int fd, size_t n)
{
	send_all(fd, n);
	sent += (long long)n;
}

/*
 * Close once the peer's kernel has acknowledged everything we sent (except
 * in "slowpeer", whose point is data unacknowledged at close), so that the
 * outcome does not depend on how fast the ACKs come; then stay until the
 * harness is done.
 */
static void
us_close(int fd, const char *done)
{
	int outq = -1;

	for (int i = 0; i < 5000 && !is("slowpeer"); i++) {
		if (ioctl(fd, SIOCOUTQ, &outq) < 0 || outq == 0)
			break;
		sleep_ms(1);
	}
	ioctl(fd, SIOCOUTQ, &outq);
	fprintf(result, "sent=%lld outq=%d close_ns=%lld\n", sent, outq, now_ns());
	fflush(result);
	close(fd);
	/* Until DONE appears, or its directory is gone (the harness failed). */
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", done);
	*(strrchr(dir, '/') ? strrchr(dir, '/') : dir) = '\0';
	for (int i = 0; i < 5000 && access(done, F_OK) != 0 && access(dir, F_OK) == 0; i++)
		sleep_ms(10);
}

static int
us(int port, const char *done)
{
	int fd;

	if (is("serverfirst")) {
		fd = accept_one(port, 0);
		read_exact(fd, REQ);
		us_send(fd, RESP);
		us_close(fd, done);
		return 0;
	}
	fd = connect_retrying(port);
	if (is("rr") || is("peerclose") || is("peerlater") || is("peershut")) {
		us_send(fd, REQ);
		read_exact(fd, RESP);
	} else if (is("upload")) {
		us_send(fd, UPLOAD);
	} else if (is("banner")) {
		read_exact(fd, BANNER);
		us_send(fd, UPLOAD);
	} else if (is("pipelined")) {
		us_send(fd, PIPELINED * REQ);
		read_exact(fd, PIPELINED * RESP);
	} else if (is("connect")) {
		;
	} else if (is("halfclose")) {
		us_send(fd, REQ);
		shutdown(fd, SHUT_WR);
		read_exact(fd, RESP);
	} else if (is("writelate")) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		us_send(fd, REQ);
		read_exact(fd, LATE_ANSWER);
		us_send(fd, REQ);
		if (poll(&p, 1, GIVE_UP_MS) != 0)
			die("closematrix: writelate: the answer came early");
	} else if (is("peerpoll")) {
		read_exact(fd, 3);
		us_send(fd, RESP);
	} else if (is("slowpeer")) {
		/* A send buffer that takes the whole upload without blocking,
		 * against a small receive window: most of it is still
		 * unacknowledged at close. */
		int sndbuf = 1 << 20, fl = fcntl(fd, F_GETFL);
		char buf[16384];

		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
		read_exact(fd, 3);
		memset(buf, 'x', sizeof buf);
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		while (sent < SLOW) {
			ssize_t w = write(fd, buf, sizeof buf);

			if (w < 0)
				break;
			sent += w;
		}
		fcntl(fd, F_SETFL, fl);
	} else {
		die("closematrix: no pattern %s", pattern);
	}
	us_close(fd, done);
	return 0;
}

/* ---- the bare peer ---- */

static long long got, eof_ns;
static const char *end = "-", *reset_after = "-", *late_write = "-";
static const char *shut = "-", *linger_end = "-";
static char first_poll[32] = "-";

/* Read until EOF or an error; how it ended. */
static const char *
drain(int fd)
{
	char buf[65536];
	ssize_t r;

	while ((r = read(fd, buf, sizeof buf)) > 0)
		got += r;
	return r == 0 ? "EOF" : outcome(-1, errno);
}

/* Read until EOF or an error, as a peer reading a request or an upload to
 * its end does. */
static void
read_to_end(int fd)
{
	end = drain(fd);
	eof_ns = now_ns();
}

/* What poll() reports for a reader that asks only for POLLIN, as a plain
 * event loop does (POLLERR and POLLHUP come unasked): "IN+ERR+HUP". */
static void
note_first_poll(int fd)
{
	static const struct { short bit; const char *name; } names[] = {
		{ POLLIN, "IN" }, { POLLERR, "ERR" }, { POLLHUP, "HUP" },
	};
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t at = 0;

	if (poll(&p, 1, IO_TIMEOUT_S * 1000) <= 0)
		die("closematrix: %s: nothing to poll", pattern);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (p.revents & names[i].bit)
			at += (size_t)snprintf(first_poll + at, sizeof first_poll - at, "%s%s",
			    at ? "+" : "", names[i].name);
	if (at == 0)
		snprintf(first_poll, sizeof first_poll, "other");
}

static void
read_counted(int fd, size_t n)
{
	read_exact(fd, n);
	got += (long long)n;
}

/* A reset that came after the EOF: a peer polling its socket sees POLLERR,
 * and SO_ERROR says what. */
static void
settle(int fd)
{
	int err = 0;
	socklen_t len = sizeof err;

	sleep_ms(SETTLE_MS);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	reset_after = err ? outcome(-1, err) : "none";
}

/* Wait until our close shows: a FIN or a reset. */
static void
wait_for_close(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	if (poll(&p, 1, IO_TIMEOUT_S * 1000) <= 0)
		die("closematrix: %s: the other side never closed", pattern);
	eof_ns = now_ns();
}

/* The time "us" called close(), from its result line. */
static bool
us_closed(const char *us_result)
{
	FILE *f = fopen(us_result, "r");
	char line[256] = "";

	if (f == NULL)
		return false;
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	fclose(f);
	return strstr(line, "close_ns=") != NULL;
}

static int
peer(int port, const char *us_result)
{
	int fd;

	if (is("serverfirst")) {
		fd = connect_retrying(port);
		send_all(fd, REQ);
		read_to_end(fd);
		close(fd);
		goto report;
	}
	fd = accept_one(port, is("slowpeer") ? 4096 : 0);
	if (is("rr") || is("peerclose")) {
		read_counted(fd, REQ);
		send_all(fd, RESP);
		read_to_end(fd);
		if (is("rr"))
			settle(fd);
	} else if (is("peerlater")) {
		/* A server that closes on its own soon after it answered,
		 * reading nothing more: just after our close, or at our FIN
		 * if that comes first. */
		struct pollfd p = { .fd = fd, .events = POLLRDHUP };

		read_counted(fd, REQ);
		send_all(fd, RESP);
		for (int i = 0; i < 1000 && !us_closed(us_result); i++)
			sleep_ms(2);
		poll(&p, 1, PEER_CLOSES_AFTER_MS);
	} else if (is("peershut")) {
		/* A server's lingering close at the end of a keep-alive
		 * connection (Apache's): at the client's EOF it shuts its own
		 * side down and reads until EOF or an error before it closes;
		 * after a failed read it just closes. */
		read_counted(fd, REQ);
		send_all(fd, RESP);
		read_to_end(fd);
		if (strcmp(end, "EOF") == 0) {
			int rc = shutdown(fd, SHUT_WR);

			shut = outcome(rc, errno);
			linger_end = drain(fd);
			settle(fd);
		}
	} else if (is("peerpoll")) {
		/* An event loop busy elsewhere when we close: it polls and
		 * reads only later. */
		send_all(fd, 3);
		for (int i = 0; i < 1000 && !us_closed(us_result); i++)
			sleep_ms(2);
		sleep_ms(BUSY_PEER_MS);
		note_first_poll(fd);
		read_to_end(fd);
		settle(fd);
	} else if (is("upload") || is("connect")) {
		read_to_end(fd);
		settle(fd);
	} else if (is("banner")) {
		send_all(fd, BANNER);
		read_to_end(fd);
		settle(fd);
	} else if (is("pipelined")) {
		for (int i = 0; i < PIPELINED; i++) {
			read_counted(fd, REQ);
			send_all(fd, RESP);
		}
		read_to_end(fd);
		settle(fd);
	} else if (is("halfclose")) {
		read_to_end(fd);
		send_all(fd, RESP);
		settle(fd);
	} else if (is("writelate")) {
		read_counted(fd, REQ);
		send_all(fd, LATE_ANSWER);
		read_counted(fd, REQ);
		wait_for_close(fd);
		sleep_ms(SETTLE_MS);
		{
			char buf[LATE_ANSWER];

			memset(buf, 'y', sizeof buf);
			ssize_t w = write(fd, buf, sizeof buf);
			late_write = outcome((int)w, errno);
		}
		{
			long long when = eof_ns;

			read_to_end(fd);
			eof_ns = when;
		}
	} else if (is("slowpeer")) {
		send_all(fd, 3);
		sleep_ms(SLOW_READER_MS);
		read_to_end(fd);
		settle(fd);
	} else {
		die("closematrix: no pattern %s", pattern);
	}
	close(fd);
report:
	fprintf(result, "got=%lld end=%s reset_after=%s late_write=%s eof_ns=%lld "
	    "shutdown=%s linger_end=%s first_poll=%s\n",
	    got, end, reset_after, late_write, eof_ns, shut, linger_end, first_poll);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 6 || (strcmp(argv[1], "us") != 0 && strcmp(argv[1], "peer") != 0))
		die("usage: closematrix us PATTERN PORT RESULT DONE\n"
		    "       closematrix peer PATTERN PORT RESULT US_RESULT");
	signal(SIGPIPE, SIG_IGN);
	alarm(60);	/* a cell that hangs fails, instead of the whole run */
	pattern = argv[2];
	if ((result = fopen(argv[4], "w")) == NULL)
		die("closematrix: %s: %s", argv[4], strerror(errno));
	if (strcmp(argv[1], "us") == 0)
		return us(atoi(argv[3]), argv[5]);
	return peer(atoi(argv[3]), argv[5]);
}
