/*
 * ownfd.h - the numbers the shim keeps descriptors of its own on (its log
 * file, the reaper's), and the program's calls that could collide with them.
 *
 * Those numbers sit at tw_fd_floor() and above and are marked
 * TW_FD_INTERNAL in the flag array.  A program may close them in ways the
 * shim cannot see (a raw close_range system call) and have the kernel hand
 * the number out again: a flag is therefore a hint, and the owner checks
 * the descriptor's identity before it trusts one.
 */
#ifndef TWSHIM_OWNFD_H
#define TWSHIM_OWNFD_H

#include <stdbool.h>

#include "fdtable.h"

#pragma GCC visibility push(hidden)

/* The lowest floor ever used; INT_MAX until the shim owns a descriptor. */
extern int tw_own_lowest;

/*
 * Held while a descriptor of ours is placed, and across a program's
 * dup2() onto a free number where one could land: the two never meet.
 * Recursive; taken before the reaper's lock, never after it.
 */
void tw_own_lock(void);
void tw_own_unlock(void);
void tw_own_prefork(void);
void tw_own_postfork_parent(void);
void tw_own_postfork_child(void);

/* RLIMIT_NOFILE moved the floor (the reaper follows it). */
void tw_own_set_floor(int floor);

/* Could a descriptor of ours sit on fd, now or a moment from now? */
static inline bool
tw_own_range(int fd)
{
	return fd >= __atomic_load_n(&tw_own_lowest, __ATOMIC_RELAXED) && fd < TW_FLAG_SLOTS;
}

/*
 * dup2()/dup3() onto newfd, in tw_own_range(): move a descriptor of ours
 * out of the way and, when newfd is free, keep our own placements off it
 * until the call is made.  True when the lock is held: call
 * tw_own_dup2_end() after the real call.
 */
bool tw_own_dup2_begin(int newfd);
void tw_own_dup2_end(void);

/*
 * Whether the descriptor flagged internal on fd is still the shim's.
 * When it is not (closed behind our back, the number reused), its owner
 * forgets it and the flag goes.  Always false in a process that does not
 * own the table (a vfork or _Fork child): nothing there is ours to keep.
 */
bool tw_own_claims(int fd);

/*
 * The program is about to take fd (dup2 onto it): the owner of the
 * descriptor of ours there moves it elsewhere.  Nothing unless fd is
 * flagged internal.
 */
void tw_own_evict(int fd);

/* Take the internal flag off fd, if it still has it. */
void tw_own_forget(int fd);

#pragma GCC visibility pop

#endif
