/*
 * safefile.c - see safefile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "safefile.h"

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

static int
sys_open(const char *path, int flags, mode_t mode)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

long
safe_read(int fd, void *buf, size_t len)
{
	return syscall(SYS_read, fd, buf, len);
}

int
safe_close(int fd)
{
	int saved = errno, err = 0;

	if (fd >= 0 && syscall(SYS_close, fd) < 0 && errno != EINTR)
		err = errno;
	errno = saved;
	return err;
}

int
safe_unlink(const char *path)
{
	return (int)syscall(SYS_unlinkat, AT_FDCWD, path, 0);
}

int
safe_rename(const char *from, const char *to)
{
	return (int)syscall(SYS_renameat, AT_FDCWD, from, AT_FDCWD, to);
}

int
safe_link(const char *from, const char *to)
{
	return (int)syscall(SYS_linkat, AT_FDCWD, from, AT_FDCWD, to, 0);
}

/* Keep fd only when its type is one of those allowed. */
static int
keep_if(int fd, bool regular, bool tty, bool fifo)
{
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		safe_close(fd);
		return -1;
	}
	if ((regular && S_ISREG(st.st_mode)) || (fifo && S_ISFIFO(st.st_mode)) ||
	    (tty && S_ISCHR(st.st_mode) && isatty(fd)))
		return fd;
	safe_close(fd);
	errno = S_ISDIR(st.st_mode) ? EISDIR : SAFE_EWRONGTYPE;
	return -1;
}

/*
 * The type is known before the open: opening a device runs its driver
 * (a tape rewinds, a modem line is raised) and opening a FIFO wakes a
 * writer waiting for a reader, whatever is done with the descriptor then.
 * The file opened must still be the one looked at: one swapped in between
 * is refused all the same.
 */
int
safe_open_input(const char *path)
{
	struct stat before, now;
	int fd;

	if (stat(path, &before) < 0)
		return -1;
	if (!S_ISREG(before.st_mode)) {
		errno = S_ISDIR(before.st_mode) ? EISDIR : SAFE_EWRONGTYPE;
		return -1;
	}
	fd = keep_if(sys_open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0),
	    true, false, false);
	if (fd >= 0 && (fstat(fd, &now) < 0 || now.st_dev != before.st_dev ||
	    now.st_ino != before.st_ino)) {
		safe_close(fd);
		errno = SAFE_EWRONGTYPE;
		return -1;
	}
	return fd;
}

/*
 * openat2(2) told to follow no symbolic link anywhere in the path.  -1
 * with ENOSYS where there is none: an old kernel, or a seccomp filter that
 * refuses it (ENOSYS or EPERM), or headers that lack it.
 */
static int
open_linkless_kernel(const char *path, int flags, mode_t mode)
{
#ifdef SYS_openat2
	struct open_how how = {
		.flags = (unsigned)flags,
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_NO_SYMLINKS,
	};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);

	if (fd < 0 && (errno == EPERM || errno == E2BIG || errno == EINVAL))
		errno = ENOSYS;
	return fd;
#else
	(void)path;
	(void)flags;
	(void)mode;
	errno = ENOSYS;
	return -1;
#endif
}

/* Step from directory dir into its entry name, which must be a directory and no link. */
static int
step_into(int dir, const char *name)
{
	struct stat st;
	int sub = (int)syscall(SYS_openat, dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);

	if (sub < 0)
		return -1;
	if (fstat(sub, &st) < 0) {
		safe_close(sub);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		safe_close(sub);
		errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
		return -1;
	}
	return sub;
}

/*
 * The same without openat2: each directory of the path opened in turn,
 * from the one before it, as a directory that is not a link; the last
 * name opened from the last directory with O_NOFOLLOW.
 */
static int
open_linkless_walk(const char *path, int flags, mode_t mode)
{
	char name[PATH_MAX];
	size_t len = strlen(path);
	int dir = AT_FDCWD, fd;
	char *at = name, *slash;

	if (len >= sizeof name) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(name, path, len + 1);
	if (*at == '/') {
		if ((dir = (int)syscall(SYS_openat, AT_FDCWD, "/", O_PATH | O_DIRECTORY |
		    O_CLOEXEC, 0)) < 0)
			return -1;
		at += strspn(at, "/");
	}
	while ((slash = strchr(at, '/')) != NULL) {
		*slash = '\0';
		if (strcmp(at, ".") != 0) {
			int sub = step_into(dir, at);

			if (dir != AT_FDCWD)
				safe_close(dir);
			if (sub < 0)
				return -1;
			dir = sub;
		}
		at = slash + 1;
		at += strspn(at, "/");
	}
	fd = (int)syscall(SYS_openat, dir, *at != '\0' ? at : ".", flags | O_NOFOLLOW, mode);
	if (dir != AT_FDCWD)
		safe_close(dir);
	return fd;
}

int
safe_open_linkless(const char *path, int flags, mode_t mode)
{
	struct stat st;
	int fd = open_linkless_kernel(path, flags, mode);

	if (fd < 0 && errno == ENOSYS)
		fd = open_linkless_walk(path, flags, mode);
	/* Which link, for the message: the file itself, or a directory on the way. */
	if (fd < 0 && errno == ELOOP && !(lstat(path, &st) == 0 && S_ISLNK(st.st_mode)))
		errno = SAFE_ELINKEDDIR;
	return fd;
}

int
safe_open_log(const char *path)
{
	int fd = keep_if(safe_open_linkless(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NONBLOCK | O_NOCTTY, 0644), true, true, true);
	int fl;

	/* Non-blocking only for the open: lines then wait as stderr's would. */
	if (fd >= 0 && (fl = (int)syscall(SYS_fcntl, fd, F_GETFL)) >= 0)
		(void)syscall(SYS_fcntl, fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

int
safe_check_replaceable(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISREG(st.st_mode))
		return 0;
	errno = S_ISLNK(st.st_mode) ? ELOOP : S_ISDIR(st.st_mode) ? EISDIR : SAFE_EWRONGTYPE;
	return -1;
}

int
safe_create_new(const char *path)
{
	return sys_open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK | O_NOCTTY, 0644);
}

const char *
safe_strerror(int err)
{
	switch (err) {
	case ELOOP:
		return "it is a symbolic link, which twshim does not follow";
	case SAFE_ELINKEDDIR:
		return "a directory on its path is a symbolic link, which twshim does not follow";
	case SAFE_EWRONGTYPE:
		return "not a regular file";
	case ENXIO:
		return "a FIFO with no reader";
	default:
		return strerror(err);
	}
}
