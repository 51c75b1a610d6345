/*
 * stats.c - the counters (see stats.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "fdtable.h"
#include "safefile.h"
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
	bool cut;		/* something did not fit */
};

static void
put(struct out *o, const char *s)
{
	while (*s != '\0' && o->n + 1 < o->size)
		o->buf[o->n++] = *s++;
	o->cut |= *s != '\0';
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

/* The template with "%p" made the pid; false when it does not fit. */
static bool
expand_pid(const char *tmpl, struct out *o)
{
	char one[2] = "";

	o->buf[0] = '\0';
	for (const char *s = tmpl; *s != '\0'; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			put_num(o, (unsigned long)getpid());
			s++;
		} else {
			one[0] = *s;
			put(o, one);
		}
	}
	return !o->cut;
}

/*
 * "DIR/.NAME.tmp.PID.N" beside "DIR/NAME": the same file system, so the
 * rename is atomic, and a dot file, out of a shell's "twshim.*".
 */
static bool
temp_name(const char *path, struct out *o)
{
	static unsigned long serial;
	const char *base = strrchr(path, '/');
	size_t dir = base != NULL ? (size_t)(base - path) + 1 : 0;

	for (size_t i = 0; i < dir && o->n + 1 < o->size; i++)
		o->buf[o->n++] = path[i];
	put(o, ".");
	put(o, path + dir);
	put(o, ".tmp.");
	put_num(o, (unsigned long)getpid());
	put(o, ".");
	put_num(o, __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED));
	return !o->cut && dir < o->size;
}

/* Whether this process has counted anything at all. */
static bool
anything_counted(void)
{
	for (int i = 0; i < TW_STAT_COUNT; i++)
		if (__atomic_load_n(&tw_stats[i], __ATOMIC_RELAXED) != 0)
			return true;
	return false;
}

void
tw_stats_reset(void)
{
	for (int i = 0; i < TW_STAT_COUNT; i++)
		__atomic_store_n(&tw_stats[i], 0, __ATOMIC_RELAXED);
}

static void
report(bool from_signal, const char *path, const char *what, int err)
{
	static int reported;

	/* Once per process: a failure at every SIGUSR2 would flood the log. */
	if (from_signal || __atomic_exchange_n(&reported, 1, __ATOMIC_RELAXED))
		return;
	tw_log(TW_LOG_WARN, "cannot write stats to %s: %s%s", path, what,
	    err != 0 ? safe_strerror(err) : "");
}

void
tw_stats_write(const char *path_template, bool from_signal)
{
	char path[4096], tmp[4096 + 64], buf[4096];
	struct out po = { path, 0, sizeof path, false };
	struct out to = { tmp, 0, sizeof tmp, false };
	struct out o = { buf, 0, sizeof buf, false };
	bool shared = strstr(path_template, "%p") == NULL;
	ssize_t wrote;
	int fd, saved = errno, err, closed;

	if (!expand_pid(path_template, &po) || !temp_name(path, &to)) {
		report(from_signal, path_template, "the path is too long", 0);
		errno = saved;
		return;
	}
	/* Replace a regular file, never a link, a FIFO or a device. */
	if (safe_check_replaceable(path) < 0) {
		report(from_signal, path, "", errno);
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

	if ((fd = safe_create_new(tmp)) < 0) {
		report(from_signal, tmp, "", errno);
		errno = saved;
		return;
	}
	do
		wrote = write(fd, buf, o.n);
	while (wrote < 0 && errno == EINTR);
	err = wrote < 0 ? errno : (size_t)wrote != o.n ? ENOSPC : 0;
	closed = safe_close(fd);
	if (err == 0)
		err = closed;
	/*
	 * The whole file or none: a reader sees the old one or the new one.
	 * A file shared by a tree of processes (no %p) is not replaced by
	 * one that counted nothing (a shell, a command that made no socket).
	 */
	if (err == 0 && (shared && !anything_counted() ? safe_link(tmp, path) < 0 && errno != EEXIST :
	    safe_rename(tmp, path) < 0))
		err = errno;
	safe_unlink(tmp);
	if (err != 0)
		report(from_signal, path, "", err);
	errno = saved;
}
