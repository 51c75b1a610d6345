/*
 * policy_impl.h - the parsed form of a policy, shared by the files of the
 * policy library and nothing else.
 */
#ifndef TWSHIM_POLICY_IMPL_H
#define TWSHIM_POLICY_IMPL_H

#include "policy.h"

#define POLICY_MAX_LINE	1023

/* family 0: any address.  has_port false: any port. */
struct pattern {
	int family;			/* 0, AF_INET or AF_INET6 */
	unsigned char addr[16];		/* masked to plen bits */
	unsigned plen;
	bool has_port;
	uint16_t port_lo, port_hi;
};

struct section {
	enum policy_role role;
	struct pattern pat;
	char *program;			/* NULL: every program */
	unsigned program_line;
	bool active;			/* decided by policy_bind_program() */
	unsigned line;
	struct policy_opts opts;	/* values, set/forced bits, lines */
	struct policy_close close;
};

struct policy_index;

struct policy {
	char *file;
	enum policy_log_level log_level;
	enum policy_on_error on_error;
	size_t nsections;
	struct section *sections;
	struct policy_index *index;	/* the active sections compiled; NULL: scan them */
	/*
	 * A role whose active sections ask nothing of the address or port
	 * (all "*", the built-in default among them) has one answer for
	 * every socket: worked out with the index, copied by policy_match().
	 * nconstant[role] < 0 when the role has no such answer.
	 */
	int nconstant[POLICY_NROLES];
	struct policy_opts constant[POLICY_NROLES];
};

/* index.c: built by policy_bind_program(), NULL when out of memory. */
#define NO_SECTION	UINT32_MAX
struct policy_index *policy_index_build(const struct policy *p);
void policy_index_free(struct policy_index *ix);
/* Whether the role's answer is the same for every address and port. */
bool policy_index_constant(const struct policy_index *ix, enum policy_role role);
/*
 * Returns POLICY_KEY_BIT(k) for each key some matching section sets, and
 * best[k] for each of them: the first such section.
 */
uint32_t policy_index_lookup(const struct policy_index *ix, enum policy_role role, int family,
    const unsigned char *addr, unsigned port, uint32_t best[KEY_COUNT]);

/* matcher.c: the plain scan in file order, which the index must agree with. */
int policy_match_linear(const struct policy *p, enum policy_role role,
    const struct sockaddr *sa, socklen_t salen, struct policy_opts *out);

/* values.c */
int value_duration_ms(const char *s, uint64_t *ms);
int value_bool(const char *s, bool *b);
int value_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);
int value_port_range(const char *s, uint16_t *lo, uint16_t *hi, char *why, size_t whysize);
int value_ip(const char *s, int *family, unsigned char addr[16]);
/* On error, *at is the offset in s of the part that is wrong. */
int value_pattern(const char *s, struct pattern *p, char *why, size_t whysize, size_t *at);
void format_duration(uint64_t ms, char *buf, size_t size);
void format_pattern(const struct pattern *p, char *buf, size_t size);
void format_value(const struct policy_opts *o, const struct policy_close *c,
    enum policy_key key, char *buf, size_t size);

#endif
