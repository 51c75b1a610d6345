/*
 * reaper.h - finishing the close strategies that wait (graceful,
 * peer-first) without making the program's close() wait.
 *
 * The program's descriptor is closed at once and its number is free; the
 * reaper keeps a private close-on-exec duplicate of the socket and an
 * epoll thread finishes the job on it.
 */
#ifndef TWSHIM_REAPER_H
#define TWSHIM_REAPER_H

#include <stdbool.h>

#include "policy.h"

/*
 * Called once at start-up.  `waiting`: the policy uses graceful or
 * peer-first, so the reaper's descriptors are made now, while the program
 * is most likely single-threaded (see reaper.c).
 */
void tw_reaper_init(bool waiting);

/*
 * Take over the socket on fd and close fd.  `shut_wr_done` says the
 * program already sent its FIN.  Returns 0 when the reaper owns the socket
 * now, -1 (fd untouched) when it cannot: the caller then closes at once.
 */
int tw_reaper_take(int fd, const struct policy_close *c, bool shut_wr_done);

/* At exit: apply each pending socket's fallback now. */
void tw_reaper_flush(void);

/* dup2() onto one of our descriptors: move ours out of the way first. */
void tw_reaper_evict(int fd);

void tw_reaper_prefork(void);
void tw_reaper_postfork_parent(void);
void tw_reaper_postfork_child(void);

#endif
