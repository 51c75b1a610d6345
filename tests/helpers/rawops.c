/*
 * rawops PORT [MODE] - a tracked socket vanishes through syscall(SYS_close),
 * which no hook sees, and its number is reused by a descriptor the shim
 * never saw made (raw system calls).  Whatever the old socket's strategy,
 * nothing may act on the new descriptor.  Prints the fds to show the reuse.
 *
 *	close	(default) the new socket, connected, is closed with close()
 *	exit	... left open at exit, where abort-if-idle looks at sockets
 *	errno	the number is reused by a pipe; close() of it must succeed
 *		and leave errno as it was
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *mode = argc > 2 ? argv[2] : "close";
	char buf[16];
	int a, b, p[2], rc;

	if (argc < 2)
		return 2;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	a = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(a, (struct sockaddr *)&sa, sizeof sa) < 0)
		return 1;
	if (write(a, "hi\n", 3) != 3 || read(a, buf, sizeof buf) <= 0)
		return 1;
	syscall(SYS_close, a);
	if (strcmp(mode, "errno") == 0) {
		if (syscall(SYS_pipe2, p, 0) < 0)
			return 1;
		printf("rawops: tracked fd %d, reused as fd %d\n", a, p[0]);
		errno = 12345;
		rc = close(p[0]);
		printf("rawops: close %d, errno %s\n", rc,
		    errno == 12345 ? "kept" : strerror(errno));
		return 0;
	}
	b = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	if (syscall(SYS_connect, b, &sa, sizeof sa) < 0)
		return 1;
	if (write(b, "hi\n", 3) != 3 || read(b, buf, sizeof buf) <= 0)
		return 1;
	printf("rawops: tracked fd %d, reused as fd %d\n", a, b);
	if (strcmp(mode, "exit") == 0)
		return 0;
	return close(b);
}
