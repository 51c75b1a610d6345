/*
 * sections.c - the parsed sections, read-only, for a consumer that compiles
 * the policy into another form (the kernel backend's maps) and must apply
 * the same first-match-per-key rule itself.
 */
#include <string.h>

#include "policy_impl.h"

size_t
policy_section_count(const struct policy *p)
{
	return p->nsections;
}

void
policy_section_get(const struct policy *p, size_t i, struct policy_section_info *out)
{
	const struct section *s = &p->sections[i];

	memset(out, 0, sizeof *out);
	out->role = s->role;
	out->family = s->pat.family;
	memcpy(out->addr, s->pat.addr, sizeof out->addr);
	out->plen = s->pat.plen;
	out->has_port = s->pat.has_port;
	out->port_lo = s->pat.port_lo;
	out->port_hi = s->pat.port_hi;
	out->program_line = s->program != NULL ? s->program_line : 0;
	out->line = s->line;
	out->opts = &s->opts;
	out->close = &s->close;
}
