/*
 * hooks.c - the exported functions.  Each is a thin door: a cheap test of
 * whether the shim has anything to do, then either the real function or
 * the shim's handling of it.  The list lives in hooks.def.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "apply.h"
#include "closer.h"
#include "fdtable.h"
#include "ownfd.h"
#include "process.h"
#include "real.h"
#include "reaper.h"
#include "shim.h"

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE	(1U << 1)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC	(1U << 2)
#endif

/* A fresh number from accept(): whatever we knew about it is stale. */
static inline int
fresh(int fd)
{
	if (TW_UNLIKELY(fd >= 0 && fdt_maybe(fd)) && !fdt_is_internal(fd))
		fdt_forget(fd);
	return fd;
}

/* ---- socket life cycle ---- */

/*
 * A child sharing our memory (vfork, clone with CLONE_VM) holds
 * descriptors of its own under the numbers of the parent's table: what it
 * does with them is not the parent's, and passes through
 * (tw_child_sharing_memory, no system call in any other process).
 */
TW_EXPORT int
socket(int domain, int type, int protocol)
{
	int fd = REAL(socket)(domain, type, protocol);

	/* tw_on_socket() keeps errno itself: the common path never touches it. */
	if (fd >= 0 && !tw_child_sharing_memory())
		tw_on_socket(fd, domain, type, protocol);
	return fd;
}

TW_EXPORT int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (tw_mode() != TW_MODE_OFF && !tw_child_sharing_memory())
		tw_before_bind(fd, sa, len);
	return REAL(bind)(fd, sa, len);
}

TW_EXPORT int
listen(int fd, int backlog)
{
	if (tw_mode() != TW_MODE_OFF && !tw_child_sharing_memory())
		backlog = tw_before_listen(fd, backlog);
	return REAL(listen)(fd, backlog);
}

TW_EXPORT int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (tw_mode() == TW_MODE_OFF || tw_child_sharing_memory())
		return REAL(connect)(fd, sa, len);
	return tw_connect(fd, sa, len);
}

static int
after_accept(int lfd, int fd, int flags)
{
	if (fd < 0 || tw_child_sharing_memory())
		return fd;
	if (tw_mode() != TW_MODE_OFF)
		tw_on_accept(lfd, fd, flags);
	else
		fresh(fd);
	return fd;
}

TW_EXPORT int
accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	return after_accept(fd, REAL(accept)(fd, sa, len), 0);
}

TW_EXPORT int
accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	return after_accept(fd, REAL(accept4)(fd, sa, len, flags), flags);
}

TW_EXPORT int
setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int rc;

	if (TW_LIKELY(!fdt_maybe(fd)) || tw_child_sharing_memory())
		return REAL(setsockopt)(fd, level, name, val, len);
	if (tw_filter_setsockopt(fd, level, name))
		return 0;
	rc = REAL(setsockopt)(fd, level, name, val, len);
	/* Read once the kernel has: a bad pointer is its EFAULT, never our fault. */
	if (rc == 0 && level == SOL_SOCKET && name == SO_LINGER && len >= sizeof(struct linger))
		tw_on_linger(fd, ((const struct linger *)val)->l_onoff != 0);
	return rc;
}

TW_EXPORT int
shutdown(int fd, int how)
{
	int saved = errno;

	if (TW_UNLIKELY(fdt_maybe(fd)) && !tw_child_sharing_memory()) {
		tw_on_shutdown(fd, how);
		errno = saved;
	}
	return REAL(shutdown)(fd, how);
}

static __attribute__((noinline)) int
epoll_ctl_watched(int epfd, int op, int fd, struct epoll_event *ev)
{
	int rc = REAL(epoll_ctl)(epfd, op, fd, ev);

	if (rc == 0 && (tw_state.watch_epoll || tw_mode() == TW_MODE_BOOT) &&
	    fdt_maybe(fd) && !fdt_is_internal(fd) && !tw_child_sharing_memory())
		tw_on_epoll_ctl(epfd, op, fd);
	return rc;
}

TW_EXPORT int
epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	real_epoll_ctl_fn real = __atomic_load_n(&tw_real.epoll_ctl, __ATOMIC_RELAXED);

	/*
	 * Only a waiting close strategy, and a socket the shim may replace,
	 * need to know (see tw_on_epoll_ctl): otherwise a tail call.
	 */
	if (TW_LIKELY(real != NULL) &&
	    TW_LIKELY(!__atomic_load_n(&tw_state.watch_epoll, __ATOMIC_RELAXED)) &&
	    TW_LIKELY(tw_mode() != TW_MODE_BOOT))
		return real(epfd, op, fd, ev);
	return epoll_ctl_watched(epfd, op, fd, ev);
}

/* ---- receiving: what the peer has sent ---- */

/*
 * fd's receive-note word (fdt_note_before) when a receive on it may have
 * something to note (the policy reads the notes, fd is a tracked socket,
 * and the call does not read the error queue, which holds our own
 * packets); 0 otherwise.  Asked before the call, so that a file read is a
 * tail call after one load and a compare; the note is then set only onto
 * that same word, so that a socket put on the number meanwhile gets none.
 */
static inline unsigned
noting_on(int fd, int flags)
{
	unsigned char f;

	if ((unsigned)fd >= TW_FLAG_SLOTS)
		return 0;
	f = __atomic_load_n(&tw_fdflag[fd], __ATOMIC_RELAXED);
	if (TW_LIKELY(!(f & TW_FD_TRACKED)) || (flags & MSG_ERRQUEUE) ||
	    !__atomic_load_n(&tw_state.watch_recv, __ATOMIC_RELAXED))
		return 0;
	return fdt_note_before(fd);
}

/*
 * The receive calls: the real one, then what it returned, noted.  The
 * noting is out of line, so that the common path has no frame to build.
 * `room`: the length asked for, which tells an empty read from EOF (for
 * recvmsg, its first buffer's: a zero-length one there passes for none).
 */
#define TW_UNPAREN(...)	__VA_ARGS__
#define RECV_HOOK(type, name, params, args, flags, room)		\
static __attribute__((noinline)) type					\
name##_noted(unsigned before, TW_UNPAREN params)			\
{									\
	type rc = REAL(name) args;					\
									\
	if (rc == 0)							\
		fdt_note_received(fd, rc, (room), before);		\
	return rc;							\
}									\
									\
TW_EXPORT type								\
name params								\
{									\
	real_##name##_fn real = __atomic_load_n(&tw_real.name, __ATOMIC_RELAXED); \
	unsigned before = noting_on(fd, flags);				\
									\
	if (TW_LIKELY(real != NULL) && TW_LIKELY(before == 0))		\
		return real args;					\
	return name##_noted(before, TW_UNPAREN args);			\
}

RECV_HOOK(ssize_t, read, (int fd, void *buf, size_t len), (fd, buf, len), 0, len)
RECV_HOOK(ssize_t, recv, (int fd, void *buf, size_t len, int flags), (fd, buf, len, flags),
    flags, len)
RECV_HOOK(ssize_t, recvfrom, (int fd, void *buf, size_t len, int flags, struct sockaddr *from,
    socklen_t *fromlen), (fd, buf, len, flags, from, fromlen), flags, len)
RECV_HOOK(ssize_t, recvmsg, (int fd, struct msghdr *msg, int flags), (fd, msg, flags), flags,
    msg != NULL && msg->msg_iovlen > 0 && msg->msg_iov != NULL ? msg->msg_iov[0].iov_len : 0)
RECV_HOOK(ssize_t, __read_chk, (int fd, void *buf, size_t len, size_t buflen),
    (fd, buf, len, buflen), 0, len)
RECV_HOOK(ssize_t, __recv_chk, (int fd, void *buf, size_t len, size_t buflen, int flags),
    (fd, buf, len, buflen, flags), flags, len)
RECV_HOOK(ssize_t, __recvfrom_chk, (int fd, void *buf, size_t len, size_t buflen, int flags,
    struct sockaddr *from, socklen_t *fromlen), (fd, buf, len, buflen, flags, from, fromlen),
    flags, len)

/* ---- closing and duplicating ---- */

static __attribute__((noinline)) int
close_slow(int fd)
{
	if (fdt_is_lazy(fd)) {
		/* A socket never given a role: forget it, nothing else to do. */
		if (!tw_busy && !tw_foreign_process())
			fdt_drop_lazy(fd);
		return REAL(close)(fd);
	}
	if (!fdt_maybe(fd))
		return REAL(close)(fd);
	return tw_close(fd);
}

TW_EXPORT int
close(int fd)
{
	/* The fast path: a descriptor the shim never had, after start-up. */
	if (TW_LIKELY((unsigned)fd < TW_FLAG_SLOTS) &&
	    TW_LIKELY(__atomic_load_n(&tw_fdflag[fd], __ATOMIC_RELAXED) == 0)) {
		real_close_fn real = __atomic_load_n(&tw_real.close, __ATOMIC_RELAXED);
		if (TW_LIKELY(real != NULL))
			return real(fd);
	}
	return close_slow(fd);
}

/* newfd now holds what oldfd holds; keep the table in step. */
static int
after_dup(int oldfd, int newfd, int cloexec)
{
	int saved = errno;

	/* dup2(fd, fd) leaves fd as it was: so does the table. */
	if (newfd < 0 || newfd == oldfd)
		return newfd;
	if (fdt_maybe(oldfd) || fdt_maybe(newfd)) {
		if (fdt_enter()) {
			if (fdt_find(oldfd) != NULL)
				(void)fdt_share(oldfd, newfd, cloexec != 0);
			else
				(void)fdt_remove(newfd, NULL);
			fdt_leave();
		}
	}
	errno = saved;
	return newfd;
}

TW_EXPORT int
dup(int fd)
{
	return after_dup(fd, REAL(dup)(fd), 0);
}

/*
 * dup2/dup3 close newfd implicitly.  Its entry goes first (it is still
 * open, so no other thread can be handed that number meanwhile); a
 * descriptor of our own there is moved out of the way.  Where ours may
 * land, our own placements wait until the call is made (tw_own_dup2_begin):
 * true when the caller must end that with tw_own_dup2_end().
 */
static bool
before_replace(int oldfd, int newfd)
{
	if (oldfd == newfd || (!fdt_maybe(newfd) && !tw_own_range(newfd)) ||
	    tw_foreign_process() || fdt_frozen())
		return false;
	if (tw_own_range(newfd))
		return tw_own_dup2_begin(newfd);
	if (fdt_is_internal(newfd))
		tw_own_evict(newfd);
	else
		fdt_forget(newfd);
	return false;
}

TW_EXPORT int
dup2(int oldfd, int newfd)
{
	bool held = before_replace(oldfd, newfd);
	int rc = REAL(dup2)(oldfd, newfd);

	if (held)
		tw_own_dup2_end();
	return after_dup(oldfd, rc, 0);
}

TW_EXPORT int
dup3(int oldfd, int newfd, int flags)
{
	bool held = before_replace(oldfd, newfd);
	int rc = REAL(dup3)(oldfd, newfd, flags);

	if (held)
		tw_own_dup2_end();
	return after_dup(oldfd, rc, flags & O_CLOEXEC);
}

static int
do_fcntl(real_fcntl_fn real, int fd, int cmd, void *arg)
{
	int rc = real(fd, cmd, arg);

	if (rc < 0 || !fdt_maybe(fd))
		return rc;
	switch (cmd) {
	case F_DUPFD:
		return after_dup(fd, rc, 0);
	case F_DUPFD_CLOEXEC:
		return after_dup(fd, rc, 1);
	case F_SETFD:
		if (fdt_enter()) {
			fdt_set_cloexec(fd, ((long)arg & FD_CLOEXEC) != 0);
			fdt_leave();
		}
		return rc;
	default:
		return rc;
	}
}

/*
 * The third argument is an int or a pointer depending on cmd; on every ABI
 * glibc supports both travel the same way, as glibc's own fcntl assumes.
 */
#define FCNTL_HOOK(name)						\
TW_EXPORT int								\
name(int fd, int cmd, ...)						\
{									\
	va_list ap;							\
	void *arg;							\
									\
	va_start(ap, cmd);						\
	arg = va_arg(ap, void *);					\
	va_end(ap);							\
	if (TW_LIKELY(cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC &&	\
	    cmd != F_SETFD))						\
		return ((real_fcntl_fn)REAL(name))(fd, cmd, arg);	\
	return do_fcntl((real_fcntl_fn)REAL(name), fd, cmd, arg);	\
}

FCNTL_HOOK(fcntl)
FCNTL_HOOK(fcntl64)

/*
 * close_range() and closefrom(): each tracked socket in the range is closed
 * through the shim, with its strategy; our own descriptors are stepped
 * around; the rest goes to the real call in pieces.
 *
 * With CLOSE_RANGE_UNSHARE the caller first gets a private copy of the
 * descriptor table and closes the range there only: other threads keep
 * those sockets, so no entry is touched and no strategy runs.  From then
 * on two tables hold every socket, as after fork(): all count as shared.
 * The copies of the reaper's pending duplicates in the caller's table are
 * closed there (tw_reaper_unshare).  Flags the shim does not know go to
 * the kernel untouched.
 */
static int
close_span(unsigned lo, unsigned hi, int flags)
{
	real_close_range_fn real = REAL(close_range);

	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real(lo, hi, flags);
}

static int
shim_close_range(unsigned lo, unsigned hi, int flags)
{
	int fds[256];
	unsigned n, start = lo;

	if (hi < lo || (flags & ~(int)(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)))
		return close_span(lo, hi, flags);
	if (flags & CLOSE_RANGE_UNSHARE) {
		int saved = errno;

		if (!tw_foreign_process())
			tw_reaper_unshare();
		if (fdt_count_hint() && fdt_enter()) {
			fdt_mark_shared(false);
			fdt_leave();
		}
		errno = saved;
	} else if (!(flags & CLOSE_RANGE_CLOEXEC)) {
		do {
			n = 0;
			if (fdt_enter()) {
				n = fdt_collect(lo, hi, fds, 256);
				fdt_leave();
			}
			for (unsigned i = 0; i < n; i++)
				(void)tw_close(fds[i]);
		} while (n == 256);
	}
	if (!(flags & (CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) && fdt_enter()) {
		fdt_drop_lazy_range(lo, hi);
		fdt_leave();
	}
	/* Split around our own descriptors (they are few and below TW_FLAG_SLOTS). */
	for (unsigned fd = lo; fd <= hi && fd < TW_FLAG_SLOTS; fd++) {
		if (!fdt_is_internal((int)fd) || !tw_own_claims((int)fd))
			continue;
		if (fd > start && close_span(start, fd - 1, flags) < 0)
			return -1;
		if (fd > start)
			flags &= ~(int)CLOSE_RANGE_UNSHARE;	/* done by that piece */
		start = fd + 1;
		if (fd == hi)
			break;
	}
	if (start <= hi)
		return close_span(start, hi, flags);
	/* Only our own descriptors in the range: the unsharing is still asked for. */
	if (flags & CLOSE_RANGE_UNSHARE)
		return close_span(~0U, ~0U, flags);
	return 0;
}

TW_EXPORT int
close_range(unsigned int lo, unsigned int hi, int flags)
{
	if (tw_mode() == TW_MODE_OFF && !fdt_any_hint())
		return close_span(lo, hi, flags);
	return shim_close_range(lo, hi, flags);
}

TW_EXPORT void
closefrom(int lowfd)
{
	int saved = errno;

	if (lowfd < 0)
		lowfd = 0;
	if (shim_close_range((unsigned)lowfd, ~0U, 0) < 0) {
		/* No close_range in this kernel: the real closefrom has a fallback. */
		real_closefrom_fn real = REAL(closefrom);
		if (real != NULL)
			real(lowfd);
	}
	errno = saved;
}

TW_EXPORT int
fclose(FILE *fp)
{
	int fd;

	/* A program without sockets of its own pays one load here. */
	if (fdt_count_hint() && fp != NULL && (fd = fileno_unlocked(fp)) >= 0 &&
	    TW_UNLIKELY(fdt_maybe(fd)) &&
	    !fdt_is_internal(fd) && !tw_child_sharing_memory()) {
		int saved = errno;
		/* libc closes it where we cannot see; the entry must go first. */
		fdt_forget(fd);
		errno = saved;
	}
	return REAL(fclose)(fp);
}

/* ---- other processes (process.c) ---- */

TW_EXPORT int
posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	tw_before_spawn(fa == NULL);
	return REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
}

TW_EXPORT int
posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	tw_before_spawn(fa == NULL);
	return REAL(posix_spawnp)(pid, file, fa, attr, argv, envp);
}

TW_EXPORT int
system(const char *command)
{
	tw_before_spawn(true);
	return REAL(system)(command);
}

TW_EXPORT FILE *
popen(const char *command, const char *type)
{
	tw_before_spawn(true);
	return REAL(popen)(command, type);
}

/* Each exec: the sockets seen to before it, and that taken back if it returns. */
#define EXEC_CALL(call)							\
	do {								\
		bool left_ = tw_before_exec();				\
		int rc_ = (call);					\
									\
		tw_exec_failed(left_);					\
		return rc_;						\
	} while (0)

TW_EXPORT int
execve(const char *path, char *const argv[], char *const envp[])
{
	EXEC_CALL(REAL(execve)(path, argv, envp));
}

TW_EXPORT int
execv(const char *path, char *const argv[])
{
	EXEC_CALL(REAL(execv)(path, argv));
}

TW_EXPORT int
execvp(const char *file, char *const argv[])
{
	EXEC_CALL(REAL(execvp)(file, argv));
}

TW_EXPORT int
execvpe(const char *file, char *const argv[], char *const envp[])
{
	EXEC_CALL(REAL(execvpe)(file, argv, envp));
}

#define EXEC_LIST_HOOK(name, how)					\
TW_EXPORT int								\
name(const char *path, const char *arg, ...)				\
{									\
	va_list ap;							\
	int rc;								\
									\
	va_start(ap, arg);						\
	rc = tw_exec_list(how, path, arg, ap);				\
	va_end(ap);							\
	return rc;							\
}

EXEC_LIST_HOOK(execl, TW_EXEC_L)
EXEC_LIST_HOOK(execle, TW_EXEC_LE)
EXEC_LIST_HOOK(execlp, TW_EXEC_LP)

TW_EXPORT int
fexecve(int fd, char *const argv[], char *const envp[])
{
	EXEC_CALL(REAL(fexecve)(fd, argv, envp));
}

TW_EXPORT int
execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	real_execveat_fn real = REAL(execveat);

	if (real == NULL)	/* a libc older than its wrapper */
		EXEC_CALL((int)syscall(SYS_execveat, dirfd, path, argv, envp, flags));
	EXEC_CALL(real(dirfd, path, argv, envp, flags));
}

/* _exit() and _Exit() skip the destructors: the sockets are seen to here, as at exit. */
TW_EXPORT void
_exit(int status)
{
	int saved = errno;

	tw_leave();
	errno = saved;
	REAL(_exit)(status);
	__builtin_unreachable();
}

TW_EXPORT void
_Exit(int status)
{
	int saved = errno;

	tw_leave();
	errno = saved;
	REAL(_Exit)(status);
	__builtin_unreachable();
}

TW_EXPORT pid_t
_Fork(void)
{
	real__Fork_fn real = REAL(_Fork);

	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return tw_fork_unhandled(real);
}

/* The optional arguments are read whether passed or not, as libc's own clone() does. */
#define CLONE_HOOK(name)						\
TW_EXPORT int								\
name(int (*fn)(void *), void *stack, int flags, void *arg, ...)	\
{									\
	pid_t *parent_tid, *child_tid;					\
	void *tls;							\
	va_list ap;							\
									\
	va_start(ap, arg);						\
	parent_tid = va_arg(ap, pid_t *);				\
	tls = va_arg(ap, void *);					\
	child_tid = va_arg(ap, pid_t *);				\
	va_end(ap);							\
	return tw_clone(fn, stack, flags, arg, parent_tid, tls, child_tid); \
}

CLONE_HOOK(clone)
CLONE_HOOK(__clone)
