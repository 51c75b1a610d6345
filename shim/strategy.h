/*
 * strategy.h - the close strategies' actions on a socket about to close.
 */
#ifndef TWSHIM_STRATEGY_H
#define TWSHIM_STRATEGY_H

#include <stdbool.h>

#include "policy.h"

/* SO_LINGER {onoff, secs} on fd, ignoring failure. */
void tw_set_linger(int fd, int onoff, int secs);

/*
 * Nothing unsent or unacknowledged, nothing unread, and a state in which
 * our close would leave TIME_WAIT here.
 */
bool tw_socket_idle(int fd);

/*
 * fin-then-reset on fd, about to be closed: TCP_LINGER2 = -1 when the
 * connection is up (or half-closed by us) and, unless `always`, the peer
 * has sent at least one byte.  `received`: the TW_FD_ANSWERED and
 * TW_FD_PEER_FIN bits recv() noted on fd, which spare the kernel the
 * question.  Returns true when set; otherwise *why says why the close
 * stays the program's own.  Counts the outcome.
 */
bool tw_fin_then_reset(int fd, bool always, unsigned received, const char **why);

static inline bool
tw_is_fin_then_reset(enum policy_close_kind kind)
{
	return kind == CLOSE_FIN_THEN_RESET || kind == CLOSE_FIN_THEN_RESET_ALWAYS;
}

/*
 * Ready the socket on fd to close, now, as `kind` says: RST for abort (and
 * for abort-if-idle when idle), TCP_LINGER2 = -1 for fin-then-reset, the
 * FIN for graceful (without its wait).  Used for a fallback, so it logs
 * what it did at info level.
 */
void tw_prepare_close(int fd, enum policy_close_kind kind);

#endif
