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
 * Ready the socket on fd to close, now, as `kind` says: RST for abort (and
 * for abort-if-idle when idle), the FIN for graceful (without its wait).
 */
void tw_prepare_close(int fd, enum policy_close_kind kind);

#endif
