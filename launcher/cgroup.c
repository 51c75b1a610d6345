/*
 * cgroup.c - "twshim --cgroup": load the kernel backend, attach it to a
 * cgroup through BPF links, run the agent until the program exits (or
 * until SIGTERM/SIGINT for an existing cgroup), then detach.
 *
 * Links, not pinned programs: they belong to this process, so however it
 * ends, SIGKILL included, the kernel detaches them and the cgroup falls
 * back to the kernel's own behaviour.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "cgroup.skel.h"
#include "launcher.h"

/* The program could not be set up: privilege, cgroup, kernel. */
#define EXIT_CANNOT	126

/* Ring buffer bytes: room for ~45,000 events between two drains. */
#define RINGBUF_BYTES	(4u << 20)

/*
 * TWSHIM_CGROUP_RINGBUF (a power of two, at least a page) makes it smaller,
 * for a test of the sweep that finds what a full ring buffer lost.
 */
static uint32_t
ringbuf_bytes(void)
{
	const char *s = getenv("TWSHIM_CGROUP_RINGBUF");
	unsigned long v = s != NULL ? strtoul(s, NULL, 10) : 0;
	long page = sysconf(_SC_PAGESIZE);

	if (v >= (unsigned long)page && v <= RINGBUF_BYTES && (v & (v - 1)) == 0)
		return (uint32_t)v;
	return RINGBUF_BYTES;
}

/* How long the agent lets events gather while some are waiting anyway. */
#define GATHER_NS	2000000

static bool verbose_libbpf;

/* a + b into out; false when it does not fit. */
static bool
join(char *out, size_t size, const char *a, const char *b)
{
	int n = snprintf(out, size, "%s%s", a, b);

	return n >= 0 && (size_t)n < size;
}

static int
libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!verbose_libbpf || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static struct policy *
load_policy(const char *path, const char *text)
{
	struct policy_diag diag;
	struct policy *p;

	/* Neither given: the environment's, as for the library, else the default. */
	if (text == NULL && path == NULL) {
		const char *env_text = getenv("TWSHIM_POLICY_TEXT");
		const char *env_path = getenv("TWSHIM_POLICY");

		if (env_text != NULL && *env_text != '\0')
			text = env_text;
		else if (env_path != NULL && *env_path != '\0')
			path = env_path;
	}
	if (text != NULL)
		p = policy_parse_string(text, strlen(text), "<inline>", true, &diag);
	else if (path != NULL)
		p = policy_parse_file(path, &diag);
	else
		p = policy_parse_string(policy_default_text, strlen(policy_default_text),
		    "<default>", false, &diag);
	if (p == NULL)
		policy_diag_print(&diag, stderr);
	policy_diag_free(&diag);
	return p;
}

/* Errors, one line each, for what the kernel backend cannot honour. */
static unsigned
check_for_kernel(const struct policy *p)
{
	unsigned errors = cgroup_policy_check(p, stderr);

	if (policy_section_count(p) > TWB_MAX_SECTIONS) {
		fprintf(stderr, "%s: %zu sections: twshim --cgroup takes at most %d\n",
		    policy_file_name(p), policy_section_count(p), TWB_MAX_SECTIONS);
		errors++;
	}
	return errors;
}

int
cgroup_check(const char *path, const char *text)
{
	struct policy *p = load_policy(path, text);
	unsigned errors;

	if (p == NULL)
		return 1;
	errors = check_for_kernel(p);
	if (errors == 0)
		printf("%s: ok for twshim --cgroup\n", policy_file_name(p));
	else
		fprintf(stderr, "%s: %u error%s for twshim --cgroup\n", policy_file_name(p),
		    errors, errors == 1 ? "" : "s");
	policy_free(p);
	return errors == 0 ? 0 : 1;
}

/* What of CAP_BPF and CAP_NET_ADMIN is missing, as text; "" when none. */
static const char *
missing_privilege(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	bool bpf, net;

	if (syscall(SYS_capget, &h, d) < 0)
		return "CAP_BPF and CAP_NET_ADMIN";
	bpf = (d[CAP_BPF / 32].effective >> (CAP_BPF % 32)) & 1;
	net = (d[CAP_NET_ADMIN / 32].effective >> (CAP_NET_ADMIN % 32)) & 1;
	return !bpf && !net ? "CAP_BPF and CAP_NET_ADMIN" : !bpf ? "CAP_BPF" :
	    !net ? "CAP_NET_ADMIN" : "";
}

/* Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or .../unified in hybrid mode). */
static bool
cgroup2_mount(char *out, size_t size)
{
	char dev[256], dir[4096], type[64];
	bool found = false;
	FILE *f = fopen("/proc/self/mounts", "re");

	if (f == NULL)
		return false;
	while (!found && fscanf(f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3)
		if (strcmp(type, "cgroup2") == 0) {
			snprintf(out, size, "%s", dir);
			found = true;
		}
	fclose(f);
	return found;
}

/* This process's own cgroup v2 path, "/user.slice/...", from /proc/self/cgroup. */
static bool
own_cgroup(char *out, size_t size)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, size, "%s", line + 3);
			found = true;
		}
	fclose(f);
	return found;
}

static bool
is_cgroup2(const char *dir)
{
	struct statfs fs;

	return statfs(dir, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

/* Move whatever is still in `dir` to `to`, so that dir can be removed. */
static unsigned
move_out(const char *dir, const char *to)
{
	char path[PATH_MAX], line[32];
	unsigned moved = 0;
	FILE *procs;
	int fd;

	if (!join(path, sizeof path, dir, "/cgroup.procs") || (procs = fopen(path, "re")) == NULL)
		return 0;
	fd = join(path, sizeof path, to, "/cgroup.procs") ? open(path, O_WRONLY | O_CLOEXEC) : -1;
	while (fd >= 0 && fgets(line, sizeof line, procs) != NULL)
		if (write(fd, line, strlen(line)) > 0)
			moved++;
	if (fd >= 0)
		close(fd);
	fclose(procs);
	return moved;
}

struct backend {
	struct cgroup_bpf *skel;
	struct agent *agent;
	int cgroup_fd;
	struct rusage start;
};

static void
backend_detach(struct backend *b)
{
	agent_free(b->agent);
	b->agent = NULL;
	cgroup_bpf__destroy(b->skel);	/* the links go, and the programs with them */
	b->skel = NULL;
	if (b->cgroup_fd >= 0)
		close(b->cgroup_fd);
	b->cgroup_fd = -1;
}

static int
backend_attach(struct backend *b, const struct policy *p, const char *dir)
{
	static struct twb_section secs[TWB_MAX_SECTIONS];
	unsigned n = cgroup_policy_compile(p, secs, TWB_MAX_SECTIONS);
	struct bpf_link **links[5];
	struct bpf_program *progs[5];
	int err;

	b->cgroup_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->cgroup_fd < 0) {
		fprintf(stderr, "twshim: cannot open cgroup %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if ((b->skel = cgroup_bpf__open()) == NULL) {
		fprintf(stderr, "twshim: cannot open the BPF object: %s\n", strerror(errno));
		return -1;
	}
	b->skel->rodata->nsections = n;
	bpf_map__set_max_entries(b->skel->maps.events, ringbuf_bytes());
	if ((err = cgroup_bpf__load(b->skel)) != 0) {
		fprintf(stderr, "twshim: the kernel refused the BPF programs: %s%s\n", strerror(-err),
		    verbose_libbpf ? "" : " (-v shows the verifier's log)");
		return -1;
	}
	for (unsigned i = 0; i < n; i++)
		if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.sections), &i, &secs[i], BPF_ANY) < 0) {
			fprintf(stderr, "twshim: cannot fill the policy map: %s\n", strerror(errno));
			return -1;
		}
	progs[0] = b->skel->progs.twshim_bind4, links[0] = &b->skel->links.twshim_bind4;
	progs[1] = b->skel->progs.twshim_bind6, links[1] = &b->skel->links.twshim_bind6;
	progs[2] = b->skel->progs.twshim_connect4, links[2] = &b->skel->links.twshim_connect4;
	progs[3] = b->skel->progs.twshim_connect6, links[3] = &b->skel->links.twshim_connect6;
	progs[4] = b->skel->progs.twshim_sockops, links[4] = &b->skel->links.twshim_sockops;
	for (int i = 0; i < 5; i++) {
		*links[i] = bpf_program__attach_cgroup(progs[i], b->cgroup_fd);
		if (*links[i] == NULL) {
			fprintf(stderr, "twshim: cannot attach %s to %s: %s\n",
			    bpf_program__name(progs[i]), dir, strerror(errno));
			return -1;
		}
	}
	b->agent = agent_new(bpf_map__fd(b->skel->maps.events), bpf_map__fd(b->skel->maps.lost),
	    (const volatile uint64_t *)b->skel->bss->counters, dir);
	if (b->agent == NULL) {
		fprintf(stderr, "twshim: cannot start the agent: %s\n", strerror(errno));
		return -1;
	}
	getrusage(RUSAGE_SELF, &b->start);
	return 0;
}

static double
cpu_us_since(const struct rusage *start)
{
	struct rusage now;

	getrusage(RUSAGE_SELF, &now);
	return (double)(now.ru_utime.tv_sec - start->ru_utime.tv_sec) * 1e6 +
	    (double)(now.ru_utime.tv_usec - start->ru_utime.tv_usec) +
	    (double)(now.ru_stime.tv_sec - start->ru_stime.tv_sec) * 1e6 +
	    (double)(now.ru_stime.tv_usec - start->ru_stime.tv_usec);
}

/* The line at exit: what the backend did, and what the agent cost. */
static void
report(struct backend *b)
{
	const volatile __u64 *k = b->skel->bss->counters;
	struct agent_counts c;
	double us = cpu_us_since(&b->start);

	agent_counts(b->agent, &c);
	fprintf(stderr, "twshim: cgroup: %llu TIME_WAIT destroyed (%llu found by sweeps, %llu in "
	    "other namespaces), %llu already gone, %llu refused; skipped: %llu no data from the "
	    "peer, %llu no timestamps; %llu events lost, %llu sweeps; %llu connects refused "
	    "(local_ports full); agent CPU %.1f us per destroyed TIME_WAIT\n",
	    (unsigned long long)c.destroyed, (unsigned long long)c.swept,
	    (unsigned long long)c.other_netns, (unsigned long long)c.gone,
	    (unsigned long long)c.failed, (unsigned long long)k[TWB_SKIPPED_NO_DATA],
	    (unsigned long long)k[TWB_SKIPPED_NO_TS], (unsigned long long)k[TWB_EVENTS_LOST],
	    (unsigned long long)c.sweeps, (unsigned long long)k[TWB_POOL_EXHAUSTED],
	    c.destroyed ? us / (double)c.destroyed : 0.0);
}

/*
 * The agent's loop: until the child exits (child > 0) or a SIGTERM or
 * SIGINT arrives (child 0).  Returns the child's wait status, or the signal.
 */
static int
run_agent(struct backend *b, int sigfd, pid_t child)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), status = 0;
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.fd = sigfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sigfd, &ev);
	ev.data.fd = agent_epoll_fd(b->agent);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	for (;;) {
		struct epoll_event got[4];
		int n = epoll_wait(ep, got, 4, agent_poll_timeout(b->agent));

		for (int i = 0; i < n; i++) {
			struct signalfd_siginfo si;

			if (got[i].data.fd != sigfd || read(sigfd, &si, sizeof si) != sizeof si)
				continue;
			if (si.ssi_signo == SIGCHLD && child > 0) {
				if (waitpid(child, &status, WNOHANG) == child)
					goto out;
			} else if (child > 0) {
				/*
				 * Passed on when sent by kill(); one from the terminal
				 * (SI_KERNEL) reached the program's process group already.
				 */
				if (si.ssi_code != SI_KERNEL)
					kill(child, (int)si.ssi_signo);
			} else if (si.ssi_signo != SIGCHLD) {
				status = (int)si.ssi_signo;
				goto out;
			}
		}
		agent_work(b->agent);
		/*
		 * While TIME_WAITs wait out their quarantine, nothing is lost by
		 * letting events gather a moment: one wake-up drains many.
		 */
		if (agent_poll_timeout(b->agent) > 0)
			nanosleep(&(struct timespec){ 0, GATHER_NS }, NULL);
	}
out:
	close(ep);
	return status;
}

static pid_t
start_child(const char *dir, char **command, const sigset_t *old)
{
	char procs[PATH_MAX];
	pid_t pid = fork();
	int fd;

	if (pid != 0)
		return pid;
	sigprocmask(SIG_SETMASK, old, NULL);
	if (!join(procs, sizeof procs, dir, "/cgroup.procs") ||
	    (fd = open(procs, O_WRONLY | O_CLOEXEC)) < 0 || write(fd, "0", 1) != 1) {
		fprintf(stderr, "twshim: cannot enter cgroup %s: %s\n", dir, strerror(errno));
		_exit(EXIT_CANNOT);
	}
	close(fd);
	execvp(command[0], command);
	fprintf(stderr, "twshim: cannot run %s: %s\n", command[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : EXIT_CANNOT);
}

static int
cgroup_run(const char *path, const struct policy *p, bool quiet, char **command)
{
	char mount[PATH_MAX], own[PATH_MAX], dir[PATH_MAX], parent[PATH_MAX], name[64];
	struct backend b = { .cgroup_fd = -1 };
	const char *missing = missing_privilege();
	sigset_t sigs, old;
	int sigfd = -1, status, rc;
	pid_t child = 0;

	if (*missing != '\0') {
		fprintf(stderr, "twshim: --cgroup needs %s (root, in practice)\n", missing);
		return EXIT_CANNOT;
	}
	if (!cgroup2_mount(mount, sizeof mount)) {
		fprintf(stderr, "twshim: --cgroup needs a cgroup v2 hierarchy, and none is mounted\n");
		return EXIT_CANNOT;
	}
	if (path != NULL) {
		bool full = path[0] == '/' && is_cgroup2(path);

		if (!join(own, sizeof own, full ? "" : mount, full ? "" : "/") ||
		    !join(dir, sizeof dir, own, full || path[0] != '/' ? path : path + 1) ||
		    !is_cgroup2(dir)) {
			fprintf(stderr, "twshim: %s is not a cgroup v2 directory\n", dir);
			return EXIT_CANNOT;
		}
	} else {
		if (!own_cgroup(own, sizeof own))
			own[0] = '\0';
		snprintf(name, sizeof name, "/twshim.%ld", (long)getpid());
		if (!join(parent, sizeof parent, mount, strcmp(own, "/") == 0 ? "" : own) ||
		    !join(dir, sizeof dir, parent, name)) {
			fprintf(stderr, "twshim: the cgroup path is too long\n");
			return EXIT_CANNOT;
		}
		if (mkdir(dir, 0755) < 0) {
			fprintf(stderr, "twshim: --cgroup needs write access to %s: %s\n", parent,
			    strerror(errno));
			return EXIT_CANNOT;
		}
	}
	if (access(dir, W_OK) < 0) {
		fprintf(stderr, "twshim: --cgroup needs write access to %s: %s\n", dir, strerror(errno));
		rc = EXIT_CANNOT;
		goto out;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGQUIT);
	sigaddset(&sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sigs, &old);
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (backend_attach(&b, p, dir) < 0) {
		rc = EXIT_CANNOT;
		goto out;
	}
	if (path == NULL && (child = start_child(dir, command, &old)) < 0) {
		fprintf(stderr, "twshim: cannot fork: %s\n", strerror(errno));
		rc = EXIT_CANNOT;
		goto out;
	}
	if (path != NULL && !quiet)
		fprintf(stderr, "twshim: attached to %s; SIGTERM or SIGINT detaches\n", dir);
	status = run_agent(&b, sigfd, child);
	/* The program's last TIME_WAITs, once their quarantine is over. */
	agent_flush(b.agent);
	if (!quiet)
		report(&b);
	if (path != NULL)
		rc = 0;
	else if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else
		rc = 128 + WTERMSIG(status);
out:
	backend_detach(&b);
	if (sigfd >= 0)
		close(sigfd);
	if (path == NULL) {
		unsigned left = move_out(dir, parent);

		if (left > 0 && !quiet)
			fprintf(stderr, "twshim: %u process%s of the program outlived it and run%s on "
			    "outside the policy\n", left, left == 1 ? "" : "es", left == 1 ? "s" : "");
		if (rmdir(dir) < 0 && !quiet)
			fprintf(stderr, "twshim: cannot remove %s: %s\n", dir, strerror(errno));
	}
	return rc;
}

static void
cgroup_usage(void)
{
	fprintf(stderr, "usage: twshim --cgroup [-p POLICY | -e TEXT] [-v | -q] -- COMMAND [ARG...]\n"
	    "       twshim --cgroup=PATH [-p POLICY | -e TEXT] [-v | -q]\n");
}

int
cgroup_main(int argc, char **argv)
{
	const char *path = NULL, *policy_path = NULL, *policy_text = NULL;
	bool verbose = false, quiet = false;
	struct policy *p;
	int i, rc;

	if (strncmp(argv[0], "--cgroup=", 9) == 0)
		path = argv[0] + 9;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if ((strcmp(a, "-p") == 0 || strcmp(a, "-e") == 0) && i + 1 < argc &&
		    policy_path == NULL && policy_text == NULL) {
			*(a[1] == 'p' ? &policy_path : &policy_text) = argv[++i];
		} else if (strcmp(a, "-v") == 0) {
			verbose = true;
		} else if (strcmp(a, "-q") == 0) {
			quiet = true;
		} else if (a[0] == '-') {
			cgroup_usage();
			return EXIT_USAGE;
		} else {
			break;
		}
	}
	if ((path == NULL) == (i >= argc) || (path != NULL && *path == '\0')) {
		cgroup_usage();
		return EXIT_USAGE;
	}
	verbose_libbpf = verbose;
	libbpf_set_print(libbpf_log);
	if ((p = load_policy(policy_path, policy_text)) == NULL)
		return EXIT_USAGE;
	if (check_for_kernel(p) > 0) {
		policy_free(p);
		return EXIT_USAGE;
	}
	if (verbose) {
		fprintf(stderr, "twshim: effective policy:\n");
		policy_dump(p, stderr);
	}
	rc = cgroup_run(path, p, quiet, path == NULL ? argv + i : NULL);
	policy_free(p);
	return rc;
}
