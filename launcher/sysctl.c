/*
 * sysctl.c - the machine-wide TCP sysctls operators tune for TIME_WAIT,
 * and what twshim offers per program instead (or that it offers nothing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher.h"
#include "reuse.h"

static const struct {
	const char *name;
	const char *does;
	const char *twshim;
} rows[] = {
	{ "net.ipv4.tcp_tw_reuse",
	  "lets connect() take a 4-tuple still in TIME_WAIT (outgoing only, needs timestamps)",
	  "no per-socket switch; instead close = fin-then-reset | peer-first | abort-if-idle | "
	  "abort leaves no TIME_WAIT here, and local_ports skips 4-tuples in TIME_WAIT" },
	{ "net.ipv4.tcp_tw_recycle",
	  "removed in Linux 4.12 (it broke clients behind NAT)",
	  "none, and none wanted: use a close strategy" },
	{ "net.ipv4.tcp_fin_timeout",
	  "how long an orphaned socket waits in FIN_WAIT_2; it does not shorten TIME_WAIT "
	  "(fixed at 60 s)",
	  "fin_timeout = DUR (TCP_LINGER2)" },
	{ "net.ipv4.ip_local_port_range",
	  "the ports connect() picks from",
	  "local_ports = LO-HI (IP_LOCAL_PORT_RANGE inside the system range, "
	  "a private pool outside it); local_address = IP" },
	{ "net.ipv4.tcp_max_tw_buckets",
	  "caps TIME_WAIT sockets machine-wide; past it they are dropped with a warning",
	  "none per socket; a close strategy leaves fewer TIME_WAIT sockets to cap" },
	{ "net.ipv4.tcp_keepalive_time/_intvl/_probes",
	  "keepalive timers for sockets that turn SO_KEEPALIVE on",
	  "keepalive = IDLE,INTVL,CNT (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT)" },
	{ "net.ipv4.tcp_max_syn_backlog",
	  "half-open connections queued per listener",
	  "partly: backlog = N replaces listen()'s argument; the SYN queue itself has no "
	  "per-socket knob" },
	{ "net.core.somaxconn",
	  "the ceiling on any listen() backlog",
	  "none: backlog = N is still capped by it" },
	{ "net.ipv4.tcp_timestamps",
	  "TCP timestamps (RFC 7323); with them PAWS drops a late segment of an earlier "
	  "connection on the same four-tuple",
	  "none to set; fin-then-reset, abort and abort-if-idle act only on connections that "
	  "negotiated timestamps, and keep TIME_WAIT on the others" },
	{ "net.ipv4.tcp_rfc1337",
	  "1: a RST that reaches a TIME_WAIT socket does not end it early (RFC 1337); "
	  "0 (the default): it does, so late duplicates can end TIME_WAIT before its time",
	  "none; with 0, even the TIME_WAIT twshim keeps can be cut short by the network" },
	{ "net.ipv4.tcp_syncookies",
	  "answers SYN floods with cookies when the SYN queue is full",
	  "none: machine-wide only" },
};

static void
read_one(const char *name, char *buf, size_t size)
{
	char path[128];
	FILE *f;
	size_t n;

	snprintf(buf, size, "-");
	snprintf(path, sizeof path, "/proc/sys/%s", name);
	for (char *p = path + 10; *p != '\0'; p++)
		if (*p == '.')
			*p = '/';
	if ((f = fopen(path, "r")) == NULL)
		return;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '\t')
			*p = ' ';
	if (n == 0)
		snprintf(buf, size, "-");
}

/*
 * The value of a row's sysctl; "a_time/_intvl/_probes" names three that
 * share a stem, given as "a_time / a_intvl / a_probes".
 */
static void
current(const char *name, char *buf, size_t size)
{
	char stem[96], full[128], one[32];
	const char *part = strchr(name, '/');
	char *cut;

	if (part == NULL) {
		read_one(name, buf, size);
		return;
	}
	snprintf(stem, sizeof stem, "%.*s", (int)(part - name), name);
	read_one(stem, buf, size);
	if ((cut = strrchr(stem, '_')) != NULL)
		*cut = '\0';
	while (part != NULL) {
		const char *next = strchr(part + 1, '/');
		int len = next != NULL ? (int)(next - part - 1) : (int)strlen(part + 1);

		snprintf(full, sizeof full, "%s%.*s", stem, len, part + 1);
		read_one(full, one, sizeof one);
		snprintf(buf + strlen(buf), size - strlen(buf), " / %s", one);
		part = next;
	}
}

/*
 * The ports of ip_local_port_range less ip_local_reserved_ports, as the
 * library counts them (ports.c), or 0 when the range cannot be read.
 */
static unsigned
system_port_count(void)
{
	char buf[4096];
	unsigned lo, hi, n;
	const char *p;

	read_one("net.ipv4.ip_local_port_range", buf, sizeof buf);
	if (sscanf(buf, "%u %u", &lo, &hi) != 2 || hi < lo)
		return 0;
	n = hi - lo + 1;
	read_one("net.ipv4.ip_local_reserved_ports", buf, sizeof buf);
	for (p = buf; *p != '\0';) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (end == p)
			break;
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		if (a < lo)
			a = lo;
		if (b > hi)
			b = hi;
		if (a <= b && n > b - a)
			n -= (unsigned)(b - a + 1);
		p = end + strspn(end, ", ");
	}
	return n;
}

/*
 * What the system range means for the reuse quarantine: under
 * TW_REUSE_MIN_PORTS ports a close whose port the kernel picked keeps its
 * TIME_WAIT; above, up to about (ports / 2) per quarantine it need not.
 */
static void
describe_range(FILE *out, unsigned ports)
{
	unsigned rate = tw_reuse_max_rate(ports);

	if (ports == 0)
		return;
	if (rate == 0)
		fprintf(out, "%u ports: fewer than %u, so a client's close keeps its TIME_WAIT "
		    "whenever the kernel picked its port (it could come back within %d ms); "
		    "local_ports outside the range gives relief\n", ports, TW_REUSE_MIN_PORTS,
		    TW_REUSE_QUARANTINE_MS);
	else
		fprintf(out, "%u ports: a client's closes leave no TIME_WAIT while the process "
		    "makes fewer than about %u new connections a second; faster, they keep it "
		    "(a four-tuple must not come back within %d ms)\n", ports, rate,
		    TW_REUSE_QUARANTINE_MS);
}

void
print_sysctl_table(FILE *out)
{
	char now[64];

	fprintf(out, "sysctl (value here)\n    what it does\n    per program with twshim\n\n");
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		current(rows[i].name, now, sizeof now);
		fprintf(out, "%s (%s)\n    %s\n    %s\n\n", rows[i].name, now, rows[i].does,
		    rows[i].twshim);
	}
	fprintf(out, "ip_local_port_range here: ");
	describe_range(out, system_port_count());
}

void
warn_reuse_limits(void)
{
	char ts[16];
	unsigned ports = system_port_count();

	read_one("net.ipv4.tcp_timestamps", ts, sizeof ts);
	if (strcmp(ts, "0") == 0)
		fprintf(stderr, "twshim: net.ipv4.tcp_timestamps = 0: no connection negotiates "
		    "timestamps, so fin-then-reset and abort keep every TIME_WAIT\n");
	if (ports != 0 && ports < TW_REUSE_MIN_PORTS) {
		fprintf(stderr, "twshim: ip_local_port_range has ");
		describe_range(stderr, ports);
	}
}
