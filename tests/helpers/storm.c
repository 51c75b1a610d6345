/*
 * storm - THREADS threads doing socket/dup/dup2/close ITERATIONS times,
 * for running under the preloaded library.  Exits 0 when the process ends
 * with the descriptors it started with.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"

static long iterations;
static unsigned long failures;

static void *
worker(void *arg)
{
	(void)arg;
	for (long i = 0; i < iterations; i++) {
		int s = socket(i % 3 ? AF_INET : AF_INET6, SOCK_STREAM, 0);
		int d = dup(s);
		int p[2];

		if (s < 0 || d < 0 || pipe(p) < 0) {
			__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (dup2(s, p[1]) != p[1])
			__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
		if (close(s) != 0 || close(d) != 0 || close(p[1]) != 0 || close(p[0]) != 0)
			__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 4, before, after;
	pthread_t tid[64];

	iterations = argc > 2 ? atol(argv[2]) : 100000;
	if (threads < 1 || threads > 64)
		threads = 4;
	before = count_fds();
	for (int t = 0; t < threads; t++)
		pthread_create(&tid[t], NULL, worker, NULL);
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	after = count_fds();
	printf("storm: %d x %ld: %lu failed calls, descriptors %d before, %d after\n",
	    threads, iterations, failures, before, after);
	return failures == 0 && before == after ? 0 : 1;
}
