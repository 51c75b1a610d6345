/*
 * stats.c - the counters (see stats.h).
 *
 * Live counters (TWSHIM_STATS=DIR) are one file per program and user,
 * DIR/NAME.UID.HASH.twstats, mapped shared by every process of that
 * program, each adding to it in place with atomic adds:
 * - "twshim --stats DIR" reads the values of now, no signal needed;
 * - a forked child inherits the mapping, so its counts go to the same
 *   place and never repeat the parent's (nothing is copied); a vfork()
 *   child shares the parent's memory as before;
 * - every way out (exit, _exit, a signal's default action, _Fork and
 *   clone children) leaves its counts, since they are in the file the
 *   moment they are made;
 * - a daemon's children that drop privileges (nginx's workers) keep
 *   counting into the file their parent opened;
 * - the file is made at the first TCP socket only: a shell, wc, a
 *   subshell leave nothing, and 1000 curl calls add to one file;
 * - a program's total only grows while the file is there.
 * HASH covers the name and the list of counters, so a library with other
 * counters (an upgrade while old processes run) gets a file of its own.
 * The file is made whole (its full size and header) under a temporary
 * name and linked into place; an existing one is used only when it is a
 * regular file of this user, of the size and header expected, so nobody
 * else can make it shorter under the mapping (SIGBUS).
 *
 * Any other TWSHIM_STATS is a file written at exit as key=value lines
 * ("%p": the pid), also from _exit() and, when asked, on a signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdtable.h"
#include "safefile.h"
#include "shim.h"
#include "stats.h"

/* This process's counters, until (or unless) it maps a live file. */
static uint64_t own[TW_STAT_COUNT + 1];
uint64_t *tw_stats_live = own;
bool tw_stats_pending;

static const char *const stat_names[TW_STAT_COUNT] = {
#define STAT(name, what) #name,
#include "stats.def"
#undef STAT
};

/*
 * Live files have one slot more than the counters: the number of
 * processes that counted into it.
 */
#define SLOT_PROCESSES	TW_STAT_COUNT
#define LIVE_SLOTS	(TW_STAT_COUNT + 1)

/* Copies made at start: argv and the environment may be written over. */
static char stats_path[4096];
static char stats_program[256 * 4];	/* escaped: see copy_program() */
static enum { STATS_OFF, STATS_AT_EXIT, STATS_LIVE } stats_kind;
static bool stats_on;		/* the policy is in force: counts are kept */
static pid_t written_by;	/* the exit-time file was written by this pid */

/*
 * The formatting below runs in a signal handler too: only
 * async-signal-safe calls, so its own instead of snprintf.
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

static void
put_hex(struct out *o, uint32_t v)
{
	char digits[9];

	for (int i = 7; i >= 0; i--, v >>= 4)
		digits[i] = "0123456789abcdef"[v & 15];
	digits[8] = '\0';
	put(o, digits);
}

static void
report(bool quiet, const char *path, const char *what, int err)
{
	static int reported;

	/* Once per process: a failure at every signal would flood the log. */
	if (quiet || __atomic_exchange_n(&reported, 1, __ATOMIC_RELAXED))
		return;
	tw_log(TW_LOG_WARN, "cannot write stats to %s: %s%s", path, what,
	    err != 0 ? safe_strerror(err) : "");
}

/* ---- live counters: one mapped file per program ---- */

static char live_header[4096];	/* what the file starts with */
static size_t live_offset;	/* where its counters start */
static char live_file[4096 + 512];
static char live_temp[4096 + 512];

static uint32_t
fnv1a(uint32_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return (h ^ '\n') * 16777619u;
}

/*
 * The program name as a file name: letters, digits and ._+- as they are
 * (not a leading dot), any other byte %XX, cut at 120 bytes; the hash in
 * the name tells cut names apart.
 */
static void
put_file_name(struct out *o, const char *name)
{
	char one[4] = "";

	for (const char *s = name; *s != '\0' && o->n < o->size && s - name < 120; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '+' || c == '-' || (c == '.' && s != name)) {
			one[0] = (char)c;
			one[1] = '\0';
		} else {
			one[0] = '%';
			one[1] = "0123456789ABCDEF"[c >> 4];
			one[2] = "0123456789ABCDEF"[c & 15];
			one[3] = '\0';
		}
		put(o, one);
	}
}

/*
 * The header and the file's name, for the effective user of now (made at
 * start to check the name's length, and again when the file is opened):
 *   twshim-stats 1\nprogram=NAME\nuid=UID\ncounters=N@OFFSET\nKEY\n...\n
 * then NULs up to OFFSET (a multiple of 64), then N 64-bit counters.
 */
static bool
live_prepare(void)
{
	struct out h = { live_header, 0, sizeof live_header, false };
	struct out f = { live_file, 0, sizeof live_file, false };
	struct out t = { live_temp, 0, sizeof live_temp, false };
	const char *program = stats_program[0] != '\0' ? stats_program : "?";
	uint32_t hash = 2166136261u;
	size_t keys = 0;

	for (int i = 0; i < TW_STAT_COUNT; i++)
		keys += strlen(stat_names[i]) + 1;
	keys += sizeof "processes";
	put(&h, "twshim-stats 1\nprogram=");
	put(&h, program);
	put(&h, "\nuid=");
	put_num(&h, (unsigned long)geteuid());
	put(&h, "\ncounters=");
	put_num(&h, LIVE_SLOTS);
	put(&h, "@");
	/* The offset's own digits: at most 4 (the header is under 4096). */
	live_offset = (h.n + 5 + 1 + keys + 63) & ~(size_t)63;
	put_num(&h, live_offset);
	put(&h, "\n");
	for (int i = 0; i < TW_STAT_COUNT; i++) {
		put(&h, stat_names[i]);
		put(&h, "\n");
		hash = fnv1a(hash, stat_names[i]);
	}
	put(&h, "processes\n");
	hash = fnv1a(fnv1a(hash, "processes"), program);
	if (h.cut || h.n > live_offset)
		return false;

	put(&f, stats_path);
	put(&f, "/");
	put_file_name(&f, program);
	put(&f, ".");
	put_num(&f, (unsigned long)geteuid());
	put(&f, ".");
	put_hex(&f, hash);
	put(&f, ".twstats");
	/* The temporary name is finished by live_open (it has the pid). */
	put(&t, stats_path);
	put(&t, "/.");
	put(&t, live_file + strlen(stats_path) + 1);
	put(&t, ".tmp.");
	return !f.cut && !t.cut;
}

static int
sys_openat(const char *path, int flags, mode_t mode)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

/* fd's file is ours, whole, with our header: map it, or say why not. */
static uint64_t *
live_map(int fd, const char **why)
{
	size_t size = live_offset + LIVE_SLOTS * sizeof(uint64_t);
	char head[sizeof live_header];
	size_t hlen = strlen(live_header);
	struct stat st;
	void *map;

	if (fstat(fd, &st) < 0) {
		*why = "";
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		return NULL;
	}
	if (st.st_uid != geteuid()) {
		*why = "another user's file";
		return NULL;
	}
	if ((size_t)st.st_size != size ||
	    pread(fd, head, hlen, 0) != (ssize_t)hlen || memcmp(head, live_header, hlen) != 0) {
		*why = "not a stats file of this program and twshim build";
		return NULL;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		*why = "";
		return NULL;
	}
	return (uint64_t *)((char *)map + live_offset);
}

/* A new file, whole before anyone can open it: -1 with errno, else 0 or EEXIST. */
static int
live_create(void)
{
	size_t size = live_offset + LIVE_SLOTS * sizeof(uint64_t);
	size_t hlen = strlen(live_header);
	char temp[sizeof live_temp + 24];
	struct out t = { temp, 0, sizeof temp, false };
	int fd, err = 0;

	put(&t, live_temp);
	put_num(&t, (unsigned long)getpid());
	if (t.cut) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = sys_openat(temp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK | O_NOCTTY, 0644);
	if (fd < 0)
		return -1;
	/*
	 * 0644 whatever the umask: "twshim --stats" may run as another user.
	 * Every byte written, none left a hole: a store into a hole of a full
	 * file system would raise SIGBUS in the program.
	 */
	if (fchmod(fd, 0644) < 0 || pwrite(fd, live_header, hlen, 0) != (ssize_t)hlen)
		err = errno != 0 ? errno : EIO;
	for (size_t at = hlen; err == 0 && at < size; ) {
		static const char zeros[512];
		size_t n = size - at < sizeof zeros ? size - at : sizeof zeros;
		ssize_t wrote = pwrite(fd, zeros, n, (off_t)at);

		if (wrote < 0 && errno == EINTR)
			continue;
		if (wrote <= 0)
			err = wrote < 0 && errno != 0 ? errno : ENOSPC;
		else
			at += (size_t)wrote;
	}
	if (err == 0 && safe_link(temp, live_file) < 0)
		err = errno;
	safe_close(fd);
	safe_unlink(temp);
	errno = err;
	return err == 0 || err == EEXIST ? 0 : -1;
}

void
tw_stats_attach(void)
{
	const char *why = NULL;
	uint64_t *counters = NULL;
	int saved = errno, fd, err = 0;

	/* A vfork() child shares our memory: the parent maps it, not the child. */
	if (tw_foreign_process())
		return;
	if (!__atomic_exchange_n(&tw_stats_pending, false, __ATOMIC_ACQ_REL))
		return;
	/* Again: a daemon may have changed its user since start. */
	if (!live_prepare()) {
		errno = saved;
		return;
	}
	for (int tries = 0; tries < 2 && counters == NULL && why == NULL; tries++) {
		fd = sys_openat(live_file, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
		    O_NOCTTY, 0);
		if (fd < 0 && errno == ENOENT && tries == 0) {
			if (live_create() < 0) {
				err = errno;
				break;
			}
			continue;
		}
		if (fd < 0) {
			err = errno;
			break;
		}
		counters = live_map(fd, &why);
		if (counters == NULL && why != NULL && *why == '\0') {
			err = errno;
			why = NULL;
		}
		safe_close(fd);
	}
	if (counters == NULL) {
		report(false, live_file, why != NULL ? why : "", why != NULL ? 0 : err);
		errno = saved;
		return;
	}
	/* Counts made before (or while) switching move into the file. */
	__atomic_store_n(&tw_stats_live, counters, __ATOMIC_RELEASE);
	for (int i = 0; i < TW_STAT_COUNT; i++) {
		uint64_t v = __atomic_exchange_n(&own[i], 0, __ATOMIC_RELAXED);

		if (v != 0)
			__atomic_add_fetch(&counters[i], v, __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&counters[SLOT_PROCESSES], 1, __ATOMIC_RELAXED);
	errno = saved;
}

/* ---- the file written at exit ---- */

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
		if (__atomic_load_n(&own[i], __ATOMIC_RELAXED) != 0)
			return true;
	return false;
}

/*
 * The counters as key=value lines to the path ("%p" the pid), through a
 * new file beside it renamed over it: a reader sees a whole file.  Only a
 * regular file is replaced; without %p, a process that counted nothing
 * leaves an existing file alone.
 */
static void
write_at_exit_file(bool quiet)
{
	char path[4096], tmp[4096 + 64], buf[4096];
	struct out po = { path, 0, sizeof path, false };
	struct out to = { tmp, 0, sizeof tmp, false };
	struct out o = { buf, 0, sizeof buf, false };
	bool shared = strstr(stats_path, "%p") == NULL;
	ssize_t wrote;
	int fd, saved = errno, err, closed;

	if (!expand_pid(stats_path, &po) || !temp_name(path, &to)) {
		report(quiet, stats_path, "the path is too long", 0);
		errno = saved;
		return;
	}
	/* Replace a regular file, never a link, a FIFO or a device. */
	if (safe_check_replaceable(path) < 0) {
		report(quiet, path, "", errno);
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
		put_num(&o, __atomic_load_n(&own[i], __ATOMIC_RELAXED));
		put(&o, "\n");
	}
	put(&o, "tracked_at_exit=");
	put_num(&o, fdt_entries());
	put(&o, "\n");

	if ((fd = safe_create_new(tmp)) < 0) {
		report(quiet, tmp, "", errno);
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
		report(quiet, path, "", err);
	errno = saved;
}

/* ---- the signal that writes the exit-time file now ---- */

static const struct {
	const char *name;
	int number;
} signal_names[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "USR1", SIGUSR1 },
	{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },
	{ "TTOU", SIGTTOU }, { "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },
	{ "PWR", SIGPWR },
};

/*
 * TWSHIM_STATS_SIGNAL: "1" (SIGUSR2, as it always meant), a name with or
 * without SIG (USR1, SIGRTMIN+3) or a number; 0 when it names none that
 * can be caught and is sent by someone (not a fault like SIGSEGV).
 */
static int
parse_signal(const char *s)
{
	char *end;
	long n;

	if (strcmp(s, "1") == 0)
		return SIGUSR2;
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
		if (strcmp(s, signal_names[i].name) == 0)
			return signal_names[i].number;
	if (strncmp(s, "RTMIN", 5) == 0 || strncmp(s, "RTMAX", 5) == 0) {
		n = s[5] == '\0' ? 0 : strtol(s + 5, &end, 10);
		if (s[5] != '\0' && (*end != '\0' || (s[5] != '+' && s[5] != '-')))
			return 0;
		n += s[3] == 'I' ? SIGRTMIN : SIGRTMAX;
		return n >= SIGRTMIN && n <= SIGRTMAX ? (int)n : 0;
	}
	n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || n <= 0 || n > SIGRTMAX)
		return 0;
	for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
		if (n == signal_names[i].number)
			return (int)n;
	return n >= SIGRTMIN ? (int)n : 0;
}

static void
on_stats_signal(int sig)
{
	(void)sig;
	write_at_exit_file(true);
}

/*
 * Only a signal left at its default: one the program inherited ignored
 * (a daemon's parent's SIG_IGN, which exec'd children keep) or handles
 * already stays as it is.  A program that sets its own handler later
 * replaces this one.
 */
static void
take_signal(const char *value)
{
	struct sigaction sa = { .sa_handler = on_stats_signal, .sa_flags = SA_RESTART }, old;
	int sig = parse_signal(value);

	if (sig == 0) {
		tw_log(TW_LOG_WARN, "TWSHIM_STATS_SIGNAL=%s is not a signal twshim can use "
		    "(a name such as USR1 or a number); no signal writes the stats", value);
		return;
	}
	if (sigaction(sig, NULL, &old) < 0)
		return;
	if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) {
		tw_log(TW_LOG_INFO, "TWSHIM_STATS_SIGNAL: signal %d is %s already; left as it is",
		    sig, !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN ?
		    "ignored" : "handled");
		return;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* ---- start, fork, exit ---- */

/*
 * The program name for a live file's header, as the program was started:
 * a control character as \xNN and a backslash as \\ (the launcher reads
 * them back), where the name the log uses has '?', so that "a\001" and
 * "a\002" stay two programs.  At most 255 bytes of the name.
 */
static void
copy_program(const char *name)
{
	struct out o = { stats_program, 0, sizeof stats_program, false };
	char one[5];

	for (size_t i = 0; name[i] != '\0' && i < 255; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f || c == '\\') {
			one[0] = '\\';
			one[1] = c == '\\' ? '\\' : 'x';
			one[2] = c == '\\' ? '\0' : "0123456789abcdef"[c >> 4];
			one[3] = "0123456789abcdef"[c & 15];
			one[4] = '\0';
		} else {
			one[0] = (char)c;
			one[1] = '\0';
		}
		put(&o, one);
	}
}

static bool
is_directory(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool
tw_stats_init(void)
{
	const char *value = getenv("TWSHIM_STATS");
	const char *sig = getenv("TWSHIM_STATS_SIGNAL");
	size_t len = value != NULL ? strlen(value) : 0;

	if (len == 0)
		return false;
	/* Kept whole or refused: a cut path would name another file. */
	if (len >= sizeof stats_path) {
		tw_log(TW_LOG_WARN, "TWSHIM_STATS is longer than %zu bytes; no stats will be written",
		    sizeof stats_path - 1);
		return false;
	}
	memcpy(stats_path, value, len + 1);
	if (is_directory(stats_path)) {
		copy_program(program_invocation_short_name);
		while (len > 1 && stats_path[len - 1] == '/')
			stats_path[--len] = '\0';
		if (!live_prepare()) {
			tw_log(TW_LOG_WARN, "TWSHIM_STATS: the directory's name is too long; "
			    "no stats will be kept");
			return false;
		}
		stats_kind = STATS_LIVE;
		stats_on = true;
		/* A socket made before the constructor maps the file now. */
		__atomic_store_n(&tw_stats_pending, true, __ATOMIC_RELEASE);
		if (__atomic_load_n(&own[TW_STAT_sockets_tracked], __ATOMIC_RELAXED) != 0)
			tw_stats_attach();
		if (sig != NULL && *sig != '\0')
			tw_log(TW_LOG_INFO, "TWSHIM_STATS_SIGNAL is not needed: the counters in %s "
			    "are live", stats_path);
		return true;
	}
	stats_kind = STATS_AT_EXIT;
	stats_on = true;
	if (sig != NULL && *sig != '\0')
		take_signal(sig);
	return true;
}

void
tw_stats_forked_child(void)
{
	/* The parent reports what it did; the file's counts are shared, not copied. */
	for (int i = 0; i < TW_STAT_COUNT; i++)
		__atomic_store_n(&own[i], 0, __ATOMIC_RELAXED);
	if (tw_stats_live != own)
		__atomic_add_fetch(&tw_stats_live[SLOT_PROCESSES], 1, __ATOMIC_RELAXED);
}

void
tw_stats_unhandled_child(void)
{
	tw_stats_forked_child();
	/* It runs without the shim from here on: no file for it to make. */
	__atomic_store_n(&tw_stats_pending, false, __ATOMIC_RELAXED);
}

void
tw_stats_at_exit(void)
{
	pid_t pid;

	if (!stats_on || stats_kind != STATS_AT_EXIT || tw_foreign_process_strict())
		return;
	pid = (pid_t)syscall(SYS_getpid);
	if (__atomic_exchange_n(&written_by, pid, __ATOMIC_RELAXED) == pid)
		return;
	write_at_exit_file(false);
}
