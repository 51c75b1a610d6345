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
#include <unistd.h>

#include "fdtable.h"
#include "real.h"
#include "shim.h"

int tw_log_level = TW_LOG_WARN;
static int log_fd = 2;		/* -1: nowhere (stderr was closed at start) */

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int
tw_log_fd(void)
{
	return log_fd;
}

/*
 * Move fd to a number of the shim's own (see tw_fd_floor), close-on-exec
 * and marked internal, so that a program's close-everything loop does not
 * take it and a socket the program makes never gets its number.  Returns
 * the new number, or fd itself if it cannot move.
 */
static int
own_descriptor(int fd, bool close_old)
{
	int high = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, tw_fd_floor());

	if (high < 0 || high >= TW_FLAG_SLOTS) {
		if (high >= 0)
			REAL(close)(high);
		return fd;
	}
	if (close_old)
		REAL(close)(fd);
	fdt_set_internal(high, true);
	return high;
}

void
tw_log_open(const char *level, const char *file)
{
	int fd;

	if (level != NULL && *level != '\0') {
		for (int i = 0; i < 4; i++)
			if (strcmp(level, level_names[i]) == 0)
				tw_log_level = i;
	}
	/*
	 * stderr as it is now, on a descriptor of our own: if the program
	 * closes fd 2 and a socket takes the number, no log line may go
	 * into its stream.  No stderr at start: no log.
	 */
	log_fd = REAL(fcntl)(2, F_GETFD) >= 0 ? own_descriptor(2, false) : -1;
	if (file != NULL && *file != '\0') {
		fd = REAL(open)(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			if (log_fd != 2 && log_fd >= 0) {
				fdt_set_internal(log_fd, false);
				REAL(close)(log_fd);
			}
			log_fd = own_descriptor(fd, true);
		} else {
			tw_logf(TW_LOG_WARN, "cannot open log file %s: %s; logging to stderr",
			    file, strerror(errno));
		}
	}
}

/* The program dup2()s onto our log descriptor: take another number. */
void
tw_log_evict(int fd)
{
	int saved = errno, moved;

	if (fd != log_fd)
		return;
	moved = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, tw_fd_floor());
	fdt_set_internal(fd, false);
	if (moved >= 0 && moved < TW_FLAG_SLOTS) {
		fdt_set_internal(moved, true);
		log_fd = moved;
	} else {
		if (moved >= 0)
			REAL(close)(moved);
		log_fd = -1;
	}
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
	if (log_fd >= 0)
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
