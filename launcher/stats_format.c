/*
 * stats_format.c - summed TWSHIM_STATS counters as text for people, JSON
 * for scripts, and the Prometheus text format for node_exporter's textfile
 * collector.
 */
#include <inttypes.h>
#include <stdbool.h>
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

	for (size_t i = 0; i < set->nprograms; i++)
		text_block(set, &set->programs[i], set->programs[i].name, out);
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

/* s as a JSON string or a Prometheus label value, in quotes. */
static void
put_quoted(const char *s, bool json, FILE *out)
{
	const unsigned char *u = (const unsigned char *)s;

	fputc('"', out);
	while (*u != '\0') {
		size_t len = utf8_length(u);

		if (len == 0) {
			fputs("\xef\xbf\xbd", out);	/* U+FFFD for a stray byte */
			u++;
		} else if (*u == '"' || *u == '\\') {
			fprintf(out, "\\%c", *u++);
		} else if (*u == '\n') {
			fputs("\\n", out);
			u++;
		} else if (*u < 0x20 && json) {
			fprintf(out, "\\u%04x", *u++);
		} else {
			fwrite(u, 1, len, out);
			u += len;
		}
	}
	fputc('"', out);
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
		put_quoted(p->name, true, out);
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
 * Counters that are one quantity split by outcome or role become one
 * metric with a label; every other key its own counter, twshim_KEY_total.
 */
static const struct family {
	const char *prefix, *metric, *label, *help;
} families[] = {
	{ "close_", "twshim_closes_total", "outcome",
	  "Closes of tracked TCP sockets, by what the close did." },
	{ "peer_first_", "twshim_peer_first_closes_total", "outcome",
	  "Peer-first closes, by whether the peer closed first (ok) or the wait timed out." },
	{ "graceful_", "twshim_graceful_closes_total", "outcome",
	  "Graceful closes, by whether the input drained to EOF or the wait timed out." },
	{ "role_", "twshim_sockets_by_role_total", "role",
	  "TCP sockets, by the role they took." },
};

/* Values summed over processes that are levels, not event counts. */
static const struct {
	const char *key, *metric;
} gauges[] = {
	{ "tracked_at_exit", "twshim_sockets_open_at_exit" },
};

static const struct family *
family_of(const char *key)
{
	for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
		size_t n = strlen(families[f].prefix);

		if (strncmp(key, families[f].prefix, n) == 0 && key[n] != '\0')
			return &families[f];
	}
	return NULL;
}

static const char *
gauge_of(const char *key)
{
	for (size_t g = 0; g < sizeof gauges / sizeof gauges[0]; g++)
		if (strcmp(key, gauges[g].key) == 0)
			return gauges[g].metric;
	return NULL;
}

static void
sample(const char *metric, const struct stats_program *p, const char *label,
    const char *label_value, uint64_t v, FILE *out)
{
	fprintf(out, "%s{program=", metric);
	put_quoted(p->name, false, out);
	if (label != NULL)
		fprintf(out, ",%s=\"%s\"", label, label_value);
	fprintf(out, "} %" PRIu64 "\n", v);
}

static void
header(const char *metric, const char *type, const char *help, FILE *out)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
}

/*
 * Per program only: a grand total beside them would be counted twice by
 * any sum() over the metric, and sum() gives it anyway.
 */
void
stats_print_prometheus(const struct stats_set *set, FILE *out)
{
	size_t nfam = sizeof families / sizeof families[0];

	header("twshim_processes", "gauge",
	    "Processes of the program whose TWSHIM_STATS files were read.", out);
	for (size_t i = 0; i < set->nprograms; i++)
		sample("twshim_processes", &set->programs[i], NULL, NULL,
		    set->programs[i].processes, out);

	for (size_t f = 0; f < nfam; f++) {
		bool any = false;

		for (size_t k = 0; k < set->nkeys && !any; k++)
			any = family_of(set->keys[k]) == &families[f];
		if (!any)
			continue;
		header(families[f].metric, "counter", families[f].help, out);
		for (size_t i = 0; i < set->nprograms; i++)
			for (size_t k = 0; k < set->nkeys; k++)
				if (family_of(set->keys[k]) == &families[f])
					sample(families[f].metric, &set->programs[i],
					    families[f].label,
					    set->keys[k] + strlen(families[f].prefix),
					    set->programs[i].values[k], out);
	}

	for (size_t k = 0; k < set->nkeys; k++) {
		const char *key = set->keys[k], *gauge = gauge_of(key);
		char metric[sizeof "twshim__total" + 64], help[sizeof "The TWSHIM_STATS counter ." + 64];

		if (family_of(key) != NULL)
			continue;
		if (gauge != NULL)
			snprintf(metric, sizeof metric, "%s", gauge);
		else
			snprintf(metric, sizeof metric, "twshim_%s_total", key);
		if (stats_describe(key) != NULL)
			snprintf(help, sizeof help, "%s", stats_describe(key));
		else
			snprintf(help, sizeof help, "The TWSHIM_STATS counter %s.", key);
		header(metric, gauge != NULL ? "gauge" : "counter", help, out);
		for (size_t i = 0; i < set->nprograms; i++)
			sample(metric, &set->programs[i], NULL, NULL, set->programs[i].values[k],
			    out);
	}
}
