/*
 * stats_format.c - summed TWSHIM_STATS counters as text for people, JSON
 * for scripts, and the Prometheus text format for node_exporter's textfile
 * collector.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

/* ---- text ---- */

static void
text_block(const struct stats_set *set, const struct stats_program *p, const char *title,
    FILE *out)
{
	bool any = false;

	fprintf(out, "%s: %lu process%s", title, p->processes, p->processes == 1 ? "" : "es");
	if (p->processes == 1 && p->pid > 0)
		fprintf(out, " (pid %ld)", p->pid);
	fputc('\n', out);
	for (size_t k = 0; k < set->nkeys; k++) {
		const char *what = stats_describe(set->keys[k]);

		if (p->values[k] == 0)
			continue;	/* counters that never moved say nothing */
		fprintf(out, "  %12" PRIu64 "  %s\n", p->values[k],
		    what != NULL ? what : set->keys[k]);
		any = true;
	}
	if (!any)
		fprintf(out, "  no counter moved\n");
}

void
stats_print_text(const struct stats_set *set, FILE *out)
{
	char title[64];

	for (size_t i = 0; i < set->nprograms; i++) {
		char *name = stats_escape_name(set->programs[i].name);

		text_block(set, &set->programs[i], name, out);
		free(name);
	}
	snprintf(title, sizeof title, "total of %zu program%s", set->nprograms,
	    set->nprograms == 1 ? "" : "s");
	text_block(set, &set->total, title, out);
}

/* ---- escaping ---- */

/*
 * The length of the well-formed UTF-8 sequence at s, or 0: a program name
 * is whatever bytes argv[0] held, and both formats want UTF-8.
 */
static size_t
utf8_length(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

char *
stats_escape_name(const char *name)
{
	const unsigned char *u = (const unsigned char *)name;
	char *out = malloc(strlen(name) * 4 + 1), *o = out;

	if (out == NULL) {
		fprintf(stderr, "twshim: out of memory\n");
		exit(1);
	}
	while (*u != '\0') {
		size_t len = utf8_length(u);

		if (*u == '\\') {
			*o++ = '\\';
			*o++ = '\\';
			u++;
		} else if (len == 0 || *u < 0x20 || *u == 0x7f) {
			o += sprintf(o, "\\x%02x", *u++);
		} else {
			memcpy(o, u, len);
			o += len;
			u += len;
		}
	}
	*o = '\0';
	return out;
}

/* s, valid UTF-8 without control characters, as a JSON string or a label value. */
static void
put_quoted(const char *s, FILE *out)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* A program's name, escaped (stats_escape_name), then quoted. */
static void
put_name(const char *name, FILE *out)
{
	char *escaped = stats_escape_name(name);

	put_quoted(escaped, out);
	free(escaped);
}

/* ---- JSON ---- */

static void
json_counters(const struct stats_set *set, const struct stats_program *p, int indent,
    FILE *out)
{
	fprintf(out, "%*s\"counters\": {", indent, "");
	for (size_t k = 0; k < set->nkeys; k++)
		fprintf(out, "%s\n%*s\"%s\": %" PRIu64, k == 0 ? "" : ",", indent + 2, "",
		    set->keys[k], p->values[k]);
	if (set->nkeys > 0)
		fprintf(out, "\n%*s", indent, "");
	fputs("}\n", out);
}

void
stats_print_json(const struct stats_set *set, FILE *out)
{
	fputs("{\n  \"programs\": {", out);
	for (size_t i = 0; i < set->nprograms; i++) {
		const struct stats_program *p = &set->programs[i];

		fputs(i == 0 ? "\n    " : ",\n    ", out);
		put_name(p->name, out);
		fprintf(out, ": {\n      \"processes\": %lu,\n", p->processes);
		json_counters(set, p, 6, out);
		fputs("    }", out);
	}
	fputs(set->nprograms > 0 ? "\n  },\n" : "},\n", out);
	fprintf(out, "  \"total\": {\n    \"programs\": %zu,\n    \"processes\": %lu,\n",
	    set->nprograms, set->total.processes);
	json_counters(set, &set->total, 4, out);
	fputs("  }\n}\n", out);
}

/* ---- Prometheus ---- */

/*
 * The groups (shim/stats.def) are one metric each, with a label; every
 * other counter the launcher knows is its own, twshim_KEY_total; counters
 * it does not know (a newer library's) are samples of one metric,
 * twshim_other_total{counter="KEY"}, whose name nothing else can take.
 */
static const char *const gauge_key = "tracked_at_exit";
static const char *const gauge_metric = "twshim_sockets_open_at_exit";

static void
sample(const char *metric, const struct stats_program *p, const char *label,
    const char *label_value, uint64_t v, FILE *out)
{
	fprintf(out, "%s{program=", metric);
	put_name(p->name, out);
	if (label != NULL)
		fprintf(out, ",%s=\"%s\"", label, label_value);
	fprintf(out, "} %" PRIu64 "\n", v);
}

static void
header(const char *metric, const char *type, const char *help, FILE *out)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
}

/* The samples of every key for which pick() is true, under one header. */
static void
family(const struct stats_set *set, bool (*pick)(const char *key, int arg), int arg,
    const char *metric, const char *type, const char *help, const char *label, FILE *out)
{
	bool any = false;

	for (size_t k = 0; k < set->nkeys && !any; k++)
		any = pick(set->keys[k], arg);
	if (!any)
		return;
	header(metric, type, help, out);
	for (size_t i = 0; i < set->nprograms; i++)
		for (size_t k = 0; k < set->nkeys; k++) {
			const struct stats_key *known = stats_known(set->keys[k]);

			if (!pick(set->keys[k], arg))
				continue;
			sample(metric, &set->programs[i], label,
			    label == NULL ? NULL : known != NULL ? known->label_value :
			    set->keys[k], set->programs[i].values[k], out);
		}
}

static bool
in_group(const char *key, int group)
{
	const struct stats_key *k = stats_known(key);

	return k != NULL && k->group == group;
}

static bool
unknown(const char *key, int unused)
{
	(void)unused;
	return stats_known(key) == NULL;
}

/*
 * Per program only: a grand total beside them would be counted twice by
 * any sum() over the metric, and sum() gives it anyway.
 */
void
stats_print_prometheus(const struct stats_set *set, FILE *out)
{
	header("twshim_processes_total", "counter",
	    "Processes of the program that kept counters (live files), or files written at exit.",
	    out);
	for (size_t i = 0; i < set->nprograms; i++)
		sample("twshim_processes_total", &set->programs[i], NULL, NULL,
		    set->programs[i].processes, out);

	for (int g = 0; g < STATS_NGROUPS; g++)
		family(set, in_group, g, stats_groups[g].metric, "counter", stats_groups[g].help,
		    stats_groups[g].label, out);

	for (size_t k = 0; k < set->nkeys; k++) {
		const struct stats_key *known = stats_known(set->keys[k]);
		bool gauge = strcmp(set->keys[k], gauge_key) == 0;
		char metric[sizeof "twshim__total" + 64];

		if (known == NULL || known->group >= 0)
			continue;
		if (gauge)
			snprintf(metric, sizeof metric, "%s", gauge_metric);
		else
			snprintf(metric, sizeof metric, "twshim_%s_total", known->key);
		header(metric, gauge ? "gauge" : "counter", known->what, out);
		for (size_t i = 0; i < set->nprograms; i++)
			sample(metric, &set->programs[i], NULL, NULL, set->programs[i].values[k],
			    out);
	}

	family(set, unknown, 0, "twshim_other_total", "counter",
	    "Counters this twshim --stats does not know (a newer library's), by name.",
	    "counter", out);
}
