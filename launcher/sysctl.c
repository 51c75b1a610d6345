/*
 * sysctl.c - the machine-wide TCP sysctls operators tune for TIME_WAIT,
 * and what twshim offers per program instead (or that it offers nothing).
 */
#include <stdio.h>
#include <string.h>

#include "launcher.h"

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
	  "partly: backlog = N raises listen()'s argument; the SYN queue itself has no "
	  "per-socket knob" },
	{ "net.core.somaxconn",
	  "the ceiling on any listen() backlog",
	  "none: backlog = N is still capped by it" },
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
}
