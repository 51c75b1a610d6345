/*
 * ownfd.c - descriptors of the shim's own (see ownfd.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "closer.h"
#include "fdtable.h"
#include "ownfd.h"
#include "real.h"
#include "reaper.h"
#include "shim.h"

int tw_own_lowest = INT_MAX;
static int floor_fd;
static pthread_mutex_t own_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

/*
 * tw_busy is up while the lock is held: a signal handler that forks or
 * closes meanwhile then passes through instead of taking it again.
 */
void
tw_own_lock(void)
{
	tw_busy++;
	pthread_mutex_lock(&own_lock);
}

void
tw_own_unlock(void)
{
	pthread_mutex_unlock(&own_lock);
	tw_busy--;
}

void
tw_own_prefork(void)
{
	tw_own_lock();
}

void
tw_own_postfork_parent(void)
{
	tw_own_unlock();
}

/*
 * In a child the lock starts afresh, whoever held it in the parent: a
 * thread that does not exist here, or this one (its owner's thread id was
 * the parent's, so its own unlock, if it comes, fails harmlessly).  A plain
 * store: this also runs where no fork handler did (tw_reaper_drop_inherited).
 */
void
tw_own_postfork_child(void)
{
	static const pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

	memcpy(&own_lock, &fresh, sizeof own_lock);
}

void
tw_own_set_floor(int floor)
{
	__atomic_store_n(&floor_fd, floor, __ATOMIC_RELAXED);
	if (floor < __atomic_load_n(&tw_own_lowest, __ATOMIC_RELAXED))
		__atomic_store_n(&tw_own_lowest, floor, __ATOMIC_RELAXED);
}

/*
 * A close-on-exec duplicate of fd at the floor or above, and below
 * TW_FLAG_SLOTS, where the flag array marks it ours: a program's
 * close-everything loop is then told it closed, and a dup2() onto it moves
 * it first.  With close_old, fd itself is closed on success.  Returns the
 * new number, or -1 (errno kept, fd untouched) when there is none.
 */
int
tw_own_descriptor(int fd, bool close_old)
{
	int saved = errno, high, at;

	if (__atomic_load_n(&floor_fd, __ATOMIC_RELAXED) == 0)
		tw_own_set_floor(tw_fd_floor());
	at = __atomic_load_n(&floor_fd, __ATOMIC_RELAXED);
	tw_own_lock();
	high = fd >= 0 ? REAL(fcntl)(fd, F_DUPFD_CLOEXEC, at) : -1;
	if (high >= TW_FLAG_SLOTS) {
		REAL(close)(high);
		high = -1;
	}
	if (high >= 0)
		fdt_set_internal(high, true);
	tw_own_unlock();
	if (high >= 0 && close_old)
		REAL(close)(fd);
	errno = saved;
	return high;
}

void
tw_own_forget(int fd)
{
	(void)fdt_clear_internal(fd);
}

/*
 * The owners of the library's own descriptors, each with its one test and
 * its one eviction.  holds: the number is the owner's by its own records
 * (no system call); the last owner, the reaper, takes whatever the others
 * do not hold and forgets what it does not hold either.  claims: the
 * descriptor there is still the owner's (its identity checked).  evict:
 * the program wants the number; move off it.
 */
static bool
log_holds(int fd)
{
	return fd == tw_log_fd();
}

static bool
reaper_takes_the_rest(int fd)
{
	(void)fd;
	return true;
}

static const struct owner {
	bool (*holds)(int fd);
	bool (*claims)(int fd);
	void (*evict)(int fd);
} owners[] = {
	{ log_holds, tw_log_claims, tw_log_evict },
	{ reaper_takes_the_rest, tw_reaper_claims, tw_reaper_evict },
};

bool
tw_own_claims(int fd)
{
	int saved = errno;
	bool ours = false;

	if (tw_foreign_process_strict() || fdt_frozen())
		return false;
	/* The checks read a number that may be closed or another's: errno is kept. */
	for (size_t i = 0; i < sizeof owners / sizeof owners[0] && !ours; i++)
		ours = owners[i].claims(fd);
	if (!ours)
		tw_own_forget(fd);
	errno = saved;
	return ours;
}

void
tw_own_evict(int fd)
{
	if (!fdt_is_internal(fd))
		return;
	for (size_t i = 0; i < sizeof owners / sizeof owners[0]; i++)
		if (owners[i].holds(fd)) {
			owners[i].evict(fd);
			return;
		}
}

bool
tw_own_dup2_begin(int newfd)
{
	int saved = errno;

	if (fdt_maybe(newfd) && !fdt_is_internal(newfd))
		fdt_forget(newfd);
	tw_own_lock();
	tw_own_evict(newfd);
	/*
	 * A number the program holds is never handed to us: no need to keep
	 * the lock across a dup2() that may close a lingering socket there.
	 */
	if (REAL(fcntl)(newfd, F_GETFD) >= 0 && !fdt_is_internal(newfd)) {
		tw_own_unlock();
		errno = saved;
		return false;
	}
	errno = saved;
	return true;
}

void
tw_own_dup2_end(void)
{
	tw_own_unlock();
}
