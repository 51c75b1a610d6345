/*
 * tagpeer - a client and a server whose every 8-byte word names its
 * connection, its direction and its offset, so that a byte that does not
 * belong to the stream it arrives in is caught, and traced to the
 * connection it came from.
 *
 *	tagpeer server PORT [OPTION...]
 *	tagpeer client ADDR PORT [OPTION...]
 *
 * Both sides take the same options for the pattern:
 *	-m rr		request/response: the client sends -q bytes, the server
 *			reads them and answers -r bytes (default)
 *	-m upload	the client sends -q bytes; the server reads them; with -g
 *			the server also sends that many bytes once the first
 *			word has come, which the client reads after its upload
 *	-m slow		rr, with the client reading the answer only after a pause
 *			(-z, default 100 ms): the server meets a zero window
 *	-q BYTES	request or upload size (default 4096)
 *	-r BYTES	answer size (default 65536)
 *	-S		the server closes first, the client reads its EOF;
 *			else the client closes first, the server reads its EOF
 *	-z MS		the reader of the larger stream pauses this long first
 *	-b BYTES	that reader's SO_RCVBUF
 *	-t MS		a connection not done in this time is hung (default 3000)
 * The client's own:
 *	-n M		connections, one after another, a fresh socket each (default 1000)
 *	-P P		P of them at a time (default 1)
 *	-D SECONDS	start no connection after this long
 *	-e MS		pause this long after a failed connect
 *	-i MS		pause this long between connections
 *	-v		one line for each connection, on stderr
 *
 * Each side checks every word it reads and the EOF where one is due.  The
 * client prints one line when done, the server on SIGTERM or SIGINT (after
 * the connections in progress have ended):
 *
 *	tagpeer client: attempted=N completed=N corrupted=N hung=N resets=N eof=N
 *		short=N connfail=N [connfail_EADDRNOTAVAIL=N ...] elapsed_ms=N
 *	tagpeer server: accepted=N completed=N corrupted=N hung=N resets=N eof=N
 *		short=N empty=N
 *
 * corrupted: streams that carried a foreign word (each is also told on
 * stderr, with the connection, direction and offset the word came from);
 * hung: not done in time; short: EOF or an error before the last byte;
 * empty: accepted connections that ended before their first word.  Exit
 * status 1 when anything was corrupted or hung.  Either side ends with its
 * parent.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"

enum { MAGIC = 0xa7, MAX_ID = (1 << 23) - 1, BUF = 1 << 16, MAX_LOGGED = 40, MAX_ERRNO = 256 };
enum { UPSTREAM, DOWNSTREAM };
enum mode { RR, UPLOAD, SLOW };

static const char *const dir_name[] = { "up", "down" };

static struct {
	enum mode mode;
	uint64_t request, answer, greeting;
	bool server_first;
	long pause_ms, timeout_ms, fail_pause_ms, interval_ms, duration_s;
	int rcvbuf, parallel;
	unsigned conns;
	bool verbose;
} opt = { RR, 4096, 65536, 0, false, -1, 3000, 0, 0, 0, 0, 1, 1000, false };

static struct {
	atomic_uint attempted, accepted, completed, corrupted, hung, resets, eof, shorts, empty,
		connfail, logged, active;
	atomic_uint connfail_by[MAX_ERRNO];
} tally;

static struct sockaddr_in peer_addr;
static atomic_uint next_id = 1;
static atomic_uint seen_ids[(MAX_ID + 1) / 32];
static long started_ms;
static volatile sig_atomic_t stopping;

/* One side of one connection. */
struct link {
	int fd;
	unsigned id;		/* 0: not known yet (the server learns it) */
	int port;		/* the client's port: the four-tuple's changing part */
	long deadline;
	const char *side;
	bool corrupted, hung, reset, eof, shorted;
	unsigned char buf[BUF];
};

static uint64_t
word_of(unsigned id, int dir, uint64_t index)
{
	return (uint64_t)MAGIC << 56 | (uint64_t)dir << 55 | (uint64_t)id << 32 |
	       (index & 0xffffffffu);
}

static uint64_t
load(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return be64toh(w);
}

static bool
plausible(uint64_t w)
{
	return w >> 56 == MAGIC && ((w >> 32) & MAX_ID) != 0;
}

static bool
logging(void)
{
	return atomic_fetch_add(&tally.logged, 1) < MAX_LOGGED;
}

/* Where the bytes at p came from: a word of some connection, perhaps not on
 * our word boundary (its sequence numbers were another connection's), or
 * nothing we sent. */
static void
describe(char *out, size_t size, const unsigned char *from, const unsigned char *p,
	 const unsigned char *end)
{
	for (int d = 0; d < 8; d++) {
		for (int sign = 1; sign >= -1; sign -= 2) {
			const unsigned char *q = p + sign * d;
			uint64_t w;

			if (q < from || q + 8 > end || !plausible(w = load(q)))
				continue;
			if (q + 16 <= end && load(q + 8) != w + 1)
				continue;
			snprintf(out, size, "a word of conn %u %s offset %llu%s",
				 (unsigned)(w >> 32) & MAX_ID, dir_name[(w >> 55) & 1],
				 (unsigned long long)(w & 0xffffffffu) * 8,
				 d == 0 ? "" : " (not on our word boundary)");
			return;
		}
	}
	snprintf(out, size, "%016llx, no connection's word", (unsigned long long)load(p));
}

static void
foreign(struct link *l, int dir, uint64_t offset, const unsigned char *from,
	const unsigned char *p, const unsigned char *end)
{
	char what[128];

	if (l->corrupted)
		return;	/* the first foreign word of a stream tells enough */
	l->corrupted = true;
	if (!logging())
		return;
	describe(what, sizeof what, from, p, end);
	fprintf(stderr, "tagpeer: %s: conn %u port %d %s offset %llu: foreign bytes: %s\n",
		l->side, l->id, l->port, dir_name[dir], (unsigned long long)offset, what);
}

static void
note(struct link *l, const char *what)
{
	if (logging())
		fprintf(stderr, "tagpeer: %s: conn %u port %d: %s\n", l->side, l->id, l->port, what);
}

/* Until the socket is ready for ev or the connection's time is up. */
static bool
ready(struct link *l, short ev)
{
	for (;;) {
		struct pollfd p = { l->fd, ev, 0 };
		long left = l->deadline - now_ms();
		int n;

		if (left <= 0) {
			l->hung = true;
			return false;
		}
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR)
			return false;
	}
}

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void
failed(struct link *l, int err, const char *doing)
{
	char what[96];

	if (err == ECONNRESET || err == EPIPE) {
		l->reset = true;
	} else {
		l->shorted = true;
	}
	snprintf(what, sizeof what, "%s: %s", doing, strerror(err));
	note(l, what);
}

static bool
send_words(struct link *l, int dir, uint64_t total)
{
	uint64_t sent = 0;

	while (sent < total) {
		uint64_t first = sent / 8, words = (total - first * 8) / 8;
		size_t skip = sent % 8;
		ssize_t n;

		if (words > BUF / 8)
			words = BUF / 8;
		for (uint64_t i = 0; i < words; i++) {
			uint64_t w = htobe64(word_of(l->id, dir, first + i));

			memcpy(l->buf + i * 8, &w, 8);
		}
		n = send(l->fd, l->buf + skip, words * 8 - skip, MSG_NOSIGNAL);
		if (n > 0) {
			sent += (uint64_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!ready(l, POLLOUT))
				return false;
		} else {
			failed(l, errno, "send");
			return false;
		}
	}
	return true;
}

/* The server learns the connection from its first word. */
static bool
learn_id(struct link *l, const unsigned char *p)
{
	uint64_t w = load(p);
	unsigned id = (unsigned)(w >> 32) & MAX_ID;

	if (w != word_of(id, UPSTREAM, 0) || id == 0) {
		foreign(l, UPSTREAM, 0, p, p, p + 8);
		return false;
	}
	l->id = id;
	if (atomic_fetch_or(&seen_ids[id / 32], 1u << (id % 32)) & (1u << (id % 32))) {
		l->corrupted = true;
		note(l, "this connection's first word again, in another connection");
	}
	return true;
}

/* The stream's bytes from offset done to total, each word checked. */
static bool
recv_words(struct link *l, int dir, uint64_t done, uint64_t total)
{
	size_t have = 0;

	while (done < total) {
		size_t want = total - done - have < BUF - have ? total - done - have : BUF - have;
		ssize_t n = recv(l->fd, l->buf + have, want, 0);
		size_t whole;

		if (n == 0) {
			char what[64];

			l->shorted = true;
			snprintf(what, sizeof what, "EOF at %llu of %llu bytes %s",
				 (unsigned long long)(done + have), (unsigned long long)total,
				 dir_name[dir]);
			note(l, what);
			return false;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				failed(l, errno, "recv");
				return false;
			}
			if (!ready(l, POLLIN))
				return false;
			continue;
		}
		have += (size_t)n;
		if (l->id == 0 && done == 0 && have >= 8 && !learn_id(l, l->buf))
			return false;
		whole = have / 8 * 8;
		for (size_t i = 0; i < whole; i += 8) {
			uint64_t w = htobe64(word_of(l->id, dir, (done + i) / 8));

			if (memcmp(l->buf + i, &w, 8) != 0)
				foreign(l, dir, done + i, l->buf, l->buf + i, l->buf + have);
		}
		done += whole;
		memmove(l->buf, l->buf + whole, have - whole);
		have -= whole;
	}
	return true;
}

/* The peer's EOF, with nothing before it. */
static bool
recv_eof(struct link *l, int dir, uint64_t offset)
{
	for (;;) {
		ssize_t n = recv(l->fd, l->buf, BUF, 0);

		if (n == 0) {
			l->eof = true;
			return true;
		}
		if (n > 0) {
			foreign(l, dir, offset, l->buf, l->buf, l->buf + n);
			offset += (uint64_t)n;
		} else if (errno == EAGAIN || errno == EINTR) {
			if (!ready(l, POLLIN))
				return false;
		} else {
			failed(l, errno, "recv for EOF");
			return false;
		}
	}
}

/* Before a close with the peer's side still open: nothing more may be there. */
static void
nothing_more(struct link *l, int dir, uint64_t offset)
{
	ssize_t n = recv(l->fd, l->buf, BUF, MSG_DONTWAIT);

	if (n > 0)
		foreign(l, dir, offset, l->buf, l->buf, l->buf + n);
}

static bool
slow_reader(void)
{
	return opt.pause_ms > 0;
}

/* The whole conversation, from the client's side. */
static bool
client_talk(struct link *l)
{
	if (!send_words(l, UPSTREAM, opt.request))
		return false;
	if (opt.mode == UPLOAD) {
		if (opt.greeting > 0 && !recv_words(l, DOWNSTREAM, 0, opt.greeting))
			return false;
		return !opt.server_first || recv_eof(l, DOWNSTREAM, opt.greeting);
	}
	if (slow_reader())
		pause_ms(opt.pause_ms);
	if (!recv_words(l, DOWNSTREAM, 0, opt.answer))
		return false;
	if (opt.server_first)
		return recv_eof(l, DOWNSTREAM, opt.answer);
	nothing_more(l, DOWNSTREAM, opt.answer);
	return true;
}

static bool
server_talk(struct link *l)
{
	if (opt.mode == UPLOAD) {
		/* The greeting goes once the first word has named the connection. */
		if (opt.greeting > 0 && (!recv_words(l, UPSTREAM, 0, 8) ||
					 !send_words(l, DOWNSTREAM, opt.greeting)))
			return false;
		if (slow_reader())
			pause_ms(opt.pause_ms);
		if (!recv_words(l, UPSTREAM, opt.greeting > 0 ? 8 : 0, opt.request))
			return false;
		if (opt.server_first) {
			nothing_more(l, UPSTREAM, opt.request);
			return true;
		}
		return recv_eof(l, UPSTREAM, opt.request);
	}
	if (!recv_words(l, UPSTREAM, 0, opt.request) || !send_words(l, DOWNSTREAM, opt.answer))
		return false;
	if (opt.server_first) {
		nothing_more(l, UPSTREAM, opt.request);
		return true;
	}
	return recv_eof(l, UPSTREAM, opt.request);
}

static void
account(struct link *l, bool ok)
{
	if (l->corrupted)
		atomic_fetch_add(&tally.corrupted, 1);
	if (l->hung) {
		atomic_fetch_add(&tally.hung, 1);
		note(l, "hung");
	}
	if (l->reset)
		atomic_fetch_add(&tally.resets, 1);
	if (l->shorted)
		atomic_fetch_add(&tally.shorts, 1);
	if (l->eof)
		atomic_fetch_add(&tally.eof, 1);
	if (ok && !l->corrupted)
		atomic_fetch_add(&tally.completed, 1);
	if (opt.verbose)
		fprintf(stderr, "tagpeer: %s: conn %u port %d: %s%s%s%s%s\n", l->side, l->id, l->port,
			ok && !l->corrupted ? "completed" : "failed", l->corrupted ? " corrupted" : "",
			l->hung ? " hung" : "", l->reset ? " reset" : "", l->eof ? " eof" : "");
}

/* ---- client ---- */

static void
connect_failed(int err)
{
	atomic_fetch_add(&tally.connfail, 1);
	atomic_fetch_add(&tally.connfail_by[err > 0 && err < MAX_ERRNO ? err : 0], 1);
	if (opt.fail_pause_ms > 0)
		pause_ms(opt.fail_pause_ms);
}

static bool
client_connect(struct link *l)
{
	struct sockaddr_in me;
	socklen_t len = sizeof me;
	int err = 0;

	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		die("tagpeer: socket: %s", strerror(errno));
	if (opt.rcvbuf > 0 && opt.mode != UPLOAD)
		setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &opt.rcvbuf, sizeof opt.rcvbuf);
	if (connect(l->fd, (struct sockaddr *)&peer_addr, sizeof peer_addr) < 0) {
		if (errno != EINPROGRESS) {
			connect_failed(errno);
			return false;
		}
		if (!ready(l, POLLOUT)) {
			note(l, "connect not done in time");
			return false;
		}
		len = sizeof err;
		getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			connect_failed(err);
			return false;
		}
		len = sizeof me;
	}
	if (getsockname(l->fd, (struct sockaddr *)&me, &len) == 0)
		l->port = ntohs(me.sin_port);
	return true;
}

static void *
client_worker(void *arg)
{
	struct link *l = malloc(sizeof *l);

	(void)arg;
	if (l == NULL)
		die("tagpeer: out of memory");
	for (;;) {
		unsigned id = atomic_fetch_add(&next_id, 1);
		bool connected, ok = false;

		if (id > opt.conns ||
		    (opt.duration_s > 0 && now_ms() - started_ms >= opt.duration_s * 1000))
			break;
		memset(l, 0, offsetof(struct link, buf));
		l->id = id;
		l->side = "client";
		l->deadline = now_ms() + opt.timeout_ms;
		atomic_fetch_add(&tally.attempted, 1);
		connected = client_connect(l);
		if (connected)
			ok = client_talk(l);
		close(l->fd);
		if (connected || l->hung)
			account(l, ok);
		if (opt.interval_ms > 0)
			pause_ms(opt.interval_ms);
	}
	free(l);
	return NULL;
}

static int
run_client(void)
{
	pthread_t th[256];
	int bad;

	started_ms = now_ms();
	for (int i = 0; i < opt.parallel; i++)
		if (pthread_create(&th[i], NULL, client_worker, NULL) != 0)
			die("tagpeer: pthread_create failed");
	for (int i = 0; i < opt.parallel; i++)
		pthread_join(th[i], NULL);
	printf("tagpeer client: attempted=%u completed=%u corrupted=%u hung=%u resets=%u eof=%u "
	       "short=%u connfail=%u", tally.attempted, tally.completed, tally.corrupted,
	       tally.hung, tally.resets, tally.eof, tally.shorts, tally.connfail);
	for (int e = 0; e < MAX_ERRNO; e++) {
		const char *name = e ? strerrorname_np(e) : NULL;

		if (tally.connfail_by[e] > 0)
			printf(" connfail_%s=%u", name ? name : "other", tally.connfail_by[e]);
	}
	printf(" elapsed_ms=%ld\n", now_ms() - started_ms);
	bad = tally.corrupted > 0 || tally.hung > 0;
	return bad;
}

/* ---- server ---- */

static void *
server_conn(void *arg)
{
	struct link *l = arg;
	bool ok = server_talk(l);

	if (l->id == 0 && !l->corrupted) {
		atomic_fetch_add(&tally.empty, 1);
		ok = false;
		l->hung = l->reset = l->shorted = false;	/* never became a stream */
	}
	close(l->fd);
	account(l, ok);
	free(l);
	atomic_fetch_sub(&tally.active, 1);
	return NULL;
}

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int
run_server(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sigaction act = { .sa_handler = on_signal };
	sigset_t block, unblocked;
	pthread_attr_t attr;
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	long give_up;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &unblocked);
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (opt.rcvbuf > 0 && opt.mode == UPLOAD)
		setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &opt.rcvbuf, sizeof opt.rcvbuf);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1024) < 0)
		die("tagpeer: listen on %d: %s", port, strerror(errno));
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (!stopping) {
		struct pollfd p = { lfd, POLLIN, 0 };
		struct sockaddr_in from;
		socklen_t len = sizeof from;
		struct link *l;
		pthread_t th;
		int fd;

		if (ppoll(&p, 1, NULL, &unblocked) <= 0)
			continue;
		fd = accept4(lfd, (struct sockaddr *)&from, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if ((l = calloc(1, sizeof *l)) == NULL)
			die("tagpeer: out of memory");
		l->fd = fd;
		l->side = "server";
		l->port = ntohs(from.sin_port);
		l->deadline = now_ms() + opt.timeout_ms;
		atomic_fetch_add(&tally.accepted, 1);
		atomic_fetch_add(&tally.active, 1);
		if (pthread_create(&th, &attr, server_conn, l) != 0)
			die("tagpeer: pthread_create failed");
	}
	close(lfd);
	give_up = now_ms() + opt.timeout_ms + 1000;
	while (atomic_load(&tally.active) > 0 && now_ms() < give_up)
		pause_ms(10);
	printf("tagpeer server: accepted=%u completed=%u corrupted=%u hung=%u resets=%u eof=%u "
	       "short=%u empty=%u\n", tally.accepted, tally.completed, tally.corrupted, tally.hung,
	       tally.resets, tally.eof, tally.shorts, tally.empty);
	fflush(stdout);
	return tally.corrupted > 0 || tally.hung > 0 || tally.active > 0;
}

/* ---- options ---- */

static long
number(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end != '\0' || v < lo || v > hi)
		die("tagpeer: %s: not a number from %ld to %ld", s, lo, hi);
	return v;
}

__attribute__((noreturn)) static void
usage(void)
{
	die("usage: tagpeer server PORT [-m rr|upload|slow] [-q B] [-r B] [-g B] [-S] [-z MS] [-b B]\n"
	    "\t[-t MS]\n"
	    "       tagpeer client ADDR PORT [the same] [-n M] [-P P] [-D S] [-e MS] [-i MS] [-v]");
}

static void
parse(int argc, char **argv, bool client)
{
	int c;

	while ((c = getopt(argc, argv, "m:q:r:g:Sz:b:t:n:P:D:e:i:v")) != -1) {
		if (!client && strchr("nPDeiv", c))
			usage();
		switch (c) {
		case 'm':
			if (strcmp(optarg, "rr") == 0)
				opt.mode = RR;
			else if (strcmp(optarg, "upload") == 0)
				opt.mode = UPLOAD;
			else if (strcmp(optarg, "slow") == 0)
				opt.mode = SLOW;
			else
				usage();
			break;
		case 'q': opt.request = (uint64_t)number(optarg, 8, 1L << 34) & ~7ULL; break;
		case 'r': opt.answer = (uint64_t)number(optarg, 8, 1L << 34) & ~7ULL; break;
		case 'g': opt.greeting = (uint64_t)number(optarg, 8, 1L << 34) & ~7ULL; break;
		case 'S': opt.server_first = true; break;
		case 'z': opt.pause_ms = number(optarg, 0, 600000); break;
		case 'b': opt.rcvbuf = (int)number(optarg, 1, 1 << 30); break;
		case 't': opt.timeout_ms = number(optarg, 1, 3600000); break;
		case 'n': opt.conns = (unsigned)number(optarg, 1, MAX_ID); break;
		case 'P': opt.parallel = (int)number(optarg, 1, 256); break;
		case 'D': opt.duration_s = number(optarg, 1, 86400); break;
		case 'e': opt.fail_pause_ms = number(optarg, 0, 60000); break;
		case 'i': opt.interval_ms = number(optarg, 0, 60000); break;
		case 'v': opt.verbose = true; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (opt.mode == SLOW && opt.pause_ms < 0)
		opt.pause_ms = 100;
	if (opt.mode == RR && opt.pause_ms > 0)
		opt.mode = SLOW;
}

int
main(int argc, char **argv)
{
	setvbuf(stderr, NULL, _IOLBF, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);	/* nothing left behind a test killed */
	if (argc >= 3 && strcmp(argv[1], "server") == 0) {
		int port = (int)number(argv[2], 1, 65535);

		parse(argc - 2, argv + 2, false);
		return run_server(port);
	}
	if (argc >= 4 && strcmp(argv[1], "client") == 0) {
		peer_addr.sin_family = AF_INET;
		peer_addr.sin_port = htons((uint16_t)number(argv[3], 1, 65535));
		if (inet_pton(AF_INET, argv[2], &peer_addr.sin_addr) != 1)
			die("tagpeer: %s: not an IPv4 address", argv[2]);
		parse(argc - 3, argv + 3, true);
		return run_client();
	}
	usage();
}
