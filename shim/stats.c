/*
 * stats.c - the counters (see stats.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "fdtable.h"
#include "real.h"
#include "shim.h"
#include "stats.h"

unsigned long tw_stats[TW_STAT_COUNT];

static const char *const stat_names[TW_STAT_COUNT] = {
#define STAT(name, what) #name,
#include "stats.def"
#undef STAT
};

/*
 * The writer runs in a signal handler too (TWSHIM_STATS_SIGNAL): only
 * async-signal-safe calls, so its own formatting instead of snprintf.
 */
struct out {
	char *buf;
	size_t n, size;
};

static void
put(struct out *o, const char *s)
{
	while (*s != '\0' && o->n + 1 < o->size)
		o->buf[o->n++] = *s++;
	o->buf[o->n] = '\0';
}

static void
put_num(struct out *o, unsigned long v)
{
	char digits[24];
	int i = (int)sizeof digits - 1;

	digits[i] = '\0';
	do
		digits[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	put(o, digits + i);
}

static void
expand_pid(const char *tmpl, char *path, size_t size)
{
	struct out o = { path, 0, size };
	char one[2] = "";

	path[0] = '\0';
	for (const char *s = tmpl; *s != '\0'; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			put_num(&o, (unsigned long)getpid());
			s++;
		} else {
			one[0] = *s;
			put(&o, one);
		}
	}
}

void
tw_stats_write(const char *path_template, bool from_signal)
{
	char path[4096], buf[4096];
	struct out o = { buf, 0, sizeof buf };
	int fd, saved = errno;

	expand_pid(path_template, path, sizeof path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (!from_signal)
			tw_log(TW_LOG_WARN, "cannot write stats to %s: %s", path, strerror(errno));
		errno = saved;
		return;
	}
	put(&o, "pid=");
	put_num(&o, (unsigned long)getpid());
	put(&o, "\nprogram=");
	put(&o, tw_state.program != NULL ? tw_state.program : "?");
	put(&o, "\n");
	for (int i = 0; i < TW_STAT_COUNT; i++) {
		put(&o, stat_names[i]);
		put(&o, "=");
		put_num(&o, __atomic_load_n(&tw_stats[i], __ATOMIC_RELAXED));
		put(&o, "\n");
	}
	put(&o, "tracked_at_exit=");
	put_num(&o, fdt_entries());
	put(&o, "\n");
	(void)!write(fd, buf, o.n);
	REAL(close)(fd);
	errno = saved;
}
