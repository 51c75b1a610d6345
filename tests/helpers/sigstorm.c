/*
 * sigstorm SECONDS - a timer signal every 50 us whose handler does
 * close(dup(tracked)), while main loops socket/dup2/close.  Signal handlers
 * may call these (they are async-signal-safe); a shim that takes a lock in
 * them can deadlock against the code they interrupted.  Exits 0 if it ends.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int tracked = -1;
static volatile sig_atomic_t handled;

static void
on_alarm(int sig)
{
	int d;

	(void)sig;
	d = dup(tracked);
	if (d >= 0)
		close(d);
	handled++;
}

int
main(int argc, char **argv)
{
	struct itimerval it = { { 0, 50 }, { 0, 50 } };
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	time_t end = time(NULL) + (argc > 1 ? atoi(argv[1]) : 3);
	long loops = 0;

	tracked = socket(AF_INET, SOCK_STREAM, 0);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	while (time(NULL) < end) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		int t = socket(AF_INET6, SOCK_STREAM, 0);

		dup2(s, t);
		close(s);
		close(t);
		loops++;
	}
	it.it_value.tv_usec = it.it_interval.tv_usec = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	printf("sigstorm: %ld loops, %d signals handled\n", loops, (int)handled);
	return loops > 0 && handled > 0 ? 0 : 1;
}
