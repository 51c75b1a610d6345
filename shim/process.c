/*
 * process.c - the process around the table: fork and the children made
 * without its handlers, exec, and leaving (see process.h).
 *
 * Every way this image ends gets the same treatment as exit(): the
 * pending closes (the reaper's) take their fallback, and each socket
 * still open takes its strategy's immediate action (tw_close_at_exit).
 * exit() runs the destructor; _exit() and _Exit() are hooked; quick_exit()
 * runs the handler registered here, then libc's internal _exit, which no
 * hook sees.  exec ends the image too: the reaper's thread dies and its
 * duplicates, all close-on-exec, are closed by the kernel; the program's
 * close-on-exec sockets as well, while those it keeps across exec stay
 * its own.  Death by a signal runs no code of ours: those sockets get the
 * kernel's plain close (except an abort fallback, set when the reaper
 * takes the socket).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "closer.h"
#include "fdtable.h"
#include "mem.h"
#include "process.h"
#include "real.h"
#include "reaper.h"
#include "reuse.h"
#include "shim.h"
#include "stats.h"

/* ---- fork ---- */

/*
 * fork() from a signal handler that interrupted this thread inside the
 * shim: the locks may be this very thread's, and taking them would wait
 * forever.  Then the handlers take no lock.  In the parent the
 * interrupted code releases them when the handler returns, and its
 * sockets are marked shared at the next chance.  In the child any lock
 * may be held for good (by this thread, or by another that does not
 * exist there): the child passes everything through and never takes one.
 */
static __thread bool fork_skipped __attribute__((tls_model("initial-exec")));

/* Set once this image's sockets were seen to; a failed exec clears it. */
static bool left;

static void
prefork(void)
{
	fork_skipped = tw_busy != 0;
	if (fork_skipped)
		return;
	/* Resolve now: a signal handler in the child must not need dlsym. */
	real_resolve_all();
	tw_reaper_prefork();
	fdt_prefork();
	tw_mem_prefork();
}

static void
postfork_parent(void)
{
	if (fork_skipped) {
		fdt_mark_shared_later();
		return;
	}
	tw_mem_postfork_parent();
	fdt_postfork_parent();
	tw_reaper_postfork_parent();
}

static void
postfork_child(void)
{
	if (fork_skipped) {
		tw_child_unhandled(true);
		return;
	}
	__atomic_store_n(&tw_state.pid, (pid_t)syscall(SYS_getpid), __ATOMIC_RELAXED);
	tw_stats_forked_child();
	tw_reuse_postfork_child();
	/* Its sockets too, whatever another thread of the parent was doing. */
	__atomic_store_n(&left, false, __ATOMIC_RELAXED);
	tw_mem_postfork_child();
	fdt_postfork_child();
	tw_reaper_postfork_child();
}

/*
 * Without the fork handlers, any lock may be held for good by a thread
 * that does not exist here, and the reaper's thread is gone: the child
 * never takes a lock and passes everything through.  With descriptors of
 * its own it lets go of its copies of the reaper's; one that shares its
 * parent's table (clone with CLONE_FILES) must leave them be.
 */
void
tw_child_unhandled(bool own_descriptors)
{
	__atomic_store_n(&tw_state.pid, (pid_t)syscall(SYS_getpid), __ATOMIC_RELAXED);
	tw_stats_unhandled_child();
	fdt_freeze();
	__atomic_store_n(&tw_state.mode, TW_MODE_OFF, __ATOMIC_RELEASE);
	if (own_descriptors)
		tw_reaper_drop_inherited();
}

/* ---- leaving ---- */

/*
 * Not in a child that does not own the table (vfork, or one made by a raw
 * system call), nor from a signal handler that interrupted the shim: its
 * locks may be this thread's.  Those sockets get the kernel's plain close.
 */
static bool
may_leave(void)
{
	return tw_mode() == TW_MODE_ACTIVE && tw_busy == 0 && !fdt_frozen() &&
	    !tw_foreign_process_strict();
}

/* True when done now, by this call. */
static bool
see_to_sockets(bool exec)
{
	if (__atomic_exchange_n(&left, true, __ATOMIC_ACQ_REL))
		return false;
	tw_reaper_flush();
	if (!tw_state.dry_run)
		tw_close_at_exit(exec ? TW_END_EXEC : TW_END_EXIT);
	return true;
}

/* The sockets first, then the counters, which then include what that did. */
void
tw_leave(void)
{
	if (may_leave())
		(void)see_to_sockets(false);
	tw_stats_at_exit();
}

static void
on_quick_exit(void)
{
	int saved = errno;

	tw_leave();
	errno = saved;
}

void
tw_process_init(void)
{
	pthread_atfork(prefork, postfork_parent, postfork_child);
	/* Run after the program's own, as the destructor runs after its atexit() handlers. */
	at_quick_exit(on_quick_exit);
}

/* ---- children without the fork handlers ---- */

void
tw_before_spawn(bool inheritable_only)
{
	int saved = errno;

	if (fdt_count_hint() && fdt_enter()) {
		fdt_mark_shared(inheritable_only);
		fdt_leave();
	}
	errno = saved;
}

/*
 * A child made without the fork handlers (_Fork, clone) holds every
 * socket: the parent marks its sockets shared, before the call, so that
 * no other thread's close() acts on one meanwhile, and after it.
 */
static void
after_child_made(pid_t pid)
{
	if (pid > 0 && fdt_count_hint()) {
		/* From a signal handler that interrupted the shim: at the next entry. */
		if (fdt_enter()) {
			fdt_mark_shared(false);
			fdt_leave();
		} else if (!tw_foreign_process()) {
			fdt_mark_shared_later();
		}
	}
}

/* The child of _Fork() lets go of the reaper's descriptors and passes through. */
pid_t
tw_fork_unhandled(real__Fork_fn real)
{
	pid_t pid;
	int saved;

	tw_before_spawn(false);
	pid = real();
	saved = errno;
	if (pid == 0)
		tw_child_unhandled(true);
	else
		after_child_made(pid);
	errno = saved;
	return pid;
}

/*
 * clone() outside pthread_create, which libc makes without it.  A child
 * sharing our memory (CLONE_VM) can be told from us only by its process
 * ID: from here on tw_foreign_process() compares them.  A child with a
 * copy of our memory starts as one of _Fork(): clone_start is read from
 * its copy.  One given a TLS of its own (CLONE_SETTLS) runs none of our
 * code before the caller's: it is not seen, as after a raw clone.
 */
struct clone_start {
	int (*fn)(void *);
	void *arg;
	bool own_descriptors;		/* not CLONE_FILES */
};

static int
clone_child(void *p)
{
	const struct clone_start *start = p;

	int status;

	tw_child_unhandled(start->own_descriptors);
	status = start->fn(start->arg);
	/* Returning ends the child with a raw exit: its counters are left here. */
	tw_stats_at_exit();
	return status;
}

int
tw_clone(int (*fn)(void *), void *stack, int flags, void *arg,
    pid_t *parent_tid, void *tls, pid_t *child_tid)
{
	real_clone_fn real = REAL(clone);
	struct clone_start start = { fn, arg, !(flags & CLONE_FILES) };
	int pid, saved;
	bool shares;

	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	/* Threads, and what libc refuses (no function): as they are. */
	if ((flags & CLONE_THREAD) || fn == NULL)
		return real(fn, stack, flags, arg, parent_tid, tls, child_tid);
	/*
	 * A child that shares our descriptor table holds nothing of its own.
	 * One that shares our memory and stops us until it execs or exits
	 * is a vfork() child: its exec marks our sockets shared (tw_before_exec).
	 */
	shares = !(flags & CLONE_FILES) &&
	    (flags & (CLONE_VM | CLONE_VFORK)) != (CLONE_VM | CLONE_VFORK);
	if (flags & CLONE_VM)
		tw_watch_pid();
	if (shares)
		tw_before_spawn(false);
	if (flags & (CLONE_VM | CLONE_SETTLS))
		pid = real(fn, stack, flags, arg, parent_tid, tls, child_tid);
	else
		pid = real(clone_child, stack, flags, &start, parent_tid, tls, child_tid);
	saved = errno;
	if (shares)
		after_child_made(pid);
	errno = saved;
	return pid;
}

/* ---- exec ---- */

/*
 * A vfork() child (Python's subprocess, for one) execs with descriptors
 * it may have moved where the shim could not see (dup2 onto 0, 1, 2).  It
 * shares the parent's memory: every socket of the parent is marked
 * shared, so the parent never shuts down one the new program may hold.
 * Marked at the parent's next entry to the table, which is before any
 * close decides: the child takes no lock and leaves tw_busy alone.  That
 * counter is the parent's thread's (a clone() child without a TLS of its
 * own runs on it while that thread runs on), and a lock the child held
 * when killed would be held for good.
 *
 * A process that execs for itself leaves this image: its pending closes
 * and its close-on-exec sockets are seen to as at exit.  The sockets it
 * keeps across exec are left as they are: they stay the program's.
 */
bool
tw_before_exec(void)
{
	int saved = errno;
	bool done = false;

	if (tw_foreign_process()) {
		if (fdt_count_hint())
			fdt_mark_shared_later();
	} else if (may_leave()) {
		done = see_to_sockets(true);
	}
	errno = saved;
	return done;
}

/*
 * The exec failed and the program goes on: the reaper takes closes again,
 * and a reset set on a socket still open is taken off.  A TCP_LINGER2 set
 * for fin-then-reset stays: it changes nothing before the last close,
 * whose own fin-then-reset would set it again.
 */
void
tw_exec_failed(bool done)
{
	int saved = errno;

	if (done) {
		tw_reaper_resume();
		if (!tw_state.dry_run)
			tw_close_at_exit(TW_END_EXEC_FAILED);
		__atomic_store_n(&left, false, __ATOMIC_RELEASE);
	}
	errno = saved;
}

/*
 * The list forms.  Their argument vector is built on the stack, as libc
 * builds it: a vfork() child must not allocate.
 */
int
tw_exec_list(enum tw_exec_list how, const char *path, const char *arg, va_list ap)
{
	va_list count;
	size_t n = 0;
	bool done;
	int rc;

	va_copy(count, ap);
	for (const char *a = arg; a != NULL; a = va_arg(count, const char *))
		n++;
	va_end(count);

	char *argv[n + 1];

	argv[0] = (char *)arg;
	for (size_t i = 1; i <= n; i++)
		argv[i] = va_arg(ap, char *);	/* argv[n] is the list's NULL */
	done = tw_before_exec();
	switch (how) {
	case TW_EXEC_LE:
		rc = REAL(execve)(path, argv, va_arg(ap, char *const *));
		break;
	case TW_EXEC_LP:
		rc = REAL(execvp)(path, argv);
		break;
	default:
		rc = REAL(execv)(path, argv);
		break;
	}
	tw_exec_failed(done);
	return rc;
}
