/*
 * real.h - the functions twshim wraps, as the next object in the lookup
 * order (libc, or another preloaded library) provides them.
 *
 * REAL(name) is safe from the very first call, before any constructor has
 * run: a slot is filled by dlsym(RTLD_NEXT) the first time it is needed,
 * which allocates nothing when the symbol exists.
 */
#ifndef TWSHIM_REAL_H
#define TWSHIM_REAL_H

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/* libc's fortified entry points: its headers declare them only under _FORTIFY_SOURCE. */
__attribute__((visibility("default"))) ssize_t __read_chk(int, void *, size_t, size_t);
__attribute__((visibility("default"))) ssize_t __recv_chk(int, void *, size_t, size_t, int);
__attribute__((visibility("default"))) ssize_t __recvfrom_chk(int, void *, size_t, size_t, int,
    struct sockaddr *, socklen_t *);
/* libc's other name for clone(), which its headers do not declare. */
__attribute__((visibility("default"))) int __clone(int (*)(void *), void *, int, void *, ...);

#pragma GCC visibility push(hidden)

#define HOOK(ret, name, params) typedef ret (*real_##name##_fn) params;
#include "hooks.def"
#undef HOOK

struct real_fns {
#define HOOK(ret, name, params) real_##name##_fn name;
#include "hooks.def"
#undef HOOK
};

enum real_index {
#define HOOK(ret, name, params) REAL_IDX_##name,
#include "hooks.def"

#undef HOOK
	REAL_COUNT
};

extern struct real_fns tw_real;

/* Resolve one slot; NULL when no later object defines the symbol. */
void *real_resolve(enum real_index idx);

/* Resolve every slot now (the constructor and fork's prepare do this). */
void real_resolve_all(void);

#define REAL(name)							\
	(__atomic_load_n(&tw_real.name, __ATOMIC_RELAXED) != NULL ?	\
	    tw_real.name :						\
	    (real_##name##_fn)real_resolve(REAL_IDX_##name))

#pragma GCC visibility pop

#endif
