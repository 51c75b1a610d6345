/*
 * stats.h - TWSHIM_STATS files read and summed per program (stats.c), and
 * printed as text, JSON or the Prometheus text format (stats_format.c).
 */
#ifndef TWSHIM_LAUNCHER_STATS_H
#define TWSHIM_LAUNCHER_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "launcher.h"

/* The counters of one program, summed over its processes. */
struct stats_program {
	char *name;
	unsigned long processes;
	long pid;		/* the process's pid, when there is one */
	uint64_t *values;	/* indexed like stats_set.keys */
};

/*
 * Every counter key met, in the order first met: a key the launcher does
 * not know (a newer library's) is summed like any other.
 */
struct stats_set {
	char **keys;
	size_t nkeys, keys_size;
	struct stats_program *programs;	/* sorted by name when printed */
	size_t nprograms, programs_size;
	struct stats_program total;
};

/*
 * The counters this launcher knows and their Prometheus groups, from the
 * library's own list (shim/stats.def).
 */
enum stats_group_id {
#define STAT(name, what)
#define GROUP(id, metric, label, help) STATS_GROUP_##id,
#include "stats.def"
#undef STAT
	STATS_NGROUPS
};

struct stats_group {
	const char *metric, *label, *help;
};

struct stats_key {
	const char *key, *what;
	int group;		/* enum stats_group_id, or -1 */
	const char *label_value;
};

extern const struct stats_group stats_groups[STATS_NGROUPS];

/* A counter key this launcher knows, or NULL. */
const struct stats_key *stats_known(const char *key);

/* What a counter key counts, or NULL for a key this launcher does not know. */
const char *stats_describe(const char *key);

/*
 * A program name as printed (malloc'd): valid UTF-8 as it is, "\\" for a
 * backslash, \xNN for any other byte that is not printable UTF-8, so
 * that two names never print alike.
 */
char *stats_escape_name(const char *name);

void stats_print_text(const struct stats_set *set, FILE *out);
void stats_print_json(const struct stats_set *set, FILE *out);
void stats_print_prometheus(const struct stats_set *set, FILE *out);

#endif
