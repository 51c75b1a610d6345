/*
 * test_policy_index.c - the compiled matcher (policy/index.c) against the
 * plain scan in file order, on random policies and random addresses drawn
 * from a small set, so that sections overlap, nest and repeat.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_impl.h"

/* A deterministic generator: the same policies on every run. */
static uint64_t rng_state;

static unsigned
rnd(unsigned n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)(rng_state >> 33) % n;
}

static const char *const v4_nets[] = { "10.0.0.0", "10.1.0.0", "10.1.2.3", "192.0.2.7", "0.0.0.0" };
static const char *const v6_nets[] = { "2001:db8::", "2001:db8:1::5", "::1", "fe80::", "::" };
static const unsigned ports[] = { 1, 80, 443, 1024, 6379, 6380, 65535 };

static void
random_pattern(char *buf, size_t size)
{
	char port[32] = "";
	unsigned lo = ports[rnd(7)], hi = ports[rnd(7)];

	if (rnd(2)) {
		if (lo > hi) {
			unsigned t = lo;
			lo = hi;
			hi = t;
		}
		if (lo == hi || rnd(3) == 0)
			snprintf(port, sizeof port, ":%u", lo);
		else
			snprintf(port, sizeof port, ":%u-%u", lo, hi);
	}
	switch (rnd(4)) {
	case 0:
		snprintf(buf, size, "*%s", port);
		break;
	case 1:
		snprintf(buf, size, "%s/%u%s", v4_nets[rnd(5)], rnd(33), port);
		break;
	case 2:
		snprintf(buf, size, "[%s/%u]%s", v6_nets[rnd(5)], rnd(129), port);
		break;
	default:
		/* A v4-mapped pattern matches as IPv4. */
		snprintf(buf, size, "[::ffff:%s/%u]%s", v4_nets[rnd(5)], 96 + rnd(33), port);
		break;
	}
}

/* A setting, the roles it applies to (bit per role) and its key. */
#define C POLICY_ROLE_BIT(POLICY_CLIENT)
#define L POLICY_ROLE_BIT(POLICY_LISTENER)
#define A POLICY_ROLE_BIT(POLICY_ACCEPTED)
static const struct { const char *text; unsigned roles; enum policy_key key; } settings[] = {
	{ "close = abort", C | A, KEY_CLOSE }, { "close = normal", C | A, KEY_CLOSE },
	{ "close = graceful 1s", C | A, KEY_CLOSE }, { "close = linger 2s", C | A, KEY_CLOSE },
	{ "close = peer-first 100ms then abort-if-idle", C | A, KEY_CLOSE },
	{ "nodelay = yes", C | A, KEY_NODELAY }, { "nodelay = force no", C | A, KEY_NODELAY },
	{ "reuseaddr = yes", C | L, KEY_REUSEADDR }, { "reuseport = yes", C | L, KEY_REUSEPORT },
	{ "keepalive = 30s,5s,3", C | L | A, KEY_KEEPALIVE },
	{ "keepalive = off", C | L | A, KEY_KEEPALIVE },
	{ "user_timeout = 5s", C | A, KEY_USER_TIMEOUT },
	{ "fin_timeout = 10s", C | A, KEY_FIN_TIMEOUT },
	{ "local_ports = 20000-20099", C, KEY_LOCAL_PORTS },
	{ "local_address = 127.0.0.2", C, KEY_LOCAL_ADDRESS },
	{ "backlog = 512", L, KEY_BACKLOG },
};
#undef C
#undef L
#undef A
static const char *const roles[] = { "client", "listener", "accepted" };

static char *
random_policy(unsigned nsections)
{
	size_t cap = 256 * (size_t)nsections + 1, len = 0;
	char *text = malloc(cap), pat[96];

	cr_assert_not_null(text);
	text[0] = '\0';
	for (unsigned i = 0; i < nsections; i++) {
		unsigned role = rnd(3), used = 0;

		random_pattern(pat, sizeof pat);
		len += (size_t)snprintf(text + len, cap - len, "[%s %s]\n", roles[role], pat);
		if (rnd(6) == 0)
			len += (size_t)snprintf(text + len, cap - len, "program = %s\n",
			    rnd(2) ? "redis-*" : "curl");
		for (unsigned k = 0, n = 1 + rnd(3); k < n; k++) {
			unsigned j = rnd(sizeof settings / sizeof settings[0]);

			if (!(settings[j].roles & POLICY_ROLE_BIT(role)) ||
			    (used & POLICY_KEY_BIT(settings[j].key)))
				continue;
			used |= POLICY_KEY_BIT(settings[j].key);
			len += (size_t)snprintf(text + len, cap - len, "%s\n", settings[j].text);
		}
	}
	return text;
}

static socklen_t
random_address(struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (void *)ss;
	struct sockaddr_in6 *in6 = (void *)ss;
	unsigned port = rnd(4) == 0 ? rnd(65536) : ports[rnd(7)] + rnd(3) - 1;

	memset(ss, 0, sizeof *ss);
	switch (rnd(3)) {
	case 0:
		in->sin_family = AF_INET;
		inet_pton(AF_INET, v4_nets[rnd(5)], &in->sin_addr);
		/* Flip a bit now and then to land just outside a prefix. */
		if (rnd(2))
			((unsigned char *)&in->sin_addr)[rnd(4)] ^= (unsigned char)(1u << rnd(8));
		in->sin_port = htons((uint16_t)port);
		return sizeof *in;
	case 1:
		in6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, v6_nets[rnd(5)], &in6->sin6_addr);
		if (rnd(2))
			in6->sin6_addr.s6_addr[rnd(16)] ^= (unsigned char)(1u << rnd(8));
		in6->sin6_port = htons((uint16_t)port);
		return sizeof *in6;
	default:
		/* v4-mapped */
		in6->sin6_family = AF_INET6;
		in6->sin6_addr.s6_addr[10] = 0xff;
		in6->sin6_addr.s6_addr[11] = 0xff;
		inet_pton(AF_INET, v4_nets[rnd(5)], &in6->sin6_addr.s6_addr[12]);
		if (rnd(2))
			in6->sin6_addr.s6_addr[12 + rnd(4)] ^= (unsigned char)(1u << rnd(8));
		in6->sin6_port = htons((uint16_t)port);
		return sizeof *in6;
	}
}

static void
compare(const struct policy *p, enum policy_role role, const struct sockaddr *sa,
    socklen_t len, const char *text)
{
	struct policy_opts fast, slow;
	int nf = policy_match(p, role, sa, len, &fast);
	int ns = policy_match_linear(p, role, sa, len, &slow);

	cr_assert_eq(nf, ns, "key counts differ for role %d in:\n%s", role, text);
	cr_assert(memcmp(&fast, &slow, sizeof fast) == 0,
	    "options differ for role %d (set %#x vs %#x) in:\n%s", role, fast.set, slow.set, text);
}

static void
run_rounds(unsigned rounds, unsigned nsections, unsigned probes)
{
	for (unsigned r = 0; r < rounds; r++) {
		char *text = random_policy(nsections);
		struct policy_diag diag;
		struct policy *p = policy_parse_string(text, strlen(text), "r.conf", false, &diag);

		if (p == NULL)
			policy_diag_print(&diag, stderr);
		cr_assert_not_null(p, "the generated policy parses:\n%s", text);
		policy_diag_free(&diag);
		cr_assert_not_null(p->index, "the policy was compiled");
		for (int bind = 0; bind < 3; bind++) {
			policy_bind_program(p, bind == 0 ? NULL : bind == 1 ? "redis-benchmark" : "curl");
			for (unsigned i = 0; i < probes; i++) {
				struct sockaddr_storage ss;
				socklen_t len = random_address(&ss);
				enum policy_role role = (enum policy_role)rnd(POLICY_NROLES);

				compare(p, role, (struct sockaddr *)&ss, len, text);
				if (i % 16 == 0)
					compare(p, role, NULL, 0, text);
			}
		}
		policy_free(p);
		free(text);
	}
}

Test(policy_index, agrees_with_the_scan_on_small_policies)
{
	rng_state = 1;
	for (int i = 0; i < 400; i++)
		run_rounds(1, 1 + rnd(12), 200);
}

Test(policy_index, agrees_with_the_scan_on_large_policies)
{
	rng_state = 2;
	run_rounds(6, 2000, 2000);
}

Test(policy_index, agrees_on_varied_sizes)
{
	rng_state = 3;
	for (unsigned n = 1; n <= 64; n++)
		run_rounds(2, n, 100);
}
