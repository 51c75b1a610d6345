/*
 * diagnose.c - build the --diagnose report: each TIME_WAIT socket of this
 * network namespace told as client side (this host connected and closed
 * first: it holds a local port towards one destination) or server side
 * (this host accepted and closed first: it sits on a listening port),
 * with the process to wrap and the sysctls that bear on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diagnose.h"
#include "reuse.h"
#include "launcher.h"

/* TIME_WAIT lasts TCP_TIMEWAIT_LEN on Linux, whatever the sysctls say. */
#define TIME_WAIT_SECONDS 60

static void
read_proc(const char *path, char *out, size_t size)
{
	ssize_t n;
	int fd;

	snprintf(out, size, "-");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, out, size - 1);
	close(fd);
	if (n <= 0) {
		snprintf(out, size, "-");
		return;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	for (char *p = out; *p != '\0'; p++)
		if (*p == '\t')
			*p = ' ';
}

static int
read_int(const char *name, int fallback)
{
	char path[128], buf[64], *end;
	long v;

	snprintf(path, sizeof path, "/proc/sys/net/ipv4/%s", name);
	read_proc(path, buf, sizeof buf);
	v = strtol(buf, &end, 10);
	return end == buf ? fallback : (int)v;
}

/* ip_local_reserved_ports: "8080,9000-9010" into a bit per port. */
static void
read_reserved(uint8_t reserved[65536 / 8])
{
	char buf[4096];
	const char *p = buf;

	memset(reserved, 0, 65536 / 8);
	read_proc("/proc/sys/net/ipv4/ip_local_reserved_ports", buf, sizeof buf);
	while (*p != '\0') {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;

		if (end == p)
			break;
		p = end;
		if (*p == '-') {
			hi = strtoul(p + 1, &end, 10);
			p = end;
		}
		for (unsigned long port = lo; port <= hi && port < 65536; port++)
			reserved[port / 8] |= (uint8_t)(1u << (port % 8));
		if (*p == ',')
			p++;
		else
			break;
	}
}

static bool
port_bit(const uint8_t *bits, unsigned port)
{
	return bits[port / 8] & (1u << (port % 8));
}

static bool
same_ip(const struct tcp_addr *a, const struct tcp_addr *b)
{
	return memcmp(&a->ip, &b->ip, sizeof a->ip) == 0;
}

static bool
same_addr(const struct tcp_addr *a, const struct tcp_addr *b)
{
	return a->port == b->port && same_ip(a, b);
}

/*
 * The listener a connection's local address belongs to, or NULL; t holds
 * the listeners alone (a few, against many connections).
 */
static const struct tcp_sock *
listener_for(const struct tcp_table *t, const struct tcp_addr *local)
{
	const struct tcp_sock *wild = NULL;

	for (size_t i = 0; i < t->n; i++) {
		const struct tcp_sock *s = &t->socks[i];

		if (s->local.port != local->port)
			continue;
		if (same_ip(&s->local, local))
			return s;
		/* "::" also takes IPv4 unless IPV6_V6ONLY; good enough to tell sides. */
		if (wild == NULL && tcp_addr_is_any(&s->local))
			wild = s;
	}
	return wild;
}

static bool
in_range(const struct diagnosis *d, unsigned port)
{
	return port >= d->port_lo && port <= d->port_hi;
}

/*
 * Whether this host is the server side of a connection: its local
 * address is one something listens on; with no listener (a server that
 * stopped), whether the local port is not an ephemeral one and the
 * remote is.
 */
static bool
is_server_side(const struct diagnosis *d, const struct tcp_table *listeners,
    const struct tcp_sock *s)
{
	if (listener_for(listeners, &s->local) != NULL)
		return true;
	return !in_range(d, s->local.port) && in_range(d, s->remote.port);
}

/* Shell-quote one word into out, when it needs it. */
static void
quote_word(const char *w, char *out, size_t size)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_./:=@%+,-";
	size_t n = 0;

	if (*w != '\0' && strspn(w, plain) == strlen(w)) {
		snprintf(out, size, "%s", w);
		return;
	}
	if (size < 3)
		return;
	out[n++] = '\'';
	for (; *w != '\0' && n + 5 < size; w++) {
		if (*w == '\'') {
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else {
			out[n++] = *w;
		}
	}
	out[n++] = '\'';
	out[n] = '\0';
}

/*
 * A holder's command line, quoted for a shell.  A process title written
 * over the arguments reads as one argument with spaces in it ("nginx:
 * master process nginx -c ..."): then the program's own path stands in
 * for the command, and the title is kept to show.
 */
static void
read_command(pid_t pid, struct holder *h)
{
	char path[64], buf[4096], word[1024], exe[PATH_MAX];
	size_t used = 0;
	ssize_t n, e;
	int fd;

	h->command[0] = '\0';
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* One string with spaces, and nothing after it but padding. */
	used = strlen(buf);
	while (used < (size_t)n && buf[used] == '\0')
		used++;
	if (used == (size_t)n && strchr(buf, ' ') != NULL) {
		snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
		if ((e = readlink(path, exe, sizeof exe - 1)) > 0) {
			exe[e] = '\0';
			h->title_rewritten = true;
			snprintf(h->title, sizeof h->title, "%s", buf);
			quote_word(exe, h->command, sizeof h->command);
			return;
		}
	}
	used = 0;
	for (const char *a = buf; a < buf + n; a += strlen(a) + 1) {
		quote_word(a, word, sizeof word);
		if (used + strlen(word) + 2 >= sizeof h->command)
			break;
		used += (size_t)snprintf(h->command + used, sizeof h->command - used, "%s%s",
		    used ? " " : "", word);
	}
}

/*
 * The systemd service a process runs in: the last component of its
 * cgroup path when that ends in ".service", on the unified hierarchy's
 * line ("0::/system.slice/nginx.service") or systemd's own v1 one
 * ("1:name=systemd:/system.slice/nginx.service").
 */
static void
read_unit(pid_t pid, char *out, size_t size)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		const char *slash = strrchr(line, '/'), *dot;

		if (strncmp(line, "0::", 3) != 0 && strstr(line, ":name=systemd:") == NULL)
			continue;
		if (slash == NULL || (dot = strrchr(slash, '.')) == NULL || strcmp(dot, ".service") != 0)
			continue;
		snprintf(out, size, "%s", slash + 1);
		return;
	}
}

/*
 * Another user's process names itself: a control character in its name,
 * title or arguments would reach the terminal of whoever runs this (root,
 * often).  Each is shown as '?'.
 */
static void
tame(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static void
fill_holder(struct holder *h, const struct sock_owner *o)
{
	h->pid = o->pid;
	snprintf(h->program, sizeof h->program, "%s", o->comm);
	read_command(o->pid, h);
	if (h->command[0] == '\0')
		snprintf(h->command, sizeof h->command, "%s", o->comm);
	read_unit(o->pid, h->unit, sizeof h->unit);
	tame(h->program);
	tame(h->command);
	tame(h->title);
	tame(h->unit);
}

static int
compare_addr(const struct tcp_addr *a, const struct tcp_addr *b)
{
	int c = memcmp(&a->ip, &b->ip, sizeof a->ip);

	return c != 0 ? c : (a->port > b->port) - (a->port < b->port);
}

static int
by_remote(const void *a, const void *b)
{
	return compare_addr(&((const struct tcp_sock *)a)->remote,
	    &((const struct tcp_sock *)b)->remote);
}

/* One more zeroed element at the end of *array (n of them, each size bytes), or NULL. */
static void *
append_zeroed(void **array, size_t *n, size_t size)
{
	char *grown = realloc(*array, (*n + 1) * size);

	if (grown == NULL)
		return NULL;
	*array = grown;
	memset(grown + *n * size, 0, size);
	return grown + (*n)++ * size;
}

/*
 * The group of a destination.  The table is sorted by remote address, so
 * the TIME_WAIT pass makes the groups in that order: a new one is needed
 * only when the last one differs, and an open connection finds its group
 * by binary search.
 */
static struct client_group *
client_group_for(struct diagnosis *d, const struct tcp_addr *dst, bool create)
{
	struct client_group *g;
	size_t lo = 0, hi = d->nclients;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = compare_addr(&d->clients[mid].destination, dst);

		if (c == 0)
			return &d->clients[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!create || lo != d->nclients)
		return NULL;
	if ((g = append_zeroed((void **)&d->clients, &d->nclients, sizeof *g)) != NULL)
		g->destination = *dst;
	return g;
}

static struct port_use *
source_for(struct client_group *g, const struct tcp_addr *src)
{
	struct port_use *u;

	for (size_t i = 0; i < g->nsources; i++)
		if (same_ip(&g->sources[i].source, src))
			return &g->sources[i];
	if ((u = append_zeroed((void **)&g->sources, &g->nsources, sizeof *u)) != NULL) {
		u->source = *src;
		u->source.port = 0;
	}
	return u;
}

static struct server_group *
server_group_for(struct diagnosis *d, const struct tcp_addr *local)
{
	struct server_group *g;

	for (size_t i = 0; i < d->nservers; i++)
		if (same_addr(&d->servers[i].local, local))
			return &d->servers[i];
	if ((g = append_zeroed((void **)&d->servers, &d->nservers, sizeof *g)) != NULL)
		g->local = *local;
	return g;
}

static void
add_holder(struct client_group *g, const struct sock_owner *o)
{
	for (size_t i = 0; i < g->nholders; i++)
		if (g->holders[i].pid == o->pid)
			return;
	if (g->nholders < DIAG_MAX_HOLDERS)
		fill_holder(&g->holders[g->nholders++], o);
}

static int
clients_by_time_wait(const void *a, const void *b)
{
	const struct client_group *x = a, *y = b;

	return (x->time_wait < y->time_wait) - (x->time_wait > y->time_wait);
}

static int
servers_by_time_wait(const void *a, const void *b)
{
	const struct server_group *x = a, *y = b;

	return (x->time_wait < y->time_wait) - (x->time_wait > y->time_wait);
}

static void
sysctl_row(struct diagnosis *d, int i, const char *name, const char *meaning_fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
sysctl_row(struct diagnosis *d, int i, const char *name, const char *meaning_fmt, ...)
{
	struct sysctl_value *v = &d->sysctls[i];
	char path[128];
	va_list ap;

	v->name = name;
	snprintf(path, sizeof path, "/proc/sys/%s", name);
	for (char *p = path + 10; *p != '\0'; p++)
		if (*p == '.')
			*p = '/';
	read_proc(path, v->value, sizeof v->value);
	va_start(ap, meaning_fmt);
	vsnprintf(v->meaning, sizeof v->meaning, meaning_fmt, ap);
	va_end(ap);
}

static void
describe_sysctls(struct diagnosis *d)
{
	static const char *const reuse[] = {
		"off: connect() never takes a 4-tuple still in TIME_WAIT",
		"on: connect() may take a 4-tuple in TIME_WAIT for over 1 s, towards any "
		"destination (needs tcp_timestamps)",
		"loopback only: connect() may take a 4-tuple in TIME_WAIT for over 1 s when "
		"both ends are loopback addresses (needs tcp_timestamps)",
	};
	static const char *const stamps[] = {
		"off: no PAWS, tcp_tw_reuse cannot act, and twshim's close strategies keep "
		"every TIME_WAIT",
		"on, with a random offset per pair of addresses (PAWS guards a reused 4-tuple)",
		"on, without the random offset",
	};
	int max_tw = read_int("tcp_max_tw_buckets", -1);
	int rfc1337 = read_int("tcp_rfc1337", 0);
	char reuse_note[160];
	unsigned range;

	sysctl_row(d, 0, "net.ipv4.tcp_tw_reuse", "%s",
	    d->tw_reuse >= 0 && d->tw_reuse <= 2 ? reuse[d->tw_reuse] : "unknown value");
	sysctl_row(d, 1, "net.ipv4.tcp_fin_timeout",
	    "seconds an orphaned connection waits in FIN_WAIT_2; TIME_WAIT lasts %d s "
	    "whatever it says", TIME_WAIT_SECONDS);
	range = d->port_hi >= d->port_lo ? d->port_hi - d->port_lo + 1 : 0;
	/* As the library counts the range: less the reserved ports. */
	if (tw_reuse_max_rate(range - d->reserved_in_range) == 0)
		snprintf(reuse_note, sizeof reuse_note, "fewer than %u unreserved, so twshim "
		    "keeps a client's TIME_WAIT when the kernel picks its port (it could come "
		    "back within %d ms)", TW_REUSE_MIN_PORTS, TW_REUSE_QUARANTINE_MS);
	else
		snprintf(reuse_note, sizeof reuse_note, "twshim leaves no TIME_WAIT while a "
		    "process makes fewer than about %u new connections a second",
		    tw_reuse_max_rate(range - d->reserved_in_range));
	sysctl_row(d, 2, "net.ipv4.ip_local_port_range",
	    "%u ports for connect() to pick from, %u of them reserved, %u bound by "
	    "listeners: %u usable per source address and destination; %s",
	    range, d->reserved_in_range, d->listeners_in_range, d->usable_ports, reuse_note);
	sysctl_row(d, 3, "net.ipv4.ip_local_reserved_ports",
	    "ports connect() never picks (bind() to them still works)");
	sysctl_row(d, 4, "net.ipv4.tcp_max_tw_buckets",
	    "past %d TIME_WAIT sockets the kernel drops new ones at once "
	    "(\"time wait bucket table overflow\"); %u here now", max_tw, d->time_wait);
	sysctl_row(d, 5, "net.ipv4.tcp_timestamps", "%s",
	    d->timestamps >= 0 && d->timestamps <= 2 ? stamps[d->timestamps] : "unknown value");
	sysctl_row(d, 6, "net.ipv4.tcp_rfc1337", "%s",
	    rfc1337 ? "on: a RST that arrives in TIME_WAIT is ignored; TIME_WAIT lasts its "
	    "60 s" : "off: a RST that arrives in TIME_WAIT ends it early (RFC 1337's hazard)");
	if (d->sysctls[3].value[0] == '\0')
		snprintf(d->sysctls[3].value, sizeof d->sysctls[3].value, "(none)");
}

static void
count_ports(struct diagnosis *d, const struct tcp_table *t)
{
	static uint8_t reserved[65536 / 8], bound[65536 / 8];
	char range[64];

	read_proc("/proc/sys/net/ipv4/ip_local_port_range", range, sizeof range);
	if (sscanf(range, "%u %u", &d->port_lo, &d->port_hi) != 2 || d->port_hi > 65535) {
		d->port_lo = 32768;
		d->port_hi = 60999;
	}
	read_reserved(reserved);
	memset(bound, 0, sizeof bound);
	/* A port a listener holds is not handed to connect(). */
	for (size_t i = 0; i < t->n; i++)
		if (t->socks[i].state == TCPS_LISTEN)
			bound[t->socks[i].local.port / 8] |= (uint8_t)(1u << (t->socks[i].local.port % 8));
	for (unsigned p = d->port_lo; p <= d->port_hi; p++) {
		if (port_bit(reserved, p))
			d->reserved_in_range++;
		else if (port_bit(bound, p))
			d->listeners_in_range++;
	}
	d->usable_ports = d->port_hi >= d->port_lo ?
	    d->port_hi - d->port_lo + 1 - d->reserved_in_range - d->listeners_in_range : 0;
}

/*
 * One pass over the table: TIME_WAIT sockets first, which make the
 * groups; then the open connections, counted towards a destination that
 * has TIME_WAIT, whose holders are the processes to wrap.
 */
static void
classify(struct diagnosis *d, const struct tcp_table *t, const struct tcp_table *listeners,
    const struct owner_table *o, bool time_wait_pass)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct tcp_sock *s = &t->socks[i];
		bool tw = s->state == TCPS_TIME_WAIT;
		struct client_group *g = NULL;
		const struct sock_owner *who;
		struct port_use *u;

		if (tw != time_wait_pass || s->state == TCPS_LISTEN || s->state == TCPS_CLOSE)
			continue;
		if (is_server_side(d, listeners, s)) {
			struct server_group *sg;

			if (!tw)
				continue;
			d->time_wait++;
			d->server_tw++;
			if ((sg = server_group_for(d, &s->local)) != NULL)
				sg->time_wait++;
			continue;
		}
		if (tw) {
			d->time_wait++;
			d->client_tw++;
		}
		g = client_group_for(d, &s->remote, tw);
		if (g == NULL || (u = source_for(g, &s->local)) == NULL)
			continue;
		if (tw) {
			g->time_wait++;
			u->time_wait++;
		} else {
			g->open++;
			u->open++;
			if ((who = owner_of(o, s->inode)) != NULL)
				add_holder(g, who);
		}
	}
}

/* The listeners of the server groups, and the ports left to each source. */
static void
finish_groups(struct diagnosis *d, const struct tcp_table *listeners,
    const struct owner_table *o)
{
	for (size_t i = 0; i < d->nservers; i++) {
		struct server_group *g = &d->servers[i];
		const struct tcp_sock *l = listener_for(listeners, &g->local);
		const struct sock_owner *who;

		g->listening = l != NULL;
		if (l != NULL && (who = owner_of(o, l->inode)) != NULL)
			fill_holder(&g->listener, who);
	}
	for (size_t i = 0; i < d->nclients; i++) {
		struct client_group *g = &d->clients[i];
		const struct tcp_sock *l = listener_for(listeners, &g->destination);
		const struct sock_owner *who;

		/* A wildcard listener serves a loopback destination, not any address. */
		if (l != NULL && (same_ip(&l->local, &g->destination) ||
		    tcp_addr_is_loopback(&g->destination)) && (who = owner_of(o, l->inode)) != NULL)
			fill_holder(&g->served_by, who);
		for (size_t k = 0; k < g->nsources; k++) {
			struct port_use *u = &g->sources[k];

			u->usable = d->usable_ports;
			u->left = (int)d->usable_ports - (int)(u->time_wait + u->open);
			u->tw_reuse_applies = d->timestamps != 0 && (d->tw_reuse == 1 ||
			    (d->tw_reuse == 2 && tcp_addr_is_loopback(&u->source) &&
			    tcp_addr_is_loopback(&g->destination)));
		}
	}
	if (d->nclients > 1)
		qsort(d->clients, d->nclients, sizeof *d->clients, clients_by_time_wait);
	if (d->nservers > 1)
		qsort(d->servers, d->nservers, sizeof *d->servers, servers_by_time_wait);
}

int
diagnosis_build(struct diagnosis *d)
{
	struct tcp_table t, listeners = { 0 };
	struct owner_table o;

	memset(d, 0, sizeof *d);
	if (tcp_table_read(&t) < 0)
		return -1;
	if (t.n > 1)
		qsort(t.socks, t.n, sizeof *t.socks, by_remote);
	listeners.socks = malloc((t.n ? t.n : 1) * sizeof *listeners.socks);
	if (listeners.socks == NULL) {
		tcp_table_free(&t);
		return -1;
	}
	for (size_t i = 0; i < t.n; i++)
		if (t.socks[i].state == TCPS_LISTEN)
			listeners.socks[listeners.n++] = t.socks[i];
	owner_table_read(&o);
	d->root = geteuid() == 0;
	d->processes_seen = o.processes_seen;
	d->processes_hidden = o.processes_hidden;
	if (readlink("/proc/self/ns/net", d->netns, sizeof d->netns - 1) < 0)
		snprintf(d->netns, sizeof d->netns, "?");
	d->tw_reuse = read_int("tcp_tw_reuse", -1);
	d->timestamps = read_int("tcp_timestamps", -1);
	count_ports(d, &t);
	classify(d, &t, &listeners, &o, true);
	classify(d, &t, &listeners, &o, false);
	finish_groups(d, &listeners, &o);
	describe_sysctls(d);
	owner_table_free(&o);
	free(listeners.socks);
	tcp_table_free(&t);
	return 0;
}

void
diagnosis_free(struct diagnosis *d)
{
	for (size_t i = 0; i < d->nclients; i++)
		free(d->clients[i].sources);
	free(d->clients);
	free(d->servers);
	memset(d, 0, sizeof *d);
}

int
diagnose_main(int argc, char **argv)
{
	struct diagnosis d;
	bool json = false;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--format") == 0 && i + 1 < argc &&
		    (strcmp(argv[i + 1], "json") == 0 || strcmp(argv[i + 1], "text") == 0)) {
			json = strcmp(argv[++i], "json") == 0;
		} else {
			fprintf(stderr, "usage: twshim --diagnose [--format text|json]\n");
			return EXIT_USAGE;
		}
	}
	if (diagnosis_build(&d) < 0)
		return 1;
	if (json)
		diagnosis_print_json(&d, stdout);
	else
		diagnosis_print_text(&d, stdout);
	diagnosis_free(&d);
	return fflush(stdout) == 0 ? 0 : 1;
}
