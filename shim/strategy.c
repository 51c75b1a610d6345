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
 * could be taken into the next connection on the same four-tuple.  Random
 * initial sequence numbers make that unlikely, not impossible: on a fast
 * link with ports churning, a few streams in a hundred carried an earlier
 * connection's bytes.  With timestamps on both ends, PAWS drops such a
 * segment, as it does for tcp_tw_reuse: Linux continues the four-tuple's
 * timestamp clock across connections.  The option is negotiated in the
 * handshake, so tcpi_options tells it for good.
 *
 * d and peer are not needed yet: they are for a test of whether the
 * four-tuple can come back at all before its segments have died out.
 */
enum tw_keep_time_wait
tw_keep_time_wait(int fd, const struct tw_desc *d, const struct sockaddr *peer,
    const struct tcp_info *ti, bool unsafe)
{
	(void)fd;
	(void)d;
	(void)peer;
	if (unsafe)
		return TW_TIME_WAIT_MAY_GO;
	if (!(ti->tcpi_options & TCPI_OPT_TIMESTAMPS))
		return TW_TIME_WAIT_NO_TIMESTAMPS;
	return TW_TIME_WAIT_MAY_GO;
}

/* tw_keep_time_wait(), counted and put in words: the one caller that counts. */
static bool
must_keep_time_wait(int fd, const struct tw_desc *d, const struct tcp_info *ti, bool unsafe,
    const char **why)
{
	switch (tw_keep_time_wait(fd, d, NULL, ti, unsafe)) {
	case TW_TIME_WAIT_NO_TIMESTAMPS:
		tw_count(close_no_timestamps);
		*why = "no TCP timestamps: TIME_WAIT kept to guard the next connection";
		return true;
	default:
		return false;
	}
}

/*
 * Idle: nothing unsent or unacknowledged, nothing unread, and a state in
 * which our close would leave TIME_WAIT here.  After the program's own
 * shutdown(SHUT_WR) the FIN itself counts one byte in SIOCOUTQ until it is
 * acknowledged (FIN_WAIT1); resetting then loses no data either.  In
 * CLOSE_WAIT the peer closed first and a plain close leaves no TIME_WAIT,
 * so no RST is needed.
 */
bool
tw_socket_idle(int fd, const struct tw_tcp_info *t)
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

enum tw_reset_result
tw_reset(int fd, const struct tw_desc *d, bool if_idle, bool unsafe, const char **why)
{
	struct tw_tcp_info t;

	if (!tw_read_tcp_info(fd, &t)) {
		*why = "not a TCP socket";
		return TW_RESET_KEPT;
	}
	if (if_idle && !tw_socket_idle(fd, &t)) {
		*why = "busy";
		return TW_RESET_BUSY;
	}
	if (must_keep_time_wait(fd, d, &t.ti, unsafe, why))
		return TW_RESET_KEPT;
	tw_set_linger(fd, 1, 0);
	return TW_RESET_DONE;
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
 * An EOF recv() saw on this number (received, fdt_note_received) means
 * the peer closed first: nothing to do, and nothing asked of the kernel.
 * Data received does not spare the TCP_INFO read: whether the connection
 * has timestamps is only there.
 *
 * The TCP_INFO read, or the setsockopt, is also the identity check here:
 * each fails unless fd names a TCP socket, and the action is one a socket
 * that reused the number unseen could take no harm from (see closer.c).
 */
bool
tw_fin_then_reset(int fd, const struct tw_desc *d, bool always, bool unsafe, unsigned received,
    const char **why)
{
	struct tw_tcp_info t;
	int off = -1;

	if (received & TW_FD_PEER_FIN) {
		*why = "the peer closed first";
		tw_count(close_peer_closed);
		return false;
	}
	if (!tw_read_tcp_info(fd, &t)) {
		*why = "not a TCP socket";
		tw_count(close_stale);
		return false;
	}
	switch (t.ti.tcpi_state) {
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
		break;
	case TCP_CLOSE_WAIT:
		/* The peer closed first: TIME_WAIT is already the peer's. */
		*why = "the peer closed first";
		tw_count(close_peer_closed);
		return false;
	default:
		/* Not connected, or already ended (a FIN_WAIT2 that got its FIN). */
		*why = "the connection had already ended";
		tw_count(close_peer_closed);
		return false;
	}
	if (!always && (t.len < offsetof(struct tw_tcp_info, bytes_received) +
	    sizeof t.bytes_received || t.bytes_received == 0)) {
		*why = "not answered: the peer sent nothing";
		tw_count(close_not_answered);
		return false;
	}
	if (must_keep_time_wait(fd, d, &t.ti, unsafe, why))
		return false;
	if (REAL(setsockopt)(fd, IPPROTO_TCP, TCP_LINGER2, &off, sizeof off) < 0) {
		*why = "TCP_LINGER2 refused";
		tw_count(close_normal);
		return false;
	}
	tw_count(close_fin_then_reset);
	return true;
}

void
tw_prepare_close(int fd, enum policy_close_kind kind, bool unsafe)
{
	const char *why;

	if (kind == CLOSE_ABORT || kind == CLOSE_ABORT_IF_IDLE) {
		if (tw_reset(fd, NULL, kind == CLOSE_ABORT_IF_IDLE, unsafe, &why) == TW_RESET_DONE) {
			tw_count(rst_sent);
			tw_log(TW_LOG_INFO, "fd %d: fell back to %s: reset", fd,
			    policy_close_name(kind));
		} else {
			tw_log(TW_LOG_INFO, "fd %d: fell back to normal: %s", fd, why);
		}
	} else if (tw_is_fin_then_reset(kind)) {
		if (tw_fin_then_reset(fd, NULL, kind == CLOSE_FIN_THEN_RESET_ALWAYS, unsafe, 0, &why))
			tw_log(TW_LOG_INFO, "fd %d: fell back to fin-then-reset", fd);
		else
			tw_log(TW_LOG_INFO, "fd %d: fell back to normal: %s", fd, why);
	} else if (kind == CLOSE_GRACEFUL) {
		(void)shutdown(fd, SHUT_WR);
	}
}
