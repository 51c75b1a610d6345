/*
 * fdtable.c - the table of tracked sockets (see fdtable.h).
 */
#include <string.h>

#include "fdtable.h"
#include "mem.h"
#include "spin.h"

/*
 * uthash with the shim's allocator (no malloc), a plain hash on the
 * descriptor number (they are small and dense, so the identity spreads them
 * perfectly) and an integer compare.
 */
#define uthash_malloc(sz)	tw_alloc(sz)
#define uthash_free(p, sz)	tw_free((p), (sz))
#define uthash_fatal(msg)	do { } while (0)
#define HASH_NONFATAL_OOM	1
#define HASH_FUNCTION(keyptr, keylen, hashv) \
	((hashv) = (unsigned)*(const int *)(keyptr))
#define HASH_KEYCMP(a, b, n)	(*(const int *)(a) != *(const int *)(b))
#include <uthash.h>

struct tw_fd {
	int fd;
	bool cloexec;
	struct tw_desc *desc;
	UT_hash_handle hh;
};

unsigned char tw_fdflag[TW_FLAG_SLOTS];
uint16_t tw_fdnote[TW_FLAG_SLOTS];
unsigned tw_fd_high;

static int table_lock;

#ifdef TW_SPIN_STATS
#include <stdio.h>
unsigned long tw_spin_waits, tw_spin_ns, tw_spin_takes;

static __attribute__((destructor)) void
print_spin_stats(void)
{
	fprintf(stderr, "twshim-spin: %lu locks taken, %lu waited, %lu ns waiting\n",
	    tw_spin_takes, tw_spin_waits, tw_spin_ns);
}
#endif
static struct tw_fd *table;
static unsigned table_entries;	/* HASH_COUNT(table), readable without the lock */

unsigned tw_fd_live;
unsigned tw_fd_internal;

/* The number's receive notes start over, and any note on its way is dropped (fdtable.h). */
static void
new_generation(int fd)
{
	uint16_t was = __atomic_load_n(&tw_fdnote[fd], __ATOMIC_RELAXED);

	while (!__atomic_compare_exchange_n(&tw_fdnote[fd], &was,
	    (uint16_t)((was | (TW_NOTE_GEN_ONE - 1)) + 1), false,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static void
set_flag(int fd, unsigned char flag)
{
	unsigned char old;

	if ((unsigned)fd < TW_FLAG_SLOTS) {
		new_generation(fd);
		old = __atomic_exchange_n(&tw_fdflag[fd], flag, __ATOMIC_RELAXED);
		if (!old && flag)
			__atomic_add_fetch(&tw_fd_live, 1, __ATOMIC_RELAXED);
		else if (old && !flag)
			__atomic_sub_fetch(&tw_fd_live, 1, __ATOMIC_RELAXED);
		if (old != TW_FD_INTERNAL && flag == TW_FD_INTERNAL)
			__atomic_add_fetch(&tw_fd_internal, 1, __ATOMIC_RELAXED);
		else if (old == TW_FD_INTERNAL && flag != TW_FD_INTERNAL)
			__atomic_sub_fetch(&tw_fd_internal, 1, __ATOMIC_RELAXED);
		return;
	}
	/*
	 * Above the array only tracked sockets exist (the shim keeps its own
	 * descriptors lower), and link/unlink call this exactly once each.
	 */
	if (flag == TW_FD_TRACKED) {
		__atomic_add_fetch(&tw_fd_high, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&tw_fd_live, 1, __ATOMIC_RELAXED);
	} else if (flag == TW_FD_NONE) {
		__atomic_sub_fetch(&tw_fd_high, 1, __ATOMIC_RELAXED);
		__atomic_sub_fetch(&tw_fd_live, 1, __ATOMIC_RELAXED);
	}
}

/*
 * Things the next entry must see to, in one word so that the common path
 * tests one load: a fork the handlers could not follow (see init.c) left
 * the parent's sockets to mark shared, or the child's table frozen.
 */
#define ATTN_SHARED_LATER	1u
#define ATTN_FROZEN		2u
static unsigned attention;

void
fdt_mark_shared_later(void)
{
	__atomic_fetch_or(&attention, ATTN_SHARED_LATER, __ATOMIC_RELEASE);
}

void
fdt_freeze(void)
{
	__atomic_fetch_or(&attention, ATTN_FROZEN, __ATOMIC_RELEASE);
}

bool
fdt_frozen(void)
{
	return (__atomic_load_n(&attention, __ATOMIC_RELAXED) & ATTN_FROZEN) != 0;
}

bool
fdt_enter_fast(void)
{
	unsigned attn = __atomic_load_n(&attention, __ATOMIC_ACQUIRE);

	if (tw_busy || TW_UNLIKELY(attn & ATTN_FROZEN))
		return false;
	tw_busy++;
	tw_spin_lock(&table_lock);
	/* Set after the load above: the next entry sees it. */
	if (TW_UNLIKELY(attn & ATTN_SHARED_LATER) &&
	    (__atomic_fetch_and(&attention, ~ATTN_SHARED_LATER, __ATOMIC_ACQUIRE) &
	    ATTN_SHARED_LATER))
		fdt_mark_shared(false);
	return true;
}

bool
fdt_enter(void)
{
	if (tw_busy || tw_foreign_process())
		return false;
	return fdt_enter_fast();
}

void
fdt_leave(void)
{
	tw_spin_unlock(&table_lock);
	tw_busy--;
}

static void release_desc(struct tw_desc *d);

/*
 * fd's entry.  Below TW_FLAG_SLOTS an entry stands only under a TRACKED
 * flag byte.  One found under another flag is stale: its socket was
 * closed where no hook saw it and the library took the number for a
 * descriptor of its own (fdt_set_internal), which cannot enter the table
 * to drop it.  It goes here, so that it never comes back under a socket
 * made on that number later.
 */
static struct tw_fd *
find_entry(int fd)
{
	struct tw_fd *e;

	HASH_FIND_INT(table, &fd, e);
	if (e != NULL && (unsigned)fd < TW_FLAG_SLOTS &&
	    __atomic_load_n(&tw_fdflag[fd], __ATOMIC_RELAXED) != TW_FD_TRACKED) {
		HASH_DEL(table, e);
		__atomic_sub_fetch(&table_entries, 1, __ATOMIC_RELAXED);
		release_desc(e->desc);
		tw_free(e, sizeof *e);
		return NULL;
	}
	return e;
}

static struct tw_desc *link_entry(int fd, struct tw_desc *d, bool cloexec);

/* Give a lazily noted socket its table entry. */
static struct tw_desc *
materialize(int fd)
{
	unsigned char flag;
	struct tw_desc *d;

	if ((unsigned)fd >= TW_FLAG_SLOTS)
		return NULL;
	flag = __atomic_load_n(&tw_fdflag[fd], __ATOMIC_RELAXED);
	if (!(flag & TW_FD_LAZY) || (d = tw_alloc(sizeof *d)) == NULL)
		return NULL;
	d->family = (flag & TW_FD_LAZY_V6) ? AF_INET6 : AF_INET;
	if (flag & TW_FD_LAZY_SHARED)
		d->flags |= TW_D_SHARED;
	if (link_entry(fd, d, (flag & TW_FD_LAZY_CLOEXEC) != 0) == NULL) {
		tw_free(d, sizeof *d);
		return NULL;
	}
	return d;
}

struct tw_desc *
fdt_find(int fd)
{
	struct tw_fd *e = find_entry(fd);

	if (e != NULL)
		return e->desc;
	return materialize(fd);
}

void
fdt_note_socket(int fd, int family, bool cloexec)
{
	unsigned char flag = TW_FD_LAZY | (family == AF_INET6 ? TW_FD_LAZY_V6 : 0) |
	    (cloexec ? TW_FD_LAZY_CLOEXEC : 0);

	if ((unsigned)fd < TW_FLAG_SLOTS &&
	    __atomic_load_n(&tw_fdflag[fd], __ATOMIC_RELAXED) == TW_FD_NONE) {
		/* The number is ours alone until close(): no exchange needed. */
		__atomic_store_n(&tw_fdflag[fd], flag, __ATOMIC_RELAXED);
		__atomic_add_fetch(&tw_fd_live, 1, __ATOMIC_RELAXED);
		return;
	}
	/* A stale entry to replace, or a number above the flag array. */
	if (!fdt_enter_fast())
		return;
	(void)fdt_add(fd, family, cloexec);
	fdt_leave();
}

/*
 * Change a lazily noted socket's flag byte, unless it stopped being one
 * meanwhile (another thread closed it): a compare-and-swap, so a racing
 * update never puts a stale flag back on a number.
 */
static bool
update_lazy(int fd, unsigned char clear, unsigned char set)
{
	unsigned char old = __atomic_load_n(&tw_fdflag[fd], __ATOMIC_RELAXED), want;

	do {
		if (!(old & TW_FD_LAZY))
			return false;
		want = (unsigned char)((old & ~clear) | set);
	} while (!__atomic_compare_exchange_n(&tw_fdflag[fd], &old, want, false,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return true;
}

void
fdt_drop_lazy(int fd)
{
	if ((unsigned)fd < TW_FLAG_SLOTS && update_lazy(fd, 0xff, TW_FD_NONE))
		__atomic_sub_fetch(&tw_fd_live, 1, __ATOMIC_RELAXED);
}

void
fdt_drop_lazy_range(unsigned lo, unsigned hi)
{
	for (unsigned fd = lo; fd <= hi && fd < TW_FLAG_SLOTS; fd++)
		fdt_drop_lazy((int)fd);
}

static void
release_desc(struct tw_desc *d)
{
	if (--d->refs == 0)
		tw_free(d, sizeof *d);
}

/* Unlink fd's entry; returns its socket state, which the caller releases. */
static struct tw_desc *
unlink_entry(int fd)
{
	struct tw_fd *e = find_entry(fd);
	struct tw_desc *d;

	if (e == NULL) {
		fdt_drop_lazy(fd);
		return NULL;
	}
	HASH_DEL(table, e);
	__atomic_sub_fetch(&table_entries, 1, __ATOMIC_RELAXED);
	d = e->desc;
	tw_free(e, sizeof *e);
	set_flag(fd, TW_FD_NONE);
	return d;
}

static struct tw_desc *
link_entry(int fd, struct tw_desc *d, bool cloexec)
{
	struct tw_fd *e = tw_alloc(sizeof *e);

	if (e == NULL)
		return NULL;
	e->fd = fd;
	e->cloexec = cloexec;
	e->desc = d;
	HASH_ADD_INT(table, fd, e);
	if (e->hh.tbl == NULL) {
		/* uthash could not allocate (HASH_NONFATAL_OOM): stay out of the way. */
		tw_free(e, sizeof *e);
		return NULL;
	}
	d->refs++;
	__atomic_add_fetch(&table_entries, 1, __ATOMIC_RELAXED);
	set_flag(fd, TW_FD_TRACKED);
	return d;
}

struct tw_desc *
fdt_add(int fd, int family, bool cloexec)
{
	struct tw_desc *d;

	(void)fdt_remove(fd, NULL);
	d = tw_alloc(sizeof *d);
	if (d == NULL)
		return NULL;
	d->family = (uint8_t)family;
	if (link_entry(fd, d, cloexec) == NULL) {
		tw_free(d, sizeof *d);
		return NULL;
	}
	return d;
}

struct tw_desc *
fdt_share(int oldfd, int newfd, bool cloexec)
{
	struct tw_desc *d;

	(void)fdt_remove(newfd, NULL);
	d = fdt_find(oldfd);
	if (d == NULL)
		return NULL;
	return link_entry(newfd, d, cloexec);
}

bool
fdt_remove(int fd, struct tw_desc *out)
{
	struct tw_desc *d = unlink_entry(fd);

	if (d == NULL)
		return false;
	if (out != NULL) {
		*out = *d;
		out->refs = d->refs - 1;
	}
	release_desc(d);
	return true;
}

void
fdt_set_cloexec(int fd, bool cloexec)
{
	struct tw_fd *e = find_entry(fd);

	if (e != NULL)
		e->cloexec = cloexec;
	else if ((unsigned)fd < TW_FLAG_SLOTS)
		(void)update_lazy(fd, cloexec ? 0 : TW_FD_LAZY_CLOEXEC,
		    cloexec ? TW_FD_LAZY_CLOEXEC : 0);
}

void
fdt_mark_shared(bool inheritable_only)
{
	struct tw_fd *e, *tmp;

	HASH_ITER(hh, table, e, tmp) {
		if (!inheritable_only || !e->cloexec)
			e->desc->flags |= TW_D_SHARED;
	}
	for (unsigned fd = 0; fd < TW_FLAG_SLOTS; fd++) {
		unsigned char flag = __atomic_load_n(&tw_fdflag[fd], __ATOMIC_RELAXED);

		if ((flag & TW_FD_LAZY) && (!inheritable_only || !(flag & TW_FD_LAZY_CLOEXEC)))
			(void)update_lazy((int)fd, 0, TW_FD_LAZY_SHARED);
	}
}

unsigned
fdt_count(void)
{
	return HASH_COUNT(table);
}

unsigned
fdt_entries(void)
{
	return __atomic_load_n(&table_entries, __ATOMIC_RELAXED);
}

unsigned
fdt_collect(unsigned lo, unsigned hi, int *fds, unsigned max)
{
	struct tw_fd *e, *tmp;
	unsigned n = 0;

	HASH_ITER(hh, table, e, tmp) {
		if ((unsigned)e->fd >= lo && (unsigned)e->fd <= hi && n < max)
			fds[n++] = e->fd;
	}
	return n;
}

void
fdt_set_internal(int fd, bool internal)
{
	if (fd < 0 || fd >= TW_FLAG_SLOTS)
		return;
	set_flag(fd, internal ? TW_FD_INTERNAL : TW_FD_NONE);
}

bool
fdt_clear_internal(int fd)
{
	unsigned char was = TW_FD_INTERNAL;

	if ((unsigned)fd >= TW_FLAG_SLOTS ||
	    !__atomic_compare_exchange_n(&tw_fdflag[fd], &was, TW_FD_NONE, false,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return false;
	/* set_flag's accounting, for the one change made here. */
	__atomic_sub_fetch(&tw_fd_live, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&tw_fd_internal, 1, __ATOMIC_RELAXED);
	return true;
}

void
fdt_forget(int fd)
{
	if (!fdt_enter())
		return;
	(void)fdt_remove(fd, NULL);
	fdt_leave();
}

void
fdt_prefork(void)
{
	tw_busy++;
	tw_spin_lock(&table_lock);
}

/* After fork() both processes hold every socket: none may be shut down. */
void
fdt_postfork_parent(void)
{
	fdt_mark_shared(false);
	tw_spin_unlock(&table_lock);
	tw_busy--;
}

void
fdt_postfork_child(void)
{
	fdt_mark_shared(false);
	table_lock = 0;
	tw_busy--;
}
