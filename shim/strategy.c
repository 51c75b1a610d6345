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

/*
 * Idle: nothing unsent or unacknowledged, nothing unread, and a state in
 * which our close would leave TIME_WAIT here.  After the program's own
 * shutdown(SHUT_WR) the FIN itself counts one byte in SIOCOUTQ until it is
 * acknowledged (FIN_WAIT1); resetting then loses no data either.  In
 * CLOSE_WAIT the peer closed first and a plain close leaves no TIME_WAIT,
 * so no RST is needed.
 */
bool
tw_socket_idle(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	int outq = 0, inq = 0, fin = 0;

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return false;
	switch (ti.tcpi_state) {
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
 * What recv() saw on this number (received, fdt_note_received) stands in
 * for the TCP_INFO read: data means answered, EOF means the peer closed
 * first.  The state is then not read: a connection whose peer has closed
 * since, unread, takes the TCP_LINGER2 it no longer needs (it ends in
 * LAST_ACK, never FIN_WAIT2), and counts as fin-then-reset.
 *
 * The TCP_INFO read, or the setsockopt, is also the identity check here:
 * each fails unless fd names a TCP socket, and the action is one a socket
 * that reused the number unseen could take no harm from (see closer.c).
 */
bool
tw_fin_then_reset(int fd, bool always, unsigned received, const char **why)
{
	/* glibc's struct tcp_info stops short of the fields that follow (Linux 4.1+). */
	struct {
		struct tcp_info ti;
		uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	} t;
	socklen_t len = sizeof t;
	int off = -1;

	_Static_assert(offsetof(__typeof__(t), pacing_rate) == 104,
	    "struct tcp_info as the kernel lays it out");
	if (received & TW_FD_PEER_FIN) {
		*why = "the peer closed first";
		tw_count(close_peer_closed);
		return false;
	}
	if (received & TW_FD_ANSWERED)
		goto answered;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &t, &len) < 0) {
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
	if (!always && (len < offsetof(__typeof__(t), bytes_received) + sizeof t.bytes_received ||
	    t.bytes_received == 0)) {
		*why = "not answered: the peer sent nothing";
		tw_count(close_not_answered);
		return false;
	}
answered:
	if (REAL(setsockopt)(fd, IPPROTO_TCP, TCP_LINGER2, &off, sizeof off) < 0) {
		*why = "TCP_LINGER2 refused";
		tw_count(close_normal);
		return false;
	}
	tw_count(close_fin_then_reset);
	return true;
}

void
tw_prepare_close(int fd, enum policy_close_kind kind)
{
	const char *why;

	if (kind == CLOSE_ABORT || (kind == CLOSE_ABORT_IF_IDLE && tw_socket_idle(fd))) {
		tw_set_linger(fd, 1, 0);
		tw_count(rst_sent);
		tw_log(TW_LOG_INFO, "fd %d: fell back to %s: reset", fd, policy_close_name(kind));
	} else if (tw_is_fin_then_reset(kind)) {
		if (tw_fin_then_reset(fd, kind == CLOSE_FIN_THEN_RESET_ALWAYS, 0, &why))
			tw_log(TW_LOG_INFO, "fd %d: fell back to fin-then-reset", fd);
		else
			tw_log(TW_LOG_INFO, "fd %d: fell back to normal: %s", fd, why);
	} else if (kind == CLOSE_GRACEFUL) {
		(void)REAL(shutdown)(fd, SHUT_WR);
	} else if (kind == CLOSE_ABORT_IF_IDLE) {
		tw_log(TW_LOG_INFO, "fd %d: fell back to normal: busy", fd);
	}
}
