/*
 * noopenat2 - run a command where openat2(2) fails with ENOSYS, as under a
 * seccomp filter that does not know it (older container runtimes) or on a
 * kernel before 5.6, so that the code that does without it is tested.
 *
 *	noopenat2 COMMAND [ARG...]
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

int
main(int argc, char **argv)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof filter / sizeof filter[0], filter };

	if (argc < 2)
		die("usage: noopenat2 COMMAND [ARG...]");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		die("noopenat2: seccomp: %s", strerror(errno));
	execvp(argv[1], argv + 1);
	die("noopenat2: %s: %s", argv[1], strerror(errno));
}
