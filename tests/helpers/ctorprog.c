/*
 * ctorprog HOST PORT - connect the socket libctor.so made in its
 * constructor, talk, and close it; print what happened.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern int ctor_socket;

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char buf[64];
	ssize_t n;

	if (argc != 3)
		return 2;
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	if (ctor_socket < 0 || connect(ctor_socket, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("ctorprog: connect");
		return 1;
	}
	if (write(ctor_socket, "hi\n", 3) != 3 || (n = read(ctor_socket, buf, sizeof buf)) <= 0) {
		perror("ctorprog: talk");
		return 1;
	}
	printf("ctorprog: answered %.*s", (int)n, buf);
	return close(ctor_socket) == 0 ? 0 : 1;
}
