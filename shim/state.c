/*
 * state.c - the process-wide state every part of the shim reads.
 */
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

struct tw_state tw_state;
__thread int tw_busy __attribute__((tls_model("initial-exec")));

/*
 * getpid(2) without glibc's variadic syscall() around it: this runs on
 * every close of a tracked socket.
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
tw_foreign_process(void)
{
	pid_t owner = __atomic_load_n(&tw_state.pid, __ATOMIC_RELAXED);

	return owner != 0 && owner != raw_getpid();
}
