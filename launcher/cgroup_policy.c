/*
 * cgroup_policy.c - a policy for the kernel backend: what it cannot
 * honour, and the sections compiled into the form the BPF program reads.
 *
 * The program applies policy_match()'s own rule, the first matching section
 * in file order for each key, over at most TWB_MAX_SECTIONS sections: a
 * scan that is faithful by construction, where tries per role and key
 * would have to re-derive the precedence of overlapping patterns.
 */
#include <arpa/inet.h>
#include <string.h>

#include "cgroup.h"

_Static_assert(TWB_ROLE_CLIENT == POLICY_CLIENT && TWB_ROLE_LISTENER == POLICY_LISTENER &&
    TWB_ROLE_ACCEPTED == POLICY_ACCEPTED, "roles numbered as the policy library's");
_Static_assert(TWB_KEY_REUSEADDR == POLICY_KEY_BIT(KEY_REUSEADDR) &&
    TWB_KEY_REUSEPORT == POLICY_KEY_BIT(KEY_REUSEPORT) &&
    TWB_KEY_LOCAL_PORTS == POLICY_KEY_BIT(KEY_LOCAL_PORTS) &&
    TWB_KEY_LOCAL_ADDRESS == POLICY_KEY_BIT(KEY_LOCAL_ADDRESS) &&
    TWB_KEY_KEEPALIVE == POLICY_KEY_BIT(KEY_KEEPALIVE) &&
    TWB_KEY_NODELAY == POLICY_KEY_BIT(KEY_NODELAY) &&
    TWB_KEY_USER_TIMEOUT == POLICY_KEY_BIT(KEY_USER_TIMEOUT) &&
    TWB_KEY_CLOSE == POLICY_KEY_BIT(KEY_CLOSE), "key bits as the policy library's");

/* The keys the backend takes; the others it cannot honour (why, below). */
#define KERNEL_KEYS (TWB_KEY_REUSEADDR | TWB_KEY_REUSEPORT | TWB_KEY_LOCAL_PORTS | \
	TWB_KEY_LOCAL_ADDRESS | TWB_KEY_KEEPALIVE | TWB_KEY_NODELAY | TWB_KEY_USER_TIMEOUT | \
	TWB_KEY_CLOSE)

static const char *
why_not(enum policy_key k)
{
	switch (k) {
	case KEY_BACKLOG:
		return "the kernel offers no hook at listen()";
	case KEY_FIN_TIMEOUT:
		return "BPF cannot set TCP_LINGER2";
	default:
		return "not available";
	}
}

unsigned
cgroup_policy_check(const struct policy *p, FILE *out)
{
	const char *file = policy_file_name(p);
	size_t n = policy_section_count(p);
	unsigned errors = 0;

	for (size_t i = 0; i < n; i++) {
		struct policy_section_info s;
		char what[64];

		policy_section_get(p, i, &s);
		if (s.program_line != 0) {
			fprintf(out, "%s:%u: 'program =' cannot be honoured by twshim --cgroup: the "
			    "kernel backend applies to the whole cgroup; give each program a "
			    "cgroup of its own\n", file, s.program_line);
			errors++;
		}
		for (int k = 0; k < KEY_COUNT; k++) {
			uint32_t bit = POLICY_KEY_BIT(k);

			if (!(s.opts->set & bit))
				continue;
			if (!(KERNEL_KEYS & bit)) {
				fprintf(out, "%s:%u: '%s' cannot be honoured by twshim --cgroup: %s\n",
				    file, s.opts->line[k], policy_key_name((enum policy_key)k),
				    why_not((enum policy_key)k));
				errors++;
				continue;
			}
			if (s.opts->forced & bit) {
				fprintf(out, "%s:%u: '%s ... force' cannot be honoured by twshim --cgroup: "
				    "the kernel backend cannot tell the program's own setsockopt() "
				    "apart (drop 'force')\n", file, s.opts->line[k],
				    policy_key_name((enum policy_key)k));
				errors++;
			}
			if (k == KEY_CLOSE && s.close->kind != CLOSE_NORMAL &&
			    s.close->kind != CLOSE_FIN_THEN_RESET &&
			    s.close->kind != CLOSE_FIN_THEN_RESET_ALWAYS) {
				policy_close_format(s.close, what, sizeof what);
				fprintf(out, "%s:%u: 'close = %s' cannot be honoured by twshim --cgroup: "
				    "the kernel backend has normal and fin-then-reset [always] only\n",
				    file, s.opts->line[k], what);
				errors++;
			}
		}
	}
	return errors;
}

/* Four network-order words of a (plen-bit) prefix mask. */
static void
prefix_mask(unsigned plen, uint32_t mask[4])
{
	for (int w = 0; w < 4; w++) {
		unsigned bits = plen > 32u * (unsigned)w ? plen - 32u * (unsigned)w : 0;

		mask[w] = bits >= 32 ? 0xffffffffu : bits == 0 ? 0 : htonl(~0u << (32 - bits));
	}
}

unsigned
cgroup_policy_compile(const struct policy *p, struct twb_section *out, unsigned max)
{
	size_t n = policy_section_count(p);
	unsigned used = 0;

	for (size_t i = 0; i < n && used < max; i++) {
		struct policy_section_info s;
		struct twb_section *t = &out[used];
		const struct policy_opts *o;

		policy_section_get(p, i, &s);
		if (s.program_line != 0)
			continue;	/* refused by cgroup_policy_check() */
		o = s.opts;
		memset(t, 0, sizeof *t);
		t->role = (uint8_t)s.role;
		t->family = s.family == AF_INET ? 4 : s.family == AF_INET6 ? 6 : 0;
		memcpy(t->addr, s.addr, s.family == AF_INET ? 4 : 16);
		prefix_mask(s.family == 0 ? 0 : s.plen, t->mask);
		t->has_port = s.has_port;
		t->port_lo = s.port_lo;
		t->port_hi = s.port_hi;
		t->set = o->set & KERNEL_KEYS;
		t->reuseaddr = o->reuseaddr;
		t->reuseport = o->reuseport;
		t->nodelay = o->nodelay;
		t->keepalive = o->keepalive;
		t->keep_idle_s = o->keep_idle_s;
		t->keep_intvl_s = o->keep_intvl_s;
		t->keep_cnt = o->keep_cnt;
		t->user_timeout_ms = o->user_timeout_ms;
		t->pool_lo = o->port_lo;
		t->pool_hi = o->port_hi;
		t->local_family = o->local_family == AF_INET ? 4 : 6;
		memcpy(t->local_addr, o->local_addr, o->local_family == AF_INET ? 4 : 16);
		if (o->set & POLICY_KEY_BIT(KEY_CLOSE))
			t->close = s.close->kind == CLOSE_FIN_THEN_RESET ? TWB_CLOSE_FIN_THEN_RESET :
			    s.close->kind == CLOSE_FIN_THEN_RESET_ALWAYS ? TWB_CLOSE_ALWAYS :
			    TWB_CLOSE_NORMAL;
		used++;
	}
	return used;
}
