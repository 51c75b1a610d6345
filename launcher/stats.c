/*
 * stats.c - "twshim --stats FILE": a TWSHIM_STATS file, with each counter
 * described.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "launcher.h"

static const struct {
	const char *key, *what;
} known[] = {
#define STAT(name, what) { #name, what },
#include "stats.def"
#undef STAT
	{ "tracked_at_exit", "sockets still open at exit" },
};

static const char *
describe(const char *key)
{
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(known[i].key, key) == 0)
			return known[i].what;
	return NULL;
}

int
print_stats(const char *path, FILE *out)
{
	char line[512];
	FILE *f = fopen(path, "r");
	unsigned lineno = 0;

	if (f == NULL) {
		fprintf(stderr, "twshim: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *eq = strchr(line, '='), *val;
		const char *what;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (eq == NULL) {
			fprintf(stderr, "twshim: %s:%u: not a key=value line\n", path, lineno);
			continue;
		}
		*eq = '\0';
		val = eq + 1;
		if (strcmp(line, "pid") == 0 || strcmp(line, "program") == 0) {
			fprintf(out, "%s %s\n", line, val);
			continue;
		}
		what = describe(line);
		if (strcmp(val, "0") == 0 && what != NULL)
			continue;	/* counters that never moved say nothing */
		fprintf(out, "%-12s %s\n", val, what != NULL ? what : line);
	}
	fclose(f);
	return 0;
}
