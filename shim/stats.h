/*
 * stats.h - per-process counters, written at exit to TWSHIM_STATS.
 */
#ifndef TWSHIM_STATS_H
#define TWSHIM_STATS_H

#include <stdbool.h>

enum tw_stat {
#define STAT(name, what) TW_STAT_##name,
#include "stats.def"
#undef STAT
	TW_STAT_COUNT
};

extern unsigned long tw_stats[TW_STAT_COUNT];

#define tw_count(name)	\
	__atomic_add_fetch(&tw_stats[TW_STAT_##name], 1, __ATOMIC_RELAXED)

/*
 * Write the counters as key=value lines to path ("%p" becomes the pid):
 * to a new file beside it, renamed over it, so a reader sees a whole file.
 * Only a regular file is replaced; without %p, a process that counted
 * nothing leaves an existing file alone.  Async-signal-safe; the first
 * failure is logged, unless from_signal.
 */
void tw_stats_write(const char *path_template, bool from_signal);

/* Start counting from zero (a forked child counts only its own sockets). */
void tw_stats_reset(void);

#endif
