/*
 * rawops PORT - a tracked socket vanishes through syscall(SYS_close), which
 * no hook sees, and its number is reused by a socket made with
 * syscall(SYS_socket).  close() of that number must not act on the new
 * socket with the old one's strategy.  Prints the fds to show the reuse.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char buf[16];
	int a, b;

	if (argc != 2)
		return 2;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	a = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(a, (struct sockaddr *)&sa, sizeof sa) < 0)
		return 1;
	syscall(SYS_close, a);
	b = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	if (syscall(SYS_connect, b, &sa, sizeof sa) < 0)
		return 1;
	if (write(b, "hi\n", 3) != 3 || read(b, buf, sizeof buf) <= 0)
		return 1;
	printf("rawops: tracked fd %d, reused as fd %d\n", a, b);
	return close(b);
}
