/*
 * exitsig MODE - a thread of the program is stopped in the middle of a
 * close() that the shim hands to its reaper (run it under a waiting close
 * strategy); the process must still finish.
 *
 *	exit	a timer's signal handler calls exit(): the shim's exit work
 *		must not wait on a lock the interrupted thread holds
 *	cancel	pthread_cancel() of threads busy closing: a lock held at
 *		a cancellation point would be held forever
 *	fork	a timer's signal handler forks; each child returns from the
 *		handler into the program's loop, closes a hundred sockets more
 *		and exits: it must never wait on a lock that was held when it
 *		was made (by this thread, or by one it does not have)
 *
 * It makes its own listener, and a thread accepts and keeps every
 * connection, so that each close really waits for the peer.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr = { .sin_family = AF_INET };
static int lfd;

static void *
acceptor(void *arg)
{
	(void)arg;
	for (;;)
		(void)accept(lfd, NULL, NULL);	/* kept open: the peer never closes */
	return NULL;
}

static volatile sig_atomic_t in_child;

static void *
churn(void *arg)
{
	(void)arg;
	for (int n = 0;; n++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (in_child && n > 100)
			_exit(0);

		if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
			close(s);
			continue;
		}
		close(s);
	}
	return NULL;
}

static void
on_alarm(int sig)
{
	(void)sig;
	exit(0);
}

static int spare = -1;

/* Sleep for ms, signals or not. */
static void
sleep_ms(long ms)
{
	struct timespec left = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&left, &left) < 0)
		;
}

static pid_t kids[4096];
static int nkids;	/* written by the handler only */

static void
on_alarm_fork(int sig)
{
	pid_t pid;

	(void)sig;
	if ((pid = fork()) == 0) {
		struct itimerval off = { { 0, 0 }, { 0, 0 } };

		setitimer(ITIMER_REAL, &off, NULL);
		in_child = 1;
		close(spare);
		return;		/* back into the loop the signal interrupted */
	}
	if (pid > 0 && nkids < (int)(sizeof kids / sizeof kids[0]))
		kids[nkids++] = pid;
}

int
main(int argc, char **argv)
{
	socklen_t len = sizeof addr;
	sigset_t alrm, old;
	pthread_t a, t;

	if (argc != 2)
		return 2;
	srand((unsigned)getpid());
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len) < 0)
		return 1;
	/* The signal is for the churning thread, not the acceptor. */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, &old);
	pthread_create(&a, NULL, acceptor, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (strcmp(argv[1], "exit") == 0) {
		struct itimerval it = { .it_value = { 0, 2000 + rand() % 8000 } };

		signal(SIGALRM, on_alarm);
		setitimer(ITIMER_REAL, &it, NULL);
		churn(NULL);
	}
	if (strcmp(argv[1], "fork") == 0) {
		struct itimerval it = { .it_interval = { 0, 3000 }, .it_value = { 0, 3000 } };
		int children = 0, hung = 0;

		spare = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(spare, (struct sockaddr *)&addr, sizeof addr) < 0)
			return 1;
		signal(SIGALRM, on_alarm_fork);
		pthread_create(&t, NULL, churn, NULL);
		/* The signal goes to the churning thread, often inside the shim. */
		pthread_sigmask(SIG_BLOCK, &alrm, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
		sleep_ms(1000);		/* a fork every 3 ms */
		it.it_value.tv_usec = it.it_interval.tv_usec = 0;
		setitimer(ITIMER_REAL, &it, NULL);
		sleep_ms(2000);		/* every child has had time to finish */
		for (int k = 0; k < nkids; k++) {
			if (waitpid(kids[k], NULL, WNOHANG) == kids[k]) {
				children++;
			} else {	/* still there: hung */
				kill(kids[k], SIGKILL);
				waitpid(kids[k], NULL, 0);
				hung++;
			}
		}
		printf("exitsig: %d children exited, %d hung\n", children, hung);
		fflush(stdout);
		_exit(hung ? 1 : 0);
	}
	for (int i = 0; i < 100; i++) {
		pthread_create(&t, NULL, churn, NULL);
		usleep((useconds_t)(rand() % 3000));
		pthread_cancel(t);
		pthread_join(t, NULL);
	}
	/* One more close through the reaper: it must not wait on a lost lock. */
	{
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (connect(s, (struct sockaddr *)&addr, sizeof addr) == 0)
			close(s);
	}
	printf("exitsig: 100 threads cancelled while closing; the last close went through\n");
	return 0;
}
