/*
 * sockinfo.c - see sockinfo.h.
 */
#include <sys/socket.h>

#include "shim.h"
#include "sockinfo.h"

uint64_t
tw_socket_cookie(int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof cookie;

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
		return 0;
	return cookie;
}

bool
tw_same_socket(int fd, uint64_t cookie)
{
	return cookie != 0 && tw_socket_cookie(fd) == cookie;
}

int
tw_socket_family(int fd)
{
	int family;
	socklen_t len = sizeof family;

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
		return -1;
	return family;
}
