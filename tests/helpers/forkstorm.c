/*
 * forkstorm N - a thread hammers socket/dup/close while main forks N
 * times; each child closes a tracked socket, makes one, and _exit()s.  A
 * fork while the other thread holds the shim's lock must not leave the
 * child stuck on it.  A SIGUSR1 handler that closes a socket runs in the
 * middle of it all.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int stop;
static int tracked;

static void *
hammer(void *arg)
{
	(void)arg;
	while (!stop) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		int d = dup(s);
		close(s);
		close(d);
	}
	return NULL;
}

static void
on_usr1(int sig)
{
	(void)sig;
	close(socket(AF_INET, SOCK_STREAM, 0));
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000, done = 0;
	pthread_t tid;

	signal(SIGUSR1, on_usr1);
	tracked = socket(AF_INET, SOCK_STREAM, 0);
	/*
	 * A duplicate puts the socket in the table, so that the child's
	 * close() takes the table's lock: held by the hammer thread at fork
	 * time, with no fork handler to release it, the child would hang.
	 */
	if (dup(tracked) < 0)
		return 1;
	pthread_create(&tid, NULL, hammer, NULL);
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			close(tracked);
			close(socket(AF_INET6, SOCK_STREAM, 0));
			_exit(7);
		}
		if (i % 16 == 0)
			raise(SIGUSR1);
		if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 7)
			done++;
	}
	stop = 1;
	pthread_join(tid, NULL);
	printf("forkstorm: %d of %d children exited normally\n", done, n);
	return done == n ? 0 : 1;
}
