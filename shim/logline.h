/*
 * logline.h - the text of one log line, apart from where it is written.
 */
#ifndef TWSHIM_LOGLINE_H
#define TWSHIM_LOGLINE_H

#include <stdarg.h>
#include <stddef.h>

#pragma GCC visibility push(hidden)

/* The longest line the logger writes, its newline included. */
#define TW_LOG_LINE_MAX	512

/*
 * "twshim: PROGRAM[PID]: LEVEL: MESSAGE\n" into line (size bytes, at
 * least 8), cut to fit: a line that did not fit ends in "...\n".  Control
 * characters (a newline in a program name or a path) become '?', so one
 * event is one line.  Returns the length, newline included, NUL excluded.
 */
size_t tw_log_format(char *line, size_t size, const char *program, long pid,
    const char *level, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

#pragma GCC visibility pop

#endif
