/*
 * cgroup.bpf.c - the kernel backend of "twshim --cgroup": the policy for
 * the programs of one cgroup that LD_PRELOAD cannot reach (Go, static,
 * musl).  bind4/6 sets reuseaddr and reuseport, connect4/6 the local
 * address and port pool, sock_ops the options of an established
 * connection and, for fin-then-reset, reports each connection that enters
 * TIME_WAIT to the launcher, which destroys it (sock_diag SOCK_DESTROY):
 * the kernel lets no program of this kind end a TIME_WAIT itself.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "cgroup_abi.h"

/*
 * The project states no license yet (debian/copyright), so neither does
 * this: the kernel then allows only helpers that are not GPL-only, and
 * these programs use none.
 */
char LICENSE[] SEC("license") = "not-yet-stated";

/* Not in vmlinux.h, which carries no macros. */
#define AF_INET		2
#define AF_INET6	10
#define SOCK_STREAM	1
#define SOL_SOCKET	1
#define SO_REUSEADDR	2
#define SO_KEEPALIVE	9
#define SO_REUSEPORT	15
#define SOL_TCP		6
#define TCP_NODELAY	1
#define TCP_KEEPIDLE	4
#define TCP_KEEPINTVL	5
#define TCP_KEEPCNT	6
#define TCP_USER_TIMEOUT 18
#define EADDRNOTAVAIL	99

/*
 * Context fields read in place: the verifier refuses a context pointer the
 * compiler has moved (ctx + off, then a load from it).
 */
#define CTX(field)	(*(volatile __u32 *)&(field))

/* Set by the launcher before load. */
const volatile __u32 nsections = 0;

__u64 counters[TWB_NCOUNTERS] = {};
/* Where the next search of a local_ports pool starts: spreads the ports. */
__u32 pool_cursor = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TWB_MAX_SECTIONS);
	__type(key, __u32);
	__type(value, struct twb_section);
} sections SEC(".maps");

/* TIME_WAIT events; the launcher sizes it before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* Cookies of events the ring buffer had no room for: the sweep finds them. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} lost SEC(".maps");

/* What establishment decided and saw, read back when the connection ends. */
struct conn {
	__u8 close;		/* TWB_CLOSE_* */
	__u8 timestamps;	/* the handshake negotiated TCP timestamps */
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct conn);
} conns SEC(".maps");

static __always_inline void
count(enum twb_counter c)
{
	__sync_fetch_and_add(&counters[c], 1);
}

/* An IPv4-mapped IPv6 address matches as IPv4, as in the library. */
static __always_inline __u8
fold(__u8 family, __u32 a[4])
{
	if (family == 6 && a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff)) {
		a[0] = a[3];
		a[1] = a[2] = a[3] = 0;
		return 4;
	}
	return family;
}

static __always_inline bool
section_matches(const struct twb_section *s, __u8 role, __u8 family, const __u32 a[4],
    __u16 port)
{
	if (s->role != role)
		return false;
	if (s->has_port && (port < s->port_lo || port > s->port_hi))
		return false;
	if (s->family == 0)
		return true;
	if (s->family != family)
		return false;
	return ((a[0] ^ s->addr[0]) & s->mask[0]) == 0 && ((a[1] ^ s->addr[1]) & s->mask[1]) == 0 &&
	    ((a[2] ^ s->addr[2]) & s->mask[2]) == 0 && ((a[3] ^ s->addr[3]) & s->mask[3]) == 0;
}

/*
 * The policy's answer for the keys in `want`: each from the first section
 * in file order that matches and sets it, as policy_match() decides.
 */
static __always_inline __u32
match(__u8 role, __u8 family, const __u32 a[4], __u16 port, __u32 want, struct twb_section *o)
{
	__u32 got = 0;

	for (__u32 i = 0; i < TWB_MAX_SECTIONS; i++) {
		struct twb_section *s;
		__u32 key = i, take;

		if (i >= nsections)
			break;
		s = bpf_map_lookup_elem(&sections, &key);
		if (s == NULL)
			break;
		if (!section_matches(s, role, family, a, port))
			continue;
		take = s->set & want & ~got;
		if (take & TWB_KEY_REUSEADDR)
			o->reuseaddr = s->reuseaddr;
		if (take & TWB_KEY_REUSEPORT)
			o->reuseport = s->reuseport;
		if (take & TWB_KEY_NODELAY)
			o->nodelay = s->nodelay;
		if (take & TWB_KEY_KEEPALIVE) {
			o->keepalive = s->keepalive;
			o->keep_idle_s = s->keep_idle_s;
			o->keep_intvl_s = s->keep_intvl_s;
			o->keep_cnt = s->keep_cnt;
		}
		if (take & TWB_KEY_USER_TIMEOUT)
			o->user_timeout_ms = s->user_timeout_ms;
		if (take & TWB_KEY_CLOSE)
			o->close = s->close;
		if (take & TWB_KEY_LOCAL_PORTS) {
			o->pool_lo = s->pool_lo;
			o->pool_hi = s->pool_hi;
		}
		if (take & TWB_KEY_LOCAL_ADDRESS) {
			o->local_family = s->local_family;
			o->local_addr[0] = s->local_addr[0];
			o->local_addr[1] = s->local_addr[1];
			o->local_addr[2] = s->local_addr[2];
			o->local_addr[3] = s->local_addr[3];
		}
		got |= take;
		if (got == want)
			break;
	}
	o->set = got;
	return got;
}

/*
 * An int for a helper to read or write, alone in its 8-byte stack slot: the
 * verifier forgets what the compiler keeps in the other half of a slot a
 * helper has touched (the program's return value, once).
 */
union slot {
	int v;
	__u64 whole;
};

static __always_inline void
set_int(void *ctx, int level, int name, int value)
{
	union slot buf = { .whole = 0 };

	buf.v = value;
	bpf_setsockopt(ctx, level, name, &buf.v, sizeof buf.v);
}

/*
 * The policy's value, unless the program already changed the option from
 * the kernel's default (`dflt`): as in the library, the program's own
 * setsockopt() wins over a key not written with "force" (which the kernel
 * backend refuses).  Returns whether the policy's value is in place.
 */
static __always_inline bool
set_unless_changed(void *ctx, int level, int name, int value, int dflt)
{
	union slot cur = { .whole = 0 };

	cur.v = dflt;
	if (bpf_getsockopt(ctx, level, name, &cur.v, sizeof cur.v) == 0 && cur.v != dflt)
		return cur.v == value;
	set_int(ctx, level, name, value);
	return true;
}

/* ---- bind(): a listener's reuseaddr and reuseport ---- */

static __always_inline int
on_bind(struct bpf_sock_addr *ctx, __u8 family, __u32 a[4])
{
	struct twb_section o = {};

	if (ctx->type != SOCK_STREAM)
		return 1;
	family = fold(family, a);
	if (!match(TWB_ROLE_LISTENER, family, a, bpf_ntohs((__u16)ctx->user_port),
	    TWB_KEY_REUSEADDR | TWB_KEY_REUSEPORT, &o))
		return 1;
	if (o.set & TWB_KEY_REUSEADDR)
		set_unless_changed(ctx, SOL_SOCKET, SO_REUSEADDR, o.reuseaddr, 0);
	if (o.set & TWB_KEY_REUSEPORT)
		set_unless_changed(ctx, SOL_SOCKET, SO_REUSEPORT, o.reuseport, 0);
	return 1;
}

SEC("cgroup/bind4")
int twshim_bind4(struct bpf_sock_addr *ctx)
{
	__u32 a[4] = { ctx->user_ip4, 0, 0, 0 };

	return on_bind(ctx, 4, a);
}

SEC("cgroup/bind6")
int twshim_bind6(struct bpf_sock_addr *ctx)
{
	__u32 a[4] = { CTX(ctx->user_ip6[0]), CTX(ctx->user_ip6[1]), CTX(ctx->user_ip6[2]),
	    CTX(ctx->user_ip6[3]) };

	return on_bind(ctx, 6, a);
}

/* ---- connect(): a client's local_address and private port pool ---- */

static __always_inline int
bind_local(struct bpf_sock_addr *ctx, const struct twb_section *o, __u16 port)
{
	if (ctx->family == AF_INET) {
		struct sockaddr_in sa = {};

		sa.sin_family = AF_INET;
		sa.sin_port = bpf_htons(port);
		if (o->set & TWB_KEY_LOCAL_ADDRESS)
			sa.sin_addr.s_addr = o->local_addr[0];
		return bpf_bind(ctx, (struct sockaddr *)&sa, sizeof sa);
	} else {
		struct sockaddr_in6 sa = {};

		sa.sin6_family = AF_INET6;
		sa.sin6_port = bpf_htons(port);
		if ((o->set & TWB_KEY_LOCAL_ADDRESS) && o->local_family == 6) {
			sa.sin6_addr.in6_u.u6_addr32[0] = o->local_addr[0];
			sa.sin6_addr.in6_u.u6_addr32[1] = o->local_addr[1];
			sa.sin6_addr.in6_u.u6_addr32[2] = o->local_addr[2];
			sa.sin6_addr.in6_u.u6_addr32[3] = o->local_addr[3];
		} else if (o->set & TWB_KEY_LOCAL_ADDRESS) {
			sa.sin6_addr.in6_u.u6_addr32[2] = bpf_htonl(0xffff);
			sa.sin6_addr.in6_u.u6_addr32[3] = o->local_addr[0];
		}
		return bpf_bind(ctx, (struct sockaddr *)&sa, sizeof sa);
	}
}

/* Pool ports tried per connect() before it fails with EADDRNOTAVAIL. */
#define POOL_TRIES	256

static __always_inline int
on_connect(struct bpf_sock_addr *ctx, __u8 family, __u32 a[4])
{
	struct twb_section o = {};
	struct bpf_sock *sk = ctx->sk;
	__u32 size, start;

	if (ctx->type != SOCK_STREAM || sk == NULL || sk->src_port != 0)
		return 1;	/* the program bound it itself: its choice stands */
	family = fold(family, a);
	if (!match(TWB_ROLE_CLIENT, family, a, bpf_ntohs((__u16)ctx->user_port),
	    TWB_KEY_LOCAL_ADDRESS | TWB_KEY_LOCAL_PORTS | TWB_KEY_REUSEADDR | TWB_KEY_REUSEPORT, &o))
		return 1;
	/* A client's reuseaddr and reuseport matter to the bind that follows. */
	if (o.set & TWB_KEY_REUSEADDR)
		set_unless_changed(ctx, SOL_SOCKET, SO_REUSEADDR, o.reuseaddr, 0);
	if (o.set & TWB_KEY_REUSEPORT)
		set_unless_changed(ctx, SOL_SOCKET, SO_REUSEPORT, o.reuseport, 0);
	if (!(o.set & (TWB_KEY_LOCAL_ADDRESS | TWB_KEY_LOCAL_PORTS)))
		return 1;
	/* An IPv4 socket cannot take an IPv6 source, nor a v4-mapped peer a v6 one. */
	if ((o.set & TWB_KEY_LOCAL_ADDRESS) && o.local_family != family) {
		o.set &= ~TWB_KEY_LOCAL_ADDRESS;
		if (!(o.set & TWB_KEY_LOCAL_PORTS))
			return 1;
	}
	if (!(o.set & TWB_KEY_LOCAL_PORTS)) {
		bind_local(ctx, &o, 0);
		return 1;
	}
	size = (__u32)o.pool_hi - o.pool_lo + 1;
	start = __sync_fetch_and_add(&pool_cursor, 1);
	for (__u32 t = 0; t < POOL_TRIES && t < size; t++) {
		__u16 port = o.pool_lo + (start + t) % size;

		if (bind_local(ctx, &o, port) == 0)
			return 1;
	}
	count(TWB_POOL_EXHAUSTED);
	bpf_set_retval(-EADDRNOTAVAIL);
	return 0;
}

SEC("cgroup/connect4")
int twshim_connect4(struct bpf_sock_addr *ctx)
{
	__u32 a[4] = { ctx->user_ip4, 0, 0, 0 };

	return on_connect(ctx, 4, a);
}

SEC("cgroup/connect6")
int twshim_connect6(struct bpf_sock_addr *ctx)
{
	__u32 a[4] = { CTX(ctx->user_ip6[0]), CTX(ctx->user_ip6[1]), CTX(ctx->user_ip6[2]),
	    CTX(ctx->user_ip6[3]) };

	return on_connect(ctx, 6, a);
}

/* ---- sock_ops: options at establishment, TIME_WAIT at the end ---- */


static __always_inline __u8
sock_family(struct bpf_sock_ops *ctx)
{
	return ctx->family == AF_INET6 ? 6 : 4;
}

static __always_inline void
local_addr(struct bpf_sock_ops *ctx, __u32 a[4])
{
	if (ctx->family == AF_INET6) {
		a[0] = CTX(ctx->local_ip6[0]);
		a[1] = CTX(ctx->local_ip6[1]);
		a[2] = CTX(ctx->local_ip6[2]);
		a[3] = CTX(ctx->local_ip6[3]);
	} else {
		a[0] = CTX(ctx->local_ip4);
		a[1] = a[2] = a[3] = 0;
	}
}

static __always_inline void
remote_addr(struct bpf_sock_ops *ctx, __u32 a[4])
{
	if (ctx->family == AF_INET6) {
		a[0] = CTX(ctx->remote_ip6[0]);
		a[1] = CTX(ctx->remote_ip6[1]);
		a[2] = CTX(ctx->remote_ip6[2]);
		a[3] = CTX(ctx->remote_ip6[3]);
	} else {
		a[0] = CTX(ctx->remote_ip4);
		a[1] = a[2] = a[3] = 0;
	}
}

/*
 * Whether the handshake negotiated timestamps, so that PAWS guards the
 * four-tuple: the segment that established the connection (the SYN-ACK a
 * client received, the ACK a server did) carries the option only then.
 * Read from the header, which needs no privilege beyond CAP_BPF, where
 * the socket's own flag would need CAP_PERFMON.
 */
static __always_inline bool
handshake_has_timestamps(struct bpf_sock_ops *ctx)
{
	union {
		__u8 opt[12];
		__u64 whole[2];
	} buf = { .whole = { 0, 0 } };

	buf.opt[0] = 8;		/* TCPOPT_TIMESTAMP */
	return bpf_load_hdr_opt(ctx, buf.opt, sizeof buf.opt, 0) > 0;
}

#define CONNECTION_KEYS (TWB_KEY_KEEPALIVE | TWB_KEY_NODELAY | TWB_KEY_USER_TIMEOUT | TWB_KEY_CLOSE)

static __always_inline void
established(struct bpf_sock_ops *ctx, bool active)
{
	struct twb_section o = {};
	struct bpf_sock *sk;
	union slot on = { .whole = 0 };
	struct conn *c;
	__u32 a[4];
	__u8 family;

	if (active) {
		remote_addr(ctx, a);
		family = fold(sock_family(ctx), a);
		match(TWB_ROLE_CLIENT, family, a, bpf_ntohl(ctx->remote_port), CONNECTION_KEYS, &o);
	} else {
		struct twb_section from_listener = {};

		local_addr(ctx, a);
		family = fold(sock_family(ctx), a);
		match(TWB_ROLE_ACCEPTED, family, a, ctx->local_port, CONNECTION_KEYS, &o);
		/* What a listener's section sets, its accepted connections inherit. */
		match(TWB_ROLE_LISTENER, family, a, ctx->local_port,
		    (TWB_KEY_KEEPALIVE | TWB_KEY_NODELAY | TWB_KEY_USER_TIMEOUT) & ~o.set,
		    &from_listener);
		if (from_listener.set & TWB_KEY_KEEPALIVE) {
			o.keepalive = from_listener.keepalive;
			o.keep_idle_s = from_listener.keep_idle_s;
			o.keep_intvl_s = from_listener.keep_intvl_s;
			o.keep_cnt = from_listener.keep_cnt;
		}
		if (from_listener.set & TWB_KEY_NODELAY)
			o.nodelay = from_listener.nodelay;
		if (from_listener.set & TWB_KEY_USER_TIMEOUT)
			o.user_timeout_ms = from_listener.user_timeout_ms;
		o.set |= from_listener.set;
	}
	/* The timers only with our own keepalive: a program's own keeps its own. */
	if ((o.set & TWB_KEY_KEEPALIVE) &&
	    bpf_getsockopt(ctx, SOL_SOCKET, SO_KEEPALIVE, &on.v, sizeof on.v) == 0 && on.v == 0) {
		set_int(ctx, SOL_SOCKET, SO_KEEPALIVE, o.keepalive);
		if (o.keepalive && o.keep_idle_s)
			set_int(ctx, SOL_TCP, TCP_KEEPIDLE, o.keep_idle_s);
		if (o.keepalive && o.keep_intvl_s)
			set_int(ctx, SOL_TCP, TCP_KEEPINTVL, o.keep_intvl_s);
		if (o.keepalive && o.keep_cnt)
			set_int(ctx, SOL_TCP, TCP_KEEPCNT, o.keep_cnt);
	}
	if (o.set & TWB_KEY_NODELAY)
		set_unless_changed(ctx, SOL_TCP, TCP_NODELAY, o.nodelay, 0);
	if (o.set & TWB_KEY_USER_TIMEOUT)
		set_unless_changed(ctx, SOL_TCP, TCP_USER_TIMEOUT, o.user_timeout_ms, 0);
	if (!(o.set & TWB_KEY_CLOSE) || o.close == TWB_CLOSE_NORMAL)
		return;
	sk = ctx->sk;
	if (sk == NULL)
		return;
	c = bpf_sk_storage_get(&conns, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (c == NULL)
		return;
	c->close = o.close;
	c->timestamps = handshake_has_timestamps(ctx);
	/*
	 * The cookie is made now, so that the TIME_WAIT socket, which copies
	 * it when it is created, carries the one the event will name.
	 */
	bpf_get_socket_cookie(ctx);
	__sync_fetch_and_add(&counters[TWB_OPEN], 1);
	bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}


static __always_inline void
closed(struct bpf_sock_ops *ctx, bool to_time_wait)
{
	struct bpf_sock *sk = ctx->sk;
	struct twb_event *e;
	__u64 cookie, now;
	struct conn *c;

	if (sk == NULL || (c = bpf_sk_storage_get(&conns, sk, 0, 0)) == NULL)
		return;
	__sync_fetch_and_add(&counters[TWB_OPEN], -1);
	if (!to_time_wait)
		return;
	count(TWB_TIME_WAITS);
	if (c->close != TWB_CLOSE_ALWAYS && ctx->data_segs_in == 0) {
		count(TWB_SKIPPED_NO_DATA);
		return;
	}
	if (!c->timestamps) {
		count(TWB_SKIPPED_NO_TS);
		return;
	}
	cookie = bpf_get_socket_cookie(ctx);
	now = bpf_ktime_get_ns();
	e = bpf_ringbuf_reserve(&events, sizeof *e, 0);
	if (e == NULL) {
		count(TWB_EVENTS_LOST);
		bpf_map_update_elem(&lost, &cookie, &now, BPF_ANY);
		return;
	}
	e->cookie = cookie;
	e->netns = bpf_get_netns_cookie(ctx);
	e->when_ns = now;
	e->family = sock_family(ctx);
	e->swept = 0;
	local_addr(ctx, e->src);
	remote_addr(ctx, e->dst);
	e->sport = (__u16)ctx->local_port;
	e->dport = (__u16)bpf_ntohl(ctx->remote_port);
	bpf_ringbuf_submit(e, 0);
}

SEC("sockops")
int twshim_sockops(struct bpf_sock_ops *ctx)
{
	switch (ctx->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		established(ctx, true);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		established(ctx, false);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		/* tcp_time_wait() closes the full socket as its TIME_WAIT takes over. */
		if (ctx->args[1] == BPF_TCP_CLOSE)
			closed(ctx, ctx->args[0] == BPF_TCP_FIN_WAIT2 ||
			    ctx->args[0] == BPF_TCP_CLOSING);
		break;
	}
	return 1;
}
