/*
 * sockops - run a script of socket operations given as arguments, one
 * line of output per operation, so that shell tests can drive exactly the
 * calls a hazard needs and look at what the kernel says.
 *
 *	sockops OP ARGS... [, OP ARGS...]...
 *
 * Descriptors are named by short words; see the table in run_op().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"

#define MAXNAMES 32

static struct { char name[16]; int fd; } names[MAXNAMES];

static int
lookup(const char *name)
{
	for (int i = 0; i < MAXNAMES; i++)
		if (strcmp(names[i].name, name) == 0)
			return names[i].fd;
	die("sockops: no descriptor named %s", name);
}

static void
bind_name(const char *name, int fd)
{
	for (int i = 0; i < MAXNAMES; i++)
		if (names[i].name[0] == '\0' || strcmp(names[i].name, name) == 0) {
			snprintf(names[i].name, sizeof names[i].name, "%s", name);
			names[i].fd = fd;
			return;
		}
	die("sockops: too many names");
}


static socklen_t
make_addr(const char *host, const char *port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *in6 = (void *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)atoi(port));
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			die("bad address %s", host);
		return sizeof *in6;
	}
	struct sockaddr_in *in = (void *)ss;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
		die("bad address %s", host);
	return sizeof *in;
}

static int
getint(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof v;

	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -1;
	return v;
}

static void
print_opt(int fd, const char *what)
{
	if (strcmp(what, "linger") == 0) {
		struct linger l = { -1, -1 };
		socklen_t len = sizeof l;
		getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len);
		printf("linger: %d,%d\n", l.l_onoff, l.l_linger);
		return;
	}
	static const struct { const char *n; int level, name; } opts[] = {
		{ "reuseaddr", SOL_SOCKET, SO_REUSEADDR },
		{ "reuseport", SOL_SOCKET, SO_REUSEPORT },
		{ "keepalive", SOL_SOCKET, SO_KEEPALIVE },
		{ "keepidle", IPPROTO_TCP, TCP_KEEPIDLE },
		{ "keepintvl", IPPROTO_TCP, TCP_KEEPINTVL },
		{ "keepcnt", IPPROTO_TCP, TCP_KEEPCNT },
		{ "nodelay", IPPROTO_TCP, TCP_NODELAY },
		{ "user_timeout", IPPROTO_TCP, TCP_USER_TIMEOUT },
		{ "linger2", IPPROTO_TCP, TCP_LINGER2 },
	};
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
		if (strcmp(opts[i].n, what) == 0) {
			printf("%s: %d\n", what, getint(fd, opts[i].level, opts[i].name));
			return;
		}
	die("unknown option %s", what);
}

static int
set_opt(int fd, const char *what, int v)
{
	if (strcmp(what, "linger") == 0 || strcmp(what, "linger_off") == 0) {
		struct linger l = { what[6] == '\0', v };	/* linger_off: {0, v} */
		return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	}
	if (strcmp(what, "nodelay") == 0)
		return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
	if (strcmp(what, "keepalive") == 0)
		return setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v);
	if (strcmp(what, "reuseaddr") == 0)
		return setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v);
	if (strcmp(what, "user_timeout") == 0)
		return setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof v);
	die("unknown option %s", what);
}

/* Number of arguments each operation takes. */
/* clone() children: the descriptor to close, or to send on. */
struct clone_job {
	int fd;
	int delay_ms;
	size_t bytes;
	int port;
};

/*
 * A child sharing our memory puts a socket of its own on the number of
 * ours: it closes its copy of fd, makes a socket there, connects it to
 * port and sets SO_LINGER {0,0} on it.  0 when all of that happened.
 */
static int
clone_reuses(void *p)
{
	struct clone_job *job = p;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)job->port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct linger l = { 0, 0 };
	int s;

	close(job->fd);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) != job->fd)
		return 2;
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l) < 0)
		return 3;
	return 0;
}

static int
clone_closes(void *p)
{
	close(((struct clone_job *)p)->fd);
	return 0;
}

static int
clone_returns(void *p)
{
	(void)p;
	return 0;
}

static int
clone_sends(void *p)
{
	struct clone_job *job = p;
	char buf[65536];

	memset(buf, 'x', sizeof buf);
	usleep((useconds_t)job->delay_ms * 1000);
	for (size_t left = job->bytes; left > 0;) {
		ssize_t n = write(job->fd, buf, left < sizeof buf ? left : sizeof buf);
		if (n <= 0)
			return 1;
		left -= (size_t)n;
	}
	close(job->fd);
	return 0;
}

static char clone_stack[256 * 1024] __attribute__((aligned(16)));

/* vfork_longjmp: the parent leaves vfork() through a signal handler. */
static sigjmp_buf vfork_escape;

static void
vfork_escape_handler(int sig)
{
	(void)sig;
	siglongjmp(vfork_escape, 1);
}

static int
run_op(char **a)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[65536];
	int fd, rc;

	if (strcmp(a[0], "sock") == 0 || strcmp(a[0], "sock6") == 0) {
		fd = socket(a[0][4] == '6' ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
		bind_name(a[1], fd);
		print_result("sock", fd);
		return 2;
	}
	if (strcmp(a[0], "connect") == 0) {		/* connect NAME HOST PORT */
		len = make_addr(a[2], a[3], &ss);
		print_result("connect", connect(lookup(a[1]), (struct sockaddr *)&ss, len));
		return 4;
	}
	if (strcmp(a[0], "connect24") == 0) {		/* ... IPv6 without sin6_scope_id */
		(void)make_addr(a[2], a[3], &ss);
		print_result("connect24", connect(lookup(a[1]), (struct sockaddr *)&ss,
		    (socklen_t)offsetof(struct sockaddr_in6, sin6_scope_id)));
		return 4;
	}
	if (strcmp(a[0], "bind") == 0) {		/* bind NAME HOST PORT */
		len = make_addr(a[2], a[3], &ss);
		print_result("bind", bind(lookup(a[1]), (struct sockaddr *)&ss, len));
		return 4;
	}
	if (strcmp(a[0], "listen") == 0) {		/* listen NAME BACKLOG */
		print_result("listen", listen(lookup(a[1]), atoi(a[2])));
		return 3;
	}
	if (strcmp(a[0], "accept") == 0) {		/* accept NEW LISTENER */
		fd = accept(lookup(a[2]), NULL, NULL);
		bind_name(a[1], fd);
		print_result("accept", fd);
		return 3;
	}
	if (strcmp(a[0], "dup") == 0) {			/* dup NEW OLD */
		fd = dup(lookup(a[2]));
		bind_name(a[1], fd);
		print_result("dup", fd);
		return 3;
	}
	if (strcmp(a[0], "dup2") == 0 || strcmp(a[0], "dup3") == 0) {	/* dup2 OLD ONTO */
		if (a[0][3] == '2')
			rc = dup2(lookup(a[1]), lookup(a[2]));
		else
			rc = dup3(lookup(a[1]), lookup(a[2]), O_CLOEXEC);
		print_result(a[0], rc);
		return 3;
	}
	if (strcmp(a[0], "dupfd") == 0 || strcmp(a[0], "dupfd_cloexec") == 0) {	/* dupfd NEW OLD MIN */
		fd = fcntl(lookup(a[2]), a[0][5] ? F_DUPFD_CLOEXEC : F_DUPFD, atoi(a[3]));
		bind_name(a[1], fd);
		print_result(a[0], fd);
		return 4;
	}
	if (strcmp(a[0], "close") == 0) {
		long t0 = now_ms();
		rc = close(lookup(a[1]));
		print_result("close", rc);
		printf("close_ms: %ld\n", now_ms() - t0);
		return 2;
	}
	if (strcmp(a[0], "syssock") == 0) {		/* syssock NAME: socket() unseen */
		fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
		bind_name(a[1], fd);
		print_result("syssock", fd);
		return 2;
	}
	if (strcmp(a[0], "sysclose") == 0) {
		print_result("sysclose", (int)syscall(SYS_close, lookup(a[1])));
		return 2;
	}
	if (strcmp(a[0], "fclose") == 0) {
		FILE *f = fdopen(lookup(a[1]), "r+");
		print_result("fclose", f ? fclose(f) : -1);
		return 2;
	}
	if (strcmp(a[0], "close_range") == 0 ||		/* close_range LO HI */
	    strcmp(a[0], "cloexec_range") == 0) {	/* ... with CLOSE_RANGE_CLOEXEC */
		print_result(a[0], close_range((unsigned)atoi(a[1]),
		    strcmp(a[2], "max") == 0 ? ~0U : (unsigned)atoi(a[2]),
		    strcmp(a[0], "close_range") == 0 ? 0 : CLOSE_RANGE_CLOEXEC));
		return 3;
	}
	if (strcmp(a[0], "closefrom") == 0) {
		closefrom(atoi(a[1]));
		print_result("closefrom", 0);
		return 2;
	}
	if (strcmp(a[0], "pipe") == 0) {		/* pipe NAME: the read end */
		int p[2];
		rc = pipe(p);
		bind_name(a[1], p[0]);
		print_result("pipe", rc < 0 ? rc : p[0]);
		return 2;
	}
	if (strcmp(a[0], "fd") == 0) {
		printf("fd %s: %d\n", a[1], lookup(a[1]));
		return 2;
	}
	if (strcmp(a[0], "write") == 0) {		/* write NAME TEXT ("\\n": newline) */
		size_t n = 0;
		for (const char *p = a[2]; *p != '\0' && n < sizeof buf; p++) {
			if (p[0] == '\\' && p[1] == 'n') {
				buf[n++] = '\n';
				p++;
			} else {
				buf[n++] = *p;
			}
		}
		signal(SIGPIPE, SIG_IGN);
		print_result("write", (int)write(lookup(a[1]), buf, n));
		return 3;
	}
	if (strcmp(a[0], "writebig") == 0) {		/* writebig NAME BYTES */
		long left = atol(a[2]), sent = 0;
		ssize_t n;
		signal(SIGPIPE, SIG_IGN);
		memset(buf, 'x', sizeof buf);
		while (left > 0 && (n = write(lookup(a[1]), buf,
		    left < (long)sizeof buf ? (size_t)left : sizeof buf)) > 0) {
			left -= n;
			sent += n;
		}
		printf("writebig: %ld\n", sent);
		return 3;
	}
	/*
	 * writenb NAME BYTES: write without blocking until BYTES are sent or
	 * the send buffer is full.  Against a peer that is not reading, what
	 * it leaves behind is surely unacknowledged, whatever the buffer sizes.
	 */
	if (strcmp(a[0], "writenb") == 0) {
		long left = atol(a[2]), sent = 0;
		ssize_t n;
		memset(buf, 'x', sizeof buf);
		while (left > 0 && (n = send(lookup(a[1]), buf,
		    left < (long)sizeof buf ? (size_t)left : sizeof buf,
		    MSG_DONTWAIT | MSG_NOSIGNAL)) > 0) {
			left -= n;
			sent += n;
		}
		printf("writenb: %ld\n", sent);
		return 3;
	}
	if (strcmp(a[0], "readline") == 0) {		/* read until a newline */
		ssize_t n, total = 0;
		while (total < (ssize_t)sizeof buf - 1 &&
		    (n = read(lookup(a[1]), buf + total, 1)) == 1) {
			total++;
			if (buf[total - 1] == '\n')
				break;
		}
		buf[total] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		printf("readline: %s\n", buf);
		return 2;
	}
	if (strcmp(a[0], "readall") == 0) {		/* count bytes to EOF */
		long total = 0;
		ssize_t n;
		while ((n = read(lookup(a[1]), buf, sizeof buf)) > 0)
			total += n;
		printf("readall: %ld%s%s\n", total, n < 0 ? " error " : "",
		    n < 0 ? strerror(errno) : "");
		return 2;
	}
	if (strcmp(a[0], "shutdown") == 0) {
		print_result("shutdown", shutdown(lookup(a[1]), SHUT_WR));
		return 2;
	}
	if (strcmp(a[0], "shutdown_rd") == 0 || strcmp(a[0], "shutdown_rdwr") == 0) {
		print_result(a[0], shutdown(lookup(a[1]), a[0][11] ? SHUT_RDWR : SHUT_RD));
		return 2;
	}
	if (strcmp(a[0], "opt") == 0) {		/* opt NAME WHICH */
		print_opt(lookup(a[1]), a[2]);
		return 3;
	}
	if (strcmp(a[0], "setopt") == 0) {		/* setopt NAME WHICH VALUE */
		print_result("setopt", set_opt(lookup(a[1]), a[2], atoi(a[3])));
		return 4;
	}
	if (strcmp(a[0], "outq") == 0) {
		int v = -1;
		ioctl(lookup(a[1]), SIOCOUTQ, &v);
		printf("outq: %d\n", v);
		return 2;
	}
	if (strcmp(a[0], "sleep") == 0) {		/* sleep MS, signals or not */
		long until = now_ms() + atoi(a[1]);
		while (now_ms() < until)
			usleep(1000);
		return 2;
	}
	if (strcmp(a[0], "fork_close") == 0) {		/* child closes NAME, exits */
		pid_t pid = fork();
		if (pid == 0) {
			close(lookup(a[1]));
			exit(0);
		}
		waitpid(pid, NULL, 0);
		print_result("fork_close", pid > 0 ? 0 : -1);
		return 2;
	}
	if (strcmp(a[0], "fork_exit") == 0) {		/* child exits with exit() */
		pid_t pid = fork();
		if (pid == 0)
			exit(0);
		waitpid(pid, NULL, 0);
		print_result("fork_exit", pid > 0 ? 0 : -1);
		return 1;
	}
	if (strcmp(a[0], "vfork_close") == 0) {	/* vfork child closes NAME */
		int target = lookup(a[1]);
		pid_t pid = vfork();
		if (pid == 0) {
			close(target);
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		print_result("vfork_close", pid > 0 ? 0 : -1);
		return 2;
	}
	if (strcmp(a[0], "vfork2_close") == 0) {	/* a vfork child vforks, then closes NAME */
		int target = lookup(a[1]);
		pid_t pid = vfork();
		if (pid == 0) {
			pid_t grandchild = vfork();
			if (grandchild == 0)
				_exit(0);
			if (grandchild > 0)
				waitpid(grandchild, NULL, 0);
			close(target);
			_exit(grandchild > 0 ? 0 : 1);
		}
		int status = -1;
		waitpid(pid, &status, 0);
		print_result("vfork2_close", pid > 0 && status == 0 ? 0 : -1);
		return 2;
	}
	if (strcmp(a[0], "vfork_errno") == 0) {	/* what vfork() returns, and errno */
		errno = 0;
		pid_t pid = vfork();
		if (pid == 0)
			_exit(0);
		int e = errno;
		if (pid > 0)
			waitpid(pid, NULL, 0);
		printf("vfork: %s errno %d\n", pid > 0 ? "child" : "-1", pid > 0 ? 0 : e);
		return 1;
	}
	if (strcmp(a[0], "vfork_longjmp") == 0) {	/* the child signals; the parent's handler jumps out */
		struct sigaction sa = { .sa_handler = vfork_escape_handler };
		volatile int jumped = 0;

		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
		if (sigsetjmp(vfork_escape, 1) == 0) {
			pid_t pid = vfork();
			if (pid == 0) {
				kill(getppid(), SIGUSR1);
				_exit(0);
			}
		} else {
			jumped = 1;
		}
		while (waitpid(-1, NULL, 0) > 0)
			;
		signal(SIGUSR1, SIG_DFL);
		print_result("vfork_longjmp", jumped ? 0 : -1);
		return 1;
	}
	if (strcmp(a[0], "clone_vm_close") == 0) {	/* clone(CLONE_VM|CLONE_VFORK) child closes NAME */
		struct clone_job job = { .fd = lookup(a[1]) };
		pid_t pid = clone(clone_closes, clone_stack + sizeof clone_stack,
		    CLONE_VM | CLONE_VFORK | SIGCHLD, &job);
		waitpid(pid, NULL, 0);
		print_result("clone_vm_close", pid > 0 ? 0 : -1);
		return 2;
	}
	if (strcmp(a[0], "vfork_reuse") == 0 || strcmp(a[0], "clone_vm_reuse") == 0) {
		/* NAME PORT: such a child makes a socket of its own on NAME's number */
		struct clone_job job = { .fd = lookup(a[1]), .port = atoi(a[2]) };
		int status = -1;
		pid_t pid;

		if (a[0][0] == 'v') {
			pid = vfork();
			if (pid == 0)
				_exit(clone_reuses(&job));
		} else {
			pid = clone(clone_reuses, clone_stack + sizeof clone_stack,
			    CLONE_VM | CLONE_VFORK | SIGCHLD, &job);
		}
		if (pid > 0)
			waitpid(pid, &status, 0);
		print_result(a[0], pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1);
		return 3;
	}
	if (strcmp(a[0], "clone_files") == 0) {	/* a clone(CLONE_FILES) child that returns at once */
		struct clone_job job = { .fd = -1 };
		pid_t pid = clone(clone_returns, clone_stack + sizeof clone_stack,
		    CLONE_FILES | SIGCHLD, &job);
		int status = -1;
		waitpid(pid, &status, 0);
		print_result("clone_files", pid > 0 && status == 0 ? 0 : -1);
		return 1;
	}
	if (strcmp(a[0], "clone_copy_send") == 0) {	/* clone(SIGCHLD) child: after MS, BYTES on NAME */
		struct clone_job job = { .fd = lookup(a[1]), .delay_ms = atoi(a[2]),
		    .bytes = (size_t)atol(a[3]) };
		pid_t pid = clone(clone_sends, clone_stack + sizeof clone_stack, SIGCHLD, &job);
		print_result("clone_copy_send", pid > 0 ? 0 : -1);
		return 4;
	}
	if (strcmp(a[0], "reap") == 0) {		/* wait for every child */
		int n = 0, status;
		while (wait(&status) > 0)
			n += WIFEXITED(status) && WEXITSTATUS(status) == 0;
		printf("reap: %d\n", n);
		return 1;
	}
	if (strcmp(a[0], "spawn_hold") == 0) {		/* a child that keeps NAME for MS */
		char cmd[64];
		snprintf(cmd, sizeof cmd, "sleep %d.%03d &", atoi(a[2]) / 1000, atoi(a[2]) % 1000);
		(void)lookup(a[1]);
		print_result("spawn_hold", system(cmd));
		return 3;
	}
	if (strcmp(a[0], "errno") == 0) {		/* errno fidelity: errno is kept */
		errno = 12345;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		rc = errno;
		close(fd);
		printf("errno: %d %d\n", rc, errno);
		return 1;
	}
	die("sockops: unknown operation %s", a[0]);
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc;) {
		if (strcmp(argv[i], ",") == 0) {
			i++;
			continue;
		}
		i += run_op(&argv[i]);
	}
	return 0;
}
