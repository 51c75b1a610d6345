/*
 * log.c - the one logger: "twshim: prog[pid]: message", to stderr or
 * TWSHIM_LOG_FILE, never stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fdtable.h"
#include "logline.h"
#include "ownfd.h"
#include "real.h"
#include "safefile.h"
#include "shim.h"

int tw_log_level = TW_LOG_WARN;
static int log_fd = 2;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/*
 * What TWSHIM_LOG_FILE was when opened.  A program may close our
 * descriptor where no hook sees it (a raw system call) and be handed the
 * number again for a file of its own: from then on the number is not our
 * log, and no line may go into that file.
 */
static dev_t log_dev;
static ino_t log_ino;

/* Whether fd, read from log_fd, is still the file we opened; when not, stderr again. */
static bool
log_file_ours(int fd)
{
	struct stat st;

	if (fd == 2)
		return false;
	if (fstat(fd, &st) == 0 && st.st_dev == log_dev && st.st_ino == log_ino)
		return true;
	/* A vfork child's descriptors are its own; the log is the parent's. */
	if (!tw_foreign_process() &&
	    __atomic_compare_exchange_n(&log_fd, &fd, 2, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		tw_own_forget(fd);
	return false;
}

int
tw_log_fd(void)
{
	return log_fd;
}

bool
tw_log_claims(int fd)
{
	return fd == log_fd && log_file_ours(fd);
}

/*
 * What stderr was at start.  The log goes to fd 2 only while it is that
 * same file: a daemon that closes 0-2 and opens a data file, a socket or a
 * pipe gets them on 2, and no line may go into them, even a data file
 * opened for appending.  Only when the user says that the program moves
 * its stderr to a log of its own (TWSHIM_LOG_STDERR_FILE=1) does a regular
 * file opened for appending alone count as stderr too.  No copy of stderr
 * is kept: a copy would hold the program's stderr pipe, or its terminal,
 * open after the program let go of it.
 */
static bool stderr_open;
static dev_t stderr_dev;
static ino_t stderr_ino;
static bool stderr_may_move;

static bool
stderr_usable(void)
{
	struct stat st;
	int fl;

	if (!stderr_open || fstat(2, &st) < 0)
		return false;
	if (st.st_dev == stderr_dev && st.st_ino == stderr_ino)
		return true;
	if (!stderr_may_move)
		return false;
	fl = S_ISREG(st.st_mode) ? REAL(fcntl)(2, F_GETFL) : -1;
	return fl >= 0 && (fl & O_ACCMODE) == O_WRONLY && (fl & O_APPEND) != 0;
}

/*
 * Whether this process speaks for the program: the one the launcher
 * started (TWSHIM_ROOT_PID, the launcher's own pid, which exec keeps), or
 * any process when there is no launcher.  It alone says that the policy
 * is loaded and what is wrong in the environment; the processes it starts
 * (a wrapper script's commands, a shell's pipeline) would only say it all
 * again, once each.
 */
static bool announcing = true;

bool
tw_log_announces(void)
{
	return announcing;
}

/* Every variable the library or the launcher reads or sets. */
static const char *const known_variables[] = {
	"TWSHIM_POLICY", "TWSHIM_POLICY_TEXT", "TWSHIM_LOG", "TWSHIM_LOG_FILE",
	"TWSHIM_LOG_STDERR_FILE", "TWSHIM_STATS", "TWSHIM_STATS_SIGNAL", "TWSHIM_DRY_RUN",
	"TWSHIM_ROOT_PID", "TWSHIM_CGROUP_RINGBUF",
};
static const char *const switches[] = {
	"TWSHIM_LOG_STDERR_FILE", "TWSHIM_STATS_SIGNAL", "TWSHIM_DRY_RUN",
};

/* A misspelt name or value does nothing, silently, unless it is said. */
static void
check_environment(const char *level, bool level_known)
{
	if (level != NULL && *level != '\0' && !level_known)
		tw_log(TW_LOG_WARN, "TWSHIM_LOG=%s ignored: the levels are error, warn, info "
		    "and debug", level);
	for (char **e = environ; e != NULL && *e != NULL; e++) {
		size_t n = strcspn(*e, "=");
		bool known = false;

		if (strncmp(*e, "TWSHIM_", 7) != 0)
			continue;
		for (size_t i = 0; i < sizeof known_variables / sizeof *known_variables; i++)
			known |= strlen(known_variables[i]) == n &&
			    memcmp(known_variables[i], *e, n) == 0;
		if (!known)
			tw_log(TW_LOG_WARN, "unknown variable %.*s ignored (see twshim(1), "
			    "ENVIRONMENT)", (int)n, *e);
	}
	for (size_t i = 0; i < sizeof switches / sizeof *switches; i++) {
		const char *v = getenv(switches[i]);

		if (v != NULL && *v != '\0' && strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
			tw_log(TW_LOG_WARN, "%s=%s ignored: 1 turns it on", switches[i], v);
	}
}

void
tw_log_open(const char *level, const char *file)
{
	const char *moves = getenv("TWSHIM_LOG_STDERR_FILE");
	const char *root = getenv("TWSHIM_ROOT_PID");
	bool level_known = false;
	struct stat st;
	char *end;
	long pid;
	int fd;

	stderr_may_move = moves != NULL && strcmp(moves, "1") == 0;
	if (root != NULL && *root != '\0') {
		pid = strtol(root, &end, 10);
		announcing = *end != '\0' || pid == (long)getpid();
	}
	if (level != NULL && *level != '\0') {
		for (int i = 0; i < 4; i++)
			if (strcmp(level, level_names[i]) == 0) {
				tw_log_level = i;
				level_known = true;
			}
	}
	if ((stderr_open = fstat(2, &st) == 0)) {
		stderr_dev = st.st_dev;
		stderr_ino = st.st_ino;
	}
	if (file != NULL && *file != '\0') {
		/* A regular file, a terminal or a FIFO with a reader; never a link. */
		fd = safe_open_log(file);
		if (fd >= 0 && fstat(fd, &st) < 0) {
			safe_close(fd);
			fd = -1;
		}
		if (fd >= 0) {
			log_dev = st.st_dev;
			log_ino = st.st_ino;
			/* Ours: above the program's numbers, kept from its close loops. */
			log_fd = tw_own_descriptor(fd, true);
			if (log_fd < 0) {
				log_fd = fd;
				fdt_set_internal(fd, true);
			}
		} else {
			tw_logf(TW_LOG_WARN, "cannot open log file %s: %s; logging to stderr",
			    file, safe_strerror(errno));
		}
	}
	if (announcing)
		check_environment(level, level_known);
}

/* The program dup2()s onto our log file's descriptor: take another number. */
void
tw_log_evict(int fd)
{
	int saved = errno, moved;

	if (!tw_log_claims(fd))
		return;
	moved = tw_own_descriptor(fd, false);
	fdt_set_internal(fd, false);
	log_fd = moved >= 0 ? moved : 2;
	errno = saved;
}

/*
 * write(2) that raises no signal: a log line into a pipe, FIFO or socket
 * whose reader is gone would otherwise get the program a SIGPIPE it did
 * not cause, and kill it.  SIGPIPE is blocked in this thread for the
 * write, and the one the write raised, if any, is taken back before the
 * mask is restored; one the program already had pending is left alone.
 * Raw system calls only: async-signal-safe, no cancellation point, and
 * fine in a vfork child, whose mask is its own.
 */
static void
write_quietly(int fd, const char *buf, size_t n)
{
	static const struct timespec now = { 0, 0 };
	sigset_t pipe_only, old, pending;
	bool had_pipe;
	long wrote;

	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	/* Unable to block it (it cannot happen): rather no line than a signal. */
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &pipe_only, &old, _NSIG / 8) < 0)
		return;
	sigemptyset(&pending);
	had_pipe = syscall(SYS_rt_sigpending, &pending, _NSIG / 8) < 0 ||
	    sigismember(&pending, SIGPIPE);
	wrote = syscall(SYS_write, fd, buf, n);
	if (wrote < 0 && errno == EPIPE && !had_pipe)
		while (syscall(SYS_rt_sigtimedwait, &pipe_only, NULL, &now, _NSIG / 8) < 0 &&
		    errno == EINTR)
			;
	(void)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, _NSIG / 8);
}

void
tw_logf(int level, const char *fmt, ...)
{
	char line[TW_LOG_LINE_MAX + 1];
	int saved = errno, fd;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	n = tw_log_format(line, sizeof line, tw_state.program, (long)getpid(),
	    level_names[level < 0 ? 0 : level > 3 ? 3 : level], fmt, ap);
	va_end(ap);
	/*
	 * One write(2) per line keeps lines from interleaving between threads.
	 * A log file no longer ours sends the line to stderr instead.
	 */
	fd = log_fd;
	if (fd != 2 && !log_file_ours(fd))
		fd = 2;
	if (fd != 2 || stderr_usable())
		write_quietly(fd, line, n);
	errno = saved;
}

const char *
tw_addr_str(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (sa == NULL) {
		snprintf(buf, size, "?");
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, size, "(family %d)", sa->sa_family);
	}
	return buf;
}
