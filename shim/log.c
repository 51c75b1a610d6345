/*
 * log.c - the one logger: "twshim: prog[pid]: message", to stderr or
 * TWSHIM_LOG_FILE, never stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdtable.h"
#include "real.h"
#include "shim.h"

int tw_log_level = TW_LOG_WARN;
static int log_fd = 2;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int
tw_log_fd(void)
{
	return log_fd;
}

/*
 * What stderr was at start.  The log goes to fd 2 as the program has it
 * (it may redirect it), but not once fd 2 is a socket that was not stderr
 * then: a program that closed stderr may have a connection there, and no
 * log line may go into its stream.  No copy of stderr is kept: a copy
 * would hold the program's stderr pipe open after it let go of it.
 */
static bool stderr_open;
static dev_t stderr_dev;
static ino_t stderr_ino;

static bool
stderr_usable(void)
{
	struct stat st;

	if (!stderr_open || fstat(2, &st) < 0)
		return false;
	return !S_ISSOCK(st.st_mode) || (st.st_dev == stderr_dev && st.st_ino == stderr_ino);
}

void
tw_log_open(const char *level, const char *file)
{
	struct stat st;
	int fd;

	if (level != NULL && *level != '\0') {
		for (int i = 0; i < 4; i++)
			if (strcmp(level, level_names[i]) == 0)
				tw_log_level = i;
	}
	if ((stderr_open = fstat(2, &st) == 0)) {
		stderr_dev = st.st_dev;
		stderr_ino = st.st_ino;
	}
	if (file != NULL && *file != '\0') {
		fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			/* Ours: above the program's numbers, kept from its close loops. */
			log_fd = tw_own_descriptor(fd, true);
			if (log_fd < 0) {
				log_fd = fd;
				fdt_set_internal(fd, true);
			}
		} else {
			tw_logf(TW_LOG_WARN, "cannot open log file %s: %s; logging to stderr",
			    file, strerror(errno));
		}
	}
}

/* The program dup2()s onto our log file's descriptor: take another number. */
void
tw_log_evict(int fd)
{
	int saved = errno, moved;

	if (fd != log_fd)
		return;
	moved = tw_own_descriptor(fd, false);
	fdt_set_internal(fd, false);
	log_fd = moved >= 0 ? moved : 2;
	errno = saved;
}

void
tw_logf(int level, const char *fmt, ...)
{
	char line[512];
	int saved = errno, n, m;
	va_list ap;

	n = snprintf(line, sizeof line, "twshim: %s[%ld]: %s: ",
	    tw_state.program != NULL ? tw_state.program : "?",
	    (long)getpid(), level_names[level < 0 ? 0 : level > 3 ? 3 : level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	/* One write(2) per line keeps lines from interleaving between threads. */
	if (log_fd != 2 || stderr_usable())
		(void)!write(log_fd, line, (size_t)n);
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
