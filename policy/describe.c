/*
 * describe.c - policies and decisions in words: --explain, the -v dump,
 * and the names of things.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "policy_impl.h"

static const char *const close_names[CLOSE_KIND_COUNT] = {
	"normal", "abort", "abort-if-idle", "linger", "graceful", "peer-first",
	"fin-then-reset", "fin-then-reset always",
};

const char *
policy_close_name(enum policy_close_kind kind)
{
	return (unsigned)kind < CLOSE_KIND_COUNT ? close_names[kind] : "?";
}

static int close_format_kind(const struct policy_close *c, char *buf, size_t size);

bool
policy_close_kind_skips_time_wait(enum policy_close_kind kind)
{
	return kind == CLOSE_ABORT || kind == CLOSE_ABORT_IF_IDLE ||
	    policy_close_is_fin_then_reset(kind);
}

bool
policy_close_leaves_no_time_wait(const struct policy_close *c)
{
	return policy_close_kind_skips_time_wait(c->kind) ||
	    (c->kind == CLOSE_PEER_FIRST && policy_close_kind_skips_time_wait(c->fallback));
}

int
policy_close_format(const struct policy_close *c, char *buf, size_t size)
{
	int n = close_format_kind(c, buf, size);

	if (c->unsafe && n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, " unsafe");
	return n;
}

static int
close_format_kind(const struct policy_close *c, char *buf, size_t size)
{
	char d1[32], d2[32];

	switch (c->kind) {
	case CLOSE_LINGER:
		format_duration(c->wait_ms, d1, sizeof d1);
		return snprintf(buf, size, "linger %s", d1);
	case CLOSE_GRACEFUL:
		format_duration(c->wait_ms, d1, sizeof d1);
		return snprintf(buf, size, "graceful %s", d1);
	case CLOSE_PEER_FIRST:
		format_duration(c->wait_ms, d1, sizeof d1);
		if (c->fallback == CLOSE_NORMAL)
			return snprintf(buf, size, "peer-first %s", d1);
		if (c->fallback == CLOSE_GRACEFUL) {
			format_duration(c->fallback_ms, d2, sizeof d2);
			return snprintf(buf, size, "peer-first %s then graceful %s", d1, d2);
		}
		return snprintf(buf, size, "peer-first %s then %s", d1,
		    policy_close_name(c->fallback));
	default:
		return snprintf(buf, size, "%s", policy_close_name(c->kind));
	}
}

int
policy_sockaddr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL, *colon;
	unsigned long p = 0;
	size_t n;

	memset(ss, 0, sizeof *ss);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || (size_t)(close - s - 1) >= sizeof host)
			return -1;
		n = (size_t)(close - s - 1);
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -1;
	} else if ((colon = strchr(s, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
		n = (size_t)(colon - s);
		if (n >= sizeof host)
			return -1;
		memcpy(host, s, n);
		host[n] = '\0';
		port = colon + 1;
	} else {
		if (strlen(s) >= sizeof host)
			return -1;
		strcpy(host, s);
	}
	if (port != NULL && value_uint(port, 0, 65535, &p) < 0)
		return -1;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)p);
		*len = sizeof *in;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		*len = sizeof *in6;
		return 0;
	}
	return -1;
}

/* Sections of this role that were not considered, and why: no surprises. */
static void
explain_skipped(const struct policy *p, enum policy_role role, const struct sockaddr *sa,
    FILE *out)
{
	bool no_port = sa != NULL && ((sa->sa_family == AF_INET &&
	    ((const struct sockaddr_in *)(const void *)sa)->sin_port == 0) ||
	    (sa->sa_family == AF_INET6 &&
	    ((const struct sockaddr_in6 *)(const void *)sa)->sin6_port == 0));
	char pat[96];

	for (size_t i = 0; i < p->nsections; i++) {
		const struct section *s = &p->sections[i];

		if (s->role != role)
			continue;
		format_pattern(&s->pat, pat, sizeof pat);
		if (!s->active)
			fprintf(out, "# skipped [%s %s] (%s:%u): only for program = %s\n",
			    policy_role_name(role), pat, p->file, s->line, s->program);
		else if (no_port && s->pat.has_port)
			fprintf(out, "# skipped [%s %s] (%s:%u): no port given to match against\n",
			    policy_role_name(role), pat, p->file, s->line);
	}
}

/*
 * The strategies that change what the peer application reads: say so next
 * to them, since the policy text alone does not.
 */
static void
explain_resets(const struct policy_opts *o, FILE *out)
{
	const struct policy_close *c = o->close;
	bool ftr = policy_close_is_fin_then_reset(c->kind) ||
	    (c->kind == CLOSE_PEER_FIRST && policy_close_is_fin_then_reset(c->fallback));
	bool idle = c->kind == CLOSE_ABORT_IF_IDLE ||
	    (c->kind == CLOSE_PEER_FIRST && c->fallback == CLOSE_ABORT_IF_IDLE);
	bool abort = c->kind == CLOSE_ABORT ||
	    (c->kind == CLOSE_PEER_FIRST && c->fallback == CLOSE_ABORT);

	if (abort)
		fprintf(out, "# warning: abort resets the connection: the peer's read gets "
		    "ECONNRESET, not EOF, and data not yet sent is lost; "
		    "fin-then-reset leaves no TIME_WAIT either\n");
	if (idle)
		fprintf(out, "# warning: abort-if-idle resets an idle connection: the peer "
		    "has every byte in its kernel, but its read ends in ECONNRESET "
		    "instead of EOF; "
		    "fin-then-reset leaves no TIME_WAIT either\n");
	if (c->unsafe)
		fprintf(out, "# warning: unsafe: leaves no TIME_WAIT even on a connection "
		    "without TCP timestamps, or whose four-tuple could come back within "
		    "%d ms, where a late duplicate of its segments can corrupt the next "
		    "connection on the same four-tuple\n", POLICY_REUSE_QUARANTINE_MS);
	else if (policy_close_leaves_no_time_wait(c))
		fprintf(out, "# note: leaves no TIME_WAIT only on a connection with TCP "
		    "timestamps (PAWS then guards the next one on the same four-tuple) "
		    "whose four-tuple cannot come back within %d ms; otherwise a normal "
		    "close (add 'unsafe' to act anyway)\n", POLICY_REUSE_QUARANTINE_MS);
	if (ftr && (o->set & POLICY_KEY_BIT(KEY_FIN_TIMEOUT)) &&
	    !(o->forced & POLICY_KEY_BIT(KEY_CLOSE)))
		fprintf(out, "# note: fin_timeout is this socket's own TCP_LINGER2, which "
		    "fin-then-reset keeps: the close stays normal unless close = force ...\n");
}

void
policy_explain(const struct policy *p, enum policy_role role, const struct sockaddr *sa,
    socklen_t salen, FILE *out)
{
	struct policy_opts o;
	char value[128], line[192], addr[INET6_ADDRSTRLEN + 16] = "?";

	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
		snprintf(addr + strlen(addr), sizeof addr - strlen(addr), ":%u", ntohs(in->sin_port));
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		addr[0] = '[';
		inet_ntop(AF_INET6, &in6->sin6_addr, addr + 1, sizeof addr - 1);
		snprintf(addr + strlen(addr), sizeof addr - strlen(addr), "]:%u",
		    ntohs(in6->sin6_port));
	}
	if (policy_match(p, role, sa, salen, &o) == 0) {
		fprintf(out, "no rule applies to %s %s; twshim leaves such sockets alone\n",
		    policy_role_name(role), addr);
	}
	for (int k = 0; k < KEY_COUNT; k++) {
		if (!(o.set & POLICY_KEY_BIT(k)))
			continue;
		format_value(&o, o.close, (enum policy_key)k, value, sizeof value);
		snprintf(line, sizeof line, "%s = %s", policy_key_name((enum policy_key)k), value);
		fprintf(out, "%-44s # %s:%u\n", line, p->file, o.line[k]);
	}
	if (o.set & POLICY_KEY_BIT(KEY_CLOSE))
		explain_resets(&o, out);
	explain_skipped(p, role, sa, out);
}

void
policy_dump(const struct policy *p, FILE *out)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	char pat[96], value[128];

	if (p->log_level != POLICY_LOG_UNSET)
		fprintf(out, "log = %s\n", levels[p->log_level]);
	if (p->on_error == POLICY_ON_ERROR_EXIT)
		fprintf(out, "on_error = exit\n");
	for (size_t i = 0; i < p->nsections; i++) {
		const struct section *s = &p->sections[i];

		format_pattern(&s->pat, pat, sizeof pat);
		fprintf(out, "[%s %s]\n", policy_role_name(s->role), pat);
		if (s->program != NULL)
			fprintf(out, "program = %s\n", s->program);
		for (int k = 0; k < KEY_COUNT; k++) {
			if (!(s->opts.set & POLICY_KEY_BIT(k)))
				continue;
			format_value(&s->opts, &s->close, (enum policy_key)k, value, sizeof value);
			fprintf(out, "%s = %s\n", policy_key_name((enum policy_key)k), value);
		}
	}
}
