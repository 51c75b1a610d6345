/*
 * closer.c - the close strategies of the contract.
 *
 *	normal		the program's own close
 *	abort		SO_LINGER {1,0}: RST, no TIME_WAIT
 *	abort-if-idle	abort when nothing is unsent, unacknowledged or unread
 *	linger DUR	SO_LINGER {1,DUR}: close() blocks up to DUR
 *	graceful	shutdown(SHUT_WR), drain, close: handed to the reaper
 *	peer-first	wait for the peer's FIN, then a fallback: to the reaper
 *
 * Nothing here acts on a socket another descriptor or process still holds,
 * nor on a descriptor whose socket is no longer the one tracked.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "closer.h"
#include "mem.h"
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

static int
close_with(int fd, const struct tw_desc *d, int saved)
{
	const struct policy_close *c = d->close;

	if (d->refs > 0 || (d->flags & TW_D_SHARED)) {
		/* Another descriptor or process still uses it: theirs to finish. */
		tw_count(close_shared);
		return plain_close(fd, saved);
	}
	if (!tw_same_socket(fd, d->cookie)) {
		/* Closed behind our back (fclose, syscall) and the number reused. */
		tw_count(close_stale);
		tw_log(TW_LOG_DEBUG, "fd %d: no longer the tracked socket; closing as is", fd);
		return plain_close(fd, saved);
	}
	if ((d->user_set & POLICY_KEY_BIT(KEY_CLOSE)) && !d->close_forced) {
		/* The program chose its own SO_LINGER. */
		tw_count(close_normal);
		return plain_close(fd, saved);
	}

	switch (c->kind) {
	case CLOSE_NORMAL:
		tw_count(close_normal);
		break;
	case CLOSE_ABORT:
		tw_count(close_abort);
		tw_count(rst_sent);
		if (!(d->flags & TW_D_LINGER0))
			tw_set_linger(fd, 1, 0);
		break;
	case CLOSE_ABORT_IF_IDLE:
		if (tw_socket_idle(fd)) {
			tw_count(close_abort_if_idle);
			tw_count(rst_sent);
			tw_set_linger(fd, 1, 0);
		} else {
			tw_count(close_abort_if_busy);
		}
		break;
	case CLOSE_LINGER:
		tw_count(close_linger);
		tw_set_linger(fd, 1, (int)(c->wait_ms / 1000));
		break;
	case CLOSE_GRACEFUL:
	case CLOSE_PEER_FIRST:
		if (c->kind == CLOSE_GRACEFUL)
			tw_count(close_graceful);
		else
			tw_count(close_peer_first);
		if (may_wait(fd, d) && tw_reaper_take(fd, c, (d->flags & TW_D_SHUT_WR) != 0) == 0) {
			errno = saved;
			return 0;
		}
		/* No waiting: what the reaper would have done in the end, done now. */
		tw_prepare_close(fd, c->kind == CLOSE_PEER_FIRST ? c->fallback : CLOSE_GRACEFUL);
		break;
	}
	return plain_close(fd, saved);
}

int
tw_close(int fd)
{
	struct tw_desc d;
	int saved = errno;
	bool tracked;

	if (fdt_is_internal(fd)) {
		/*
		 * A close-everything loop reached a descriptor of ours.  Report
		 * success, as if it were closed; the number stays ours.
		 */
		return 0;
	}
	if (!fdt_enter())
		return REAL(close)(fd);
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
	return close_with(fd, &d, saved);
}

/*
 * At exit the kernel closes what the program left open, unseen.  abort is
 * already on such sockets (set at connect/accept); abort-if-idle is decided
 * here, once, for each idle socket this process alone holds.
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
		struct tw_desc *d, copy;
		bool act = false;

		if (!fdt_enter())
			break;
		if ((d = fdt_find(fds[i])) != NULL && d->close != NULL &&
		    d->close->kind == CLOSE_ABORT_IF_IDLE && d->refs == 1 &&
		    !(d->flags & TW_D_SHARED) &&
		    (!(d->user_set & POLICY_KEY_BIT(KEY_CLOSE)) || d->close_forced)) {
			copy = *d;
			act = true;
		}
		fdt_leave();
		if (act && tw_same_socket(fds[i], copy.cookie) && tw_socket_idle(fds[i])) {
			tw_set_linger(fds[i], 1, 0);
			tw_count(close_abort_if_idle);
			tw_count(rst_sent);
		}
	}
	tw_free(fds, cap * sizeof *fds);
}
