/*
 * state.c - the process-wide state every part of the shim reads.
 */
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

struct tw_state tw_state;
__thread int tw_busy __attribute__((tls_model("initial-exec")));

bool
tw_foreign_process(void)
{
	pid_t owner = __atomic_load_n(&tw_state.pid, __ATOMIC_RELAXED);

	return owner != 0 && owner != (pid_t)syscall(SYS_getpid);
}
