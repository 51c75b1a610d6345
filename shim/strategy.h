/*
 * strategy.h - the close strategies' actions on a socket about to close.
 */
#ifndef TWSHIM_STRATEGY_H
#define TWSHIM_STRATEGY_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "policy.h"

struct tw_desc;

/* SO_LINGER {onoff, secs} on fd, ignoring failure. */
void tw_set_linger(int fd, int onoff, int secs);

/* TCP_INFO as the kernel lays it out, up to tcpi_bytes_received (Linux 4.1+). */
struct tw_tcp_info {
	struct tcp_info ti;	/* glibc's struct stops short of the fields below */
	uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	socklen_t len;		/* how much of it the kernel filled in */
};

/* Read fd's TCP_INFO; false when fd is not a TCP socket. */
bool tw_read_tcp_info(int fd, struct tw_tcp_info *t);

/* Why a close that would leave no TIME_WAIT here must keep it. */
enum tw_keep_time_wait {
	TW_TIME_WAIT_MAY_GO = 0,
	TW_TIME_WAIT_NO_TIMESTAMPS	/* no PAWS to guard the four-tuple's next connection */
};

/*
 * The one decision: may the close of the socket on fd, now, leave no
 * TIME_WAIT on our side?  TIME_WAIT keeps late duplicates of this
 * connection out of the next one on the same four-tuple; without it only
 * PAWS does, and only when the connection negotiated TCP timestamps.
 * `d`: the socket's table state (family), NULL where no longer known;
 * `peer`: its destination, NULL where not known; `ti`: its TCP_INFO,
 * just read; `unsafe`: the policy accepts the risk.  Every strategy that
 * leaves no TIME_WAIT asks here, at close, at exit and in the reaper's
 * fallbacks.  No side effect: its callers count and log (strategy.c).
 */
enum tw_keep_time_wait tw_keep_time_wait(int fd, const struct tw_desc *d,
    const struct sockaddr *peer, const struct tcp_info *ti, bool unsafe);

/*
 * Nothing unsent or unacknowledged, nothing unread, and a state in which
 * our close would leave TIME_WAIT here (t: fd's TCP_INFO).
 */
bool tw_socket_idle(int fd, const struct tw_tcp_info *t);

/*
 * fin-then-reset on fd, about to be closed: TCP_LINGER2 = -1 when the
 * connection is up (or half-closed by us), has TCP timestamps (or the
 * policy says `unsafe`) and, unless `always`, the peer has sent at least
 * one byte.  `received`: the TW_FD_PEER_FIN bit recv() noted on fd,
 * which spares the kernel the question.  Returns true when set;
 * otherwise *why says why the close stays the program's own.  Counts the
 * outcome.
 */
bool tw_fin_then_reset(int fd, const struct tw_desc *d, bool always, bool unsafe,
    unsigned received, const char **why);

enum tw_reset_result {
	TW_RESET_DONE,		/* SO_LINGER {1,0} is set */
	TW_RESET_BUSY,		/* abort-if-idle: not idle */
	TW_RESET_KEPT		/* not a TCP socket, or TIME_WAIT must stay (why) */
};

/*
 * abort, or abort-if-idle when idle (`if_idle`): SO_LINGER {1,0} on fd,
 * when the connection has TCP timestamps or the policy says `unsafe`.
 * Unless done, *why says why the close stays normal (counted here when
 * it is the missing timestamps).
 */
enum tw_reset_result tw_reset(int fd, const struct tw_desc *d, bool if_idle, bool unsafe,
    const char **why);

static inline bool
tw_is_fin_then_reset(enum policy_close_kind kind)
{
	return kind == CLOSE_FIN_THEN_RESET || kind == CLOSE_FIN_THEN_RESET_ALWAYS;
}

/*
 * Ready the socket on fd to close, now, as `kind` says: RST for abort (and
 * for abort-if-idle when idle), TCP_LINGER2 = -1 for fin-then-reset, the
 * FIN for graceful (without its wait).  Used for a fallback, so it logs
 * what it did at info level.  `unsafe`: the policy's word (policy_close).
 */
void tw_prepare_close(int fd, enum policy_close_kind kind, bool unsafe);

#endif
