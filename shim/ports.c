/*
 * ports.c - local port and source address selection (see ports.h).
 *
 * Two ways to give a client a port from local_ports:
 *
 * - When the range lies inside the system's ip_local_port_range, the
 *   kernel can do it all: IP_LOCAL_PORT_RANGE (Linux 6.3) narrows the
 *   search of this one socket, and connect() then skips every 4-tuple in
 *   use or in TIME_WAIT exactly as it does for the system range.
 *
 * - Otherwise (a private pool outside the system range, or an older
 *   kernel) the shim picks ports itself: bind() with SO_REUSEADDR, so one
 *   port serves many destinations, after asking the kernel's socket table
 *   (sock_diag) which 4-tuples towards that destination are in use,
 *   TIME_WAIT included, for a window of ports at a time.  If connect()
 *   still loses a race for the 4-tuple, the socket is replaced under the
 *   same descriptor by a fresh one with the same options, and the next
 *   port is tried.  A used-up range fails with EADDRNOTAVAIL, as an
 *   exhausted system range does.
 *
 * Each process walks the pool from an offset and with a stride of its own,
 * both drawn from its pid: short-lived processes do not all walk the ports
 * the ones before them left in TIME_WAIT, and the ports taken do not pile
 * up into runs that every later search has to cross (as they would if all
 * walked one port after the other).  As in the kernel's own picker, ports
 * in ip_local_reserved_ports are never handed out.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "fdtable.h"
#include "ports.h"
#include "real.h"
#include "reuse.h"
#include "shim.h"
#include "sockinfo.h"
#include "stats.h"

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

/*
 * The shim's own descriptors (the sock_diag and routing sockets, a
 * replacement socket) live between calls that are cancellation points: a
 * pthread_cancel() acting there would leak them.  Cancellation waits
 * while the shim holds one, and acts at the program's own connect().
 */
static int
hold_cancel(void)
{
	int old = PTHREAD_CANCEL_ENABLE;

	(void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return old;
}

static void
release_cancel(int old)
{
	(void)pthread_setcancelstate(old, NULL);
}

static unsigned port_cursor;

/*
 * What the system says about ports, read once per process: the sysctls
 * change seldom, and a connect() should not read two files.  Up to
 * MAX_RESERVED ranges of ip_local_reserved_ports are kept; beyond them a
 * reserved port may be handed out, as a program's own bind() may take one.
 */
#define MAX_RESERVED	128

struct sysports {
	unsigned lo, hi;			/* ip_local_port_range */
	unsigned nreserved;
	uint16_t reserved[MAX_RESERVED][2];	/* ip_local_reserved_ports, as ranges */
};

static struct sysports sysports_cache;
static int sysports_state;	/* 0: not read, 1: being stored, 2: stored */

static ssize_t
read_small_file(const char *path, char *buf, size_t size)
{
	int cancel = hold_cancel();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = REAL(read)(fd, buf, size - 1);
		REAL(close)(fd);
	}
	release_cancel(cancel);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* "20000-20004,30000" (or empty) into ranges. */
static void
parse_reserved(const char *s, struct sysports *sp)
{
	while (*s != '\0' && sp->nreserved < MAX_RESERVED) {
		char *end;
		unsigned long lo = strtoul(s, &end, 10), hi = lo;

		if (end == s)
			break;
		if (*end == '-')
			hi = strtoul(end + 1, &end, 10);
		if (lo <= hi && hi <= 65535) {
			sp->reserved[sp->nreserved][0] = (uint16_t)lo;
			sp->reserved[sp->nreserved][1] = (uint16_t)hi;
			sp->nreserved++;
		}
		s = end;
		while (*s == ',' || *s == ' ' || *s == '\n')
			s++;
	}
}

/*
 * The cached copy, or *local read now (the first connect() of a process,
 * or one racing with it: no thread ever waits for another here).
 */
static const struct sysports *
system_ports(struct sysports *local)
{
	char buf[4096];
	int state = 0;

	if (__atomic_load_n(&sysports_state, __ATOMIC_ACQUIRE) == 2)
		return &sysports_cache;
	memset(local, 0, sizeof *local);
	local->lo = 32768;
	local->hi = 60999;
	if (read_small_file("/proc/sys/net/ipv4/ip_local_port_range", buf, sizeof buf) > 0)
		(void)sscanf(buf, "%u %u", &local->lo, &local->hi);
	if (read_small_file("/proc/sys/net/ipv4/ip_local_reserved_ports", buf, sizeof buf) > 0)
		parse_reserved(buf, local);
	if (__atomic_compare_exchange_n(&sysports_state, &state, 1, false, __ATOMIC_ACQUIRE,
	    __ATOMIC_RELAXED)) {
		sysports_cache = *local;
		__atomic_store_n(&sysports_state, 2, __ATOMIC_RELEASE);
	}
	return local;
}

static bool
port_reserved(const struct sysports *sp, unsigned port)
{
	for (unsigned i = 0; i < sp->nreserved; i++)
		if (port >= sp->reserved[i][0] && port <= sp->reserved[i][1])
			return true;
	return false;
}

unsigned
tw_system_port_count(void)
{
	struct sysports local_copy;
	const struct sysports *sp = system_ports(&local_copy);
	unsigned n = sp->hi >= sp->lo ? sp->hi - sp->lo + 1 : 0;

	for (unsigned i = 0; i < sp->nreserved; i++) {
		unsigned lo = sp->reserved[i][0] > sp->lo ? sp->reserved[i][0] : sp->lo;
		unsigned hi = sp->reserved[i][1] < sp->hi ? sp->reserved[i][1] : sp->hi;

		if (lo <= hi && n > hi - lo)
			n -= hi - lo + 1;
	}
	return n;
}

/*
 * Where the socket on fd got its port, for the reuse quarantine: a port
 * of the shim's pool, or the number of ports the kernel picked from.
 */
static void
note_port_origin(int fd, unsigned pool_port, unsigned span)
{
	struct tw_desc *d;

	if (fdt_enter_fast()) {
		if ((d = fdt_find(fd)) != NULL) {
			d->pool_port = (uint16_t)pool_port;
			d->port_span = (uint16_t)(span > 65535 ? 65535 : span);
		}
		fdt_leave();
	}
}

/* The address to bind: local_address (or any) with `port`, in fd's family. */
static void
local_sockaddr(int family, const struct policy_opts *o, unsigned port,
    struct sockaddr_storage *ss, socklen_t *len)
{
	bool want_addr = (o->set & POLICY_KEY_BIT(KEY_LOCAL_ADDRESS)) != 0;

	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		struct sockaddr_in *in = (void *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (want_addr && o->local_family == AF_INET)
			memcpy(&in->sin_addr, o->local_addr, 4);
		else if (want_addr)
			memcpy(&in->sin_addr, o->local_addr + 12, 4);	/* v4-mapped */
		*len = sizeof *in;
		return;
	}
	struct sockaddr_in6 *in6 = (void *)ss;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons((uint16_t)port);
	if (want_addr) {
		if (o->local_family == AF_INET) {
			/* An IPv4 source on a dual-stack socket: the mapped form. */
			in6->sin6_addr.s6_addr[10] = 0xff;
			in6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&in6->sin6_addr.s6_addr[12], o->local_addr, 4);
		} else {
			memcpy(&in6->sin6_addr, o->local_addr, 16);
		}
	}
	*len = sizeof *in6;
}

/*
 * The pool is probed a window of ports at a time, one bit each: a few
 * ports first (in a pool with room the first is free), more when they
 * were all taken.  The window's requests and answers live on the stack of
 * the program's connect(), so it stays small.
 */
#define PROBE_FIRST	16
#define PROBE_WINDOW	32

/*
 * Which of ports[0 .. n - 1] (n <= PROBE_WINDOW) are in use from `local`'s
 * address towards `remote`, TIME_WAIT included: bit i for ports[i].  One
 * message to sock_diag carries a request for each exact 4-tuple (a hash
 * lookup each: a dump would walk the kernel's whole table); the kernel
 * answers each while sending, with the socket (busy) or an error (free).
 * When it cannot tell, it says free and connect() decides.
 */
static uint64_t
window_busy(int family, const struct sockaddr *local, const struct sockaddr *remote,
    const uint16_t *ports, unsigned n)
{
	struct request {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg[PROBE_WINDOW];
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	/* Each answer is a datagram of its own; its header is all we read. */
	struct nlmsghdr head[PROBE_WINDOW];
	struct iovec iov[PROBE_WINDOW];
	struct mmsghdr mm[PROBE_WINDOW];
	uint64_t busy = 0;
	int s, cancel, got;

	memset(msg, 0, n * sizeof msg[0]);
	for (unsigned i = 0; i < n; i++) {
		struct inet_diag_req_v2 *r = &msg[i].req;

		msg[i].nlh.nlmsg_len = sizeof msg[i];
		msg[i].nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
		msg[i].nlh.nlmsg_flags = NLM_F_REQUEST;
		msg[i].nlh.nlmsg_seq = i + 1;
		r->sdiag_family = (uint8_t)family;
		r->sdiag_protocol = IPPROTO_TCP;
		r->idiag_states = ~0u;
		r->id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
		r->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
		r->id.idiag_sport = htons(ports[i]);
		if (family == AF_INET) {
			const struct sockaddr_in *l = (const void *)local, *rm = (const void *)remote;
			r->id.idiag_dport = rm->sin_port;
			memcpy(r->id.idiag_src, &l->sin_addr, 4);
			memcpy(r->id.idiag_dst, &rm->sin_addr, 4);
		} else {
			const struct sockaddr_in6 *l = (const void *)local, *rm = (const void *)remote;
			r->id.idiag_dport = rm->sin6_port;
			memcpy(r->id.idiag_src, &l->sin6_addr, 16);
			memcpy(r->id.idiag_dst, &rm->sin6_addr, 16);
		}
	}

	/* recv() is a cancellation point; the socket must not leak through it. */
	cancel = hold_cancel();
	s = REAL(socket)(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (s >= 0 && sendto(s, msg, n * sizeof msg[0], 0, (struct sockaddr *)&nl,
	    sizeof nl) == (ssize_t)(n * sizeof msg[0])) {
		/* Every answer is queued by the time sendto() returns: never wait. */
		memset(mm, 0, n * sizeof mm[0]);
		for (unsigned i = 0; i < n; i++) {
			iov[i].iov_base = &head[i];
			iov[i].iov_len = sizeof head[i];
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		got = recvmmsg(s, mm, n, MSG_DONTWAIT, NULL);
		for (int j = 0; j < got; j++) {
			unsigned i = head[j].nlmsg_seq - 1;

			/* An answer with the socket: busy.  An error (ENOENT): free. */
			if (mm[j].msg_len >= sizeof head[j] && i < n &&
			    head[j].nlmsg_type == SOCK_DIAG_BY_FAMILY)
				busy |= 1ull << i;
		}
	}
	if (s >= 0)
		REAL(close)(s);
	release_cancel(cancel);
	return busy;
}

/*
 * The options a fresh socket takes over from the one it replaces, each
 * only where it differs from a fresh socket's own value (TCP_MAXSEG reads
 * 536 on any unconnected socket: copying it would cap the segment size).
 * twshim.conf(5) lists the same options, in the same order; keep the two
 * in step.  Options that cannot be read back (socket filters, TCP_MD5SIG
 * keys, TCP_ULP) are not kept.
 */
static const struct { int level, name; } carried[] = {
	{ SOL_SOCKET, SO_REUSEADDR }, { SOL_SOCKET, SO_REUSEPORT },
	{ SOL_SOCKET, SO_KEEPALIVE }, { SOL_SOCKET, SO_LINGER },
	{ SOL_SOCKET, SO_OOBINLINE }, { SOL_SOCKET, SO_DONTROUTE },
	{ SOL_SOCKET, SO_MARK },
	{ SOL_SOCKET, SO_BINDTODEVICE }, { SOL_SOCKET, SO_RCVLOWAT },
	{ SOL_SOCKET, SO_RCVTIMEO }, { SOL_SOCKET, SO_SNDTIMEO },
	{ SOL_SOCKET, SO_ZEROCOPY }, { SOL_SOCKET, SO_MAX_PACING_RATE },
	{ SOL_SOCKET, SO_BUSY_POLL }, { SOL_SOCKET, SO_INCOMING_CPU },
	{ SOL_SOCKET, SO_TIMESTAMP }, { SOL_SOCKET, SO_TIMESTAMPNS },
	{ IPPROTO_TCP, TCP_NODELAY }, { IPPROTO_TCP, TCP_CORK },
	{ IPPROTO_TCP, TCP_MAXSEG }, { IPPROTO_TCP, TCP_KEEPIDLE },
	{ IPPROTO_TCP, TCP_KEEPINTVL }, { IPPROTO_TCP, TCP_KEEPCNT },
	{ IPPROTO_TCP, TCP_SYNCNT }, { IPPROTO_TCP, TCP_USER_TIMEOUT },
	{ IPPROTO_TCP, TCP_LINGER2 }, { IPPROTO_TCP, TCP_QUICKACK },
	{ IPPROTO_TCP, TCP_CONGESTION }, { IPPROTO_TCP, TCP_NOTSENT_LOWAT },
	{ IPPROTO_TCP, TCP_WINDOW_CLAMP }, { IPPROTO_TCP, TCP_FASTOPEN_CONNECT },
	{ IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS }, { IPPROTO_TCP, TCP_INQ },
	{ IPPROTO_TCP, TCP_TX_DELAY },
	{ IPPROTO_IP, IP_TOS }, { IPPROTO_IP, IP_TTL },
	{ IPPROTO_IP, IP_FREEBIND }, { IPPROTO_IP, IP_TRANSPARENT },
	{ IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT }, { IPPROTO_IP, IP_LOCAL_PORT_RANGE },
	{ IPPROTO_IP, IP_MTU_DISCOVER }, { IPPROTO_IP, IP_RECVERR },
	{ IPPROTO_IPV6, IPV6_V6ONLY }, { IPPROTO_IPV6, IPV6_TCLASS },
	{ IPPROTO_IPV6, IPV6_UNICAST_HOPS }, { IPPROTO_IPV6, IPV6_FREEBIND },
	{ IPPROTO_IPV6, IPV6_TRANSPARENT }, { IPPROTO_IPV6, IPV6_MTU_DISCOVER },
	{ IPPROTO_IPV6, IPV6_RECVERR }, { IPPROTO_IPV6, IPV6_ADDR_PREFERENCES },
	{ IPPROTO_IPV6, IPV6_AUTOFLOWLABEL },
	/* After IP_TOS, which sets the priority from the TOS bits. */
	{ SOL_SOCKET, SO_PRIORITY },
};

/* Give fresh every option of carried[] whose value on fd is not the default. */
static void
carry_options(int fd, int fresh)
{
	unsigned char v[64], def[64];
	socklen_t len, dlen;

	for (size_t i = 0; i < sizeof carried / sizeof carried[0]; i++) {
		len = sizeof v;
		dlen = sizeof def;
		if (getsockopt(fd, carried[i].level, carried[i].name, v, &len) < 0)
			continue;	/* not this family's, or an older kernel */
		if (getsockopt(fresh, carried[i].level, carried[i].name, def, &dlen) == 0 &&
		    dlen == len && memcmp(v, def, len) == 0)
			continue;
		(void)REAL(setsockopt)(fresh, carried[i].level, carried[i].name, v, len);
	}
}

/*
 * Put a fresh socket, with the old one's options and flags, under fd.
 * Buffer sizes only when the program set them: setting one turns off the
 * kernel's autotuning.  Only for a socket that replaceable() allows.
 */
static int
replace_socket(int fd, int family, bool bufs)
{
	static const int buf_opts[] = { SO_RCVBUF, SO_SNDBUF };
	socklen_t len;
	int fresh, fl, fdfl;

	fresh = REAL(socket)(family, SOCK_STREAM, IPPROTO_TCP);
	if (fresh < 0)
		return -1;
	carry_options(fd, fresh);
	for (size_t i = 0; bufs && i < 2; i++) {
		int size;

		len = sizeof size;
		/* The kernel reports twice what was asked for, and doubles it again. */
		if (getsockopt(fd, SOL_SOCKET, buf_opts[i], &size, &len) == 0) {
			size /= 2;
			(void)REAL(setsockopt)(fresh, SOL_SOCKET, buf_opts[i], &size, sizeof size);
		}
	}
	fl = REAL(fcntl)(fd, F_GETFL);
	fdfl = REAL(fcntl)(fd, F_GETFD);
	if (fl >= 0)
		(void)REAL(fcntl)(fresh, F_SETFL, fl);
	/* dup3 replaces atomically: fd never stops being a socket. */
	if (REAL(dup3)(fresh, fd, fdfl >= 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
		REAL(close)(fresh);
		return -1;
	}
	REAL(close)(fresh);
	return 0;
}

static void
refresh_cookie(int fd)
{
	uint64_t cookie = tw_socket_cookie(fd);
	struct tw_desc *d;

	if (fdt_enter_fast()) {
		if ((d = fdt_find(fd)) != NULL)
			d->cookie = cookie;
		fdt_leave();
	}
}

/*
 * Whether the socket on fd may be replaced by a fresh one: no other
 * descriptor or process holds it, and no epoll instance watches it (a
 * registration would stay with the old socket).  *bufs: the program set
 * its buffer sizes.
 */
static bool
replaceable(int fd, bool *bufs)
{
	struct tw_desc *d;
	bool ok = false;

	*bufs = false;
	if (fdt_enter_fast()) {
		if ((d = fdt_find(fd)) != NULL) {
			ok = d->refs == 1 && !(d->flags & (TW_D_SHARED | TW_D_POLLED));
			*bufs = (d->flags & TW_D_SET_BUFS) != 0;
		}
		fdt_leave();
	}
	return ok;
}

/* Replace the socket on fd, if replaceable(), and keep the table true. */
static bool
renew_socket(int fd, int family)
{
	bool bufs, done;
	int cancel;

	if (!replaceable(fd, &bufs))
		return false;
	cancel = hold_cancel();
	done = replace_socket(fd, family, bufs) == 0;
	release_cancel(cancel);
	if (done)
		refresh_cookie(fd);
	return done;
}

/*
 * The source address the kernel will pick towards sa, found by routing a
 * UDP socket there; sock_diag needs the exact 4-tuple.  One entry per
 * thread is cached: clients tend to talk to one place at a time.
 */
static __thread struct {
	struct sockaddr_storage dst, src;
	socklen_t len;
} route_cache __attribute__((tls_model("initial-exec")));

static bool
same_host(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16) == 0;
}

static bool
route_source(int family, const struct sockaddr *sa, socklen_t len,
    struct sockaddr_storage *src)
{
	socklen_t slen = sizeof *src;
	int u, cancel;
	bool routed;

	if (route_cache.len != 0 && same_host((struct sockaddr *)&route_cache.dst, sa)) {
		*src = route_cache.src;
		return true;
	}
	cancel = hold_cancel();
	u = REAL(socket)(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	routed = u >= 0 && REAL(connect)(u, sa, len) == 0 &&
	    getsockname(u, (struct sockaddr *)src, &slen) == 0;
	if (u >= 0)
		REAL(close)(u);
	release_cancel(cancel);
	if (!routed)
		return false;
	memcpy(&route_cache.dst, sa, len);
	route_cache.src = *src;
	route_cache.len = len;
	return true;
}

/* The local address to check: the bound one if local_address says, else the routed one. */
static void
check_address(int family, const struct policy_opts *o, const struct sockaddr *sa,
    socklen_t len, unsigned port, struct sockaddr_storage *out)
{
	socklen_t llen;

	local_sockaddr(family, o, port, out, &llen);
	if (!(o->set & POLICY_KEY_BIT(KEY_LOCAL_ADDRESS)) && route_source(family, sa, len, out)) {
		if (family == AF_INET)
			((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
		else
			((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
	}
}

static unsigned
gcd(unsigned a, unsigned b)
{
	while (b != 0) {
		unsigned t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/*
 * How this process walks a pool of `span` ports: the offset of its next
 * search (drawn from its pid, then onwards from the last port it took)
 * and a stride prime to span, so that the walk meets every port once.
 */
static void
pool_walk(unsigned span, unsigned *start, unsigned *stride)
{
	uint32_t h = (uint32_t)getpid();

	/* A mixing step, so that neighbouring pids land far apart. */
	h ^= h >> 16;
	h *= 0x7feb352dU;
	h ^= h >> 15;
	h *= 0x846ca68bU;
	h ^= h >> 16;
	*start = (h + __atomic_load_n(&port_cursor, __ATOMIC_RELAXED)) % span;
	*stride = 1 + (h >> 8) % span;
	while (gcd(*stride, span) != 1)
		(*stride)++;
}

static int
connect_from_pool(int fd, int family, const struct sockaddr *sa, socklen_t len,
    const struct policy_opts *o, const struct sysports *sp)
{
	unsigned lo = o->port_lo, hi = o->port_hi, span = hi - lo + 1;
	unsigned start, stride, window_start = 0, window_end = 0, window = PROBE_FIRST;
	int one = 1, rc;
	bool renewed = false;
	uint64_t busy = 0;
	uint16_t ports[PROBE_WINDOW];
	struct sockaddr_storage local, probe;
	socklen_t llen;
	char addr[80];

	pool_walk(span, &start, &stride);
	/* The same source address for every port of the walk. */
	check_address(family, o, sa, len, 0, &probe);
	for (unsigned i = 0; i < span; i++) {
		unsigned port;

		if (i >= window_end) {
			/* The next window: the ports of the walk from here. */
			unsigned n = span - i < window ? span - i : window;

			for (unsigned j = 0; j < n; j++)
				ports[j] = (uint16_t)(lo + (start + (uint64_t)(i + j) * stride) % span);
			busy = window_busy(family, (struct sockaddr *)&probe, sa, ports, n);
			window_start = i;
			window_end = i + n;
			window = PROBE_WINDOW;
		}
		port = ports[i - window_start];
		if (port_reserved(sp, port)) {
			tw_count(port_retries);
			continue;
		}
		if (busy & (1ull << (i - window_start))) {
			tw_count(port_retries);
			continue;
		}
		if (tw_reuse_port_quarantined(port)) {
			tw_count(port_quarantined);
			continue;
		}
		local_sockaddr(family, o, port, &local, &llen);
		(void)REAL(setsockopt)(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (REAL(bind)(fd, (struct sockaddr *)&local, llen) < 0) {
			if (errno == EADDRINUSE || errno == EACCES) {
				tw_count(port_retries);
				continue;
			}
			/*
			 * EINVAL: already bound, by a lost race of ours; start
			 * afresh, once.  Any other error, or EINVAL again, is
			 * the program's to see.
			 */
			if (errno != EINVAL || renewed || !renew_socket(fd, family))
				return -1;
			renewed = true;
			i--;
			continue;
		}
		/* The next connect() of this process starts after this port. */
		__atomic_fetch_add(&port_cursor, (i + 1) % span * stride % span, __ATOMIC_RELAXED);
		rc = REAL(connect)(fd, sa, len);
		if (rc == 0 || errno != EADDRNOTAVAIL) {
			if (rc == 0 || errno == EINPROGRESS) {
				int keep = errno;

				tw_count(ports_allocated);
				note_port_origin(fd, port, 0);
				errno = keep;
			}
			tw_log(TW_LOG_DEBUG, "fd %d: local port %u for %s", fd, port,
			    tw_addr_str(sa, addr, sizeof addr));
			return rc;
		}
		/* Lost the 4-tuple between the check and connect(). */
		tw_count(port_retries);
		if (!renew_socket(fd, family)) {
			errno = EADDRNOTAVAIL;
			return -1;
		}
		renewed = false;
	}
	tw_count(port_exhausted);
	tw_log(TW_LOG_WARN, "fd %d: every port in local_ports %u-%u is in use towards %s",
	    fd, lo, hi, tw_addr_str(sa, addr, sizeof addr));
	errno = EADDRNOTAVAIL;
	return -1;
}

/*
 * The program bound the socket itself, and the policy forces its own
 * choice.  A bound socket cannot be bound again, so a fresh one takes its
 * place; the program's source address stays unless local_address is set.
 * False when the socket is shared or cannot be replaced: the program's
 * bind() then stands.
 */
static bool
unbind_for_policy(int fd, int family, struct policy_opts *o, unsigned *port)
{
	static const unsigned char any6[16];
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	const struct sockaddr_in *in = (const void *)&ss;
	const struct sockaddr_in6 *in6 = (const void *)&ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 || !renew_socket(fd, family))
		return false;
	*port = ntohs(ss.ss_family == AF_INET ? in->sin_port : in6->sin6_port);
	if (o->set & POLICY_KEY_BIT(KEY_LOCAL_ADDRESS))
		;	/* the policy's address, not the program's */
	else if (ss.ss_family == AF_INET && in->sin_addr.s_addr != htonl(INADDR_ANY)) {
		o->local_family = AF_INET;
		memcpy(o->local_addr, &in->sin_addr, 4);
		o->set |= POLICY_KEY_BIT(KEY_LOCAL_ADDRESS);
	} else if (ss.ss_family == AF_INET6 && memcmp(&in6->sin6_addr, any6, 16) != 0) {
		o->local_family = AF_INET6;
		memcpy(o->local_addr, &in6->sin6_addr, 16);
		o->set |= POLICY_KEY_BIT(KEY_LOCAL_ADDRESS);
	}
	tw_log(TW_LOG_DEBUG, "fd %d: the program's own bind() overruled (forced)", fd);
	return true;
}

/*
 * Whether local_address can be the source of fd's connection to sa: an
 * IPv4 source for an IPv4 destination (on an IPv6 socket, a v4-mapped one,
 * which IPV6_V6ONLY forbids), an IPv6 source for an IPv6 destination.
 */
static bool
address_fits(int fd, int family, const struct policy_opts *o, const struct sockaddr *sa)
{
	bool src_v4, dst_v4;
	int v6only = 0;
	socklen_t len = sizeof v6only;

	if (!(o->set & POLICY_KEY_BIT(KEY_LOCAL_ADDRESS)))
		return true;
	src_v4 = o->local_family == AF_INET || policy_addr_is_v4mapped(o->local_addr);
	dst_v4 = sa->sa_family == AF_INET ||
	    policy_addr_is_v4mapped(((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr);
	if (family == AF_INET)
		return src_v4;
	if (src_v4 && getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) == 0 && v6only)
		return false;
	return src_v4 == dst_v4;
}

/*
 * Whether sa is a whole address of the socket's own family.  Anything else
 * (an IPv4 address on an IPv6 socket, a short length) is the kernel's to
 * refuse, before the shim reads it or binds anything.
 */
static bool
address_complete(int family, const struct sockaddr *sa, socklen_t len)
{
	if (len < (socklen_t)sizeof(sa_family_t) || sa->sa_family != family)
		return false;
	if (family == AF_INET)
		return len >= (socklen_t)sizeof(struct sockaddr_in);
	/* Linux takes an IPv6 address without its sin6_scope_id (RFC 2133's length, 24). */
	return family == AF_INET6 &&
	    len >= (socklen_t)offsetof(struct sockaddr_in6, sin6_scope_id);
}

static int
ports_connect(int fd, const struct sockaddr *sa, socklen_t len,
    const struct policy_opts *o, bool prog_bound)
{
	unsigned keys = POLICY_KEY_BIT(KEY_LOCAL_PORTS) | POLICY_KEY_BIT(KEY_LOCAL_ADDRESS);
	unsigned one = 1, prog_port = 0;
	struct sockaddr_storage local;
	struct policy_opts forced;
	socklen_t llen;
	int family;

	/* Only called with one of the keys set (tw_ports_connect). */
	if (prog_bound && !(o->set & o->forced & keys))
		return REAL(connect)(fd, sa, len);
	if ((family = tw_socket_family(fd)) < 0 || !address_complete(family, sa, len))
		return REAL(connect)(fd, sa, len);
	if (!address_fits(fd, family, o, sa)) {
		char addr[80];

		tw_log(TW_LOG_WARN, "fd %d: local_address cannot be the source towards %s; "
		    "left alone", fd, tw_addr_str(sa, addr, sizeof addr));
		return REAL(connect)(fd, sa, len);
	}
	if (prog_bound) {
		forced = *o;
		if (!unbind_for_policy(fd, family, &forced, &prog_port))
			return REAL(connect)(fd, sa, len);
		o = &forced;
	}

	if (o->set & POLICY_KEY_BIT(KEY_LOCAL_PORTS)) {
		struct sysports local_copy;
		const struct sysports *sp = system_ports(&local_copy);

		if (o->port_lo >= sp->lo && o->port_hi <= sp->hi) {
			uint32_t range = o->port_lo | ((uint32_t)o->port_hi << 16);

			if (REAL(setsockopt)(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE,
			    &range, sizeof range) == 0) {
				if (o->set & POLICY_KEY_BIT(KEY_LOCAL_ADDRESS)) {
					(void)REAL(setsockopt)(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT,
					    &one, sizeof one);
					local_sockaddr(family, o, 0, &local, &llen);
					if (REAL(bind)(fd, (struct sockaddr *)&local, llen) < 0)
						return -1;
				}
				tw_count(ports_allocated);
				note_port_origin(fd, 0, o->port_hi - o->port_lo + 1);
				return REAL(connect)(fd, sa, len);
			}
		}
		return connect_from_pool(fd, family, sa, len, o, sp);
	}

	/*
	 * local_address alone: the kernel still picks the port, at connect();
	 * or it is the port the program had bound, when force replaced its socket.
	 */
	local_sockaddr(family, o, prog_port, &local, &llen);
	if (prog_port == 0)
		(void)REAL(setsockopt)(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	if (REAL(bind)(fd, (struct sockaddr *)&local, llen) < 0)
		return -1;
	return REAL(connect)(fd, sa, len);
}

int
tw_ports_connect(int fd, const struct sockaddr *sa, socklen_t len,
    const struct policy_opts *o, bool prog_bound)
{
	unsigned keys = POLICY_KEY_BIT(KEY_LOCAL_PORTS) | POLICY_KEY_BIT(KEY_LOCAL_ADDRESS);
	int saved, rc;

	if (!(o->set & keys))
		return REAL(connect)(fd, sa, len);
	saved = errno;
	rc = ports_connect(fd, sa, len, o, prog_bound);

	/* What the shim tried on the way (ENOPROTOOPT from an older kernel) is not the program's. */
	if (rc == 0)
		errno = saved;
	return rc;
}
