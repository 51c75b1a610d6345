/*
 * ownfd.c - descriptors of the shim's own (its log file, the reaper's).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fdtable.h"
#include "real.h"
#include "shim.h"

/*
 * A close-on-exec duplicate of fd at tw_fd_floor() or above, and below
 * TW_FLAG_SLOTS, where the flag array marks it ours: a program's
 * close-everything loop is then told it closed, and a dup2() onto it moves
 * it first.  With close_old, fd itself is closed on success.  Returns the
 * new number, or -1 (errno kept, fd untouched) when there is none.
 */
int
tw_own_descriptor(int fd, bool close_old)
{
	static int floor_fd;
	int saved = errno, high, at = __atomic_load_n(&floor_fd, __ATOMIC_RELAXED);

	if (at == 0) {
		at = tw_fd_floor();
		__atomic_store_n(&floor_fd, at, __ATOMIC_RELAXED);
	}
	high = fd >= 0 ? REAL(fcntl)(fd, F_DUPFD_CLOEXEC, at) : -1;
	if (high >= TW_FLAG_SLOTS) {
		REAL(close)(high);
		high = -1;
	}
	if (high >= 0) {
		fdt_set_internal(high, true);
		if (close_old)
			REAL(close)(fd);
	}
	errno = saved;
	return high;
}
