/*
 * diagnose_print.c - the --diagnose report as text for a person, or as
 * one JSON object for a program.
 */
#include <stdio.h>
#include <string.h>

#include "diagnose.h"

/* Text lists the largest groups; JSON lists every one. */
#define TEXT_MAX_GROUPS 20

/* The policy that moves a server's TIME_WAIT off its port. */
static void
server_policy(const struct server_group *g, char *out, size_t size)
{
	snprintf(out, size, "[accepted *:%u];close = fin-then-reset", g->local.port);
}

static const char *
verdict(const struct port_use *u)
{
	if (u->left <= 0)
		return u->tw_reuse_applies ?
		    "no port left: connect() fails with EADDRNOTAVAIL but for tcp_tw_reuse, "
		    "which lets it take a 4-tuple in TIME_WAIT for over 1 s" :
		    "no port left: connect() fails with EADDRNOTAVAIL now";
	if ((unsigned)u->left * 10 < u->usable)
		return "close to EADDRNOTAVAIL";
	if ((unsigned)u->left * 2 < u->usable)
		return "over half the ports in use";
	return "far from EADDRNOTAVAIL";
}

static void
text_holder(FILE *out, const char *what, const struct holder *h)
{
	if (h->title_rewritten)
		fprintf(out, "    %s %s (pid %d): %s, titled \"%s\"\n", what, h->program,
		    (int)h->pid, h->command, h->title);
	else
		fprintf(out, "    %s %s (pid %d): %s\n", what, h->program, (int)h->pid, h->command);
}

/* The command to put after "twshim ... --"; ARGS where the title hid them. */
static const char *
args_hint(const struct holder *h)
{
	return h->title_rewritten ? " ARGS" : "";
}

static void
text_clients(const struct diagnosis *d, FILE *out)
{
	char dst[64], src[64];

	fprintf(out, "\nClient side (this host connected, and closed first), by destination:\n");
	if (d->nclients == 0)
		fprintf(out, "  none\n");
	for (size_t i = 0; i < d->nclients && i < TEXT_MAX_GROUPS; i++) {
		const struct client_group *g = &d->clients[i];

		tcp_addr_format(&g->destination, true, dst, sizeof dst);
		fprintf(out, "  %s: %u in TIME_WAIT, %u open\n", dst, g->time_wait, g->open);
		for (size_t k = 0; k < g->nsources; k++) {
			const struct port_use *u = &g->sources[k];

			tcp_addr_format(&u->source, false, src, sizeof src);
			fprintf(out, "    from %s: %u of %u local ports in use, %d left: %s\n", src,
			    u->time_wait + u->open, u->usable, u->left > 0 ? u->left : 0, verdict(u));
			if (u->time_wait >= 6)
				fprintf(out, "      (a port stays in TIME_WAIT 60 s: about %.1f new "
				    "connections a second lately, and at most %.1f a second from this "
				    "address)\n", u->time_wait / 60.0, u->usable / 60.0);
		}
		if (g->served_by.pid > 0)
			text_holder(out, "served here by", &g->served_by);
		for (size_t k = 0; k < g->nholders; k++)
			text_holder(out, "connected now:", &g->holders[k]);
		if (g->nholders > 0) {
			fprintf(out, "    wrap it: twshim -- %s%s\n", g->holders[0].command,
			    args_hint(&g->holders[0]));
			if (g->holders[0].unit[0] != '\0')
				fprintf(out, "    or its service: twshim --systemd %s --write\n",
				    g->holders[0].unit);
		} else {
			fprintf(out, "    no process %sholds a connection to %s now (one that "
			    "connects and closes at once shows only while it holds one): wrap the "
			    "program that connects to it, twshim -- PROGRAM; run --diagnose while "
			    "it runs%s\n", d->root ? "" : "of yours ", dst, d->root ? "" : ", or as root");
		}
	}
	if (d->nclients > TEXT_MAX_GROUPS)
		fprintf(out, "  and %zu more destinations (--format json lists them all)\n",
		    d->nclients - TEXT_MAX_GROUPS);
}

static void
text_servers(const struct diagnosis *d, FILE *out)
{
	char at[64], policy[64];

	fprintf(out, "\nServer side (clients connected here, and this host closed first), "
	    "by listening port:\n");
	if (d->nservers == 0)
		fprintf(out, "  none\n");
	for (size_t i = 0; i < d->nservers && i < TEXT_MAX_GROUPS; i++) {
		const struct server_group *g = &d->servers[i];

		tcp_addr_format(&g->local, true, at, sizeof at);
		server_policy(g, policy, sizeof policy);
		fprintf(out, "  %s: %u in TIME_WAIT\n", at, g->time_wait);
		if (g->listener.pid > 0)
			text_holder(out, "listening:", &g->listener);
		else
			fprintf(out, "    listening: %s\n", !g->listening ? "nothing now" : d->root ?
			    "a process not seen" : "a process of another user (run as root to see it)");
		fprintf(out, "    the TIME_WAIT is the server's: wrapping its clients changes "
		    "nothing here\n");
		if (g->listener.pid > 0) {
			fprintf(out, "    wrap it: twshim -e '%s' -- %s%s\n", policy,
			    g->listener.command, args_hint(&g->listener));
			if (g->listener.unit[0] != '\0')
				fprintf(out, "    or its service: twshim --systemd %s -p POLICY --write, "
				    "POLICY holding: %s\n", g->listener.unit, policy);
		} else {
			fprintf(out, "    wrap the server with: twshim -e '%s' -- SERVER\n", policy);
		}
	}
	if (d->nservers > TEXT_MAX_GROUPS)
		fprintf(out, "  and %zu more ports (--format json lists them all)\n",
		    d->nservers - TEXT_MAX_GROUPS);
}

void
diagnosis_print_text(const struct diagnosis *d, FILE *out)
{
	fprintf(out, "TIME_WAIT in this network namespace (%s): %u sockets, %u client side, "
	    "%u server side\n", d->netns, d->time_wait, d->client_tw, d->server_tw);
	fprintf(out, "local ports: %u-%u, %u usable per source address and destination\n",
	    d->port_lo, d->port_hi, d->usable_ports);
	text_clients(d, out);
	text_servers(d, out);
	fprintf(out, "\nSysctls:\n");
	for (int i = 0; i < DIAG_NSYSCTLS; i++)
		fprintf(out, "  %s = %s\n      %s\n", d->sysctls[i].name, d->sysctls[i].value,
		    d->sysctls[i].meaning);
	fprintf(out, "\nProcesses: the sockets of %u seen", d->processes_seen);
	if (d->processes_hidden > 0)
		fprintf(out, "; %u of other users not (run as root to see them)", d->processes_hidden);
	fprintf(out, "\n");
}

/* A JSON string, quoted and escaped. */
static void
json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void
json_holder(FILE *out, const struct holder *h)
{
	fprintf(out, "{\"pid\": %d, \"program\": ", (int)h->pid);
	json_str(out, h->program);
	fprintf(out, ", \"command\": ");
	json_str(out, h->command);
	fprintf(out, ", \"title\": ");
	if (h->title_rewritten)
		json_str(out, h->title);
	else
		fprintf(out, "null");
	fprintf(out, ", \"unit\": ");
	if (h->unit[0] != '\0')
		json_str(out, h->unit);
	else
		fprintf(out, "null");
	fprintf(out, "}");
}

static void
json_clients(const struct diagnosis *d, FILE *out)
{
	char a[64], wrap[600];

	fprintf(out, "  \"client_side\": [");
	for (size_t i = 0; i < d->nclients; i++) {
		const struct client_group *g = &d->clients[i];

		tcp_addr_format(&g->destination, false, a, sizeof a);
		fprintf(out, "%s\n    {\"destination\": ", i ? "," : "");
		json_str(out, a);
		fprintf(out, ", \"port\": %u, \"time_wait\": %u, \"open\": %u,\n     \"sources\": [",
		    g->destination.port, g->time_wait, g->open);
		for (size_t k = 0; k < g->nsources; k++) {
			const struct port_use *u = &g->sources[k];

			tcp_addr_format(&u->source, false, a, sizeof a);
			fprintf(out, "%s{\"address\": ", k ? ", " : "");
			json_str(out, a);
			fprintf(out, ", \"time_wait\": %u, \"open\": %u, \"usable_ports\": %u, "
			    "\"ports_left\": %d, \"exhausted\": %s, \"tw_reuse_applies\": %s, "
			    "\"verdict\": ", u->time_wait, u->open, u->usable, u->left > 0 ? u->left : 0,
			    u->left <= 0 ? "true" : "false", u->tw_reuse_applies ? "true" : "false");
			json_str(out, verdict(u));
			fprintf(out, "}");
		}
		fprintf(out, "],\n     \"holders\": [");
		for (size_t k = 0; k < g->nholders; k++) {
			fprintf(out, "%s", k ? ", " : "");
			json_holder(out, &g->holders[k]);
		}
		fprintf(out, "],\n     \"served_by\": ");
		if (g->served_by.pid > 0)
			json_holder(out, &g->served_by);
		else
			fprintf(out, "null");
		fprintf(out, ",\n     \"wrap\": ");
		if (g->nholders > 0) {
			snprintf(wrap, sizeof wrap, "twshim -- %s%s", g->holders[0].command,
			    args_hint(&g->holders[0]));
			json_str(out, wrap);
		} else {
			fprintf(out, "null");
		}
		fprintf(out, ", \"systemd\": ");
		if (g->nholders > 0 && g->holders[0].unit[0] != '\0') {
			snprintf(wrap, sizeof wrap, "twshim --systemd %s --write", g->holders[0].unit);
			json_str(out, wrap);
		} else {
			fprintf(out, "null");
		}
		fprintf(out, "}");
	}
	fprintf(out, "%s],\n", d->nclients ? "\n  " : "");
}

static void
json_servers(const struct diagnosis *d, FILE *out)
{
	char a[64], policy[64], wrap[700];

	fprintf(out, "  \"server_side\": [");
	for (size_t i = 0; i < d->nservers; i++) {
		const struct server_group *g = &d->servers[i];

		tcp_addr_format(&g->local, false, a, sizeof a);
		server_policy(g, policy, sizeof policy);
		fprintf(out, "%s\n    {\"address\": ", i ? "," : "");
		json_str(out, a);
		fprintf(out, ", \"port\": %u, \"time_wait\": %u, \"listening\": %s, \"listener\": ",
		    g->local.port, g->time_wait, g->listening ? "true" : "false");
		if (g->listener.pid > 0)
			json_holder(out, &g->listener);
		else
			fprintf(out, "null");
		fprintf(out, ",\n     \"policy\": ");
		json_str(out, policy);
		fprintf(out, ", \"wrap\": ");
		if (g->listener.pid > 0) {
			snprintf(wrap, sizeof wrap, "twshim -e '%s' -- %s%s", policy,
			    g->listener.command, args_hint(&g->listener));
			json_str(out, wrap);
		} else {
			fprintf(out, "null");
		}
		fprintf(out, ", \"systemd\": ");
		if (g->listener.unit[0] != '\0') {
			snprintf(wrap, sizeof wrap, "twshim --systemd %s -p POLICY --write",
			    g->listener.unit);
			json_str(out, wrap);
		} else {
			fprintf(out, "null");
		}
		fprintf(out, "}");
	}
	fprintf(out, "%s],\n", d->nservers ? "\n  " : "");
}

void
diagnosis_print_json(const struct diagnosis *d, FILE *out)
{
	fprintf(out, "{\n  \"netns\": ");
	json_str(out, d->netns);
	fprintf(out, ",\n  \"root\": %s,\n  \"processes_seen\": %u,\n  \"processes_hidden\": %u,\n",
	    d->root ? "true" : "false", d->processes_seen, d->processes_hidden);
	fprintf(out, "  \"time_wait\": {\"total\": %u, \"client_side\": %u, \"server_side\": %u},\n",
	    d->time_wait, d->client_tw, d->server_tw);
	fprintf(out, "  \"local_ports\": {\"low\": %u, \"high\": %u, \"reserved\": %u, "
	    "\"bound_by_listeners\": %u, \"usable\": %u},\n", d->port_lo, d->port_hi,
	    d->reserved_in_range, d->listeners_in_range, d->usable_ports);
	json_clients(d, out);
	json_servers(d, out);
	fprintf(out, "  \"sysctls\": [");
	for (int i = 0; i < DIAG_NSYSCTLS; i++) {
		fprintf(out, "%s\n    {\"name\": ", i ? "," : "");
		json_str(out, d->sysctls[i].name);
		fprintf(out, ", \"value\": ");
		json_str(out, d->sysctls[i].value);
		fprintf(out, ", \"meaning\": ");
		json_str(out, d->sysctls[i].meaning);
		fprintf(out, "}");
	}
	fprintf(out, "\n  ]\n}\n");
}
