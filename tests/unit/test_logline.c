/*
 * test_logline.c - one log line: never longer than TW_LOG_LINE_MAX, always
 * one line, whatever the program name, the path or the format, and the
 * policy parser's error list bounded.  Run under ASan: a write past the
 * buffer is a failure even when the text looks right.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logline.h"
#include "policy.h"

/* Exactly the size the logger uses, so ASan sees any byte past it. */
static size_t
format(char **out, const char *program, const char *fmt, ...)
{
	char *line = malloc(TW_LOG_LINE_MAX + 1);
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = tw_log_format(line, TW_LOG_LINE_MAX + 1, program, 4194304, "debug", fmt, ap);
	va_end(ap);
	*out = line;
	return n;
}

static void
check_line(const char *line, size_t n)
{
	cr_assert_leq(n, TW_LOG_LINE_MAX);
	cr_assert_eq(strlen(line), n);
	cr_assert_eq(line[n - 1], '\n');
	cr_assert_eq(strncmp(line, "twshim: ", 8), 0);
	for (size_t i = 0; i + 1 < n; i++)
		cr_assert(line[i] >= 0x20 && line[i] != 0x7f, "control character at %zu", i);
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

Test(logline, every_name_length_fits)
{
	for (size_t len = 0; len <= 2048; len++) {
		char *name = repeat('x', len), *line;
		size_t n = format(&line, name, "policy %s loaded%s", "/etc/twshim.conf", "");

		check_line(line, n);
		if (strstr(line, "policy /etc/twshim.conf loaded\n") == NULL)
			cr_assert_eq(strcmp(line + n - 4, "...\n"), 0, "name of %zu: cut lines "
			    "end in ...: %s", len, line);
		if (len < 400)
			cr_assert(strstr(line, "policy /etc/twshim.conf loaded\n") != NULL,
			    "name of %zu: %s", len, line);
		free(name);
		free(line);
	}
}

/* The kinds of format the shim's messages use, each with long arguments. */
Test(logline, every_argument_length_fits)
{
	for (size_t len = 0; len <= 1200; len += 7) {
		char *arg = repeat('a', len), *line;
		size_t n;

		n = format(&line, "prog", "cannot open log file %s: %s; logging to stderr", arg,
		    "No such file or directory");
		check_line(line, n);
		free(line);
		n = format(&line, arg, "policy %s:%u:%u: %s (%u error%s in all); %s%s%s%s", arg,
		    4294967295u, 1024u, arg, 524287u, "s", "running the program without twshim",
		    " (twshim --check ", arg, " lists every error)");
		check_line(line, n);
		free(line);
		n = format(&line, "p", "fd %d: %s %s: %s (errno %d) %lu %ld %zu %c%%", 2147483647,
		    arg, "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535", arg, -1,
		    (unsigned long)-1, (long)-1, (size_t)len, 'z');
		check_line(line, n);
		free(line);
		free(arg);
	}
}

Test(logline, control_characters_stay_on_one_line)
{
	char *line;
	size_t n = format(&line, "evil\nname", "path %s\r\x1b[2J", "/tmp/a\nb");

	check_line(line, n);
	cr_assert_str_eq(line, "twshim: evil?name[4194304]: debug: path /tmp/a?b??[2J\n");
	free(line);
}

Test(logline, no_program_name_yet)
{
	char *line;
	size_t n = format(&line, NULL, "early");

	check_line(line, n);
	cr_assert_str_eq(line, "twshim: ?[4194304]: debug: early\n");
	free(line);
}

/* A file of nothing but errors: every one counted, the first 100 kept. */
Test(policy_errors, bounded)
{
	size_t count = 5000, len = count * 2;
	char *text = malloc(len), *out = NULL;
	struct policy_diag diag;
	size_t outlen = 0;
	FILE *f;

	for (size_t i = 0; i < count; i++)
		memcpy(text + 2 * i, "x\n", 2);
	cr_assert_null(policy_parse_string(text, len, "big.conf", false, &diag));
	cr_assert_eq(diag.nerrors, count);
	cr_assert_eq(diag.errors[POLICY_MAX_ERRORS - 1].line, POLICY_MAX_ERRORS);
	f = open_memstream(&out, &outlen);
	policy_diag_print(&diag, f);
	fclose(f);
	cr_assert(strstr(out, "big.conf:100:1: ") != NULL);
	cr_assert(strstr(out, "big.conf:101:1: ") == NULL);
	cr_assert(strstr(out, "\nbig.conf: and 4900 more errors\n") != NULL, "%s", out);
	policy_diag_free(&diag);
	free(out);
	free(text);
}
