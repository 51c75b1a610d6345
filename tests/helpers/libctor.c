/*
 * libctor.so - a library whose constructor makes a TCP socket, dups it and
 * sets an option before any other constructor may have run (twshim's
 * included).  ctorprog then uses that socket from main.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

int ctor_socket = -1;

__attribute__((constructor)) static void
make_socket_early(void)
{
	int one = 1, scratch;

	ctor_socket = socket(AF_INET, SOCK_STREAM, 0);
	(void)setsockopt(ctor_socket, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	scratch = dup(ctor_socket);
	close(scratch);
}
