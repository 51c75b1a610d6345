/*
 * shim.h - state shared by the parts of libtwshim.so.
 */
#ifndef TWSHIM_SHIM_H
#define TWSHIM_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"

#pragma GCC visibility push(hidden)

#define TW_EXPORT	__attribute__((visibility("default")))
#define TW_LIKELY(x)	__builtin_expect(!!(x), 1)
#define TW_UNLIKELY(x)	__builtin_expect(!!(x), 0)

/* vfork() is hooked (vfork.c) where it is written for the architecture. */
#if defined(__x86_64__)
#define TW_VFORK_HOOKED	1
#else
#define TW_VFORK_HOOKED	0
#endif

/* What the library does, decided once by the constructor. */
enum tw_mode {
	TW_MODE_BOOT = 0,	/* constructor not run yet: observe, change nothing */
	TW_MODE_ACTIVE,		/* a policy is loaded */
	TW_MODE_OFF		/* secure execution, empty or bad policy: pass through */
};

struct tw_state {
	int mode;			/* enum tw_mode, read atomically */
	bool dry_run;
	bool waiting;			/* the policy uses graceful or peer-first */
	bool watch_epoll;		/* ... or may replace sockets (local_ports, local_address) */
	bool watch_recv;		/* the policy uses fin-then-reset: recv() notes the peer */
	unsigned roles;			/* policy_roles() of the policy */
	const struct policy *policy;
	pid_t pid;			/* the process whose table this is */
	bool watch_pid;			/* tw_foreign_process() compares it */
	const char *program;
};

extern struct tw_state tw_state;

static inline int
tw_mode(void)
{
	return __atomic_load_n(&tw_state.mode, __ATOMIC_ACQUIRE);
}

/*
 * The per-thread guard: nonzero while this thread is inside a critical
 * section of the shim.  A hook entered again on the same thread (a signal
 * handler that calls close(), an allocator that opens a file) then passes
 * straight through instead of waiting on a lock its own thread holds.
 */
extern __thread int tw_busy __attribute__((tls_model("initial-exec")));

/*
 * Set in a vfork() child by the shim's own vfork (vfork.c), restored in
 * the parent when it resumes.  The child runs on its parent's thread, so
 * it sees this thread's copy.  A hint: tw_foreign_process() confirms it.
 */
extern __thread int tw_vfork_child __attribute__((tls_model("initial-exec")));

/*
 * True when this process is not the one the table belongs to and must
 * leave it alone: a vfork() child, which shares the table, or (once a
 * clone() sharing memory was seen) any other process.  Costs no system
 * call unless such a clone() was seen.  Children of fork(), _Fork() and
 * clone() without CLONE_VM are handled when they start (init.c, hooks.c).
 */
bool tw_foreign_process(void);

/*
 * Whether this is any process but the table's owner, by process ID: also
 * true in a child made by a raw fork or clone system call that no hook
 * saw, which holds a copy of the table as if it were its own.  One
 * getpid().  For the actions that would harm the owner if taken in such a
 * child (aborting or waiting on a socket it shares).
 */
bool tw_foreign_process_strict(void);

/* From now on every check compares process IDs (a clone() sharing memory). */
void tw_watch_pid(void);

/* A child no fork handler ran for: it passes everything through. */
void tw_child_unhandled(bool own_descriptors);

/* The lowest number the shim gives its own descriptors. */
int tw_fd_floor(void);
/* ... under an RLIMIT_NOFILE of `limit`. */
int tw_fd_floor_of(unsigned long limit);

/* A marked, close-on-exec duplicate of fd at that floor or above (ownfd.c). */
int tw_own_descriptor(int fd, bool close_old);

/* Logging: one line per event, "twshim: " first, never to stdout. */
enum tw_log_level {
	TW_LOG_ERROR = POLICY_LOG_ERROR,
	TW_LOG_WARN = POLICY_LOG_WARN,
	TW_LOG_INFO = POLICY_LOG_INFO,
	TW_LOG_DEBUG = POLICY_LOG_DEBUG
};

extern int tw_log_level;

void tw_log_open(const char *level, const char *file);
void tw_logf(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int tw_log_fd(void);
/* Whether fd is our log file still (not a number reused since); when not, stderr. */
bool tw_log_claims(int fd);
void tw_log_evict(int fd);
/* Whether this process speaks for the program (see log.c): "policy loaded" at info. */
bool tw_log_announces(void);

#define tw_log(level, ...)						\
	do {								\
		if (TW_UNLIKELY((level) <= tw_log_level))		\
			tw_logf((level), __VA_ARGS__);			\
	} while (0)

/* "1.2.3.4:80" or "[::1]:80" into buf; never fails. */
const char *tw_addr_str(const struct sockaddr *sa, char *buf, size_t size);

#pragma GCC visibility pop

#endif
