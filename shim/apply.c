/*
 * apply.c - roles and socket options (see apply.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>

#include "apply.h"
#include "fdtable.h"
#include "ports.h"
#include "real.h"
#include "shim.h"
#include "sockinfo.h"
#include "stats.h"
#include "strategy.h"

static bool
is_tcp_request(int domain, int type, int protocol)
{
	return (domain == AF_INET || domain == AF_INET6) &&
	    (type & 0xf) == SOCK_STREAM &&
	    (protocol == 0 || protocol == IPPROTO_TCP);
}

/* Family of fd when it is a TCP socket, else -1.  For sockets we never saw made. */
static int
probe_tcp(int fd)
{
	int domain, type, proto;
	socklen_t len;

	if ((domain = tw_socket_family(fd)) < 0)
		return -1;
	len = sizeof type;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -1;
	len = sizeof proto;
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0)
		return -1;
	return is_tcp_request(domain, type, proto) ? domain : -1;
}

static bool
tracking(void)
{
	/* Before the constructor we cannot know yet: track, decide later. */
	return tw_mode() != TW_MODE_OFF;
}

static bool
acting(unsigned role_bit)
{
	return tw_mode() == TW_MODE_ACTIVE && (tw_state.roles & role_bit) != 0;
}

void
tw_on_socket(int fd, int domain, int type, int protocol)
{
	if (!is_tcp_request(domain, type, protocol) || !tracking()) {
		if (fdt_maybe(fd)) {
			int saved = errno;
			fdt_forget(fd);
			errno = saved;
		}
		return;
	}
	fdt_note_socket(fd, domain, (type & SOCK_CLOEXEC) != 0);
	tw_count(sockets_tracked);
	if (tw_mode() == TW_MODE_BOOT)
		tw_count(sockets_before_init);
}

/*
 * An entry is stale when its socket was closed where no hook saw it (a raw
 * system call, io_uring) and the number now holds another socket, made as
 * unseen.  Only an entry the shim has acted on knows its socket's cookie;
 * that is also the only kind whose state could hurt the new socket (forced
 * options, a role already played), so only it is checked, and only where
 * its state would be trusted: at bind, listen, connect and epoll_ctl(ADD),
 * when a forced option would swallow the program's setsockopt(), and for
 * what an accepted socket inherits from its listener.  close() checks for
 * itself.  What shutdown() and dup() note on a stale entry can do no harm:
 * the close of that number finds the entry stale and closes plainly.
 *
 * stale_entry(): whether fd no longer holds the socket whose cookie is
 * `cookie`; if so its entry is dropped (unless another thread has given
 * the number a new one meanwhile).  *dups, if not NULL, tells whether
 * other descriptors shared the entry: dup()s of the old socket or of the
 * new one, which the shim cannot tell apart.  Called with the table left.
 */
static bool
stale_entry(int fd, uint64_t cookie, bool *dups)
{
	struct tw_desc *d;
	int saved = errno;

	if (tw_same_socket(fd, cookie))
		return false;
	if (fdt_enter_fast()) {
		if ((d = fdt_find(fd)) != NULL && d->cookie == cookie) {
			if (dups != NULL)
				*dups = d->refs > 1;
			(void)fdt_remove(fd, NULL);
		}
		fdt_leave();
	}
	tw_log(TW_LOG_DEBUG, "fd %d: no longer the socket the shim knew; forgotten", fd);
	errno = saved;
	return true;
}

/*
 * Find fd's state, checked against a stale entry, adopting a TCP socket
 * made where we could not see it (before the library was loaded, or
 * inherited across exec).  Returns with the table entered, or NULL with
 * it left.
 */
static struct tw_desc *
enter_desc(int fd)
{
	struct tw_desc *d;
	uint64_t cookie;
	bool dups = false;
	int family;

	if (!fdt_enter_fast())
		return NULL;
	d = fdt_find(fd);
	if (d != NULL && (cookie = d->cookie) != 0) {
		fdt_leave();
		(void)stale_entry(fd, cookie, &dups);
		if (!fdt_enter_fast())
			return NULL;
		d = fdt_find(fd);
	}
	if (d != NULL)
		return d;
	fdt_leave();
	family = probe_tcp(fd);
	if (family < 0 || !fdt_enter_fast())
		return NULL;
	d = fdt_find(fd);
	if (d == NULL) {
		bool cloexec = (REAL(fcntl)(fd, F_GETFD) & FD_CLOEXEC) != 0;

		d = fdt_add(fd, family, cloexec);
		if (d != NULL)
			tw_count(sockets_tracked);
		/* Other descriptors may hold this socket too, unknown to the table. */
		if (d != NULL && dups)
			d->flags |= TW_D_SHARED;
	}
	if (d == NULL)
		fdt_leave();
	return d;
}

static void
set_int(int fd, int level, int name, int value, const char *what)
{
	if (REAL(setsockopt)(fd, level, name, &value, sizeof value) == 0) {
		tw_count(options_applied);
		tw_log(TW_LOG_DEBUG, "fd %d: %s = %d", fd, what, value);
	} else {
		tw_log(TW_LOG_INFO, "fd %d: cannot set %s: %s", fd, what, strerror(errno));
	}
}

/* Whether key k applies: set by the policy, and not overruled by the program. */
static bool
wants(const struct policy_opts *o, unsigned user_set, enum policy_key k)
{
	unsigned bit = POLICY_KEY_BIT(k);

	if (!(o->set & bit))
		return false;
	if ((user_set & bit) && !(o->forced & bit)) {
		tw_count(options_kept);
		return false;
	}
	return true;
}

static void
apply_reuse(int fd, const struct policy_opts *o, unsigned user_set)
{
	if (wants(o, user_set, KEY_REUSEADDR))
		set_int(fd, SOL_SOCKET, SO_REUSEADDR, o->reuseaddr, "SO_REUSEADDR");
	if (wants(o, user_set, KEY_REUSEPORT))
		set_int(fd, SOL_SOCKET, SO_REUSEPORT, o->reuseport, "SO_REUSEPORT");
}

/* The keys every connected socket takes (apply_stream). */
#define STREAM_KEYS	(POLICY_KEY_BIT(KEY_KEEPALIVE) | POLICY_KEY_BIT(KEY_NODELAY) |	\
	POLICY_KEY_BIT(KEY_USER_TIMEOUT) | POLICY_KEY_BIT(KEY_FIN_TIMEOUT) |		\
	POLICY_KEY_BIT(KEY_CLOSE))

/*
 * The keys every connected socket takes: keepalive, nodelay, timeouts.
 * Never the close strategy: that is done at close() (closer.c), when the
 * socket's sharing and its traffic are known.
 */
static void
apply_stream(int fd, const struct policy_opts *o, unsigned user_set)
{
	if (wants(o, user_set, KEY_KEEPALIVE)) {
		set_int(fd, SOL_SOCKET, SO_KEEPALIVE, o->keepalive, "SO_KEEPALIVE");
		if (o->keepalive && o->keep_idle_s)
			set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, (int)o->keep_idle_s, "TCP_KEEPIDLE");
		if (o->keepalive && o->keep_intvl_s)
			set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, (int)o->keep_intvl_s, "TCP_KEEPINTVL");
		if (o->keepalive && o->keep_cnt)
			set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, (int)o->keep_cnt, "TCP_KEEPCNT");
	}
	if (wants(o, user_set, KEY_NODELAY))
		set_int(fd, IPPROTO_TCP, TCP_NODELAY, o->nodelay, "TCP_NODELAY");
	if (wants(o, user_set, KEY_USER_TIMEOUT))
		set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)o->user_timeout_ms,
		    "TCP_USER_TIMEOUT");
	if (wants(o, user_set, KEY_FIN_TIMEOUT))
		set_int(fd, IPPROTO_TCP, TCP_LINGER2, (int)o->fin_timeout_s, "TCP_LINGER2");
}

/* Record what the policy decided for the socket on fd (table entered). */
static void
remember(struct tw_desc *d, int fd, const struct policy_opts *o)
{
	d->forced = (uint16_t)o->forced;
	if (o->set & POLICY_KEY_BIT(KEY_CLOSE)) {
		d->close = o->close;
		d->close_forced = (o->forced & POLICY_KEY_BIT(KEY_CLOSE)) != 0;
	}
	/*
	 * A fin_timeout the policy gave this socket is its TCP_LINGER2 as
	 * much as one the program set: fin-then-reset leaves both alone
	 * unless forced.
	 */
	if (o->set & POLICY_KEY_BIT(KEY_FIN_TIMEOUT))
		d->user_set |= POLICY_KEY_BIT(KEY_FIN_TIMEOUT);
	d->flags |= TW_D_APPLIED;
	/*
	 * The cookie is for close() to know the socket is still the one
	 * tracked before it acts, and for a forced key to know the program's
	 * setsockopt() it swallows is on that socket; with no forced key and
	 * no strategy, normal or fin-then-reset there is nothing it is needed
	 * for (closer.c, strategy.c): one system call less per connection
	 * under the default policy.
	 */
	if (d->cookie == 0 && (d->forced != 0 || d->close_forced ||
	    (d->close != NULL && d->close->kind != CLOSE_NORMAL &&
	    !policy_close_is_fin_then_reset(d->close->kind))))
		d->cookie = tw_socket_cookie(fd);
}

static __attribute__((noinline)) void
log_match_now(int fd, const char *role, const struct sockaddr *sa, const struct policy_opts *o)
{
	char addr[80], close[80] = "";

	if (o->set & POLICY_KEY_BIT(KEY_CLOSE))
		policy_close_format(o->close, close, sizeof close);
	tw_logf(TW_LOG_INFO, "fd %d: %s %s: %d key%s%s%s%s", fd, role,
	    tw_addr_str(sa, addr, sizeof addr), __builtin_popcount(o->set),
	    __builtin_popcount(o->set) == 1 ? "" : "s",
	    *close ? ", close = " : "", close, tw_state.dry_run ? " (dry run)" : "");
}

/* The level first: the buffers cost a connection something even unused. */
static inline void
log_match(int fd, const char *role, const struct sockaddr *sa, const struct policy_opts *o)
{
	if (TW_UNLIKELY(tw_log_level >= TW_LOG_INFO))
		log_match_now(fd, role, sa, o);
}

void
tw_before_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct policy_opts o;
	struct tw_desc *d;
	unsigned user_set;
	int saved = errno;

	if (!fdt_maybe(fd) && !acting(POLICY_ROLE_BIT(POLICY_LISTENER)))
		return;
	if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return;
	if ((d = enter_desc(fd)) == NULL)
		goto out;
	d->flags |= TW_D_PROG_BOUND;
	if (d->role == TW_ROLE_NEW)
		d->role = TW_ROLE_BOUND;
	user_set = d->user_set;
	fdt_leave();

	if (!acting(POLICY_ROLE_BIT(POLICY_LISTENER)) ||
	    policy_match(tw_state.policy, POLICY_LISTENER, sa, len, &o) == 0)
		goto out;
	log_match(fd, "bind", sa, &o);
	if (tw_state.dry_run)
		goto out;
	/* Set before bind(): that is when the kernel looks at them. */
	apply_reuse(fd, &o, user_set);
	if (wants(&o, user_set, KEY_KEEPALIVE))
		apply_stream(fd, &o, user_set);
out:
	errno = saved;
}

int
tw_before_listen(int fd, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct policy_opts o;
	struct tw_desc *d;
	int saved = errno;

	if (!fdt_maybe(fd) && !acting(POLICY_ROLE_BIT(POLICY_LISTENER)))
		return backlog;
	if ((d = enter_desc(fd)) == NULL)
		goto out;
	if (d->role != TW_ROLE_LISTENER)
		tw_count(role_listener);
	d->role = TW_ROLE_LISTENER;
	/* Once per listener, as remember() does: what accepted sockets inherit can then be checked. */
	if (d->cookie == 0)
		d->cookie = tw_socket_cookie(fd);
	fdt_leave();
	if (!acting(POLICY_ROLE_BIT(POLICY_LISTENER)) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    policy_match(tw_state.policy, POLICY_LISTENER, (struct sockaddr *)&ss, len, &o) == 0)
		goto out;
	if (o.set & POLICY_KEY_BIT(KEY_BACKLOG)) {
		log_match(fd, "listen", (struct sockaddr *)&ss, &o);
		if (!tw_state.dry_run) {
			tw_log(TW_LOG_DEBUG, "fd %d: backlog %d instead of %d", fd, o.backlog, backlog);
			backlog = o.backlog;
			tw_count(options_applied);
		}
	}
out:
	errno = saved;
	return backlog;
}

/*
 * connect() on a socket the table already knows as a client.  A
 * non-blocking connect is called again to learn how it ended: that
 * socket is connecting or connected, and keeps what its first connect
 * decided.  One in TCP_CLOSE has no connection: either its connect failed
 * and it is tried again, perhaps towards another address, or it is not
 * the socket the entry was made for (closed where no hook saw it, the
 * number reused unseen; an entry without a cookie cannot tell).  Either
 * way the new connect decides afresh: the entry's policy state is
 * dropped, and all of it unless the cookie proves it the same socket (the
 * program's own options on it then stay its own).  True when the connect
 * is to be taken as a first one.  Costs a TCP_INFO read, on a repeated
 * connect only.
 */
static bool
connect_again(int fd, uint64_t cookie)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	struct tw_desc *d;
	bool same = false;
	int saved = errno;

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || ti.tcpi_state != TCP_CLOSE) {
		errno = saved;
		return false;
	}
	same = cookie != 0 && tw_same_socket(fd, cookie);
	if (fdt_enter_fast()) {
		if ((d = fdt_find(fd)) != NULL && d->cookie == cookie) {
			if (same) {
				d->role = TW_ROLE_NEW;
				d->close = NULL;
				d->close_forced = 0;
				d->forced = 0;
				d->flags &= (uint8_t)~TW_D_APPLIED;
			} else {
				(void)fdt_remove(fd, NULL);
			}
		}
		fdt_leave();
	}
	tw_log(TW_LOG_DEBUG, "fd %d: connect again without a connection: decided afresh%s", fd,
	    same ? "" : " (the entry forgotten)");
	errno = saved;
	return true;
}

int
tw_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct policy_opts o;
	struct tw_desc *d;
	unsigned user_set;
	bool prog_bound, first, acts, remembered = false;
	int saved = errno, matched = -1;

	if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    (!fdt_maybe(fd) && !acting(POLICY_ROLE_BIT(POLICY_CLIENT))))
		return REAL(connect)(fd, sa, len);
	/*
	 * A socket never given a role connects for the first time: match
	 * before the lock, so that the table is entered once (the common
	 * case, one connect per socket).
	 */
	acts = acting(POLICY_ROLE_BIT(POLICY_CLIENT));
	if (acts && fdt_is_lazy(fd))
		matched = policy_match(tw_state.policy, POLICY_CLIENT, sa, len, &o);
	if ((d = enter_desc(fd)) == NULL) {
		errno = saved;
		return REAL(connect)(fd, sa, len);
	}
	if (d->role == TW_ROLE_CLIENT) {
		uint64_t cookie = d->cookie;

		fdt_leave();
		if (connect_again(fd, cookie) && (d = enter_desc(fd)) != NULL)
			goto entered;
		errno = saved;
		return REAL(connect)(fd, sa, len);
	}
entered:
	first = d->role != TW_ROLE_CLIENT;
	if (first) {
		d->role = TW_ROLE_CLIENT;
		tw_count(role_client);
	}
	user_set = d->user_set;
	prog_bound = (d->flags & TW_D_PROG_BOUND) != 0;
	if (first && matched > 0) {
		remember(d, fd, &o);
		remembered = true;
	}
	fdt_leave();

	if (!first || !acts) {
		errno = saved;
		return REAL(connect)(fd, sa, len);
	}
	if (matched < 0)
		matched = policy_match(tw_state.policy, POLICY_CLIENT, sa, len, &o);
	if (matched == 0) {
		errno = saved;
		return REAL(connect)(fd, sa, len);
	}
	log_match(fd, "connect", sa, &o);
	/* A dry run remembers the close strategy too, so that close() can tell. */
	if (!tw_state.dry_run)
		apply_stream(fd, &o, user_set);
	if (!remembered && fdt_enter_fast()) {
		if ((d = fdt_find(fd)) != NULL)
			remember(d, fd, &o);
		fdt_leave();
	}
	errno = saved;
	if (tw_state.dry_run)
		return REAL(connect)(fd, sa, len);
	return tw_ports_connect(fd, sa, len, &o, prog_bound);
}

void
tw_on_accept(int lfd, int fd, int flags)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct policy_opts o;
	struct tw_desc *d, *ld;
	int family = -1, saved = errno;
	unsigned user_set, inherited = 0;
	uint8_t inherited_flags = 0;
	uint64_t lcookie = 0;

	if (fdt_maybe(fd))
		fdt_forget(fd);
	if (!tracking() || (!fdt_maybe(lfd) && !acting(POLICY_ROLE_BIT(POLICY_ACCEPTED))))
		return;
	if (fdt_enter_fast()) {
		ld = fdt_find(lfd);
		if (ld != NULL) {
			family = ld->family;
			/*
			 * The kernel copies the listener's options (SO_LINGER,
			 * keepalive, TCP_NODELAY, ...) to each accepted socket:
			 * what the program set there, it set here too.
			 */
			inherited = ld->user_set;
			inherited_flags = ld->flags & TW_D_SET_BUFS;
			lcookie = ld->cookie;
		}
		fdt_leave();
	}
	/* Inherit only from the listener the entry was made for. */
	if ((inherited & STREAM_KEYS) && lcookie != 0 && stale_entry(lfd, lcookie, NULL)) {
		family = -1;
		inherited = 0;
		inherited_flags = 0;
	}
	if (family < 0 && (family = probe_tcp(fd)) < 0)
		goto out;
	if (!acting(POLICY_ROLE_BIT(POLICY_ACCEPTED))) {
		/* Nothing to apply: a flag byte is enough until it needs more. */
		fdt_note_socket(fd, family, (flags & SOCK_CLOEXEC) != 0);
		tw_count(sockets_tracked);
		tw_count(role_accepted);
		goto out;
	}
	if (!fdt_enter_fast())
		goto out;
	d = fdt_add(fd, family, (flags & SOCK_CLOEXEC) != 0);
	if (d != NULL) {
		d->role = TW_ROLE_ACCEPTED;
		d->user_set = (uint16_t)inherited;
		d->flags |= inherited_flags;
	}
	user_set = d != NULL ? d->user_set : 0;
	fdt_leave();
	/* Counted outside the section: the first may open the stats file. */
	if (d != NULL) {
		tw_count(sockets_tracked);
		tw_count(role_accepted);
	}
	if (d == NULL || !acting(POLICY_ROLE_BIT(POLICY_ACCEPTED)) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    policy_match(tw_state.policy, POLICY_ACCEPTED, (struct sockaddr *)&ss, len, &o) == 0)
		goto out;
	log_match(fd, "accept", (struct sockaddr *)&ss, &o);
	if (!tw_state.dry_run)
		apply_stream(fd, &o, user_set);
	if (fdt_enter_fast()) {
		if ((d = fdt_find(fd)) != NULL)
			remember(d, fd, &o);
		fdt_leave();
	}
out:
	errno = saved;
}

static int
key_of_option(int level, int name)
{
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_REUSEADDR:	return KEY_REUSEADDR;
		case SO_REUSEPORT:	return KEY_REUSEPORT;
		case SO_KEEPALIVE:	return KEY_KEEPALIVE;
		case SO_LINGER:		return KEY_CLOSE;
		}
	} else if (level == IPPROTO_TCP) {
		switch (name) {
		case TCP_NODELAY:	return KEY_NODELAY;
		case TCP_KEEPIDLE:
		case TCP_KEEPINTVL:
		case TCP_KEEPCNT:	return KEY_KEEPALIVE;
		case TCP_USER_TIMEOUT:	return KEY_USER_TIMEOUT;
		case TCP_LINGER2:	return KEY_FIN_TIMEOUT;
		}
	}
	return -1;
}

bool
tw_filter_setsockopt(int fd, int level, int name)
{
	struct tw_desc *d;
	bool skip = false;
	int key = key_of_option(level, name);
	uint64_t cookie = 0;
	unsigned bit;

	if (level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF)) {
		/* A socket the shim replaces (local_ports) gets them again. */
		if (fdt_enter_fast()) {
			if ((d = fdt_find(fd)) != NULL)
				d->flags |= TW_D_SET_BUFS;
			fdt_leave();
		}
		return false;
	}
	if (key < 0 || !fdt_enter_fast())
		return false;
	bit = POLICY_KEY_BIT(key);
	if ((d = fdt_find(fd)) != NULL) {
		if (key == KEY_CLOSE ? d->close_forced : (d->forced & bit) != 0) {
			skip = true;
			cookie = d->cookie;
		} else if (key != KEY_CLOSE) {
			/* SO_LINGER counts only by its value (tw_on_linger). */
			d->user_set |= (uint16_t)bit;
		}
	}
	fdt_leave();
	/* Swallowing the program's call is only right for the socket the policy forced. */
	if (skip && cookie != 0 && stale_entry(fd, cookie, NULL))
		return false;
	if (skip) {
		tw_count(setsockopt_overridden);
		tw_log(TW_LOG_DEBUG, "fd %d: program's %s ignored: the policy forces it",
		    fd, policy_key_name((enum policy_key)key));
	}
	return skip;
}

void
tw_on_linger(int fd, bool on)
{
	struct tw_desc *d;
	int saved = errno;

	if (!fdt_enter_fast())
		return;
	if ((d = fdt_find(fd)) != NULL) {
		if (on)
			d->user_set |= (uint16_t)POLICY_KEY_BIT(KEY_CLOSE);
		else
			d->user_set &= (uint16_t)~POLICY_KEY_BIT(KEY_CLOSE);
	}
	fdt_leave();
	errno = saved;
}

void
tw_on_shutdown(int fd, int how)
{
	struct tw_desc *d;

	if ((how != SHUT_WR && how != SHUT_RD && how != SHUT_RDWR) || !fdt_enter_fast())
		return;
	if ((d = fdt_find(fd)) != NULL) {
		if (how != SHUT_RD)
			d->flags |= TW_D_SHUT_WR;
		/* Its EOF is no word from the peer (fdtable.h, the receive notes). */
		if (how != SHUT_WR)
			fdt_note_own_shut_rd(fd);
	}
	fdt_leave();
}

/*
 * epoll_ctl() succeeded on a tracked socket.  A waiting close strategy
 * keeps the socket open on a duplicate after the program's close(), and an
 * epoll registration lives as long as the socket does: the program would
 * go on getting events for a descriptor it closed.  Remember where the
 * socket is registered, so that close() can take it out first.
 */
void
tw_on_epoll_ctl(int epfd, int op, int fd)
{
	struct tw_desc *d;
	int saved = errno;

	if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_DEL)
		return;
	/*
	 * A registration noted on a stale entry would be lost when the new
	 * socket is adopted: the entry is checked first.
	 */
	if (op == EPOLL_CTL_ADD) {
		if ((d = enter_desc(fd)) == NULL) {
			errno = saved;
			return;
		}
	} else {
		if (!fdt_enter_fast())
			return;
		d = fdt_find(fd);
	}
	if (d != NULL) {
		bool same = d->epfd == epfd && d->epoll_as == fd;

		if (op == EPOLL_CTL_ADD && !(d->flags & TW_D_POLLED)) {
			d->flags |= TW_D_POLLED;
			d->epfd = epfd;
			d->epoll_as = fd;
		} else if (op == EPOLL_CTL_ADD && !same) {
			d->flags |= TW_D_POLLED_MANY;
		} else if (op == EPOLL_CTL_DEL && same && !(d->flags & TW_D_POLLED_MANY)) {
			d->flags &= (uint8_t)~TW_D_POLLED;
		}
	}
	fdt_leave();
	errno = saved;
}
