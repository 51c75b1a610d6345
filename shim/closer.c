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
#include <fcntl.h>
#include <stdio.h>
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
	struct tw_tcp_info t;

	if (d->flags & TW_D_POLLED_MANY) {
		tw_log(TW_LOG_DEBUG, "fd %d: in several epoll instances; closing at once", fd);
		return false;
	}
	if (!tw_read_tcp_info(fd, &t))
		return false;
	switch (t.ti.tcpi_state) {
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
		*what = "normal: the program's own SO_LINGER";
		return true;
	}
	/* The policy's own fin_timeout is noted here too (apply.c). */
	if (policy_close_is_fin_then_reset(kind) && (d->user_set & POLICY_KEY_BIT(KEY_FIN_TIMEOUT))) {
		*what = "normal: the socket's own TCP_LINGER2";
		return true;
	}
	return false;
}

/* A close left as the program made it: counted and said once, here. */
static int
leave_alone(int fd, enum tw_stat what, int level, const char *how, int saved)
{
	tw_close_outcome(fd, TW_AT_CLOSE, what, level, how);
	return plain_close(fd, saved);
}

static int
close_with(int fd, const struct tw_desc *d, bool peer_fin, int saved)
{
	const struct policy_close *c = d->close;
	struct policy_close own_fin;
	const char *why;

	if (d->refs > 0) {
		/* Another descriptor in this process: the last close decides. */
		return leave_alone(fd, TW_STAT_close_shared, TW_LOG_DEBUG,
		    "normal: another descriptor holds the socket", saved);
	}
	if (own_linger(d, c->kind, &why))
		return leave_alone(fd, TW_STAT_close_own_linger, TW_LOG_INFO, why, saved);
	if (c->kind == CLOSE_PEER_FIRST && own_linger(d, c->fallback, &why)) {
		/* Wait for the peer as asked, but keep the socket's TCP_LINGER2 after. */
		own_fin = *c;
		own_fin.fallback = CLOSE_NORMAL;
		c = &own_fin;
	}
	if (policy_close_is_fin_then_reset(c->kind) || c->kind == CLOSE_NORMAL) {
		/*
		 * Neither sharing nor the cookie is checked: fin-then-reset
		 * cannot harm a socket held elsewhere or one that took the
		 * number unseen (strategy.c), and normal does nothing.  Two
		 * system calls at most (TCP_INFO and TCP_LINGER2); none when
		 * the program read the peer's EOF.
		 */
		tw_act(fd, d, c->kind, c->unsafe, peer_fin, TW_AT_CLOSE);
		return plain_close(fd, saved);
	}
	if ((d->flags & TW_D_SHARED) || tw_foreign_process_strict()) {
		/*
		 * Another process may still use it: theirs to finish.  Here
		 * too in a child made by a raw system call, unseen, whose
		 * sockets are its parent's as well.
		 */
		return leave_alone(fd, TW_STAT_close_shared, TW_LOG_INFO,
		    "normal: shared with another process", saved);
	}
	if (!tw_same_socket(fd, d->cookie)) {
		/* Closed behind our back (fclose, syscall) and the number reused. */
		return leave_alone(fd, TW_STAT_close_stale, TW_LOG_INFO,
		    "normal: no longer the tracked socket", saved);
	}

	switch (c->kind) {
	case CLOSE_ABORT:
	case CLOSE_ABORT_IF_IDLE:
		/* Set now, never earlier: a shared socket must not carry it. */
		tw_act(fd, d, c->kind, c->unsafe, false, TW_AT_CLOSE);
		break;
	case CLOSE_LINGER: {
		char how[40];

		tw_set_linger(fd, 1, (int)(c->wait_ms / 1000));
		snprintf(how, sizeof how, "linger %us", c->wait_ms / 1000);
		tw_close_outcome(fd, TW_AT_CLOSE, TW_STAT_close_linger, TW_LOG_INFO, how);
		break;
	}
	case CLOSE_GRACEFUL:
	case CLOSE_PEER_FIRST: {
		enum tw_stat what = c->kind == CLOSE_GRACEFUL ? TW_STAT_close_graceful :
		    TW_STAT_close_peer_first;
		char how[112], desc[80];

		policy_close_format(c, desc, sizeof desc);
		if (may_wait(fd, d) && tw_reaper_take(fd, c, d) == 0) {
			snprintf(how, sizeof how, "%s, waiting on a duplicate", desc);
			tw_close_outcome(fd, TW_AT_CLOSE, what, TW_LOG_INFO, how);
			errno = saved;
			return 0;
		}
		/* No waiting: what the reaper would have done in the end, done now. */
		snprintf(how, sizeof how, "%s without waiting", desc);
		tw_close_outcome(fd, TW_AT_CLOSE, what, TW_LOG_INFO, how);
		tw_act(fd, d, c->kind == CLOSE_PEER_FIRST ? c->fallback : CLOSE_GRACEFUL, c->unsafe,
		    false, TW_AT_FALLBACK);
		break;
	}
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
	bool tracked, peer_fin;

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
	peer_fin = fdt_peer_closed_first(fd);
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
	return close_with(fd, &d, peer_fin, saved);
}

/*
 * What a socket left open gets as the image ends, or CLOSE_NORMAL.
 * Peer-first cannot wait now: its fallback, as the reaper would apply it
 * when the wait ends.  A socket another process may hold gets only
 * fin-then-reset, and only at exit: an exec closes just our copy.
 */
static enum policy_close_kind
at_end_kind(const struct tw_desc *d, enum tw_image_end end)
{
	enum policy_close_kind kind;
	const char *why;

	if (d->close == NULL)
		return CLOSE_NORMAL;
	kind = d->close->kind == CLOSE_PEER_FIRST ? d->close->fallback : d->close->kind;
	if (kind != CLOSE_ABORT && kind != CLOSE_ABORT_IF_IDLE &&
	    !policy_close_is_fin_then_reset(kind))
		return CLOSE_NORMAL;
	if ((d->flags & TW_D_SHARED) &&
	    (end != TW_END_EXIT || !policy_close_is_fin_then_reset(kind)))
		return CLOSE_NORMAL;
	if (own_linger(d, kind, &why))
		return CLOSE_NORMAL;
	return kind;
}

/* The peer has not closed: a peer-first wait would still be on. */
static bool
peer_still_open(int fd)
{
	struct tw_tcp_info t;

	return tw_read_tcp_info(fd, &t) && (t.ti.tcpi_state == TCP_ESTABLISHED ||
	    t.ti.tcpi_state == TCP_FIN_WAIT1 || t.ti.tcpi_state == TCP_FIN_WAIT2);
}

static bool
close_on_exec(int fd)
{
	int flags = REAL(fcntl)(fd, F_GETFD);

	return flags >= 0 && (flags & FD_CLOEXEC);
}

/*
 * As the image ends the kernel closes what the program left open, unseen.
 * Each socket that this process alone holds gets its strategy's immediate
 * action here, once: abort, abort-if-idle, fin-then-reset, or peer-first's
 * fallback.  None of them is set earlier (at connect or accept):
 * fin-then-reset's "answered" can only be judged at the end, and a socket
 * later shared by fork or exec must not carry an RST for another
 * process's close.  At exec, only the close-on-exec sockets: the others
 * stay the program's.  Closes the shim never sees (fclose, io_uring,
 * death by a signal) stay the kernel's plain close.
 */
void
tw_close_at_exit(enum tw_image_end end)
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
		bool peer_first = false, unsafe = false;
		struct tw_desc *d;

		if (!fdt_enter())
			break;
		if ((d = fdt_find(fds[i])) != NULL && (kind = at_end_kind(d, end)) != CLOSE_NORMAL) {
			peer_first = d->close->kind == CLOSE_PEER_FIRST;
			unsafe = d->close->unsafe;
			copy = *d;
		}
		fdt_leave();
		if (kind == CLOSE_NORMAL || (end != TW_END_EXIT && !close_on_exec(fds[i])))
			continue;
		/* fin-then-reset makes do without the cookie, as at close. */
		if (!policy_close_is_fin_then_reset(kind) && !tw_same_socket(fds[i], copy.cookie))
			continue;
		if (end == TW_END_EXEC_FAILED) {
			/* The program goes on with it: no reset of ours stays on it. */
			if (!policy_close_is_fin_then_reset(kind))
				tw_set_linger(fds[i], 0, 0);
			continue;
		}
		if (peer_first && !peer_still_open(fds[i]))
			continue;
		tw_act(fds[i], &copy, kind, unsafe, false, end == TW_END_EXIT ? TW_AT_EXIT : TW_AT_EXEC);
	}
	tw_free(fds, cap * sizeof *fds);
}
