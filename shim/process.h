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

#pragma GCC visibility push(hidden)

/* Once a policy is loaded: the fork handlers. */
void tw_process_init(void);

/* _exit(), _Exit(): they skip the destructors. */
void tw_before_exit(void);

/*
 * posix_spawn, system, popen and their kind start a child that inherits
 * every descriptor without close-on-exec (any, with file actions), and no
 * fork handler runs: from here on such sockets are shared.
 */
void tw_before_spawn(bool inheritable_only);

/* exec from a vfork() child: what it passes on is shared with the parent. */
void tw_before_exec(void);

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
