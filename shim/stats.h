/*
 * stats.h - the counters (stats.def), kept where TWSHIM_STATS says:
 *
 * - a directory: live counters, one file per program (and user), mapped
 *   into every process of that program, which adds to it in place
 *   (stats.c says why);
 * - any other path: key=value lines written at exit ("%p": the pid).
 */
#ifndef TWSHIM_STATS_H
#define TWSHIM_STATS_H

#include <stdbool.h>
#include <stdint.h>

enum tw_stat {
#define STAT(name, what) TW_STAT_##name,
#include "stats.def"
#undef STAT
	TW_STAT_COUNT
};

/* Where tw_count() adds: this process's own counters, or the mapped file's. */
extern uint64_t *tw_stats_live;

/* True until the first TCP socket of a process that keeps live counters. */
extern bool tw_stats_pending;
void tw_stats_attach(void);

/*
 * An atomic add, no system call.  The first tracked TCP socket maps the
 * program's file: a process that never has one leaves no file.  Never
 * inside the table's section (tw_busy): the file's opening must not hold
 * its lock; the counts wait in the process's own until a later one.
 */
#define tw_count(name) do {						\
	if (TW_STAT_##name == TW_STAT_sockets_tracked &&		\
	    __builtin_expect(__atomic_load_n(&tw_stats_pending, __ATOMIC_RELAXED), 0) && \
	    tw_busy == 0)						\
		tw_stats_attach();					\
	__atomic_add_fetch(&__atomic_load_n(&tw_stats_live, __ATOMIC_ACQUIRE)[TW_STAT_##name], \
	    1, __ATOMIC_RELAXED);					\
} while (0)

/* tw_count() of a counter chosen at run time (never sockets_tracked). */
static inline void
tw_count_stat(enum tw_stat what)
{
	__atomic_add_fetch(&__atomic_load_n(&tw_stats_live, __ATOMIC_ACQUIRE)[what], 1,
	    __ATOMIC_RELAXED);
}

/*
 * From the constructor, once the policy is in force: reads TWSHIM_STATS
 * and TWSHIM_STATS_SIGNAL.  Whether counters are kept at all.
 */
bool tw_stats_init(void);

/* A child made by fork() with the handlers: its counts add to the same file. */
void tw_stats_forked_child(void);

/* A child made without them (_Fork, clone): it counts nothing more. */
void tw_stats_unhandled_child(void);

/*
 * exit(), _exit(), _Exit() of a process (not of a vfork() child): the
 * exit-time file is written once; live counters are already in place.
 * Async-signal-safe.
 */
void tw_stats_at_exit(void);

#endif
