/*
 * stalereuse N - N times: a connected socket the shim applied its policy
 * to vanishes through syscall(SYS_close), and a socket made by a raw
 * system call (as io_uring makes them, unseen) takes its number.  The
 * shim's entry for the number is stale: it must not swallow the program's
 * setsockopt(TCP_NODELAY, 1) on the new socket (the policy forces
 * nodelay only on the sockets it applied to), nor keep the policy from
 * the new socket's connect().  Then the same for a listener: the
 * program turned SO_KEEPALIVE off on a listener the shim saw listen; a
 * listener made, bound and listening by raw system calls takes its number;
 * sockets accepted from it must not inherit the old listener's choice
 * (the policy's keepalive applies to them).  Prints how often each went
 * right.
 *
 * stalereuse N epoll - the new socket is registered with epoll before its
 * connect(), then closed under a waiting strategy: the registration must
 * not outlive the close (epoll_wait must not report the closed number
 * when the peer writes).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper.h"

static int
getint(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof v;

	getsockopt(fd, level, name, &v, &len);
	return v;
}

static int
epoll_case(int lfd, const struct sockaddr_in *sa, int n)
{
	int reported = 0, same = 0;

	for (int i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN }, got;
		int a = socket(AF_INET, SOCK_STREAM, 0), b, p, ep;

		if (a < 0 || connect(a, (const struct sockaddr *)sa, sizeof *sa) < 0 ||
		    (p = accept(lfd, NULL, NULL)) < 0)
			die("stalereuse: first connection");
		close(p);
		syscall(SYS_close, a);
		b = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
		same += b == a;
		ep = epoll_create1(0);
		ev.data.fd = b;
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev) < 0 ||
		    connect(b, (const struct sockaddr *)sa, sizeof *sa) < 0 ||
		    (p = accept(lfd, NULL, NULL)) < 0)
			die("stalereuse: second connection");
		close(b);
		if (write(p, "x", 1) != 1)
			die("stalereuse: write");
		reported += epoll_wait(ep, &got, 1, 100) > 0;
		close(p);
		close(ep);
	}
	printf("same number: %d of %d\n", same, n);
	printf("epoll reports after close: %d of %d\n", reported, n);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int n, lfd, same = 0, kept = 0, applied = 0, one = 1;

	if (argc != 2 && argc != 3)
		die("usage: stalereuse N [epoll]");
	n = atoi(argv[1]);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* A listener nobody accepts from: its backlog completes each connect. */
	lfd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(lfd, 2 * n + 16) < 0 || getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		die("stalereuse: no listener");
	if (argc == 3)
		return epoll_case(lfd, &sa, n);
	for (int i = 0; i < n; i++) {
		int a = socket(AF_INET, SOCK_STREAM, 0), b;

		if (a < 0 || connect(a, (struct sockaddr *)&sa, sizeof sa) < 0)
			die("stalereuse: connect failed");
		syscall(SYS_close, a);
		b = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
		same += b == a;
		if (setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 &&
		    getint(b, IPPROTO_TCP, TCP_NODELAY) == 1)
			kept++;
		if (connect(b, (struct sockaddr *)&sa, sizeof sa) == 0 &&
		    getint(b, SOL_SOCKET, SO_KEEPALIVE) == 1)
			applied++;
		close(b);
	}
	printf("same number: %d of %d\n", same, n);
	printf("nodelay kept: %d of %d\n", kept, n);
	printf("policy at connect: %d of %d\n", applied, n);

	same = applied = 0;
	for (int i = 0; i < n; i++) {
		struct sockaddr_in la = { .sin_family = AF_INET };
		int off = 0, l = socket(AF_INET, SOCK_STREAM, 0), r, c, a;

		la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof la;
		setsockopt(l, SOL_SOCKET, SO_KEEPALIVE, &off, sizeof off);
		if (bind(l, (struct sockaddr *)&la, sizeof la) < 0 || listen(l, 4) < 0)
			die("stalereuse: first listener");
		syscall(SYS_close, l);
		r = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
		same += r == l;
		if (syscall(SYS_bind, r, &la, sizeof la) < 0 || syscall(SYS_listen, r, 4) < 0 ||
		    getsockname(r, (struct sockaddr *)&la, &len) < 0)
			die("stalereuse: raw listener");
		c = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
		if (syscall(SYS_connect, c, &la, sizeof la) < 0 || (a = accept(r, NULL, NULL)) < 0)
			die("stalereuse: accept");
		applied += getint(a, SOL_SOCKET, SO_KEEPALIVE) == 1;
		close(a);
		syscall(SYS_close, c);
		syscall(SYS_close, r);
	}
	printf("same listener number: %d of %d\n", same, n);
	printf("policy at accept: %d of %d\n", applied, n);
	return 0;
}
