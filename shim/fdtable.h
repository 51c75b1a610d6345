/*
 * fdtable.h - the table of tracked TCP sockets, keyed by descriptor.
 *
 * Two levels.  A flag byte per descriptor number answers "could this fd be
 * ours?" without a lock, so close() of a file costs a load and a compare.
 * Behind it a uthash table maps each tracked descriptor to the state of its
 * socket (struct tw_desc), which dup'd descriptors share.
 *
 * Entries are removed before the real close, never after: the kernel frees
 * the number during close(), and another thread may be handed it at once.
 */
#ifndef TWSHIM_FDTABLE_H
#define TWSHIM_FDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "shim.h"

#pragma GCC visibility push(hidden)

/* The flag array covers this many descriptors; above it, a counter. */
#define TW_FLAG_SLOTS	65536

/*
 * A new TCP socket costs only its flag byte (TW_FD_LAZY and the bits that
 * describe it); it gets a table entry when it first needs one: a role, a
 * duplicate, an option the program sets.  A socket that is made and
 * closed without any of these never touches the table.
 */
enum tw_fdflag {
	TW_FD_NONE = 0,
	TW_FD_TRACKED = 1,	/* a TCP socket of the program, in the table */
	TW_FD_INTERNAL = 2,	/* a descriptor the shim itself owns */
	TW_FD_LAZY = 4,		/* a TCP socket of the program, not yet in the table */
	TW_FD_LAZY_V6 = 8,	/* ... of family AF_INET6 */
	TW_FD_LAZY_CLOEXEC = 16, /* ... on a close-on-exec descriptor */
	TW_FD_LAZY_SHARED = 32	/* ... held by another process too */
};

enum tw_role {
	TW_ROLE_NEW = 0,	/* socket() only */
	TW_ROLE_BOUND,		/* bind() without listen() yet */
	TW_ROLE_LISTENER,
	TW_ROLE_CLIENT,
	TW_ROLE_ACCEPTED
};

/* tw_desc.flags */
#define TW_D_SHARED	0x01	/* another process may hold this socket */
#define TW_D_SHUT_WR	0x02	/* the program sent its FIN with shutdown() */
#define TW_D_PROG_BOUND	0x04	/* the program called bind() itself */
#define TW_D_APPLIED	0x08	/* the policy has been applied */
#define TW_D_POLLED	0x20	/* the program watches it with epoll (epfd, epoll_as) */
#define TW_D_POLLED_MANY 0x40	/* ... and in another instance, or by another number */
#define TW_D_SET_BUFS	0x80	/* the program set SO_RCVBUF or SO_SNDBUF */

/* The state of one socket, shared by every descriptor of it. */
struct tw_desc {
	uint64_t cookie;		/* SO_COOKIE; 0 until the shim acts */
	const struct policy_close *close; /* NULL: leave close() alone */
	uint32_t refs;			/* descriptors in this process */
	int32_t epfd;			/* with TW_D_POLLED: the epoll instance ... */
	int32_t epoll_as;		/* ... and the descriptor registered in it */
	uint16_t pool_port;		/* the local port the shim's pool gave it, or 0 */
	uint16_t port_span;		/* ... else the ports the kernel picked from; 0: the system range */
	uint16_t user_set;		/* POLICY_KEY_BITs the program set itself */
	uint16_t forced;		/* POLICY_KEY_BITs the policy forces */
	uint8_t family;
	uint8_t role;			/* enum tw_role */
	uint8_t flags;			/* TW_D_* */
	uint8_t close_forced;
};

extern unsigned char tw_fdflag[TW_FLAG_SLOTS];
extern unsigned tw_fd_high;	/* tracked descriptors >= TW_FLAG_SLOTS */
extern unsigned tw_fd_live;	/* tracked and internal descriptors in all */
extern unsigned tw_fd_internal;	/* ... of which internal */

/* Lock-free: is anything tracked or internal at all? */
static inline bool
fdt_any_hint(void)
{
	return __atomic_load_n(&tw_fd_live, __ATOMIC_RELAXED) != 0;
}

/* Lock-free: is any socket of the program tracked? */
static inline bool
fdt_count_hint(void)
{
	return __atomic_load_n(&tw_fd_live, __ATOMIC_RELAXED) >
	    __atomic_load_n(&tw_fd_internal, __ATOMIC_RELAXED);
}

/*
 * The receive notes: what the program's own reads showed of the peer, for
 * fin-then-reset at close (strategy.c), lock-free.  One word per number
 * below TW_FLAG_SLOTS, for a tracked socket only:
 *
 *	TW_NOTE_PEER_FIN	a read on this number returned the peer's EOF:
 *				the peer closed first, nothing to do at close
 *	TW_NOTE_OWN_SHUT_RD	the program shut down its own reading side
 *				(shutdown SHUT_RD or SHUT_RDWR): an EOF read
 *				since is its own, not the peer's, and is not noted
 *
 * and above them a generation, bumped each time the number gets or loses a
 * table entry (set_flag() in fdtable.c).  A reader takes the word before
 * its call (fdt_note_before) and notes only onto that same word: a
 * number closed and given to another socket meanwhile, however alike its
 * flag byte, has another generation, and the late note is dropped.
 */
#define TW_NOTE_PEER_FIN	1u
#define TW_NOTE_OWN_SHUT_RD	2u
#define TW_NOTE_GEN_ONE		4u	/* the generation counts in the bits above */
#define TW_NOTE_TAKEN		0x10000u /* fdt_note_before(): a word was taken */

extern uint16_t tw_fdnote[TW_FLAG_SLOTS];

/* The note word of fd, tracked and below TW_FLAG_SLOTS, as a reader found it: never 0. */
static inline unsigned
fdt_note_before(int fd)
{
	return TW_NOTE_TAKEN | __atomic_load_n(&tw_fdnote[fd], __ATOMIC_RELAXED);
}

/*
 * A read on fd returned rc (len asked for), `before` from
 * fdt_note_before(): an end of file the program did not make itself is
 * the peer's.  Data needs no note: the close reads TCP_INFO anyway (the
 * timestamps), which tells the same.
 */
static inline void
fdt_note_received(int fd, long rc, size_t len, unsigned before)
{
	uint16_t was = (uint16_t)before;

	if (rc != 0 || len == 0 || (was & (TW_NOTE_PEER_FIN | TW_NOTE_OWN_SHUT_RD)))
		return;
	(void)__atomic_compare_exchange_n(&tw_fdnote[fd], &was,
	    (uint16_t)(was | TW_NOTE_PEER_FIN), false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/* shutdown(fd, SHUT_RD or SHUT_RDWR) by the program, fd tracked: before the real call. */
static inline void
fdt_note_own_shut_rd(int fd)
{
	if ((unsigned)fd < TW_FLAG_SLOTS)
		(void)__atomic_fetch_or(&tw_fdnote[fd], (uint16_t)TW_NOTE_OWN_SHUT_RD,
		    __ATOMIC_RELAXED);
}

/* Whether a read on fd returned the peer's EOF; asked before its entry goes. */
static inline bool
fdt_peer_closed_first(int fd)
{
	return (unsigned)fd < TW_FLAG_SLOTS &&
	    (__atomic_load_n(&tw_fdnote[fd], __ATOMIC_RELAXED) & TW_NOTE_PEER_FIN) != 0;
}

/* Lock-free: could fd be tracked or internal?  False means certainly not. */
static inline bool
fdt_maybe(int fd)
{
	if (TW_LIKELY((unsigned)fd < TW_FLAG_SLOTS))
		return __atomic_load_n(&tw_fdflag[fd], __ATOMIC_RELAXED) != 0;
	return fd >= 0 && __atomic_load_n(&tw_fd_high, __ATOMIC_RELAXED) != 0;
}

/*
 * Lock the table for a short, non-blocking piece of work.  Returns false,
 * without locking, when this thread is already inside the shim (signal
 * handler) or this process does not own the table (vfork child): the
 * caller must then pass through.  fdt_enter_fast() leaves out the second
 * test, which costs a system call; it is for the calls a vfork child has
 * no business making (socket, connect, accept, setsockopt), where a slip
 * could only leave a stale entry that the identity check catches.
 */
bool fdt_enter(void);
bool fdt_enter_fast(void);
void fdt_leave(void);

/* Note a new TCP socket on fd (no lock needed). */
void fdt_note_socket(int fd, int family, bool cloexec);

/* A lazily noted socket: forget it without the table (no lock needed). */
static inline bool
fdt_is_lazy(int fd)
{
	return (unsigned)fd < TW_FLAG_SLOTS &&
	    (__atomic_load_n(&tw_fdflag[fd], __ATOMIC_RELAXED) & TW_FD_LAZY) != 0;
}
void fdt_drop_lazy(int fd);

/* close_range() closed [lo, hi]: forget the lazily noted sockets there. */
void fdt_drop_lazy_range(unsigned lo, unsigned hi);

/* All of the following need fdt_enter().  fdt_find() gives a lazily noted socket its entry. */
struct tw_desc *fdt_find(int fd);
/* Track a new socket on fd, replacing whatever stale entry fd had. */
struct tw_desc *fdt_add(int fd, int family, bool cloexec);
/* newfd now shares oldfd's socket (dup and friends). */
struct tw_desc *fdt_share(int oldfd, int newfd, bool cloexec);
/*
 * Forget fd: its entry, or its lazily noted socket, goes.  The one way a
 * number leaves the table (fdt_forget() below is the same, for a caller
 * outside it).  True when fd had an entry; then *out, unless NULL, gets a
 * copy of the socket's state with out->refs the number of descriptors
 * still holding it.
 */
bool fdt_remove(int fd, struct tw_desc *out);
void fdt_set_cloexec(int fd, bool cloexec);
/* Mark every socket (only those on inheritable descriptors, if asked) shared. */
void fdt_mark_shared(bool inheritable_only);
unsigned fdt_count(void);
unsigned fdt_entries(void);	/* no lock needed */
/* Copy up to max tracked descriptors in [lo, hi] into fds; returns how many. */
unsigned fdt_collect(unsigned lo, unsigned hi, int *fds, unsigned max);

/* Descriptors the shim owns (log file, reaper), all below TW_FLAG_SLOTS; no lock needed. */
void fdt_set_internal(int fd, bool internal);
/*
 * Internal no more, by a compare-and-swap: a number the program's socket
 * took since keeps its flag.  True when it was still internal.
 */
bool fdt_clear_internal(int fd);
static inline bool
fdt_is_internal(int fd)
{
	return (unsigned)fd < TW_FLAG_SLOTS &&
	    __atomic_load_n(&tw_fdflag[fd], __ATOMIC_RELAXED) == TW_FD_INTERNAL;
}

/*
 * fdt_remove(fd, NULL) with the table entered and left here: for a number
 * the kernel just handed out again, or one closed where the shim cannot
 * see (fclose, dup2 onto it).  Needs no fdt_enter().
 */
void fdt_forget(int fd);

/* fork() */
void fdt_mark_shared_later(void);
/* From now on the table is never entered again (see init.c). */
void fdt_freeze(void);
bool fdt_frozen(void);
void fdt_prefork(void);
void fdt_postfork_parent(void);
void fdt_postfork_child(void);

#pragma GCC visibility pop

#endif
