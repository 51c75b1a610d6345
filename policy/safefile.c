/*
 * safefile.c - see safefile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "safefile.h"

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

int
safe_open_input(const char *path)
{
	return keep_if(sys_open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0),
	    true, false, false);
}

int
safe_open_log(const char *path)
{
	int fd = keep_if(sys_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0644), true, true, true);
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
	case SAFE_EWRONGTYPE:
		return "not a regular file";
	case ENXIO:
		return "a FIFO with no reader";
	default:
		return strerror(err);
	}
}
