/*
 * cancel PORT - pthread_cancel() a thread blocked in accept() and one
 * blocked in a connect() that cannot complete, both inside the shim's
 * hooks; then the other threads must still get through every hook.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int lfd;

static void *
acceptor(void *arg)
{
	(void)arg;
	for (;;)
		close(accept(lfd, NULL, NULL));
	return NULL;
}

static void *
connector(void *arg)
{
	/* A listener with a full backlog of 0 and no accept: connect() waits. */
	struct sockaddr_in *sa = arg;

	for (;;) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		connect(s, (struct sockaddr *)sa, sizeof *sa);
		close(s);
	}
	return NULL;
}

int
main(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in full = sa;
	socklen_t len = sizeof sa;
	pthread_t a, c;
	int jam;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	bind(lfd, (struct sockaddr *)&sa, sizeof sa);
	listen(lfd, 5);
	jam = socket(AF_INET, SOCK_STREAM, 0);
	bind(jam, (struct sockaddr *)&full, sizeof full);
	listen(jam, 0);
	getsockname(jam, (struct sockaddr *)&full, &len);
	pthread_create(&a, NULL, acceptor, NULL);
	pthread_create(&c, NULL, connector, &full);
	usleep(300000);
	pthread_cancel(a);
	pthread_cancel(c);
	pthread_join(a, NULL);
	pthread_join(c, NULL);
	for (int i = 0; i < 1000; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0), d = dup(s);
		close(s);
		close(d);
	}
	printf("cancel: both threads cancelled inside hooks; the rest went on\n");
	return 0;
}
