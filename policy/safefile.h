/*
 * safefile.h - opening the files a user names in the environment
 * (TWSHIM_POLICY, TWSHIM_LOG_FILE, TWSHIM_STATS) so that no path can make
 * a program hang, follow a planted symbolic link, or write into something
 * that is not the file it looks like.
 *
 * Shared by the library and the launcher.  Only system calls, made with
 * syscall(2) where the library hooks the libc function: async-signal-safe,
 * and never seen by the library's own hooks.
 */
#ifndef TWSHIM_SAFEFILE_H
#define TWSHIM_SAFEFILE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * errno after a refusal that is not the kernel's: the path is there but
 * is not the kind of file asked for (a FIFO, a directory, a device).
 */
#define SAFE_EWRONGTYPE	ENODEV
/* errno when a directory on the path, not the file itself, is a symbolic link. */
#define SAFE_ELINKEDDIR	EMLINK

#include <sys/types.h>

/*
 * A policy to read: a regular file only (a symbolic link to one is fine).
 * Its type is checked before it is opened, so no FIFO or device is ever
 * opened (a FIFO's writer woken, a device's driver run), and the open does
 * not block.  Returns a read-only, close-on-exec descriptor, or -1 with
 * errno set.
 */
int safe_open_input(const char *path);

/*
 * A log to append to: a regular file (created 0644 when missing), a
 * terminal, or a FIFO that has a reader.  Never reached through a symbolic
 * link, neither the file itself nor any directory on its path; never
 * blocks in open.  Returns a close-on-exec descriptor in blocking mode,
 * as stderr would be, or -1 with errno set.
 */
int safe_open_log(const char *path);

/*
 * open(2) of path, relative to the working directory, following no
 * symbolic link anywhere in it: ELOOP when the file is one,
 * SAFE_ELINKEDDIR when a directory on the way is.  openat2(RESOLVE_NO_SYMLINKS) where the kernel has it, else
 * one directory at a time.
 */
int safe_open_linkless(const char *path, int flags, mode_t mode);

/*
 * For a file written whole and renamed into place: 0 when path is absent
 * or a regular file, else -1 with errno (ELOOP for a symbolic link,
 * SAFE_EWRONGTYPE for anything else that is not a regular file).
 */
int safe_check_replaceable(const char *path);

/*
 * A new file to write: O_CREAT | O_EXCL | O_NOFOLLOW, so nothing already
 * at path (a planted link, a FIFO) is opened.  -1 with errno on failure.
 */
int safe_create_new(const char *path);

/* read(2) without the library's hooks. */
long safe_read(int fd, void *buf, size_t len);

/*
 * close(2), unlink(2), rename(2), link(2) without the library's hooks.
 * safe_close() keeps errno and returns the error of a failed close (a
 * write the file system could not keep shows there), or 0.
 */
int safe_close(int fd);
int safe_unlink(const char *path);
int safe_rename(const char *from, const char *to);
int safe_link(const char *from, const char *to);

/* Words for errno after the calls above (not async-signal-safe). */
const char *safe_strerror(int err);

#endif
