/*
 * lockwait PORT - thread A closes a socket whose close() lingers (unsent
 * data, a peer that does not read, SO_LINGER {1,2}), while thread B loops
 * socket()+dup()+close()+close(): the duplicate puts B's socket in the
 * table, so each close takes the table's lock.  A shim that held that
 * lock across the real close would stall B for the whole linger.  Prints
 * B's worst latency.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"

static volatile int done;
static long worst_ms, a_ms;

static void *
looper(void *arg)
{
	(void)arg;
	while (!done) {
		long t0 = now_ms();
		int s = socket(AF_INET, SOCK_STREAM, 0);

		close(dup(s));
		close(s);
		if (now_ms() - t0 > worst_ms)
			worst_ms = now_ms() - t0;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct linger l = { 1, 2 };
	static char buf[1 << 20];
	pthread_t tid;
	long t0;
	int s;

	if (argc != 2)
		return 2;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("lockwait: connect");
	setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	memset(buf, 'x', sizeof buf);
	for (int i = 0; i < 8; i++)
		if (send(s, buf, sizeof buf, MSG_DONTWAIT) < 0)
			break;
	pthread_create(&tid, NULL, looper, NULL);
	usleep(100000);
	t0 = now_ms();
	close(s);
	a_ms = now_ms() - t0;
	usleep(100000);
	done = 1;
	pthread_join(tid, NULL);
	printf("lockwait: lingering close took %ld ms; other thread's worst socket+close %ld ms\n",
	    a_ms, worst_ms);
	return 0;
}
