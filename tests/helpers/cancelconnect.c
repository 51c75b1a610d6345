/*
 * cancelconnect PORT N - N times: a thread connects to 127.0.0.1:PORT (where
 * nothing listens: refused at once) over and over, and is cancelled (deferred, the default) while it does, at a
 * moment that varies from one thread to the next.  Then print how many
 * netlink and datagram sockets the process holds (bare: none): a
 * cancellation inside connect() must not leave any behind.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"

static struct sockaddr_in dest;

static void
close_fd(void *arg)
{
	close(*(int *)arg);
}

static void *
connector(void *arg)
{
	int fd = -1;

	(void)arg;
	pthread_cleanup_push(close_fd, &fd);
	for (;;) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		connect(fd, (struct sockaddr *)&dest, sizeof dest);
		close(fd);
		fd = -1;
	}
	pthread_cleanup_pop(0);
	return NULL;
}

static int
count_kind(int domain, int type)
{
	int n = 0;

	for (int fd = 3; fd < 4096; fd++) {
		int v;
		socklen_t len = sizeof v;

		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 || v != domain)
			continue;
		len = sizeof v;
		if (type < 0 || (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0 && v == type))
			n++;
	}
	return n;
}

int
main(int argc, char **argv)
{
	int n, cancelled = 0;

	if (argc != 3)
		die("usage: cancelconnect PORT N");
	dest.sin_family = AF_INET;
	dest.sin_port = htons((uint16_t)atoi(argv[1]));
	dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n = atoi(argv[2]);
	for (int i = 0; i < n; i++) {
		struct timespec pause = { 0, 200000 + (i % 25) * 37000 };
		pthread_t t;
		void *ret;

		if (pthread_create(&t, NULL, connector, NULL) != 0)
			die("cancelconnect: cannot start a thread");
		nanosleep(&pause, NULL);
		pthread_cancel(t);
		pthread_join(t, &ret);
		cancelled += ret == PTHREAD_CANCELED;
	}
	printf("cancelled: %d\n", cancelled);
	printf("netlink: %d\n", count_kind(AF_NETLINK, -1));
	printf("inet datagram: %d\n", count_kind(AF_INET, SOCK_DGRAM));
	return 0;
}
