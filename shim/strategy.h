/*
 * strategy.h - the close strategies' immediate actions on a socket about
 * to close, and the one place a close's outcome is counted and logged.
 */
#ifndef TWSHIM_STRATEGY_H
#define TWSHIM_STRATEGY_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "policy.h"
#include "stats.h"

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
	TW_TIME_WAIT_NO_TIMESTAMPS,	/* no PAWS to guard the four-tuple's next connection */
	TW_TIME_WAIT_REUSE_TOO_SOON	/* the four-tuple could come back within the quarantine */
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
 * fallbacks.  No side effect: tw_act() counts and logs what it says.
 */
enum tw_keep_time_wait tw_keep_time_wait(int fd, const struct tw_desc *d,
    const struct sockaddr *peer, const struct tcp_info *ti, bool unsafe);

/* Where a close's action is taken: its log line, and whether it counts. */
enum tw_when {
	TW_AT_CLOSE,		/* the program's close() */
	TW_AT_EXIT,		/* a socket the program left open at exit */
	TW_AT_EXEC,		/* ... at exec (close-on-exec) */
	TW_AT_FALLBACK		/* a waiting close's end (reaper.c), counted when it began */
};

/*
 * The one place a close's outcome is counted and logged: `what` its
 * counter (close_*), `how` the words after "fd N: close: " (or "at exit:
 * ", "fell back to ").  A fallback counts no second outcome for its
 * close; the RST of abort and abort-if-idle counts rst_sent wherever.
 */
void tw_close_outcome(int fd, enum tw_when when, enum tw_stat what, int level, const char *how);

/*
 * The immediate action of `kind` on fd, about to be closed, counted and
 * logged: SO_LINGER {1,0} for abort (and abort-if-idle when idle),
 * TCP_LINGER2 = -1 for fin-then-reset, shutdown(SHUT_WR) for graceful
 * (a fallback's, without its wait), nothing for normal.  Those that
 * leave no TIME_WAIT act only where tw_keep_time_wait() allows.  `d`:
 * the socket's state, NULL where gone; `peer_fin`: a read on fd returned
 * the peer's EOF (fdt_peer_closed_first), which spares fin-then-reset
 * its TCP_INFO read.  The caller has checked sharing and identity where
 * the kind needs it (closer.c).
 */
void tw_act(int fd, const struct tw_desc *d, enum policy_close_kind kind, bool unsafe,
    bool peer_fin, enum tw_when when);

#endif
