/*
 * index.c - the policy compiled for matching, so that a connect() or an
 * accept() costs the same with ten thousand sections as with one.
 *
 * What policy_match() computes is, for each key, the first active section
 * in file order whose role and pattern fit and which sets that key.  So
 * the sections of one role are grouped by what their pattern asks of the
 * address: nothing (family 0), or a prefix of a family and length.  Within
 * a group the address either fits every section or none; the port then
 * decides, through an array of port intervals that each list the sections
 * covering them.  Each such list is kept as "for each key, the first
 * section that sets it": a later section in the same list matches exactly
 * when the earlier ones do, so it can only add keys they leave unset.  A
 * lookup visits one list per group that fits and keeps, per key, the
 * smallest section number: the same answer as the linear scan.
 */
#include <stdlib.h>
#include <string.h>

#include "policy_impl.h"

/* For each key, the first section of a list that sets it. */
struct setters {
	uint32_t keys;			/* POLICY_KEY_BITs that have one */
	uint32_t sec[KEY_COUNT];
};

/* Sections that all ask the same of the address. */
struct bucket {
	unsigned char addr[16];		/* the prefix, masked */
	struct setters any_port;	/* sections without a port */
	size_t nspans;
	uint16_t *span_lo;		/* span i: span_lo[i] up to span_lo[i + 1] - 1 (or 65535) */
	struct setters *span;		/* sections whose port range covers span i */
};

/* The buckets of one family and prefix length, sorted by address. */
struct prefix_group {
	unsigned plen;
	size_t nbuckets;
	struct bucket *buckets;
};

struct role_index {
	struct bucket any;		/* patterns without an address */
	size_t ngroups[2];		/* [0] IPv4, [1] IPv6 */
	struct prefix_group *groups[2];
};

struct policy_index {
	struct role_index role[POLICY_NROLES];
};

static void
setters_init(struct setters *st)
{
	st->keys = 0;
	for (int k = 0; k < KEY_COUNT; k++)
		st->sec[k] = NO_SECTION;
}

/* Section i comes after every section already in st. */
static void
setters_add(struct setters *st, uint32_t i, uint32_t keys)
{
	uint32_t fresh = keys & ~st->keys;

	st->keys |= fresh;
	for (; fresh != 0; fresh &= fresh - 1)
		st->sec[__builtin_ctz(fresh)] = i;
}

/* best[k] counts only for the keys in *found. */
static void
setters_merge(const struct setters *st, uint32_t best[KEY_COUNT], uint32_t *found)
{
	for (uint32_t keys = st->keys; keys != 0; keys &= keys - 1) {
		int k = __builtin_ctz(keys);

		if (!(*found & POLICY_KEY_BIT(k)) || st->sec[k] < best[k])
			best[k] = st->sec[k];
	}
	*found |= st->keys;
}

static int
family_slot(int family)
{
	return family == AF_INET6;
}

/*
 * Prefixes compare as two machine words: any consistent order serves the
 * sort and the binary search, and this one costs two compares, not memcmp.
 */
static int
cmp_addr(const unsigned char *a, const unsigned char *b)
{
	uint64_t x[2], y[2];

	memcpy(x, a, 16);
	memcpy(y, b, 16);
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	if (x[1] != y[1])
		return x[1] < y[1] ? -1 : 1;
	return 0;
}

static void
mask_prefix(unsigned char out[16], const unsigned char *addr, unsigned plen)
{
	unsigned bytes = plen / 8, rest = plen % 8;

	memset(out, 0, 16);
	memcpy(out, addr, bytes);
	if (rest != 0)
		out[bytes] = addr[bytes] & (unsigned char)(0xff00u >> rest);
}

static size_t
span_index(const uint16_t *span_lo, size_t n, unsigned port)
{
	size_t lo = 0, hi = n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (span_lo[mid] <= port)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The span of b holding port; b->nspans > 0, and span_lo[0] is 0. */
static const struct setters *
span_of(const struct bucket *b, unsigned port)
{
	return &b->span[span_index(b->span_lo, b->nspans, port)];
}

static int
cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Fill b from sections idx[0..n) (in file order) of p. */
static bool
build_bucket(struct bucket *b, const struct policy *p, const uint32_t *idx, size_t n)
{
	size_t nbounds = 1, nspans = 0;
	uint16_t *bounds;

	setters_init(&b->any_port);
	for (size_t j = 0; j < n; j++) {
		const struct section *s = &p->sections[idx[j]];

		if (!s->pat.has_port)
			setters_add(&b->any_port, idx[j], s->opts.set);
		else
			nbounds += 2;
	}
	if (nbounds == 1)
		return true;
	/* Every range starts a span and ends one: its lo and its hi + 1. */
	bounds = malloc(nbounds * sizeof *bounds);
	if (bounds == NULL)
		return false;
	bounds[0] = 0;
	nbounds = 1;
	for (size_t j = 0; j < n; j++) {
		const struct pattern *pat = &p->sections[idx[j]].pat;

		if (!pat->has_port)
			continue;
		bounds[nbounds++] = pat->port_lo;
		if (pat->port_hi < 65535)
			bounds[nbounds++] = (uint16_t)(pat->port_hi + 1);
	}
	qsort(bounds, nbounds, sizeof *bounds, cmp_u16);
	for (size_t j = 0; j < nbounds; j++)
		if (nspans == 0 || bounds[j] != bounds[nspans - 1])
			bounds[nspans++] = bounds[j];
	b->span_lo = bounds;
	b->nspans = nspans;
	b->span = malloc(nspans * sizeof *b->span);
	if (b->span == NULL)
		return false;
	for (size_t j = 0; j < nspans; j++)
		setters_init(&b->span[j]);
	for (size_t j = 0; j < n; j++) {
		const struct section *s = &p->sections[idx[j]];
		size_t first, last;

		if (!s->pat.has_port)
			continue;
		first = span_index(bounds, nspans, s->pat.port_lo);
		last = span_index(bounds, nspans, s->pat.port_hi);
		for (size_t k = first; k <= last; k++)
			setters_add(&b->span[k], idx[j], s->opts.set);
	}
	return true;
}

static void
free_bucket(struct bucket *b)
{
	free(b->span_lo);
	free(b->span);
}

/* Sort key of an addressed section: family, prefix length, prefix, then file order. */
struct entry {
	int family;
	unsigned plen;
	unsigned char addr[16];
	uint32_t sec;
};

static int
cmp_entry(const void *va, const void *vb)
{
	const struct entry *a = va, *b = vb;
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	if ((c = cmp_addr(a->addr, b->addr)) != 0)
		return c;
	return a->sec < b->sec ? -1 : a->sec > b->sec;
}

static bool
same_bucket(const struct entry *a, const struct entry *b)
{
	return a->family == b->family && a->plen == b->plen && memcmp(a->addr, b->addr, 16) == 0;
}

static bool
build_role(struct role_index *ri, const struct policy *p, enum policy_role role,
    struct entry *ent, uint32_t *idx)
{
	size_t nany = 0, nent = 0;

	for (size_t i = 0; i < p->nsections; i++) {
		const struct section *s = &p->sections[i];

		if (!s->active || s->role != role)
			continue;
		if (s->pat.family == 0) {
			idx[nany++] = (uint32_t)i;
			continue;
		}
		ent[nent].family = s->pat.family;
		ent[nent].plen = s->pat.plen;
		mask_prefix(ent[nent].addr, s->pat.addr, s->pat.plen);
		ent[nent].sec = (uint32_t)i;
		nent++;
	}
	if (!build_bucket(&ri->any, p, idx, nany))
		return false;
	qsort(ent, nent, sizeof *ent, cmp_entry);

	for (size_t i = 0; i < nent;) {
		int slot = family_slot(ent[i].family);
		struct prefix_group *g, *grown;
		size_t end = i, nb = 0;

		/* One group: same family and prefix length. */
		while (end < nent && ent[end].family == ent[i].family && ent[end].plen == ent[i].plen) {
			if (end == i || !same_bucket(&ent[end - 1], &ent[end]))
				nb++;
			end++;
		}
		grown = realloc(ri->groups[slot], (ri->ngroups[slot] + 1) * sizeof *grown);
		if (grown == NULL)
			return false;
		ri->groups[slot] = grown;
		g = &grown[ri->ngroups[slot]++];
		g->plen = ent[i].plen;
		g->nbuckets = 0;
		g->buckets = calloc(nb, sizeof *g->buckets);
		if (g->buckets == NULL)
			return false;
		while (i < end) {
			struct bucket *b = &g->buckets[g->nbuckets++];
			size_t n = 0;

			memcpy(b->addr, ent[i].addr, 16);
			do
				idx[n++] = ent[i++].sec;
			while (i < end && same_bucket(&ent[i - 1], &ent[i]));
			if (!build_bucket(b, p, idx, n))
				return false;
		}
	}
	return true;
}

void
policy_index_free(struct policy_index *ix)
{
	if (ix == NULL)
		return;
	for (int r = 0; r < POLICY_NROLES; r++) {
		struct role_index *ri = &ix->role[r];

		free_bucket(&ri->any);
		for (int f = 0; f < 2; f++) {
			for (size_t g = 0; g < ri->ngroups[f]; g++) {
				for (size_t b = 0; b < ri->groups[f][g].nbuckets; b++)
					free_bucket(&ri->groups[f][g].buckets[b]);
				free(ri->groups[f][g].buckets);
			}
			free(ri->groups[f]);
		}
	}
	free(ix);
}

bool
policy_index_constant(const struct policy_index *ix, enum policy_role role)
{
	const struct role_index *ri = &ix->role[role];

	return ri->ngroups[0] == 0 && ri->ngroups[1] == 0 && ri->any.nspans == 0;
}

struct policy_index *
policy_index_build(const struct policy *p)
{
	struct policy_index *ix = calloc(1, sizeof *ix);
	struct entry *ent = malloc((p->nsections + 1) * sizeof *ent);
	uint32_t *idx = malloc((p->nsections + 1) * sizeof *idx);
	bool ok = ix != NULL && ent != NULL && idx != NULL && p->nsections < NO_SECTION;

	for (int r = 0; ok && r < POLICY_NROLES; r++)
		ok = build_role(&ix->role[r], p, (enum policy_role)r, ent, idx);
	free(ent);
	free(idx);
	if (!ok) {
		policy_index_free(ix);
		return NULL;
	}
	return ix;
}

static void
lookup_bucket(const struct bucket *b, unsigned port, uint32_t best[KEY_COUNT], uint32_t *found)
{
	setters_merge(&b->any_port, best, found);
	if (b->nspans > 0)
		setters_merge(span_of(b, port), best, found);
}

static const struct bucket *
find_bucket(const struct prefix_group *g, const unsigned char *addr)
{
	unsigned char key[16];
	size_t lo = 0, hi = g->nbuckets;

	mask_prefix(key, addr, g->plen);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_addr(g->buckets[mid].addr, key);

		if (c == 0)
			return &g->buckets[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

uint32_t
policy_index_lookup(const struct policy_index *ix, enum policy_role role, int family,
    const unsigned char *addr, unsigned port, uint32_t best[KEY_COUNT])
{
	const struct role_index *ri = &ix->role[role];
	uint32_t found = 0;

	if (family == 0) {	/* nothing known: only a bare '*' */
		setters_merge(&ri->any.any_port, best, &found);
		return found;
	}
	lookup_bucket(&ri->any, port, best, &found);
	for (size_t g = 0; g < ri->ngroups[family_slot(family)]; g++) {
		const struct prefix_group *pg = &ri->groups[family_slot(family)][g];
		const struct bucket *b;

		if ((b = find_bucket(pg, addr)) != NULL)
			lookup_bucket(b, port, best, &found);
	}
	return found;
}
