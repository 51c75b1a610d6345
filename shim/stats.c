/*
 * stats.c - the counters (see stats.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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

static void
expand_pid(const char *tmpl, char *out, size_t size)
{
	size_t n = 0;

	for (const char *s = tmpl; *s != '\0' && n + 1 < size; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			int w = snprintf(out + n, size - n, "%ld", (long)getpid());
			if (w < 0 || (size_t)w >= size - n)
				break;
			n += (size_t)w;
			s++;
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
}

void
tw_stats_write(const char *path_template)
{
	char path[4096], buf[4096];
	size_t n = 0;
	int fd, saved = errno;

	expand_pid(path_template, path, sizeof path);
	fd = REAL(open)(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		tw_log(TW_LOG_WARN, "cannot write stats to %s: %s", path, strerror(errno));
		errno = saved;
		return;
	}
	n += (size_t)snprintf(buf + n, sizeof buf - n, "pid=%ld\nprogram=%s\n",
	    (long)getpid(), tw_state.program != NULL ? tw_state.program : "?");
	for (int i = 0; i < TW_STAT_COUNT && n < sizeof buf; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s=%lu\n",
		    stat_names[i], __atomic_load_n(&tw_stats[i], __ATOMIC_RELAXED));
	if (n < sizeof buf)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "tracked_at_exit=%u\n",
		    fdt_count());
	if (n > sizeof buf)
		n = sizeof buf;
	(void)!write(fd, buf, n);
	REAL(close)(fd);
	errno = saved;
}
