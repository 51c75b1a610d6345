/*
 * reaper.h - finishing the close strategies that wait (graceful,
 * peer-first) without making the program's close() wait.
 *
 * The program's descriptor is closed at once and its number is free; the
 * reaper keeps a private close-on-exec duplicate of the socket and an
 * epoll thread, running only while there is something to wait for,
 * finishes the job on it.
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
 * Take over the socket on fd (the socket d) and close fd.  Returns 0 when
 * the reaper owns the socket now, -1 (fd untouched) when it cannot: the
 * caller then closes at once.
 */
struct tw_desc;
int tw_reaper_take(int fd, const struct policy_close *c, const struct tw_desc *d);

/*
 * As the image ends (exit, exec): apply each pending socket's fallback
 * now, and from then on take no more.  tw_reaper_resume(): the exec
 * failed, take them again.
 */
void tw_reaper_flush(void);
void tw_reaper_resume(void);

/*
 * close_range() with CLOSE_RANGE_UNSHARE from a thread of the program:
 * unshare its descriptor table now, and close there the copies of the
 * pending duplicates.
 */
void tw_reaper_unshare(void);

/*
 * dup2() onto one of our descriptors: move ours out of the way first (the
 * caller holds tw_own_lock()).
 */
void tw_reaper_evict(int fd);

/*
 * Whether fd, flagged internal, is still one of the reaper's descriptors;
 * one that is not is forgotten.
 */
bool tw_reaper_claims(int fd);

/*
 * In a child where no fork handler ran (_Fork(), fork() from a signal
 * handler): close the copies of the reaper's descriptors.  Lock-free and
 * async-signal-safe.
 */
void tw_reaper_drop_inherited(void);

void tw_reaper_prefork(void);
void tw_reaper_postfork_parent(void);
void tw_reaper_postfork_child(void);

#endif
