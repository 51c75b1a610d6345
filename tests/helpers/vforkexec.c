/*
 * vforkexec MODE PORT - a vfork() child execs a shell that writes to the
 * socket it inherits, by way of MODE (execl, execle, execlp, fexecve,
 * execveat, execv), while the parent closes its own descriptor of the
 * socket at once.  The socket is shared: the parent's close must leave it
 * alone, and the peer must get the shell's line.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"

extern char **environ;

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *mode;
	char script[128];
	int fd, exe, status;
	pid_t pid;

	if (argc != 3)
		die("usage: vforkexec MODE PORT");
	mode = argv[1];
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("vforkexec: cannot connect");
	/*
	 * The shell writes once the parent has surely closed its descriptor; no
	 * newline, so the peer has nothing to answer (no unread reply, no reset).
	 */
	snprintf(script, sizeof script, "sleep 0.5; printf from-%s >&%d", mode, fd);
	char *args[] = { "sh", "-c", script, NULL };
	exe = open("/bin/sh", O_RDONLY | O_CLOEXEC);

	pid = vfork();
	if (pid == 0) {
		if (strcmp(mode, "execl") == 0)
			execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		else if (strcmp(mode, "execle") == 0)
			execle("/bin/sh", "sh", "-c", script, (char *)NULL, environ);
		else if (strcmp(mode, "execlp") == 0)
			execlp("sh", "sh", "-c", script, (char *)NULL);
		else if (strcmp(mode, "fexecve") == 0)
			fexecve(exe, args, environ);
		else if (strcmp(mode, "execveat") == 0)
			execveat(AT_FDCWD, "/bin/sh", args, environ, 0);
		else
			execv("/bin/sh", args);
		_exit(127);
	}
	if (pid < 0)
		die("vforkexec: vfork failed");
	close(fd);
	if (waitpid(pid, &status, 0) != pid)
		die("vforkexec: waitpid");
	if (WIFSIGNALED(status))
		printf("%s: child killed by signal %d\n", mode, WTERMSIG(status));
	else
		printf("%s: child exit %d\n", mode, WEXITSTATUS(status));
	return 0;
}
