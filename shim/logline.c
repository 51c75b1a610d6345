/*
 * logline.c - formatting one log line (see logline.h).
 *
 * The snprintf family returns the length the text would have had, not
 * what it wrote: every offset is clamped to the buffer before it is used,
 * so no name or message is ever long enough to write past the end.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "logline.h"

static size_t
clamp(int n, size_t limit)
{
	return n < 0 ? 0 : (size_t)n > limit ? limit : (size_t)n;
}

size_t
tw_log_format(char *line, size_t size, const char *program, long pid,
    const char *level, const char *fmt, va_list ap)
{
	/* Room for the text, then '\n' and the NUL. */
	size_t room = size - 2, n;
	bool cut;
	int want;

	want = snprintf(line, room + 1, "twshim: %s[%ld]: %s: ",
	    program != NULL ? program : "?", pid, level);
	n = clamp(want, room);
	cut = want < 0 || (size_t)want > room;
	if (!cut) {
		want = vsnprintf(line + n, room - n + 1, fmt, ap);
		cut = want < 0 || (size_t)want > room - n;
		n += clamp(want, room - n);
	}
	if (cut && n >= 3)
		memcpy(line + n - 3, "...", 3);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[n++] = '\n';
	line[n] = '\0';
	return n;
}
