/*
 * faultnet - a link with faults, between this network namespace and a new
 * one of its own, for the tests: the kernel here has no netem.
 *
 *	faultnet [OPTION...]
 *
 * Makes the tun device fn0 here (10.77.0.1, peer 10.77.0.2), then a network
 * namespace with lo up and the tun device fn1 (10.77.0.2, peer 10.77.0.1),
 * and forwards the IPv4 packets between the two, with the faults the
 * options ask for.  "up" is from here to the new namespace, "down" back.
 * Once both ends are up it prints "ready PID" on stdout; a program runs in
 * the new namespace with
 *
 *	nsenter --net=/proc/PID/ns/net PROGRAM...
 *
 * On SIGTERM or SIGINT (or when its parent dies) it prints its counters on
 * stderr and exits: the tun devices go with it, the namespace with the last
 * process in it.
 *
 * A fault's value may begin with "up:" or "down:" to apply to that
 * direction alone; else it applies to both.  Percentages and milliseconds
 * may have decimals.
 *
 *	--mtu N			both devices (default 1500)
 *	--seed N		the same decisions for the same packets in the same order
 *	--loss PCT		drop at random
 *	--delay MS		hold every packet this long,
 *	--jitter MS		plus a random 0..MS, keeping the order
 *	--reorder PCT		hold a packet --reorder-gap MS (default 1) longer
 *				than its turn, so that the next ones overtake it
 *	--dup PCT		also deliver a copy, late: after a random
 *	--dup-delay LO-HI	LO..HI ms (default 0-5), out of order
 *	--dup-only data		copy only segments that carry data
 *	--drop fin		the first FIN of each connection
 *	--drop nth=N		the Nth packet of each connection (SYN is the 1st)
 *	--drop flags=FSRPAU[/PCT]  packets with all these TCP flags (PCT of them)
 *
 * A connection is known by its four-tuple and starts again at each new SYN.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"

enum { UP, DOWN, NDIR };
enum { MAX_PACKET = 65536, MAX_QUEUED = 200000, MAX_DROPS = 8, CONN_SLOTS = 1 << 16,
       CONN_PROBES = 64 };

static const char *const dir_name[NDIR] = { "up", "down" };

enum drop_kind { DROP_FIN, DROP_NTH, DROP_FLAGS };

struct drop_rule {
	enum drop_kind kind;
	unsigned n;		/* DROP_NTH: which packet */
	unsigned flags;		/* DROP_FLAGS: all of these */
	double pct;		/* DROP_FLAGS: how many of them */
};

struct faults {
	double loss, reorder, dup;	/* percent */
	uint64_t delay, jitter, reorder_gap, dup_lo, dup_hi;	/* ns */
	bool dup_data_only;
	struct drop_rule drop[MAX_DROPS];
	int ndrop;
};

struct counters {
	unsigned long read, forwarded, lost, dropped, duplicated, reordered, overflow,
		not_ipv4, write_errors;
};

struct packet {
	uint64_t due, order;
	int dir;
	unsigned len;
	unsigned char data[];
};

/* What the targeted drops need to know of a connection, per direction. */
struct conn {
	uint32_t addr[2];
	uint16_t port[2];
	bool used;
	uint64_t last_seen;	/* a packet count: the stalest slot is taken over */
	uint32_t syn_seq;
	unsigned packets[NDIR];
	bool fin_dropped[NDIR];
};

static struct faults fault[NDIR];
static struct counters count[NDIR];
static struct conn conns[CONN_SLOTS];
static struct packet **heap;
static size_t heap_len;
static uint64_t next_order, last_due[NDIR], rng_state = 0x9e3779b97f4a7c15ULL;
static volatile sig_atomic_t stopping;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* splitmix64: small, and the same sequence for the same seed. */
static uint64_t
rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static bool
chance(double pct)
{
	return pct > 0 && (double)(rng() >> 11) / (double)(1ULL << 53) * 100.0 < pct;
}

static uint64_t
uniform(uint64_t lo, uint64_t hi)
{
	return hi <= lo ? lo : lo + rng() % (hi - lo + 1);
}

/* ---- the queue of packets waiting for their time: a binary min-heap ---- */

static bool
before(const struct packet *a, const struct packet *b)
{
	return a->due != b->due ? a->due < b->due : a->order < b->order;
}

static void
heap_push(struct packet *p)
{
	size_t i = heap_len++;

	while (i > 0 && before(p, heap[(i - 1) / 2])) {
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = p;
}

static struct packet *
heap_pop(void)
{
	struct packet *top = heap[0], *last = heap[--heap_len];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= heap_len)
			break;
		if (c + 1 < heap_len && before(heap[c + 1], heap[c]))
			c++;
		if (!before(heap[c], last))
			break;
		heap[i] = heap[c];
		i = c;
	}
	if (heap_len > 0)
		heap[i] = last;
	return top;
}

/* ---- the packet's TCP facts ---- */

enum { TH_FIN = 1, TH_SYN = 2, TH_RST = 4, TH_PSH = 8, TH_ACK = 16, TH_URG = 32 };

struct tcp_view {
	bool tcp;
	uint32_t addr[2];
	uint16_t port[2];
	unsigned flags;
	uint32_t seq;
	unsigned payload;
};

static struct tcp_view
view_of(const unsigned char *d, unsigned len)
{
	struct tcp_view v = { 0 };
	unsigned ihl, thl, total;

	if (len < 20 || d[0] >> 4 != 4 || d[9] != IPPROTO_TCP)
		return v;
	ihl = (d[0] & 15u) * 4;
	total = (unsigned)d[2] << 8 | d[3];
	if (total > len || ihl + 20 > total || ((d[6] & 0x1f) | d[7]) != 0)
		return v;	/* not one whole, first fragment */
	thl = (d[ihl + 12] >> 4) * 4u;
	if (ihl + thl > total)
		return v;
	v.tcp = true;
	memcpy(&v.addr[0], d + 12, 4);
	memcpy(&v.addr[1], d + 16, 4);
	v.port[0] = (uint16_t)(d[ihl] << 8 | d[ihl + 1]);
	v.port[1] = (uint16_t)(d[ihl + 2] << 8 | d[ihl + 3]);
	v.seq = (uint32_t)d[ihl + 4] << 24 | (uint32_t)d[ihl + 5] << 16 |
		(uint32_t)d[ihl + 6] << 8 | d[ihl + 7];
	v.flags = d[ihl + 13] & 0x3f;
	v.payload = total - ihl - thl;
	return v;
}

/* The connection's slot, both directions alike: the lower end first.  Open
 * addressing; when the probed slots are all taken, the stalest is reused. */
static struct conn *
conn_of(const struct tcp_view *v)
{
	static uint64_t packets;
	int lo = v->addr[0] < v->addr[1] ||
		 (v->addr[0] == v->addr[1] && v->port[0] < v->port[1]) ? 0 : 1;
	uint32_t a0 = v->addr[lo], a1 = v->addr[!lo];
	uint16_t p0 = v->port[lo], p1 = v->port[!lo];
	uint32_t h = (a0 * 2654435761u) ^ (a1 * 40503u) ^ ((uint32_t)p0 << 16 | p1) * 2246822519u;
	struct conn *c = NULL, *stalest = NULL;

	h ^= h >> 15;
	packets++;
	for (unsigned i = 0; i < CONN_PROBES; i++) {
		struct conn *s = &conns[(h + i) % CONN_SLOTS];

		if (s->used && s->addr[0] == a0 && s->addr[1] == a1 && s->port[0] == p0 &&
		    s->port[1] == p1) {
			c = s;
			break;
		}
		if (stalest == NULL || !s->used || (stalest->used && s->last_seen < stalest->last_seen))
			stalest = s;
	}
	if (c == NULL) {
		c = stalest;
		memset(c, 0, sizeof *c);
		c->used = true;
		c->addr[0] = a0;
		c->addr[1] = a1;
		c->port[0] = p0;
		c->port[1] = p1;
	}
	c->last_seen = packets;
	return c;
}

static bool
targeted_drop(int dir, const struct tcp_view *v)
{
	const struct faults *f = &fault[dir];
	struct conn *c;
	bool drop = false;

	if (!v->tcp || f->ndrop == 0)
		return false;
	c = conn_of(v);
	if ((v->flags & (TH_SYN | TH_ACK)) == TH_SYN && c->syn_seq != v->seq) {
		memset(c->packets, 0, sizeof c->packets);	/* a new connection */
		memset(c->fin_dropped, 0, sizeof c->fin_dropped);
		c->syn_seq = v->seq;
	}
	c->packets[dir]++;
	for (int i = 0; i < f->ndrop && !drop; i++) {
		const struct drop_rule *r = &f->drop[i];

		switch (r->kind) {
		case DROP_FIN:
			if ((v->flags & TH_FIN) && !c->fin_dropped[dir])
				drop = c->fin_dropped[dir] = true;
			break;
		case DROP_NTH:
			drop = c->packets[dir] == r->n;
			break;
		case DROP_FLAGS:
			drop = (v->flags & r->flags) == r->flags && chance(r->pct);
			break;
		}
	}
	return drop;
}

/* ---- forwarding ---- */

static void
enqueue(int dir, const unsigned char *d, unsigned len, uint64_t due)
{
	struct packet *p;

	if (heap_len >= MAX_QUEUED || (p = malloc(sizeof *p + len)) == NULL) {
		count[dir].overflow++;
		return;
	}
	p->due = due;
	p->order = next_order++;
	p->dir = dir;
	p->len = len;
	memcpy(p->data, d, len);
	heap_push(p);
}

static void
arrived(int dir, const unsigned char *d, unsigned len, uint64_t now)
{
	const struct faults *f = &fault[dir];
	struct tcp_view v = view_of(d, len);
	uint64_t due;

	count[dir].read++;
	if (len < 1 || d[0] >> 4 != 4) {
		count[dir].not_ipv4++;	/* IPv6 chatter of a new device */
		return;
	}
	if (targeted_drop(dir, &v)) {
		count[dir].dropped++;
		return;
	}
	if (chance(f->loss)) {
		count[dir].lost++;
		return;
	}
	if (chance(f->dup) && (!f->dup_data_only || v.payload > 0)) {
		count[dir].duplicated++;
		enqueue(dir, d, len, now + f->delay + uniform(f->dup_lo, f->dup_hi));
	}
	due = now + f->delay + uniform(0, f->jitter);
	if (due < last_due[dir])
		due = last_due[dir];	/* jitter does not reorder */
	if (chance(f->reorder)) {
		count[dir].reordered++;
		due += f->reorder_gap;
	} else {
		last_due[dir] = due;
	}
	enqueue(dir, d, len, due);
}

static void
send_due(const int out[NDIR], uint64_t now)
{
	while (heap_len > 0 && heap[0]->due <= now) {
		struct packet *p = heap_pop();

		if (write(out[p->dir], p->data, p->len) == (ssize_t)p->len)
			count[p->dir].forwarded++;
		else
			count[p->dir].write_errors++;
		free(p);
	}
}

static void
drain(int dir, int fd, unsigned char *buf)
{
	for (int i = 0; i < 256; i++) {
		ssize_t n = read(fd, buf, MAX_PACKET);

		if (n <= 0)
			return;
		arrived(dir, buf, (unsigned)n, now_ns());
	}
}

/* ---- devices ---- */

static int
tun_open(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		die("faultnet: /dev/net/tun: %s", strerror(errno));
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		die("faultnet: TUNSETIFF %s: %s", name, strerror(errno));
	return fd;
}

static void
set_addr(int s, const char *dev, unsigned long req, const char *addr)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };

	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev);
	inet_pton(AF_INET, addr, &sa.sin_addr);
	memcpy(&ifr.ifr_addr, &sa, sizeof sa);
	if (ioctl(s, req, &ifr) < 0)
		die("faultnet: %s %s: %s", dev, addr, strerror(errno));
}

static void
link_up(int s, const char *dev)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("faultnet: %s: %s", dev, strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("faultnet: %s up: %s", dev, strerror(errno));
}

/* A point-to-point link end in the current namespace. */
static int
link_end(const char *dev, const char *local, const char *peer, int mtu)
{
	int fd = tun_open(dev), s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };

	if (s < 0)
		die("faultnet: socket: %s", strerror(errno));
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev);
	ifr.ifr_mtu = mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		die("faultnet: %s mtu %d: %s", dev, mtu, strerror(errno));
	ifr.ifr_qlen = 10000;	/* a burst waits for us rather than being dropped */
	if (ioctl(s, SIOCSIFTXQLEN, &ifr) < 0)
		die("faultnet: %s txqueuelen: %s", dev, strerror(errno));
	set_addr(s, dev, SIOCSIFADDR, local);
	set_addr(s, dev, SIOCSIFDSTADDR, peer);
	set_addr(s, dev, SIOCSIFNETMASK, "255.255.255.255");
	link_up(s, dev);
	close(s);
	return fd;
}

/* ---- options ---- */

static void
usage(void)
{
	die("usage: faultnet [--mtu N] [--seed N] [--loss PCT] [--delay MS] [--jitter MS]\n"
	    "\t[--reorder PCT] [--reorder-gap MS] [--dup PCT] [--dup-delay LO-HI] [--dup-only data]\n"
	    "\t[--drop fin|nth=N|flags=FSRPAU[/PCT]]...   (a fault's value may start up: or down:)");
}

static double
number(const char *s, const char *what)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || v < 0)
		die("faultnet: %s: not a number: %s", what, s);
	return v;
}

static uint64_t
ms_to_ns(const char *s, const char *what)
{
	return (uint64_t)(number(s, what) * 1e6);
}

static unsigned
flag_bits(const char *s)
{
	static const char letters[] = "FSRPAU";
	unsigned bits = 0;

	for (; *s && *s != '/'; s++) {
		const char *p = strchr(letters, *s);

		if (p == NULL)
			die("faultnet: unknown TCP flag '%c' (FSRPAU)", *s);
		bits |= 1u << (p - letters);
	}
	return bits;
}

static void
set_fault(struct faults *f, const char *opt, const char *val)
{
	if (strcmp(opt, "loss") == 0) {
		f->loss = number(val, opt);
	} else if (strcmp(opt, "delay") == 0) {
		f->delay = ms_to_ns(val, opt);
	} else if (strcmp(opt, "jitter") == 0) {
		f->jitter = ms_to_ns(val, opt);
	} else if (strcmp(opt, "reorder") == 0) {
		f->reorder = number(val, opt);
	} else if (strcmp(opt, "reorder-gap") == 0) {
		f->reorder_gap = ms_to_ns(val, opt);
	} else if (strcmp(opt, "dup") == 0) {
		f->dup = number(val, opt);
	} else if (strcmp(opt, "dup-delay") == 0) {
		char lo[32];
		const char *dash = strchr(val, '-');

		if (dash == NULL || dash - val >= (long)sizeof lo)
			die("faultnet: --dup-delay LO-HI, in ms: %s", val);
		memcpy(lo, val, (size_t)(dash - val));
		lo[dash - val] = '\0';
		f->dup_lo = ms_to_ns(lo, opt);
		f->dup_hi = ms_to_ns(dash + 1, opt);
		if (f->dup_hi < f->dup_lo)
			die("faultnet: --dup-delay %s: LO above HI", val);
	} else if (strcmp(opt, "dup-only") == 0) {
		if (strcmp(val, "data") != 0)
			die("faultnet: --dup-only data");
		f->dup_data_only = true;
	} else if (strcmp(opt, "drop") == 0) {
		struct drop_rule r = { .pct = 100 };

		if (f->ndrop == MAX_DROPS)
			die("faultnet: at most %d --drop rules a direction", MAX_DROPS);
		if (strcmp(val, "fin") == 0) {
			r.kind = DROP_FIN;
		} else if (strncmp(val, "nth=", 4) == 0) {
			r.kind = DROP_NTH;
			r.n = (unsigned)number(val + 4, "nth");
			if (r.n < 1)
				die("faultnet: --drop nth=N counts from 1");
		} else if (strncmp(val, "flags=", 6) == 0) {
			const char *slash = strchr(val, '/');

			r.kind = DROP_FLAGS;
			r.flags = flag_bits(val + 6);
			if (slash)
				r.pct = number(slash + 1, "flags percentage");
			if (r.flags == 0)
				die("faultnet: --drop flags= needs at least one of FSRPAU");
		} else {
			die("faultnet: --drop fin|nth=N|flags=FSRPAU[/PCT]: %s", val);
		}
		f->drop[f->ndrop++] = r;
	} else {
		usage();
	}
}

static int
parse(int argc, char **argv)
{
	int mtu = 1500;

	for (int d = 0; d < NDIR; d++) {
		fault[d].reorder_gap = 1000000;
		fault[d].dup_hi = 5000000;
	}
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strncmp(opt, "--", 2) != 0 || val == NULL)
			usage();
		opt += 2;
		i++;
		if (strcmp(opt, "mtu") == 0) {
			mtu = (int)number(val, opt);
		} else if (strcmp(opt, "seed") == 0) {
			rng_state = (uint64_t)number(val, opt);
		} else if (strncmp(val, "up:", 3) == 0) {
			set_fault(&fault[UP], opt, val + 3);
		} else if (strncmp(val, "down:", 5) == 0) {
			set_fault(&fault[DOWN], opt, val + 5);
		} else {
			set_fault(&fault[UP], opt, val);
			set_fault(&fault[DOWN], opt, val);
		}
	}
	if (mtu < 576 || mtu > 65535)
		die("faultnet: --mtu %d: from 576 to 65535", mtu);
	return mtu;
}

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static size_t
pending(int dir)
{
	size_t n = 0;

	for (size_t i = 0; i < heap_len; i++)
		n += heap[i]->dir == dir;
	return n;
}

static void
print_counters(void)
{
	for (int d = 0; d < NDIR; d++) {
		const struct counters *c = &count[d];

		fprintf(stderr, "faultnet: %s read=%lu forwarded=%lu lost=%lu dropped=%lu "
			"duplicated=%lu reordered=%lu overflow=%lu not_ipv4=%lu write_errors=%lu "
			"pending=%zu\n",
			dir_name[d], c->read, c->forwarded, c->lost, c->dropped, c->duplicated,
			c->reordered, c->overflow, c->not_ipv4, c->write_errors, pending(d));
	}
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, unblocked;
	unsigned char *buf = malloc(MAX_PACKET);
	int mtu = parse(argc, argv), fd[NDIR], out[NDIR];

	heap = calloc(MAX_QUEUED, sizeof *heap);
	if (buf == NULL || heap == NULL)
		die("faultnet: out of memory");
	/* Signals arrive only inside ppoll, so no packet is half handled. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 1;

	fd[UP] = link_end("fn0", "10.77.0.1", "10.77.0.2", mtu);
	if (unshare(CLONE_NEWNET) < 0)
		die("faultnet: unshare(CLONE_NEWNET): %s", strerror(errno));
	{
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		link_up(s, "lo");
		close(s);
	}
	fd[DOWN] = link_end("fn1", "10.77.0.2", "10.77.0.1", mtu);
	out[UP] = fd[DOWN];
	out[DOWN] = fd[UP];
	printf("ready %d\n", (int)getpid());
	fflush(stdout);

	while (!stopping) {
		struct pollfd pfd[NDIR] = { { fd[UP], POLLIN, 0 }, { fd[DOWN], POLLIN, 0 } };
		struct timespec wait, *timeout = NULL;
		uint64_t now = now_ns();

		send_due(out, now);
		if (heap_len > 0) {
			uint64_t left = heap[0]->due > now ? heap[0]->due - now : 0;

			wait.tv_sec = (time_t)(left / 1000000000ULL);
			wait.tv_nsec = (long)(left % 1000000000ULL);
			timeout = &wait;
		}
		if (ppoll(pfd, NDIR, timeout, &unblocked) < 0) {
			if (errno == EINTR)
				continue;
			die("faultnet: ppoll: %s", strerror(errno));
		}
		for (int d = 0; d < NDIR; d++)
			if (pfd[d].revents & POLLIN)
				drain(d, fd[d], buf);
			else if (pfd[d].revents & (POLLERR | POLLHUP | POLLNVAL))
				die("faultnet: %s device went away", dir_name[d]);
	}
	print_counters();
	close(fd[UP]);
	close(fd[DOWN]);
	return 0;
}
