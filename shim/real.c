/*
 * real.c - finding the functions twshim wraps.
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "real.h"

struct real_fns tw_real;

static const char *const real_names[REAL_COUNT] = {
#define HOOK(ret, name, params) #name,
#include "hooks.def"
#undef HOOK
};

/*
 * Our own definitions, to recognise a lookup that found us again (which
 * happens when the library is loaded twice or linked into the program):
 * calling such a "real" function would recurse until the stack runs out.
 */
static void *
own_symbol(enum real_index idx)
{
	switch (idx) {
#define HOOK(ret, name, params) case REAL_IDX_##name: return (void *)&name;
#include "hooks.def"
#undef HOOK
	default:
		return NULL;
	}
}

static void
die_recursive(const char *name)
{
	static const char pre[] = "twshim: fatal: the next definition of ";
	static const char post[] = " is twshim itself (library loaded twice?)\n";

	/* Plain write(2): nothing here may allocate or recurse. */
	(void)!write(2, pre, sizeof pre - 1);
	(void)!write(2, name, strlen(name));
	(void)!write(2, post, sizeof post - 1);
	abort();
}

void *
real_resolve(enum real_index idx)
{
	void **slot = (void **)&tw_real + idx;
	void *fn;
	int saved = errno;

	fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (fn != NULL)
		return fn;
	fn = dlsym(RTLD_NEXT, real_names[idx]);
	if (fn != NULL && fn == own_symbol(idx))
		die_recursive(real_names[idx]);
	/* Every thread that races here stores the same value. */
	__atomic_store_n(slot, fn, __ATOMIC_RELEASE);
	errno = saved;
	return fn;
}

void
real_resolve_all(void)
{
	for (int i = 0; i < REAL_COUNT; i++)
		(void)real_resolve((enum real_index)i);
}
