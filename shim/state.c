/*
 * state.c - the process-wide state every part of the shim reads.
 */
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

struct tw_state tw_state;
__thread int tw_busy __attribute__((tls_model("initial-exec")));

__thread int tw_vfork_child __attribute__((tls_model("initial-exec")));

/*
 * getpid(2) without glibc's variadic syscall() around it: this runs on
 * every close of a tracked socket where process IDs are watched.
 */
static inline pid_t
raw_getpid(void)
{
#if defined(__x86_64__)
	long ret;

	__asm__ volatile ("syscall" : "=a" (ret) : "0" ((long)SYS_getpid) : "rcx", "r11", "memory");
	return (pid_t)ret;
#else
	return (pid_t)syscall(SYS_getpid);
#endif
}

bool
tw_foreign_process_strict(void)
{
	pid_t owner = __atomic_load_n(&tw_state.pid, __ATOMIC_RELAXED);

	return owner != 0 && owner != raw_getpid();
}

bool
tw_foreign_process(void)
{
	/*
	 * Set in a vfork() child, and for a moment in its parent (vfork.c):
	 * the process ID decides.  A parent that finds it set (a signal
	 * handler left with siglongjmp before vfork() put it back) clears it.
	 */
	if (TW_UNLIKELY(tw_vfork_child)) {
		if (tw_foreign_process_strict())
			return true;
		tw_vfork_child = 0;
		return false;
	}
#if TW_VFORK_HOOKED
	if (TW_LIKELY(!__atomic_load_n(&tw_state.watch_pid, __ATOMIC_RELAXED)))
		return false;
#endif
	return tw_foreign_process_strict();
}

void
tw_watch_pid(void)
{
	__atomic_store_n(&tw_state.watch_pid, true, __ATOMIC_RELAXED);
}

/*
 * Where the shim's own descriptors go (its log file, the reaper's): out of
 * the low numbers a program may count on (select() sets, "the next socket
 * is fd 5" tests), but not so high that the descriptor table grows large
 * for them.
 */
int
tw_fd_floor_of(unsigned long limit)
{
	if (limit != (unsigned long)RLIM_INFINITY && limit < 1024 + 1024 / 3)
		return (int)(limit - limit / 4);
	return 1024;
}

int
tw_fd_floor(void)
{
	struct rlimit rl;

	return tw_fd_floor_of(getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : RLIM_INFINITY);
}
