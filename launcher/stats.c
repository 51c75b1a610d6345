/*
 * stats.c - "twshim --stats [--format F] DIR|FILE...": TWSHIM_STATS files
 * read and summed per program, every counter alike, so that a counter a
 * newer library writes needs nothing here.  Two kinds: the live files of
 * a TWSHIM_STATS directory (a header naming the counters, then the 64-bit
 * counters the processes add to), read as they are now; and the key=value
 * files written at exit.  A file that is not whole and well formed is
 * refused with its name and line; nothing is printed then, since partial
 * totals would pass for real ones.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stats.h"

/*
 * A stats file is about a kilobyte; these bound what a wrong file (a log,
 * a core dump) can cost before it is refused.
 */
#define STATS_FILE_MAX		(1 << 20)
#define STATS_COUNTERS_MAX	1000
#define STATS_KEY_MAX		64

/* A live file begins so; its header names the counters that follow. */
#define LIVE_MAGIC	"twshim-stats 1\n"

static const struct stats_key known[] = {
#define STAT(name, what) { #name, what, -1, NULL },
#define STAT_IN(name, group, value, what) { #name, what, STATS_GROUP_##group, value },
#include "stats.def"
#undef STAT
	{ "tracked_at_exit", "sockets still open at exit", -1, NULL },
};

const struct stats_group stats_groups[STATS_NGROUPS] = {
#define STAT(name, what)
#define GROUP(id, metric, label, help) { metric, label, help },
#include "stats.def"
#undef STAT
};

const struct stats_key *
stats_known(const char *key)
{
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(known[i].key, key) == 0)
			return &known[i];
	return NULL;
}

const char *
stats_describe(const char *key)
{
	const struct stats_key *k = stats_known(key);

	return k != NULL ? k->what : NULL;
}

/* One file, parsed: pointers into its text. */
struct counter {
	const char *key;
	uint64_t value;
};

struct stats_file {
	const char *path;
	char *text;
	long pid;
	uint64_t processes;
	const char *program;
	struct counter *counters;
	size_t ncounters;
};

static int
file_error(const char *path, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
file_error(const char *path, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (line > 0)
		fprintf(stderr, "twshim: %s:%u: ", path, line);
	else
		fprintf(stderr, "twshim: %s: ", path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static const char *
file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a regular file";
}

/*
 * The whole file, NUL-terminated, in *text.  O_NOFOLLOW and the type check
 * refuse links, FIFOs and devices before a read could block or wander.
 */
static int
read_whole(const char *path, char **text, size_t *len, int *keep_fd)
{
	struct stat st;
	size_t size = 4096, n = 0;
	char *buf;
	ssize_t got;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;

		if (e == ELOOP && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			return file_error(path, 0, "a symbolic link (name the file itself)");
		return file_error(path, 0, "%s", strerror(e));
	}
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return file_error(path, 0, "%s", strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return file_error(path, 0, "%s, not a TWSHIM_STATS file", file_kind(st.st_mode));
	}
	if (st.st_size > STATS_FILE_MAX) {
		close(fd);
		return file_error(path, 0, "%jd bytes: too large for a TWSHIM_STATS file",
		    (intmax_t)st.st_size);
	}
	if ((buf = malloc(size)) == NULL) {
		close(fd);
		return file_error(path, 0, "%s", strerror(errno));
	}
	for (;;) {
		if (n > STATS_FILE_MAX) {	/* it grew since fstat */
			free(buf);
			close(fd);
			return file_error(path, 0, "more than %d bytes: too large for a "
			    "TWSHIM_STATS file", STATS_FILE_MAX);
		}
		if (n + 1 >= size) {
			char *bigger;

			if ((bigger = realloc(buf, size * 2)) == NULL) {
				free(buf);
				close(fd);
				return file_error(path, 0, "%s", strerror(errno));
			}
			buf = bigger;
			size *= 2;
		}
		got = read(fd, buf + n, size - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;

			free(buf);
			close(fd);
			return file_error(path, 0, "%s", strerror(e));
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	*keep_fd = fd;
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

/* A decimal count, digits only, that fits in 64 bits. */
static bool
parse_count(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

static bool
valid_key(const char *key)
{
	size_t len = strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_");

	return key[0] >= 'a' && key[0] <= 'z' && key[len] == '\0' && len <= STATS_KEY_MAX;
}

/* Split f->text into pid, program and counters; each line is checked. */
static int
parse_file(struct stats_file *f, size_t len)
{
	char *line = f->text, *next;
	unsigned lineno = 0;

	if (len == 0)
		return file_error(f->path, 0, "empty: not a TWSHIM_STATS file, or one "
		    "still being written");
	if (memchr(f->text, '\0', len) != NULL)
		return file_error(f->path, 0, "binary data, not a TWSHIM_STATS file");
	if (f->text[len - 1] != '\n')
		return file_error(f->path, 0, "truncated: the last line has no newline");
	f->pid = -1;
	for (; *line != '\0'; line = next) {
		char *eq, *value;
		uint64_t v;

		lineno++;
		next = strchr(line, '\n');
		*next++ = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			return file_error(f->path, lineno, "'%.40s' is not a key=value line",
			    line);
		*eq = '\0';
		value = eq + 1;
		if (!valid_key(line))
			return file_error(f->path, lineno, "'%.40s' is not a counter name",
			    line);
		if (strcmp(line, "program") == 0) {
			if (f->program != NULL)
				return file_error(f->path, lineno, "a second program= line");
			f->program = value;
			continue;
		}
		if (!parse_count(value, &v))
			return file_error(f->path, lineno, "%s: '%.40s' is not a count",
			    line, value);
		if (strcmp(line, "pid") == 0) {
			if (f->pid != -1)
				return file_error(f->path, lineno, "a second pid= line");
			if (v == 0 || v > INT32_MAX)
				return file_error(f->path, lineno, "%s is not a process id", value);
			f->pid = (long)v;
			continue;
		}
		for (size_t i = 0; i < f->ncounters; i++)
			if (strcmp(f->counters[i].key, line) == 0)
				return file_error(f->path, lineno, "%s given twice", line);
		if (f->ncounters == STATS_COUNTERS_MAX)
			return file_error(f->path, lineno, "more than %d counters: not a "
			    "TWSHIM_STATS file", STATS_COUNTERS_MAX);
		f->counters[f->ncounters].key = line;
		f->counters[f->ncounters].value = v;
		f->ncounters++;
	}
	if (f->pid == -1 || f->program == NULL)
		return file_error(f->path, 0, "no %s= line: not a TWSHIM_STATS file",
		    f->pid == -1 ? "pid" : "program");
	f->processes = 1;
	return 0;
}

/* The next header line of a live file, cut at its newline, or NULL. */
static char *
header_line(char **at, const char *end)
{
	char *line = *at, *nl = memchr(line, '\n', (size_t)(end - line));

	if (nl == NULL)
		return NULL;
	*nl = '\0';
	*at = nl + 1;
	return line;
}

static int
hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A live file's program name, \\ and \xNN (not \x00) made bytes again, in place. */
static int
unescape_name(char *s)
{
	char *w = s;

	while (*s != '\0') {
		if (s[0] != '\\') {
			*w++ = *s++;
		} else if (s[1] == '\\') {
			*w++ = '\\';
			s += 2;
		} else if (s[1] == 'x' && hex_digit(s[2]) >= 0 && hex_digit(s[3]) >= 0 &&
		    (s[2] != '0' || s[3] != '0')) {
			*w++ = (char)(hex_digit(s[2]) * 16 + hex_digit(s[3]));
			s += 4;
		} else {
			return -1;
		}
	}
	*w = '\0';
	return 0;
}

/*
 * A live file: the header (program=, uid=, counters=N@OFFSET and the N
 * counter names), NULs, then N 64-bit counters at OFFSET, which running
 * processes add to.  They are read from a mapping of the file with atomic
 * loads, so no value is seen half written.
 */
static int
parse_live(struct stats_file *f, size_t len, int fd)
{
	char *at = f->text + strlen(LIVE_MAGIC), *line, *eq;
	const char *end = memchr(f->text, '\0', len);
	unsigned long count = 0, offset = 0;
	unsigned lineno = 1;
	const char *keys[STATS_COUNTERS_MAX];
	int has_processes = 0;
	struct stat st;
	uint64_t *values;

	if (end == NULL)
		return file_error(f->path, 0, "no counters after the header");
	for (int h = 0; h < 3; h++) {
		lineno++;
		if ((line = header_line(&at, end)) == NULL)
			return file_error(f->path, lineno, "the header ends early");
		if ((eq = strchr(line, '=')) == NULL)
			return file_error(f->path, lineno, "'%.40s' is not a key=value line", line);
		*eq++ = '\0';
		if (h == 0 && strcmp(line, "program") == 0) {
			if (unescape_name(eq) < 0)
				return file_error(f->path, lineno, "program=%.40s: a bad escape", eq);
			f->program = eq;
		} else if (h == 1 && strcmp(line, "uid") == 0) {
			continue;
		} else if (h == 2 && strcmp(line, "counters") == 0 && eq[0] >= '0' && eq[0] <= '9') {
			char *o;

			count = strtoul(eq, &o, 10);
			if (*o == '@' && o[1] >= '0' && o[1] <= '9')
				offset = strtoul(o + 1, &o, 10);
			if (count == 0 || count > STATS_COUNTERS_MAX || *o != '\0' || offset == 0)
				return file_error(f->path, lineno, "counters=%.40s is not N@OFFSET", eq);
		} else {
			return file_error(f->path, lineno, "'%.40s' is not the header line expected",
			    line);
		}
	}
	if (f->program == NULL || count == 0)
		return file_error(f->path, 0, "no %s= line in the header",
		    f->program == NULL ? "program" : "counters");
	for (unsigned long i = 0; i < count; i++) {
		lineno++;
		if ((line = header_line(&at, end)) == NULL)
			return file_error(f->path, 0, "%lu counter names, not %lu", i, count);
		if (!valid_key(line) || strcmp(line, "pid") == 0 || strcmp(line, "program") == 0)
			return file_error(f->path, lineno, "'%.40s' is not a counter name", line);
		for (unsigned long j = 0; j < i; j++)
			if (strcmp(keys[j], line) == 0)
				return file_error(f->path, lineno, "%s given twice", line);
		keys[i] = line;
	}
	if (at != end || offset % 8 != 0 || offset < (size_t)(end - f->text) ||
	    offset + count * 8 != len)
		return file_error(f->path, 0, "the counters are not where the header says: "
		    "not a whole TWSHIM_STATS file");
	if (fstat(fd, &st) < 0 || (size_t)st.st_size != len)
		return file_error(f->path, 0, "changed size while read");
	/*
	 * Read, not mapped: a file cut short meanwhile (by whoever may write
	 * the directory) must be an error here, not a SIGBUS.  Each counter is
	 * one aligned 8-byte word, which a read never tears.
	 */
	values = count <= STATS_COUNTERS_MAX ? calloc(count, sizeof *values) : NULL;
	if (values == NULL)
		return file_error(f->path, 0, "%s", strerror(ENOMEM));
	if (pread(fd, values, count * 8, (off_t)offset) != (ssize_t)(count * 8)) {
		free(values);
		return file_error(f->path, 0, "changed size while read");
	}
	for (unsigned long i = 0; i < count; i++) {
		uint64_t v = values[i];

		if (strcmp(keys[i], "processes") == 0) {
			f->processes = v;
			has_processes = 1;
			continue;
		}
		f->counters[f->ncounters].key = keys[i];
		f->counters[f->ncounters].value = v;
		f->ncounters++;
	}
	free(values);
	if (!has_processes)
		return file_error(f->path, 0, "no processes counter");
	return 0;
}

static void *
xrealloc(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n, size);

	if (q == NULL) {
		fprintf(stderr, "twshim: out of memory\n");
		exit(1);
	}
	return q;
}

static void
grow_values(struct stats_program *p, size_t from, size_t to)
{
	p->values = xrealloc(p->values, to, sizeof p->values[0]);
	memset(p->values + from, 0, (to - from) * sizeof p->values[0]);
}

/* The index of key in set->keys, added when new; hint: where it usually is. */
static size_t
key_index(struct stats_set *set, const char *key, size_t hint)
{
	size_t i;

	if (hint < set->nkeys && strcmp(set->keys[hint], key) == 0)
		return hint;
	for (i = 0; i < set->nkeys; i++)
		if (strcmp(set->keys[i], key) == 0)
			return i;
	if (set->nkeys == set->keys_size) {
		size_t old = set->keys_size, size = old != 0 ? old * 2 : 64;

		set->keys = xrealloc(set->keys, size, sizeof set->keys[0]);
		for (size_t p = 0; p < set->nprograms; p++)
			grow_values(&set->programs[p], old, size);
		grow_values(&set->total, old, size);
		set->keys_size = size;
	}
	if ((set->keys[i] = strdup(key)) == NULL) {
		fprintf(stderr, "twshim: out of memory\n");
		exit(1);
	}
	return set->nkeys++;
}

static struct stats_program *
program_of(struct stats_set *set, const char *name)
{
	struct stats_program *p;

	for (size_t i = 0; i < set->nprograms; i++)
		if (strcmp(set->programs[i].name, name) == 0)
			return &set->programs[i];
	if (set->nprograms == set->programs_size) {
		set->programs_size = set->programs_size != 0 ? set->programs_size * 2 : 8;
		set->programs = xrealloc(set->programs, set->programs_size,
		    sizeof set->programs[0]);
	}
	p = &set->programs[set->nprograms++];
	memset(p, 0, sizeof *p);
	if ((p->name = strdup(name)) == NULL) {
		fprintf(stderr, "twshim: out of memory\n");
		exit(1);
	}
	grow_values(p, 0, set->keys_size);
	return p;
}

/* Add a parsed file to its program and the total, or to neither. */
static int
add_file(struct stats_set *set, const struct stats_file *f)
{
	struct stats_program *p;
	size_t idx[STATS_COUNTERS_MAX];

	for (size_t i = 0; i < f->ncounters; i++) {
		idx[i] = key_index(set, f->counters[i].key, i);
		if (set->total.values[idx[i]] > UINT64_MAX - f->counters[i].value)
			return file_error(f->path, 0, "%s: the sum passes 2^64",
			    f->counters[i].key);
	}
	p = program_of(set, f->program);
	p->pid = p->processes == 0 ? f->pid : -1;
	p->processes += f->processes;
	set->total.processes += f->processes;
	for (size_t i = 0; i < f->ncounters; i++) {
		p->values[idx[i]] += f->counters[i].value;
		set->total.values[idx[i]] += f->counters[i].value;
	}
	return 0;
}

static int
read_stats_file(struct stats_set *set, const char *path)
{
	static struct counter counters[STATS_COUNTERS_MAX];
	struct stats_file f = { .path = path, .counters = counters, .pid = -1 };
	size_t len = 0;
	int rc, fd = -1;

	if (read_whole(path, &f.text, &len, &fd) < 0)
		return -1;
	if (len >= strlen(LIVE_MAGIC) && memcmp(f.text, LIVE_MAGIC, strlen(LIVE_MAGIC)) == 0)
		rc = parse_live(&f, len, fd);
	else
		rc = parse_file(&f, len);
	close(fd);
	if (rc == 0)
		rc = add_file(set, &f);
	free(f.text);
	return rc;
}

static int
by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The live files of a TWSHIM_STATS directory (NAME.twstats; the dot files
 * are files being made), in name order; their count in *nfiles.
 */
static int
read_stats_dir(struct stats_set *set, const char *dir, int *nfiles)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, size = 0;
	int bad = 0;

	if (d == NULL)
		return file_error(dir, 0, "%s", strerror(errno));
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (e->d_name[0] == '.' || len <= 8 || strcmp(e->d_name + len - 8, ".twstats") != 0)
			continue;
		if (n == size) {
			size = size != 0 ? size * 2 : 16;
			names = xrealloc(names, size, sizeof names[0]);
		}
		if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0) {
			fprintf(stderr, "twshim: out of memory\n");
			exit(1);
		}
		n++;
	}
	closedir(d);
	if (n == 0)
		fprintf(stderr, "twshim: %s: no stats files (NAME.twstats) yet\n", dir);
	qsort(names, n, sizeof names[0], by_string);
	for (size_t i = 0; i < n; i++) {
		if (read_stats_file(set, names[i]) < 0)
			bad++;
		free(names[i]);
	}
	free(names);
	*nfiles += (int)n;
	return bad;
}

/*
 * A program whose processes made no connection, neither out nor in, most
 * often lost its files: one that could not create or open its own (a
 * worker that dropped its privileges first, a directory it cannot write).
 */
static void
warn_no_connections(const struct stats_set *set)
{
	for (size_t i = 0; i < set->nprograms; i++) {
		const struct stats_program *p = &set->programs[i];
		uint64_t connections = 0;
		bool seen = false;

		for (size_t k = 0; k < set->nkeys; k++)
			if (strcmp(set->keys[k], "role_client") == 0 ||
			    strcmp(set->keys[k], "role_accepted") == 0) {
				connections += p->values[k];
				seen = true;
			}
		if (seen && connections == 0) {
			char *name = stats_escape_name(p->name);

			fprintf(stderr, "twshim: warning: %s: no connection counted in %lu "
			    "process%s; stats files may be missing (see TWSHIM_STATS in twshim(1))\n",
			    name, p->processes, p->processes == 1 ? "" : "es");
			free(name);
		}
	}
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct stats_program *)a)->name,
	    ((const struct stats_program *)b)->name);
}

static void
free_set(struct stats_set *set)
{
	for (size_t i = 0; i < set->nkeys; i++)
		free(set->keys[i]);
	for (size_t i = 0; i < set->nprograms; i++) {
		free(set->programs[i].name);
		free(set->programs[i].values);
	}
	free(set->keys);
	free(set->programs);
	free(set->total.values);
}

static int
stats_usage(void)
{
	fprintf(stderr, "usage: twshim --stats [--format text|json|prometheus] DIR|FILE...\n");
	return EXIT_USAGE;
}

int
stats_main(int argc, char **argv)
{
	enum { TEXT, JSON, PROMETHEUS } format = TEXT;
	struct stats_set set = { 0 };
	const char *name;
	int i, nfiles, bad = 0;

	for (i = 0; i < argc && strncmp(argv[i], "--format", 8) == 0; i++) {
		if (argv[i][8] == '=')
			name = argv[i] + 9;
		else if (argv[i][8] == '\0' && i + 1 < argc)
			name = argv[++i];
		else
			return stats_usage();
		if (strcmp(name, "text") == 0)
			format = TEXT;
		else if (strcmp(name, "json") == 0)
			format = JSON;
		else if (strcmp(name, "prometheus") == 0)
			format = PROMETHEUS;
		else {
			fprintf(stderr, "twshim: unknown format '%s' (text, json or "
			    "prometheus)\n", name);
			return EXIT_USAGE;
		}
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc)
		return stats_usage();

	set.total.name = "total";
	nfiles = 0;
	for (; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			bad += read_stats_dir(&set, argv[i], &nfiles);
			continue;
		}
		nfiles++;
		if (read_stats_file(&set, argv[i]) < 0)
			bad++;
	}
	if (bad > 0) {
		fprintf(stderr, "twshim: %d of %d file%s refused; no totals printed\n",
		    bad, nfiles, nfiles == 1 ? "" : "s");
		free_set(&set);
		return 1;
	}
	qsort(set.programs, set.nprograms, sizeof set.programs[0], by_name);
	warn_no_connections(&set);
	if (format == JSON)
		stats_print_json(&set, stdout);
	else if (format == PROMETHEUS)
		stats_print_prometheus(&set, stdout);
	else
		stats_print_text(&set, stdout);
	free_set(&set);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "twshim: writing the totals: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
