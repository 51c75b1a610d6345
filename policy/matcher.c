/*
 * matcher.c - which options a socket gets: program binding, then the first
 * matching section in file order for each key, found through the index
 * (index.c) that binding builds.  Matching never allocates.
 */
#include <fnmatch.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#include "policy_impl.h"

const char *
policy_program_name(const char *argv0)
{
	const char *slash;

	if (argv0 == NULL)
		return "";
	slash = strrchr(argv0, '/');
	return slash != NULL ? slash + 1 : argv0;
}

void
policy_bind_program(struct policy *p, const char *program)
{
	bool changed = false;

	for (size_t i = 0; i < p->nsections; i++) {
		struct section *s = &p->sections[i];
		bool active = s->program == NULL ||
		    (program != NULL && fnmatch(s->program, program, 0) == 0);

		changed |= active != s->active;
		s->active = active;
	}
	/* Parsing binds once without a program; most policies name none. */
	if (changed || p->index == NULL) {
		policy_index_free(p->index);
		p->index = policy_index_build(p);
		for (int r = 0; r < POLICY_NROLES; r++) {
			p->nconstant[r] = -1;
			if (p->index != NULL && policy_index_constant(p->index, (enum policy_role)r))
				p->nconstant[r] = policy_match(p, (enum policy_role)r, NULL, 0,
				    &p->constant[r]);
		}
	}
}

unsigned
policy_roles(const struct policy *p)
{
	unsigned roles = 0;

	for (size_t i = 0; i < p->nsections; i++)
		if (p->sections[i].active)
			roles |= POLICY_ROLE_BIT(p->sections[i].role);
	return roles;
}

unsigned
policy_keys(const struct policy *p)
{
	unsigned keys = 0;

	for (size_t i = 0; i < p->nsections; i++)
		if (p->sections[i].active)
			keys |= p->sections[i].opts.set;
	return keys;
}

unsigned
policy_close_kinds(const struct policy *p)
{
	unsigned kinds = 0;

	for (size_t i = 0; i < p->nsections; i++) {
		const struct section *s = &p->sections[i];

		if (!s->active || !(s->opts.set & POLICY_KEY_BIT(KEY_CLOSE)))
			continue;
		kinds |= 1u << s->close.kind;
		if (s->close.kind == CLOSE_PEER_FIRST)
			kinds |= 1u << s->close.fallback;
	}
	return kinds;
}

/* The address to match, IPv4-mapped IPv6 folded to IPv4; family 0 if none. */
static int
normalize(const struct sockaddr *sa, socklen_t len, unsigned char addr[16], unsigned *port)
{
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)sa;
		memcpy(addr, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
		return AF_INET;
	}
	/* Linux takes an IPv6 address without its sin6_scope_id (RFC 2133's length, 24). */
	if (sa->sa_family == AF_INET6 &&
	    len >= (socklen_t)offsetof(struct sockaddr_in6, sin6_scope_id)) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		*port = ntohs(in6->sin6_port);
		if (policy_addr_is_v4mapped(in6->sin6_addr.s6_addr)) {
			memcpy(addr, in6->sin6_addr.s6_addr + 12, 4);
			return AF_INET;
		}
		memcpy(addr, in6->sin6_addr.s6_addr, 16);
		return AF_INET6;
	}
	return 0;
}

static bool
prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[bytes] ^ b[bytes]) & (0xff00u >> rest)) == 0;
}

static bool
pattern_match(const struct pattern *pat, int family, const unsigned char *addr, unsigned port)
{
	if (family == 0)	/* nothing known: only a bare '*' */
		return pat->family == 0 && !pat->has_port;
	if (pat->has_port && (port < pat->port_lo || port > pat->port_hi))
		return false;
	if (pat->family == 0)
		return true;
	return pat->family == family && prefix_equal(pat->addr, addr, pat->plen);
}

static void
take(struct policy_opts *out, const struct section *s, enum policy_key k)
{
	const struct policy_opts *in = &s->opts;

	out->set |= POLICY_KEY_BIT(k);
	out->forced |= in->forced & POLICY_KEY_BIT(k);
	out->line[k] = in->line[k];
	switch (k) {
	case KEY_REUSEADDR:
		out->reuseaddr = in->reuseaddr;
		break;
	case KEY_REUSEPORT:
		out->reuseport = in->reuseport;
		break;
	case KEY_BACKLOG:
		out->backlog = in->backlog;
		break;
	case KEY_LOCAL_PORTS:
		out->port_lo = in->port_lo;
		out->port_hi = in->port_hi;
		break;
	case KEY_LOCAL_ADDRESS:
		out->local_family = in->local_family;
		memcpy(out->local_addr, in->local_addr, 16);
		break;
	case KEY_KEEPALIVE:
		out->keepalive = in->keepalive;
		out->keep_idle_s = in->keep_idle_s;
		out->keep_intvl_s = in->keep_intvl_s;
		out->keep_cnt = in->keep_cnt;
		break;
	case KEY_NODELAY:
		out->nodelay = in->nodelay;
		break;
	case KEY_USER_TIMEOUT:
		out->user_timeout_ms = in->user_timeout_ms;
		break;
	case KEY_FIN_TIMEOUT:
		out->fin_timeout_s = in->fin_timeout_s;
		break;
	case KEY_CLOSE:
		out->close = &s->close;
		break;
	default:
		break;
	}
}

int
policy_match_linear(const struct policy *p, enum policy_role role, const struct sockaddr *sa,
    socklen_t salen, struct policy_opts *out)
{
	unsigned char addr[16] = { 0 };
	unsigned port = 0;
	int family = normalize(sa, salen, addr, &port);

	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < p->nsections; i++) {
		const struct section *s = &p->sections[i];
		uint32_t fresh;

		if (!s->active || s->role != role || !pattern_match(&s->pat, family, addr, port))
			continue;
		fresh = s->opts.set & ~out->set;
		for (int k = 0; fresh != 0 && k < KEY_COUNT; k++)
			if (fresh & POLICY_KEY_BIT(k))
				take(out, s, (enum policy_key)k);
	}
	return __builtin_popcount(out->set);
}

int
policy_match(const struct policy *p, enum policy_role role, const struct sockaddr *sa,
    socklen_t salen, struct policy_opts *out)
{
	unsigned char addr[16] = { 0 };
	unsigned port = 0;
	int family, n = 0;
	uint32_t best[KEY_COUNT], found;

	if (p->index == NULL)
		return policy_match_linear(p, role, sa, salen, out);
	if (p->nconstant[role] >= 0) {
		*out = p->constant[role];
		return p->nconstant[role];
	}
	family = normalize(sa, salen, addr, &port);
	found = policy_index_lookup(p->index, role, family, addr, port, best);
	memset(out, 0, sizeof *out);
	for (uint32_t keys = found; keys != 0; keys &= keys - 1, n++) {
		int k = __builtin_ctz(keys);

		take(out, &p->sections[best[k]], (enum policy_key)k);
	}
	return n;
}
