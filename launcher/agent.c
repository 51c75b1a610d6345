/*
 * agent.c - the user-space half of the kernel backend's fin-then-reset:
 * destroy each TIME_WAIT the BPF program reports, once it is older than
 * the reuse quarantine, with sock_diag SOCK_DESTROY (what "ss -K" sends).
 *
 * It must keep up with a program that closes tens of thousands of
 * connections a second: the ring buffer is drained in one go, the requests
 * due go out many to a sendmsg(), and events the ring buffer had no room
 * for are found again by a sweep, a dump of the TIME_WAIT sockets, matched
 * on their cookies.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "reuse.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* Requests per sendmsg(): a batch costs one system call. */
#define BATCH		256
/* Network namespaces the programs of one cgroup may move into. */
#define MAX_NETNS	16

struct destroy_msg {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 req;
};

struct netns_sock {
	uint64_t cookie;
	int fd;			/* -1: looked for, not found */
};

struct agent {
	struct ring_buffer *rb;
	int lost_fd;
	const volatile uint64_t *counters;
	uint64_t lost_seen;
	char cgroup_dir[PATH_MAX];

	/* Events in arrival order, waiting out the quarantine. */
	struct twb_event *q;
	size_t head, len, cap;

	struct netns_sock ns[MAX_NETNS];
	size_t nns;
	uint64_t own_netns;

	struct destroy_msg batch[BATCH];
	size_t nbatch;
	int batch_fd;
	bool batch_swept;

	struct agent_counts c;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
diag_socket(void)
{
	int one = 1, size = 1 << 20;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	if (fd < 0)
		return -1;
	/* Errors come back without a copy of the request, so that many fit. */
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	return fd;
}

static uint64_t
netns_cookie_of(int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof cookie;

	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0)
		return 0;
	return cookie;
}

static bool
push(struct agent *a, const struct twb_event *e)
{
	if (a->len == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 4096;
		struct twb_event *q = malloc(cap * sizeof *q);

		if (q == NULL)
			return false;
		for (size_t i = 0; i < a->len; i++)
			q[i] = a->q[(a->head + i) % a->cap];
		free(a->q);
		a->q = q;
		a->cap = cap;
		a->head = 0;
	}
	a->q[(a->head + a->len) % a->cap] = *e;
	a->len++;
	return true;
}

static int
on_event(void *ctx, void *data, size_t size)
{
	struct agent *a = ctx;

	if (size < sizeof(struct twb_event))
		return 0;
	if (!push(a, data))
		a->c.failed++;
	return 0;
}

/*
 * A namespace the program moved into: a sock_diag socket made inside it,
 * found through the /proc/PID/ns/net of the cgroup's processes.
 */
static int
netns_socket(struct agent *a, uint64_t cookie)
{
	char path[PATH_MAX + 32], line[32];
	int own = -1, fd = -1;
	FILE *procs;

	for (size_t i = 0; i < a->nns; i++)
		if (a->ns[i].cookie == cookie)
			return a->ns[i].fd;
	if (a->nns == MAX_NETNS)
		return -1;
	snprintf(path, sizeof path, "%s/cgroup.procs", a->cgroup_dir);
	if ((procs = fopen(path, "re")) == NULL)
		goto out;
	if ((own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
		fclose(procs);
		goto out;
	}
	while (fd < 0 && fgets(line, sizeof line, procs) != NULL) {
		int nsfd, s;

		snprintf(path, sizeof path, "/proc/%ld/ns/net", strtol(line, NULL, 10));
		if ((nsfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (setns(nsfd, CLONE_NEWNET) == 0) {
			s = diag_socket();
			if (s >= 0 && netns_cookie_of(s) == cookie)
				fd = s;
			else if (s >= 0)
				close(s);
			setns(own, CLONE_NEWNET);
		}
		close(nsfd);
	}
	fclose(procs);
	close(own);
out:
	a->ns[a->nns].cookie = cookie;
	a->ns[a->nns].fd = fd;
	a->nns++;
	return fd;
}

/* Count what the kernel refused of the batch just sent: the rest was destroyed. */
static void
read_errors(struct agent *a, int fd, size_t sent, bool swept)
{
	char buf[16384];
	size_t refused = 0;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n);
		    h = NLMSG_NEXT(h, n)) {
			const struct nlmsgerr *err = NLMSG_DATA(h);

			if (h->nlmsg_type != NLMSG_ERROR || err->error == 0)
				continue;
			refused++;
			if (err->error == -ENOENT)
				a->c.gone++;
			else
				a->c.failed++;
		}
	}
	if (refused > sent)
		refused = sent;
	a->c.destroyed += sent - refused;
	if (swept)
		a->c.swept += sent - refused;
	if (fd != a->ns[0].fd)
		a->c.other_netns += sent - refused;
}

static void
send_batch(struct agent *a)
{
	struct iovec iov = { a->batch, a->nbatch * sizeof a->batch[0] };
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct msghdr msg = { .msg_name = &kernel, .msg_namelen = sizeof kernel,
	    .msg_iov = &iov, .msg_iovlen = 1 };

	if (a->nbatch == 0)
		return;
	if (sendmsg(a->batch_fd, &msg, 0) < 0)
		a->c.failed += a->nbatch;
	else
		read_errors(a, a->batch_fd, a->nbatch, a->batch_swept);
	a->nbatch = 0;
}

static void
destroy(struct agent *a, const struct twb_event *e, bool swept)
{
	int fd = e->netns == a->own_netns || e->netns == 0 ? a->ns[0].fd : netns_socket(a, e->netns);
	struct destroy_msg *m;

	if (fd < 0) {
		a->c.failed++;
		return;
	}
	if (a->nbatch > 0 && (fd != a->batch_fd || swept != a->batch_swept || a->nbatch == BATCH))
		send_batch(a);
	a->batch_fd = fd;
	a->batch_swept = swept;
	m = &a->batch[a->nbatch++];
	memset(m, 0, sizeof *m);
	m->nlh.nlmsg_len = sizeof *m;
	m->nlh.nlmsg_type = SOCK_DESTROY;
	m->nlh.nlmsg_flags = NLM_F_REQUEST;
	m->req.sdiag_family = e->family == 6 ? AF_INET6 : AF_INET;
	m->req.sdiag_protocol = IPPROTO_TCP;
	m->req.idiag_states = 1u << TCP_TIME_WAIT;
	m->req.id.idiag_sport = htons(e->sport);
	m->req.id.idiag_dport = htons(e->dport);
	memcpy(m->req.id.idiag_src, e->src, sizeof e->src);
	memcpy(m->req.id.idiag_dst, e->dst, sizeof e->dst);
	/* The cookie makes it this connection's TIME_WAIT and no later one's. */
	m->req.id.idiag_cookie[0] = (uint32_t)e->cookie;
	m->req.id.idiag_cookie[1] = (uint32_t)(e->cookie >> 32);
}

/*
 * The sweep: events the ring buffer lost are TIME_WAIT sockets whose
 * cookies the lost map holds.  Dumps this (the launcher's) namespace only.
 */
static void
sweep_family(struct agent *a, int family)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} dump = {
		.nlh = { .nlmsg_len = sizeof dump, .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.req = { .sdiag_family = (uint8_t)family, .sdiag_protocol = IPPROTO_TCP,
		    .idiag_states = 1u << TCP_TIME_WAIT },
	};
	static char buf[65536];
	int fd = diag_socket();
	bool done = false;

	if (fd < 0)
		return;
	if (send(fd, &dump, sizeof dump, 0) < 0)
		done = true;
	while (!done) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);

		if (n <= 0)
			break;
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n);
		    h = NLMSG_NEXT(h, n)) {
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			struct twb_event e = { 0 };
			uint64_t when;

			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			e.cookie = m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32;
			if (bpf_map_lookup_elem(a->lost_fd, &e.cookie, &when) < 0)
				continue;
			bpf_map_delete_elem(a->lost_fd, &e.cookie);
			e.when_ns = when;
			e.family = family == AF_INET6 ? 6 : 4;
			e.sport = ntohs(m->id.idiag_sport);
			e.dport = ntohs(m->id.idiag_dport);
			memcpy(e.src, m->id.idiag_src, sizeof e.src);
			memcpy(e.dst, m->id.idiag_dst, sizeof e.dst);
			e.netns = a->own_netns;
			e.swept = 1;
			push(a, &e);
		}
	}
	close(fd);
}

static void
destroy_due(struct agent *a, uint64_t now)
{
	uint64_t quarantine = (uint64_t)TW_REUSE_QUARANTINE_MS * 1000000u;

	while (a->len > 0) {
		const struct twb_event *e = &a->q[a->head];

		if (e->when_ns + quarantine > now)
			break;
		destroy(a, e, e->swept != 0);
		a->head = (a->head + 1) % a->cap;
		a->len--;
	}
	send_batch(a);
}

int
agent_work(struct agent *a)
{
	uint64_t lost = a->counters[TWB_EVENTS_LOST];

	/* Drained in one go: a full ring buffer is what loses events. */
	ring_buffer__consume(a->rb);
	if (lost != a->lost_seen) {
		a->lost_seen = lost;
		a->c.sweeps++;
		sweep_family(a, AF_INET);
		sweep_family(a, AF_INET6);
	}
	destroy_due(a, now_ns());
	return 0;
}

int
agent_poll_timeout(struct agent *a)
{
	uint64_t due, now = now_ns();

	if (a->len == 0)
		return -1;
	due = a->q[a->head].when_ns + (uint64_t)TW_REUSE_QUARANTINE_MS * 1000000u;
	return due <= now ? 0 : (int)((due - now + 999999) / 1000000);
}

/* How long an exited program's connections may take to reach TIME_WAIT. */
#define FLUSH_WAIT_MS	1000

void
agent_flush(struct agent *a)
{
	uint64_t quarantine = (uint64_t)TW_REUSE_QUARANTINE_MS * 1000000u;
	uint64_t give_up = now_ns() + (uint64_t)FLUSH_WAIT_MS * 1000000u;

	/* Closed by the exit, but waiting on the peer's FIN: a moment more. */
	while ((int64_t)a->counters[TWB_OPEN] > 0 && now_ns() < give_up) {
		struct timespec ms = { 0, 1000000 };

		agent_work(a);
		nanosleep(&ms, NULL);
	}

	ring_buffer__consume(a->rb);
	if (a->counters[TWB_EVENTS_LOST] != a->lost_seen)
		agent_work(a);
	if (a->len > 0) {
		uint64_t last = a->q[(a->head + a->len - 1) % a->cap].when_ns + quarantine;
		uint64_t now = now_ns();

		if (last > now) {
			struct timespec ts = { 0, (long)(last - now) };

			if (last - now >= 1000000000u)
				ts = (struct timespec){ 1, 0 };
			nanosleep(&ts, NULL);
		}
	}
	destroy_due(a, now_ns() + quarantine);
}

int
agent_epoll_fd(struct agent *a)
{
	return ring_buffer__epoll_fd(a->rb);
}

void
agent_counts(const struct agent *a, struct agent_counts *out)
{
	*out = a->c;
}

struct agent *
agent_new(int ringbuf_fd, int lost_fd, const volatile uint64_t *counters, const char *cgroup_dir)
{
	struct agent *a = calloc(1, sizeof *a);

	if (a == NULL)
		return NULL;
	a->lost_fd = lost_fd;
	a->counters = counters;
	snprintf(a->cgroup_dir, sizeof a->cgroup_dir, "%s", cgroup_dir);
	a->ns[0].fd = diag_socket();
	a->own_netns = a->ns[0].fd >= 0 ? netns_cookie_of(a->ns[0].fd) : 0;
	a->ns[0].cookie = a->own_netns;
	a->nns = 1;
	a->rb = ring_buffer__new(ringbuf_fd, on_event, a, NULL);
	if (a->ns[0].fd < 0 || a->rb == NULL) {
		agent_free(a);
		return NULL;
	}
	return a;
}

void
agent_free(struct agent *a)
{
	if (a == NULL)
		return;
	ring_buffer__free(a->rb);
	for (size_t i = 0; i < a->nns; i++)
		if (a->ns[i].fd >= 0)
			close(a->ns[i].fd);
	free(a->q);
	free(a);
}
