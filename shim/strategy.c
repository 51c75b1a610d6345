/*
 * strategy.c - the immediate half of the close strategies: what is done to
 * a socket just before the real close(), whether by the program's close()
 * (closer.c), at exit, or by the reaper when a wait ends (reaper.c).
 */
#include <errno.h>
#include <linux/sockios.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "fdtable.h"
#include "real.h"
#include "reuse.h"
#include "shim.h"
#include "stats.h"
#include "strategy.h"

void
tw_set_linger(int fd, int onoff, int secs)
{
	struct linger l = { .l_onoff = onoff, .l_linger = secs };

	(void)REAL(setsockopt)(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

bool
tw_read_tcp_info(int fd, struct tw_tcp_info *t)
{
	_Static_assert(offsetof(struct tw_tcp_info, pacing_rate) == 104,
	    "struct tcp_info as the kernel lays it out");
	t->len = offsetof(struct tw_tcp_info, len);
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, t, &t->len) == 0;
}

/*
 * Without TIME_WAIT here, a segment of this connection still in flight
 * could be taken into the next connection on the same four-tuple.  The
 * initial sequence number is no guard: for one four-tuple it is a hash
 * plus a clock that a fast connection outruns, and on a fast link with
 * ports churning a few streams in a hundred carried an earlier
 * connection's bytes.  With timestamps on both ends, PAWS drops such a
 * segment, as it does for tcp_tw_reuse: Linux continues the four-tuple's
 * timestamp clock across connections.  The option is negotiated in the
 * handshake, so tcpi_options tells it for good.
 *
 * Even with PAWS, a segment of the same 1 ms timestamp tick as the new
 * connection's first passes: the four-tuple must not come back within a
 * few ticks (reuse.c).  d, when known, says where its port came from.
 * `unsafe`: the policy accepts both risks.
 */
enum tw_keep_time_wait
tw_keep_time_wait(int fd, const struct tw_desc *d, const struct sockaddr *peer,
    const struct tcp_info *ti, bool unsafe)
{
	(void)fd;
	(void)peer;
	if (unsafe)
		return TW_TIME_WAIT_MAY_GO;
	if (!(ti->tcpi_options & TCPI_OPT_TIMESTAMPS))
		return TW_TIME_WAIT_NO_TIMESTAMPS;
	if (d != NULL && tw_reuse_too_soon(d))
		return TW_TIME_WAIT_REUSE_TOO_SOON;
	return TW_TIME_WAIT_MAY_GO;
}

void
tw_close_outcome(int fd, enum tw_when when, enum tw_stat what, int level, const char *how)
{
	static const char *const where[] = {
		[TW_AT_CLOSE] = "close: ", [TW_AT_EXIT] = "at exit: ", [TW_AT_EXEC] = "at exec: ",
		[TW_AT_FALLBACK] = "fell back to ",
	};

	if (what == TW_STAT_close_abort || what == TW_STAT_close_abort_if_idle)
		tw_count(rst_sent);
	if (when != TW_AT_FALLBACK)
		tw_count_stat(what);
	tw_log(level, "fd %d: %s%s", fd, where[when], how);
}

/* An outcome: its counter and its words. */
struct outcome {
	enum tw_stat what;
	const char *how;
};

#define OUTCOME(name, words)	((struct outcome){ TW_STAT_##name, (words) })

/*
 * Idle: nothing unsent or unacknowledged, nothing unread, and a state in
 * which our close would leave TIME_WAIT here.  After the program's own
 * shutdown(SHUT_WR) the FIN itself counts one byte in SIOCOUTQ until it is
 * acknowledged (FIN_WAIT1); resetting then loses no data either.  In
 * CLOSE_WAIT the peer closed first and a plain close leaves no TIME_WAIT,
 * so no RST is needed.
 */
static bool
socket_idle(int fd, const struct tw_tcp_info *t)
{
	int outq = 0, inq = 0, fin = 0;

	switch (t->ti.tcpi_state) {
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT2:
		break;
	case TCP_FIN_WAIT1:
		fin = 1;
		break;
	default:
		return false;
	}
	if (ioctl(fd, SIOCOUTQ, &outq) < 0 || ioctl(fd, SIOCINQ, &inq) < 0)
		return false;
	return outq <= fin && inq == 0;
}

/* tw_keep_time_wait(), as an outcome: false when TIME_WAIT may go. */
static bool
keeps_time_wait(int fd, const struct tw_desc *d, const struct tcp_info *ti, bool unsafe,
    struct outcome *out)
{
	switch (tw_keep_time_wait(fd, d, NULL, ti, unsafe)) {
	case TW_TIME_WAIT_NO_TIMESTAMPS:
		*out = OUTCOME(close_no_timestamps,
		    "normal: no TCP timestamps: TIME_WAIT kept to guard the next connection");
		return true;
	case TW_TIME_WAIT_REUSE_TOO_SOON:
		*out = OUTCOME(close_reuse_too_soon, "normal: the four-tuple could come back "
		    "within the reuse quarantine: TIME_WAIT kept");
		return true;
	default:
		return false;
	}
}

/* abort, or abort-if-idle (if_idle): SO_LINGER {1,0} where allowed. */
static struct outcome
reset(int fd, const struct tw_desc *d, bool if_idle, bool unsafe)
{
	struct tw_tcp_info t;
	struct outcome out;

	if (!tw_read_tcp_info(fd, &t))
		return OUTCOME(close_stale, "normal: not a TCP socket");
	if (if_idle && !socket_idle(fd, &t))
		return OUTCOME(close_abort_if_busy, "normal: busy (abort-if-idle)");
	if (keeps_time_wait(fd, d, &t.ti, unsafe, &out))
		return out;
	tw_set_linger(fd, 1, 0);
	return if_idle ? OUTCOME(close_abort_if_idle, "abort-if-idle: reset") :
	    OUTCOME(close_abort, "abort: reset");
}

/*
 * TCP_LINGER2 = -1 changes nothing until the last descriptor of the socket
 * is closed: close() still sends every byte and then the FIN, so the peer
 * reads all of it and then EOF.  Only once the peer has acknowledged the
 * FIN does the orphaned socket go straight to CLOSED, answering anything
 * more with RST, instead of FIN_WAIT2 and TIME_WAIT.  No byte is lost and
 * nothing waits, so it is as safe for a socket another process still holds
 * as for any other: the FIN goes out only when the last holder closes.
 *
 * The peer application sees one difference: a write it makes after it
 * has acknowledged our FIN fails with EPIPE at once (bare, it would appear
 * to succeed, and the data would be dropped by our RST all the same).  A
 * peer that has sent nothing may be a server still working out its
 * answer, so the plain form acts only on a connection that was answered.
 * tcpi_bytes_received only grows, so a decision made at one holder's close
 * holds for the last.
 *
 * An EOF a read saw on this number (peer_fin, fdt_peer_closed_first(): not
 * one the program's own shutdown made) means the peer closed first:
 * nothing to do, and nothing asked of the kernel.  Data received does not
 * spare the TCP_INFO read: whether the connection has timestamps is only
 * there.
 *
 * The TCP_INFO read, or the setsockopt, is also the identity check here:
 * each fails unless fd names a TCP socket, and the action is one a socket
 * that reused the number unseen could take no harm from (see closer.c).
 */
static struct outcome
fin_then_reset(int fd, const struct tw_desc *d, bool wants_answer, bool unsafe, bool peer_fin)
{
	struct tw_tcp_info t;
	struct outcome out;
	int off = -1;

	if (peer_fin)
		return OUTCOME(close_peer_closed, "normal: the peer closed first");
	if (!tw_read_tcp_info(fd, &t))
		return OUTCOME(close_stale, "normal: not a TCP socket");
	switch (t.ti.tcpi_state) {
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
		break;
	case TCP_CLOSE_WAIT:
		/* The peer closed first: TIME_WAIT is already the peer's. */
		return OUTCOME(close_peer_closed, "normal: the peer closed first");
	default:
		/* Not connected, or already ended (a FIN_WAIT2 that got its FIN). */
		return OUTCOME(close_peer_closed, "normal: the connection had already ended");
	}
	if (wants_answer && (t.len < offsetof(struct tw_tcp_info, bytes_received) +
	    sizeof t.bytes_received || t.bytes_received == 0))
		return OUTCOME(close_not_answered, "normal: not answered: the peer sent nothing");
	if (keeps_time_wait(fd, d, &t.ti, unsafe, &out))
		return out;
	if (REAL(setsockopt)(fd, IPPROTO_TCP, TCP_LINGER2, &off, sizeof off) < 0)
		return OUTCOME(close_normal, "normal: TCP_LINGER2 refused");
	return OUTCOME(close_fin_then_reset, "fin-then-reset");
}

void
tw_act(int fd, const struct tw_desc *d, enum policy_close_kind kind, bool unsafe, bool peer_fin,
    enum tw_when when)
{
	struct outcome out;

	/* Each end of a client connection, for the reuse quarantine's counts. */
	if (d != NULL)
		tw_reuse_note_close(d);
	switch (kind) {
	case CLOSE_ABORT:
	case CLOSE_ABORT_IF_IDLE:
		out = reset(fd, d, kind == CLOSE_ABORT_IF_IDLE, unsafe);
		break;
	case CLOSE_FIN_THEN_RESET:
	case CLOSE_FIN_THEN_RESET_ALWAYS:
		out = fin_then_reset(fd, d, policy_close_wants_answer(kind), unsafe, peer_fin);
		break;
	case CLOSE_GRACEFUL:
		/* Only as a fallback: the FIN, without the wait. */
		(void)REAL(shutdown)(fd, SHUT_WR);
		out = OUTCOME(close_graceful, "graceful, without waiting");
		break;
	default:
		out = OUTCOME(close_normal, "normal");
		break;
	}
	tw_close_outcome(fd, when, out.what, TW_LOG_INFO, out.how);
}
