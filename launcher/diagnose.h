/*
 * diagnose.h - "twshim --diagnose": this network namespace's TIME_WAIT,
 * who holds it, and what to wrap.  diagnose.c builds the report,
 * diagnose_print.c prints it as text or JSON.
 */
#ifndef TWSHIM_DIAGNOSE_H
#define TWSHIM_DIAGNOSE_H

#include <stdio.h>

#include "sockdiag.h"

#define DIAG_MAX_HOLDERS 8

struct holder {
	pid_t pid;
	char program[64];
	char command[512];	/* its command line, quoted for a shell */
	/*
	 * Its process title hides its arguments (nginx, redis, postgres write
	 * one over them): command is then the program's path alone, and
	 * title what the process calls itself.
	 */
	bool title_rewritten;
	char title[256];
	char unit[128];		/* the systemd service it runs in, or "" */
};

/* Local ports one source address has towards one destination. */
struct port_use {
	struct tcp_addr source;	/* port unused */
	unsigned time_wait, open;
	unsigned usable;	/* the ports connect() may pick from */
	int left;		/* usable - time_wait - open (may go below 0) */
	bool tw_reuse_applies;	/* tcp_tw_reuse lets connect() take a TIME_WAIT tuple */
};

struct client_group {
	struct tcp_addr destination;
	unsigned time_wait, open;
	struct port_use *sources;
	size_t nsources;
	struct holder holders[DIAG_MAX_HOLDERS];
	size_t nholders;
	struct holder served_by;	/* the listener here, when the destination is on this host */
};

struct server_group {
	struct tcp_addr local;		/* the listening address and port */
	unsigned time_wait;
	bool listening;			/* something listens there now */
	struct holder listener;		/* pid 0: not known */
};

struct sysctl_value {
	const char *name;	/* net.ipv4.tcp_tw_reuse */
	char value[128];	/* as /proc/sys has it, "-" if unreadable */
	char meaning[384];
};

#define DIAG_NSYSCTLS 7

struct diagnosis {
	char netns[64];
	bool root;
	unsigned processes_seen, processes_hidden;
	unsigned time_wait, client_tw, server_tw;
	unsigned port_lo, port_hi, reserved_in_range, listeners_in_range, usable_ports;
	int tw_reuse, timestamps;
	struct client_group *clients;
	size_t nclients;
	struct server_group *servers;
	size_t nservers;
	struct sysctl_value sysctls[DIAG_NSYSCTLS];
};

int diagnosis_build(struct diagnosis *d);
void diagnosis_free(struct diagnosis *d);
void diagnosis_print_text(const struct diagnosis *d, FILE *out);
void diagnosis_print_json(const struct diagnosis *d, FILE *out);

#endif
