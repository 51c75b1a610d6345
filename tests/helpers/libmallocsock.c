/*
 * libmallocsock.so - a malloc interposer that makes and closes a TCP
 * socket inside every 64th malloc(), the way allocators that open files
 * or call syscall() re-enter an interposer.  Preloaded after libtwshim.so
 * it runs under the shim's hooks, including during their own start-up.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);

static __thread int inside;
static unsigned long calls;

void *
malloc(size_t size)
{
	void *p = __libc_malloc(size);

	if (!inside && (__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) % 64) == 0) {
		inside = 1;
		close(socket(AF_INET, SOCK_STREAM, 0));
		inside = 0;
	}
	return p;
}
