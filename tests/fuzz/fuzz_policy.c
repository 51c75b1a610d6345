/*
 * fuzz_policy.c - libFuzzer harness for the policy parser: parse the input
 * both as a file and as inline text, and when it parses, exercise matching
 * (the compiled matcher must agree with the plain scan), explaining and
 * dumping, and check that the dump parses back.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_impl.h"

static void
same_match(const struct policy *p, enum policy_role r, const void *sa, socklen_t len)
{
	struct policy_opts fast, slow;

	if (policy_match(p, r, sa, len, &fast) != policy_match_linear(p, r, sa, len, &slow) ||
	    memcmp(&fast, &slow, sizeof fast) != 0) {
		fprintf(stderr, "the compiled matcher disagrees with the scan (role %d)\n", r);
		abort();
	}
}

/* Addresses near what the input's sections name: the first one's pattern. */
static void
match_section_addresses(const struct policy *p)
{
	for (size_t i = 0; i < p->nsections && i < 8; i++) {
		const struct pattern *pat = &p->sections[i].pat;
		struct sockaddr_in in = { .sin_family = AF_INET };
		struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
		unsigned port = pat->has_port ? pat->port_hi : 80;

		for (unsigned d = 0; d < 3; d++) {
			in.sin_port = htons((uint16_t)(port + d - 1));
			in6.sin6_port = in.sin_port;
			memcpy(&in.sin_addr, pat->addr, 4);
			memcpy(&in6.sin6_addr, pat->addr, 16);
			if (d == 2 && pat->plen > 0) {	/* the last bit of the prefix flipped */
				((unsigned char *)&in.sin_addr)[(pat->plen - 1) / 8 % 4] ^=
				    (unsigned char)(0x80u >> ((pat->plen - 1) % 8));
				in6.sin6_addr.s6_addr[(pat->plen - 1) / 8] ^=
				    (unsigned char)(0x80u >> ((pat->plen - 1) % 8));
			}
			for (int r = 0; r < POLICY_NROLES; r++) {
				same_match(p, (enum policy_role)r, &in, sizeof in);
				same_match(p, (enum policy_role)r, &in6, sizeof in6);
			}
		}
	}
}

static void
exercise(struct policy *p)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(6379),
	    .sin_addr.s_addr = htonl(0x0a010203) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	struct policy_diag diag;
	struct policy *again;
	FILE *null = fopen("/dev/null", "w");
	char *dump = NULL;
	size_t len = 0;
	FILE *mem;

	in6.sin6_addr.s6_addr[0] = 0x20;
	policy_bind_program(p, "redis-benchmark");
	for (int r = 0; r < POLICY_NROLES; r++) {
		same_match(p, (enum policy_role)r, &in, sizeof in);
		same_match(p, (enum policy_role)r, &in6, sizeof in6);
		same_match(p, (enum policy_role)r, NULL, 0);
		policy_explain(p, (enum policy_role)r, (struct sockaddr *)&in, sizeof in, null);
	}
	match_section_addresses(p);
	mem = open_memstream(&dump, &len);
	policy_dump(p, mem);
	fclose(mem);
	/* What policy_dump prints must be a valid policy again. */
	again = policy_parse_string(dump, len, "<dump>", false, &diag);
	if (again == NULL) {
		policy_diag_print(&diag, stderr);
		fprintf(stderr, "dump does not parse back:\n%s", dump);
		abort();
	}
	policy_diag_free(&diag);
	policy_free(again);
	free(dump);
	fclose(null);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_diag diag;
	struct policy *p;

	for (int semicolons = 0; semicolons < 2; semicolons++) {
		p = policy_parse_string((const char *)data, size, "<fuzz>", semicolons, &diag);
		if (p != NULL) {
			exercise(p);
			policy_free(p);
		}
		policy_diag_free(&diag);
	}
	return 0;
}
