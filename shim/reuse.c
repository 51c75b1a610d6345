/*
 * reuse.c - the reuse quarantine (see reuse.h).
 *
 * The figure.  Linux's TCP timestamps tick once a millisecond (since 4.13)
 * and continue from one connection to the next between the same two
 * addresses, and PAWS drops a segment whose timestamp is older than the
 * newest one the connection has seen, but not one of the same tick.  So
 * a new connection is safe from the old one's late segments once its
 * first timestamp is a tick past the old one's last: measured under
 * faults, streams took in an earlier connection's bytes only when the
 * four-tuple came back within a millisecond, and none of 19,000 did when
 * it came back a few milliseconds later.  Ten milliseconds is that with
 * room to spare, and still well under how soon a busy client's
 * four-tuple comes back through a usable range: 500 ports at 10,000
 * connections a second bring a port back after about 25 ms.
 *
 * Two ways a four-tuple comes back:
 *
 * - The shim's own pool (local_ports outside the system range): each
 *   port's last close is stamped in a table shared by the user's
 *   processes (a file in /dev/shm, mapped), and the pool's walk passes
 *   over a port stamped less than the quarantine ago, for every
 *   destination.  Where the file cannot be had, the table is the
 *   process's own.
 *
 * - The kernel's pick (the system range, or local_ports narrowed with
 *   IP_LOCAL_PORT_RANGE): it hands out a destination's ports in turn,
 *   one parity first, so a port comes back after about half the range's
 *   other connects.  The shim cannot steer it, so it predicts: when the
 *   range is so small, or this process closed so many connections in the
 *   last quarantine, that as many again would bring the port back within
 *   one, the close keeps its TIME_WAIT (closer.c).  Other processes'
 *   connects are not counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fdtable.h"
#include "ports.h"
#include "real.h"
#include "reuse.h"
#include "shim.h"

#define NSEC_PER_MS	1000000ull

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the kernel's pick: this process's recent client closes ---- */

/*
 * Closes counted per quarantine-long window of the monotonic clock: the
 * current window's and the one before, whose share of the last
 * quarantine is the part not yet covered by the current one.  Updated
 * without a lock; a close lost to a race only makes the count a little
 * low, in a count that must reach half the range to matter.
 */
#define WINDOW_NS	((uint64_t)TW_REUSE_QUARANTINE_MS * NSEC_PER_MS)

static uint64_t window_id;
static unsigned window_closes, previous_closes;

static void
count_close(uint64_t now)
{
	uint64_t w = now / WINDOW_NS, old = __atomic_load_n(&window_id, __ATOMIC_RELAXED);

	if (w != old && __atomic_compare_exchange_n(&window_id, &old, w, false,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		unsigned last = __atomic_exchange_n(&window_closes, 0, __ATOMIC_RELAXED);

		__atomic_store_n(&previous_closes, w == old + 1 ? last : 0, __ATOMIC_RELAXED);
	}
	__atomic_fetch_add(&window_closes, 1, __ATOMIC_RELAXED);
}

/* About how many client closes this process made in the last quarantine. */
static unsigned
closes_lately(uint64_t now)
{
	uint64_t w = now / WINDOW_NS, id = __atomic_load_n(&window_id, __ATOMIC_RELAXED);
	uint64_t into = now % WINDOW_NS;
	unsigned cur = __atomic_load_n(&window_closes, __ATOMIC_RELAXED);
	unsigned prev = __atomic_load_n(&previous_closes, __ATOMIC_RELAXED);

	if (id == w)
		return cur + (unsigned)(prev * (WINDOW_NS - into) / WINDOW_NS);
	if (id + 1 == w)
		return (unsigned)(cur * (WINDOW_NS - into) / WINDOW_NS);
	return 0;
}

/*
 * How many other connects the kernel makes before it hands a port of
 * this range out again: half the range (it walks one parity first).
 */
static unsigned
reuse_distance(const struct tw_desc *d)
{
	unsigned span = d->port_span != 0 ? d->port_span : tw_system_port_count();

	return span / 2 > 0 ? span / 2 : 1;
}

bool
tw_reuse_too_soon(const struct tw_desc *d)
{
	unsigned need;

	if (d->role != TW_ROLE_CLIENT || d->pool_port != 0)
		return false;
	/* A small range is never trusted (reuse.h); a larger one by this process's pace. */
	need = reuse_distance(d);
	if (need < TW_REUSE_QUARANTINE_MS * TW_REUSE_ASSUMED_PER_MS)
		return true;
	/* As many closes again in the next quarantine would bring this port back. */
	return closes_lately(now_ns()) >= need;
}

/* ---- the shim's pool: each port's last close ---- */

#define POOL_PORTS	65536

static uint32_t *freed_ms;	/* per port: CLOCK_MONOTONIC ms of its last close; 0 never */
static int freed_state;		/* 0: not mapped, 1: being mapped, 2: mapped */

/*
 * The user's table in /dev/shm, opened so that nothing another user put
 * there can be taken for it: no symlink, a regular file of our own that
 * nobody else may write.
 */
static uint32_t *
map_shared_table(void)
{
	size_t size = POOL_PORTS * sizeof(uint32_t);
	char path[64];
	struct stat st;
	void *p = MAP_FAILED;
	int fd;

	snprintf(path, sizeof path, "/dev/shm/twshim-ports.%u", (unsigned)geteuid());
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	/*
	 * fallocate, not ftruncate: every page must have its memory before it
	 * is mapped, or a first write to it on a full /dev/shm raises SIGBUS.
	 * It fills the holes of a file another process only truncated, too.
	 */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    !(st.st_mode & (S_IWGRP | S_IWOTH)) && fallocate(fd, 0, 0, (off_t)size) == 0)
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REAL(close)(fd);
	return p == MAP_FAILED ? NULL : p;
}

static uint32_t *
freed_table(void)
{
	int state = 0;
	uint32_t *t;

	if (__atomic_load_n(&freed_state, __ATOMIC_ACQUIRE) == 2)
		return freed_ms;
	/* One thread maps it; one that comes meanwhile goes without, this once. */
	if (!__atomic_compare_exchange_n(&freed_state, &state, 1, false, __ATOMIC_ACQUIRE,
	    __ATOMIC_RELAXED))
		return NULL;
	if ((t = map_shared_table()) == NULL) {
		void *p = mmap(NULL, POOL_PORTS * sizeof(uint32_t), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		t = p == MAP_FAILED ? NULL : p;
		tw_log(TW_LOG_INFO, "no shared port table in /dev/shm; the pool's "
		    "quarantine covers this process only");
	}
	if (t == NULL) {
		__atomic_store_n(&freed_state, 0, __ATOMIC_RELEASE);
		return NULL;
	}
	freed_ms = t;
	__atomic_store_n(&freed_state, 2, __ATOMIC_RELEASE);
	return t;
}

void
tw_reuse_postfork_child(void)
{
	/* A fork that came while another thread was mapping the table: try again. */
	int mapping = 1;

	(void)__atomic_compare_exchange_n(&freed_state, &mapping, 0, false, __ATOMIC_RELAXED,
	    __ATOMIC_RELAXED);
}

bool
tw_reuse_port_quarantined(unsigned port)
{
	uint32_t *t = freed_table(), then;

	if (t == NULL || port >= POOL_PORTS)
		return false;
	/* Whole milliseconds: a difference of Q + 1 is more than Q in truth. */
	then = __atomic_load_n(&t[port], __ATOMIC_RELAXED);
	return then != 0 && (uint32_t)(now_ns() / NSEC_PER_MS) - then <= TW_REUSE_QUARANTINE_MS;
}

void
tw_reuse_note_close(const struct tw_desc *d)
{
	uint64_t now;
	uint32_t *t, ms;

	if (d->role != TW_ROLE_CLIENT)
		return;
	now = now_ns();
	ms = (uint32_t)(now / NSEC_PER_MS);
	count_close(now);
	if (d->pool_port != 0 && (t = freed_table()) != NULL)
		__atomic_store_n(&t[d->pool_port], ms != 0 ? ms : 1, __ATOMIC_RELAXED);
}
