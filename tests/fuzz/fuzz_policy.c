/*
 * fuzz_policy.c - libFuzzer harness for the policy parser: parse the input
 * both as a file and as inline text, and when it parses, exercise matching,
 * explaining and dumping, and check that the dump parses back.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static void
exercise(struct policy *p)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(6379),
	    .sin_addr.s_addr = htonl(0x0a010203) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	struct policy_opts o;
	struct policy_diag diag;
	struct policy *again;
	FILE *null = fopen("/dev/null", "w");
	char *dump = NULL;
	size_t len = 0;
	FILE *mem;

	in6.sin6_addr.s6_addr[0] = 0x20;
	policy_bind_program(p, "redis-benchmark");
	for (int r = 0; r < POLICY_NROLES; r++) {
		policy_match(p, (enum policy_role)r, (struct sockaddr *)&in, sizeof in, &o);
		policy_match(p, (enum policy_role)r, (struct sockaddr *)&in6, sizeof in6, &o);
		policy_match(p, (enum policy_role)r, NULL, 0, &o);
		policy_explain(p, (enum policy_role)r, (struct sockaddr *)&in, sizeof in, null);
	}
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
