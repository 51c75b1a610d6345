/*
 * process.h - the process around the table: the children that inherit its
 * sockets, exec, and every way of leaving.  The hooks for these calls
 * (hooks.c) only open the door; what they mean for the sockets is here.
 */
#ifndef TWSHIM_PROCESS_H
#define TWSHIM_PROCESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

#include "real.h"
#include "shim.h"

#pragma GCC visibility push(hidden)

/* Once a policy is loaded: the fork handlers, and quick_exit()'s. */
void tw_process_init(void);

/*
 * A child sharing our memory (vfork, clone with CLONE_VM) on this thread,
 * which must leave the parent's table alone, even in calls it has no
 * business making (socket, connect, accept, setsockopt, ...).  No system
 * call unless such a child was made: the vfork() flag, or a clone() that
 * shared memory, is looked at first.
 */
static inline bool
tw_child_sharing_memory(void)
{
	if (TW_LIKELY(!__atomic_load_n(&tw_vfork_child, __ATOMIC_RELAXED)) &&
	    TW_LIKELY(!__atomic_load_n(&tw_state.watch_pid, __ATOMIC_RELAXED)))
		return false;
	return tw_foreign_process();
}

/*
 * Leaving through exit() (the destructor), _exit(), _Exit() or
 * quick_exit(): pending closes and the sockets still open get what the
 * policy says, once, where this process may act (its own table, not a
 * signal handler inside the shim); then the counters are left
 * (stats.c says where and when not).
 */
void tw_leave(void);

/*
 * posix_spawn, system, popen and their kind start a child that inherits
 * every descriptor without close-on-exec (any, with file actions), and no
 * fork handler runs: from here on such sockets are shared.
 */
void tw_before_spawn(bool inheritable_only);

/*
 * Around an exec call.  tw_before_exec() returns what tw_exec_failed()
 * needs when the call returns: the new image never saw the table, so
 * what was done for it is taken back where it must be.
 */
bool tw_before_exec(void);
void tw_exec_failed(bool left);

/* execl, execle, execlp: `ap` holds the arguments after `arg`, then (execle) the environment. */
enum tw_exec_list { TW_EXEC_L, TW_EXEC_LE, TW_EXEC_LP };
int tw_exec_list(enum tw_exec_list how, const char *path, const char *arg, va_list ap);

/* _Fork(): a child without the fork handlers. */
pid_t tw_fork_unhandled(real__Fork_fn real);

/* clone() and __clone(), with the optional arguments read. */
int tw_clone(int (*fn)(void *), void *stack, int flags, void *arg,
    pid_t *parent_tid, void *tls, pid_t *child_tid);

#pragma GCC visibility pop

#endif
