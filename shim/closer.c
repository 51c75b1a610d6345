/*
 * closer.c - the close strategies of the contract.
 *
 *	normal		the program's own close
 *	fin-then-reset	TCP_LINGER2 = -1: every byte, the FIN, then RST (strategy.c)
 *	abort		SO_LINGER {1,0}: RST, no TIME_WAIT
 *	abort-if-idle	abort when nothing is unsent, unacknowledged or unread
 *	linger DUR	SO_LINGER {1,DUR}: close() blocks up to DUR
 *	graceful	shutdown(SHUT_WR), drain, close: handed to the reaper
 *	peer-first	wait for the peer's FIN, then a fallback: to the reaper
 *
 * Nothing here acts on a socket another descriptor or process still holds,
 * nor on a descriptor whose socket is no longer the one tracked, except
 * fin-then-reset, which cannot harm either (strategy.c).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "closer.h"
#include "mem.h"
#include "ownfd.h"
#include "fdtable.h"
#include "real.h"
#include "reaper.h"
#include "shim.h"
#include "sockinfo.h"
#include "strategy.h"
#include "stats.h"

static int
plain_close(int fd, int saved)
{
	errno = saved;
	return REAL(close)(fd);
}

/*
 * Whether the socket may outlive the program's close() on the reaper's
 * duplicate.  Only a connection that is up: a connect still in progress
 * that the program abandons must not be completed behind its back.  And
 * not while the program's epoll instance would go on reporting it: that
 * registration dies only with the socket, so it is taken out here.  One
 * made in another instance, or through a descriptor closed since (which
 * can no longer name it to EPOLL_CTL_DEL), cannot be: then no waiting.
 */
static bool
may_wait(int fd, const struct tw_desc *d)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;

	if (d->flags & TW_D_POLLED_MANY) {
		tw_log(TW_LOG_DEBUG, "fd %d: in several epoll instances; closing at once", fd);
		return false;
	}
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return false;
	switch (ti.tcpi_state) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
		break;
	default:
		return false;
	}
	if ((d->flags & TW_D_POLLED) &&
	    (d->epoll_as != fd || REAL(epoll_ctl)(d->epfd, EPOLL_CTL_DEL, fd, NULL) < 0))
		return false;
	return true;
}

/* Whether the program chose for itself how this socket's close ends. */
static bool
own_linger(const struct tw_desc *d, enum policy_close_kind kind, const char **what)
{
	if (d->close_forced)
		return false;
	if (d->user_set & POLICY_KEY_BIT(KEY_CLOSE)) {
		*what = "the program's own SO_LINGER";
		return true;
	}
	/* The policy's own fin_timeout is noted here too (apply.c). */
	if (tw_is_fin_then_reset(kind) && (d->user_set & POLICY_KEY_BIT(KEY_FIN_TIMEOUT))) {
		*what = "the socket's own TCP_LINGER2";
		return true;
	}
	return false;
}

/*
 * abort, or abort-if-idle: SO_LINGER {1,0} when idle enough and allowed
 * (tw_reset), counted and said.  True when it reset.
 */
static bool
reset_now(int fd, const struct tw_desc *d, enum policy_close_kind kind, bool unsafe,
    const char *when)
{
	enum tw_reset_result r;
	const char *why;

	if ((r = tw_reset(fd, d, kind == CLOSE_ABORT_IF_IDLE, unsafe, &why)) != TW_RESET_DONE) {
		if (r == TW_RESET_BUSY)
			tw_count(close_abort_if_busy);
		tw_log(TW_LOG_INFO, "fd %d: %s: normal: %s (%s)", fd, when, why,
		    policy_close_name(kind));
		return false;
	}
	if (kind == CLOSE_ABORT)
		tw_count(close_abort);
	else
		tw_count(close_abort_if_idle);
	tw_count(rst_sent);
	tw_log(TW_LOG_INFO, "fd %d: %s: reset (%s)", fd, when, policy_close_name(kind));
	return true;
}

static int
close_with(int fd, const struct tw_desc *d, unsigned received, int saved)
{
	const struct policy_close *c = d->close;
	struct policy_close own_fin;
	const char *why;

	if (d->refs > 0) {
		/* Another descriptor in this process: the last close decides. */
		tw_count(close_shared);
		tw_log(TW_LOG_DEBUG, "fd %d: close: normal: another descriptor holds the socket", fd);
		return plain_close(fd, saved);
	}
	if (own_linger(d, c->kind, &why)) {
		tw_count(close_own_linger);
		tw_log(TW_LOG_INFO, "fd %d: close: normal: %s", fd, why);
		return plain_close(fd, saved);
	}
	if (c->kind == CLOSE_PEER_FIRST && own_linger(d, c->fallback, &why)) {
		/* Wait for the peer as asked, but keep the socket's TCP_LINGER2 after. */
		own_fin = *c;
		own_fin.fallback = CLOSE_NORMAL;
		c = &own_fin;
	}
	if (tw_is_fin_then_reset(c->kind)) {
		/*
		 * Neither sharing nor the cookie is checked: see
		 * tw_fin_then_reset().  Two system calls at most (TCP_INFO
		 * and TCP_LINGER2); none when the program read the peer's
		 * EOF with recv().
		 */
		if (tw_fin_then_reset(fd, d, c->kind == CLOSE_FIN_THEN_RESET_ALWAYS, c->unsafe,
		    received, &why))
			tw_log(TW_LOG_INFO, "fd %d: close: fin-then-reset", fd);
		else
			tw_log(TW_LOG_INFO, "fd %d: close: normal: %s", fd, why);
		return plain_close(fd, saved);
	}
	if (c->kind == CLOSE_NORMAL) {
		/* Nothing to do, so nothing to check. */
		tw_count(close_normal);
		tw_log(TW_LOG_INFO, "fd %d: close: normal", fd);
		return plain_close(fd, saved);
	}
	if ((d->flags & TW_D_SHARED) || tw_foreign_process_strict()) {
		/*
		 * Another process may still use it: theirs to finish.  Here
		 * too in a child made by a raw system call, unseen, whose
		 * sockets are its parent's as well.
		 */
		tw_count(close_shared);
		tw_log(TW_LOG_INFO, "fd %d: close: normal: shared with another process", fd);
		return plain_close(fd, saved);
	}
	if (!tw_same_socket(fd, d->cookie)) {
		/* Closed behind our back (fclose, syscall) and the number reused. */
		tw_count(close_stale);
		tw_log(TW_LOG_INFO, "fd %d: close: normal: no longer the tracked socket", fd);
		return plain_close(fd, saved);
	}

	switch (c->kind) {
	case CLOSE_ABORT:
	case CLOSE_ABORT_IF_IDLE:
		/* Set now, never earlier: a shared socket must not carry it. */
		(void)reset_now(fd, d, c->kind, c->unsafe, "close");
		break;
	case CLOSE_LINGER:
		tw_count(close_linger);
		tw_set_linger(fd, 1, (int)(c->wait_ms / 1000));
		tw_log(TW_LOG_INFO, "fd %d: close: linger %us", fd, c->wait_ms / 1000);
		break;
	case CLOSE_GRACEFUL:
	case CLOSE_PEER_FIRST:
		if (c->kind == CLOSE_GRACEFUL)
			tw_count(close_graceful);
		else
			tw_count(close_peer_first);
		if (may_wait(fd, d) && tw_reaper_take(fd, c, (d->flags & TW_D_SHUT_WR) != 0) == 0) {
			char how[80];

			policy_close_format(c, how, sizeof how);
			tw_log(TW_LOG_INFO, "fd %d: close: %s, waiting on a duplicate", fd, how);
			errno = saved;
			return 0;
		}
		/* No waiting: what the reaper would have done in the end, done now. */
		tw_log(TW_LOG_INFO, "fd %d: close: %s without waiting", fd,
		    policy_close_name(c->kind));
		tw_prepare_close(fd, c->kind == CLOSE_PEER_FIRST ? c->fallback : CLOSE_GRACEFUL,
		    c->unsafe);
		break;
	default:
		break;
	}
	return plain_close(fd, saved);
}

int
tw_close(int fd)
{
	struct tw_desc d;
	int saved = errno;
	unsigned received;
	bool tracked;

	if (fdt_is_internal(fd) && tw_own_claims(fd)) {
		/*
		 * A close-everything loop reached a descriptor of ours.  Report
		 * success, as if it were closed; the number stays ours.  One no
		 * longer ours (closed behind our back, the number reused) is
		 * closed for real.
		 */
		return 0;
	}
	if (!fdt_enter())
		return REAL(close)(fd);
	received = fdt_received(fd);
	tracked = fdt_remove(fd, &d);
	fdt_leave();
	if (!tracked || d.close == NULL || tw_mode() != TW_MODE_ACTIVE || tw_state.dry_run) {
		if (tracked && d.close != NULL && tw_state.dry_run) {
			char how[80];
			policy_close_format(d.close, how, sizeof how);
			tw_log(TW_LOG_INFO, "fd %d: close would be %s (dry run)", fd, how);
		}
		return plain_close(fd, saved);
	}
	return close_with(fd, &d, received, saved);
}

/*
 * At exit the kernel closes what the program left open, unseen.  Each
 * socket that this process alone holds gets its strategy's immediate
 * action here, once: abort, abort-if-idle, fin-then-reset.  None of them
 * is set earlier (at connect or accept): fin-then-reset's "answered" can
 * only be judged at the end, and a socket later shared by fork or exec
 * must not carry an RST for another process's close.  Closes the shim
 * never sees (_exit, fclose, io_uring, death by a signal) stay the
 * kernel's plain close.
 */
void
tw_close_at_exit(void)
{
	unsigned n = 0, cap;
	int *fds;

	if (!fdt_enter())
		return;
	cap = fdt_count();
	fds = cap > 0 ? tw_alloc(cap * sizeof *fds) : NULL;
	if (fds != NULL)
		n = fdt_collect(0, ~0u, fds, cap);
	fdt_leave();
	for (unsigned i = 0; i < n; i++) {
		enum policy_close_kind kind = CLOSE_NORMAL;
		struct tw_desc copy;
		uint64_t cookie = 0;
		bool unsafe = false;
		struct tw_desc *d;
		const char *why;

		if (!fdt_enter())
			break;
		if ((d = fdt_find(fds[i])) != NULL && d->close != NULL &&
		    (d->close->kind == CLOSE_ABORT || d->close->kind == CLOSE_ABORT_IF_IDLE ||
		    tw_is_fin_then_reset(d->close->kind)) &&
		    (tw_is_fin_then_reset(d->close->kind) || !(d->flags & TW_D_SHARED)) &&
		    !own_linger(d, d->close->kind, &why)) {
			kind = d->close->kind;
			unsafe = d->close->unsafe;
			cookie = d->cookie;
			copy = *d;
		}
		fdt_leave();
		if (tw_is_fin_then_reset(kind)) {
			if (tw_fin_then_reset(fds[i], &copy, kind == CLOSE_FIN_THEN_RESET_ALWAYS, unsafe,
			    0, &why))
				tw_log(TW_LOG_INFO, "fd %d: at exit: fin-then-reset", fds[i]);
			else
				tw_log(TW_LOG_INFO, "fd %d: at exit: normal: %s", fds[i], why);
			continue;
		}
		if (kind == CLOSE_NORMAL || !tw_same_socket(fds[i], cookie))
			continue;
		(void)reset_now(fds[i], &copy, kind, unsafe, "at exit");
	}
	tw_free(fds, cap * sizeof *fds);
}
