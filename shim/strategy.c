/*
 * strategy.c - the immediate half of the close strategies: what is done to
 * a socket just before the real close(), whether by the program's close()
 * (closer.c), at exit, or by the reaper when a wait ends (reaper.c).
 */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

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

void
tw_prepare_close(int fd, enum policy_close_kind kind)
{
	if (kind == CLOSE_ABORT || (kind == CLOSE_ABORT_IF_IDLE && tw_socket_idle(fd))) {
		tw_set_linger(fd, 1, 0);
		tw_count(rst_sent);
	} else if (kind == CLOSE_GRACEFUL) {
		(void)shutdown(fd, SHUT_WR);
	}
}
