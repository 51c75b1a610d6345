/*
 * reaper.c - the background half of the waiting close strategies.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fdtable.h"
#include "mem.h"
#include "real.h"
#include "reaper.h"
#include "shim.h"
#include "strategy.h"
#include "stats.h"

/*
 * Pending sockets live in a pool of slots, allocated once; a min-heap of
 * them by deadline gives the next timeout and the expired ones without a
 * scan.  An epoll event names its slot by index and generation: a slot
 * finished and reused since the event was queued is recognised at once,
 * and its memory is never returned, so a late event cannot touch freed
 * memory.
 */
#define PENDING_MAX	16384

struct pending {
	int fd;				/* our duplicate; -1 in a free slot */
	uint32_t gen;			/* bumped each time the slot is let go */
	unsigned heap_at;		/* index in heap[] */
	enum policy_close_kind kind;	/* CLOSE_GRACEFUL or CLOSE_PEER_FIRST */
	enum policy_close_kind fallback;
	uint32_t fallback_ms;
	int64_t deadline_ms;		/* CLOCK_MONOTONIC */
	struct pending *next_free;
};

static pthread_mutex_t reaper_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pending *slots;	/* pending_cap of them */
static struct pending **heap;	/* the pending ones, soonest deadline first */
static unsigned pending_count;	/* entries in heap[] */
static struct pending *free_slots;
static unsigned slots_used;	/* slots[] beyond this were never handed out */
static int64_t armed_ms = -1;	/* the deadline the reaper sleeps toward; -1: none */
static int epoll_fd = -1;
static int wake_fd = -1;
static bool thread_running;
static bool exiting;
static unsigned pending_cap;	/* past it, a waiting close finishes at once */
static char drain_buf[65536];
static __thread int cancel_state __attribute__((tls_model("initial-exec")));

/*
 * Cancellation is off while the lock is held: close() and friends are
 * cancellation points, and a thread cancelled there would leave the lock
 * taken for good.
 */
static void
lock(void)
{
	int state;

	tw_busy++;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
	pthread_mutex_lock(&reaper_lock);
	cancel_state = state;
}

static void
unlock(void)
{
	int state = cancel_state;

	pthread_mutex_unlock(&reaper_lock);
	pthread_setcancelstate(state, NULL);
	tw_busy--;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Close a socket the reaper owns, the way `kind` says. */
static void
finish(int fd, enum policy_close_kind kind)
{
	tw_prepare_close(fd, kind);
	fdt_set_internal(fd, false);
	REAL(close)(fd);
}

/* ---- the deadline heap ---- */

static void
heap_set(unsigned i, struct pending *p)
{
	heap[i] = p;
	p->heap_at = i;
}

static void
heap_up(unsigned i)
{
	struct pending *p = heap[i];

	while (i > 0 && heap[(i - 1) / 2]->deadline_ms > p->deadline_ms) {
		heap_set(i, heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(i, p);
}

static void
heap_down(unsigned i)
{
	struct pending *p = heap[i];

	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= pending_count)
			break;
		if (c + 1 < pending_count && heap[c + 1]->deadline_ms < heap[c]->deadline_ms)
			c++;
		if (heap[c]->deadline_ms >= p->deadline_ms)
			break;
		heap_set(i, heap[c]);
		i = c;
	}
	heap_set(i, p);
}

static void
heap_remove(struct pending *p)
{
	unsigned i = p->heap_at;
	struct pending *last = heap[--pending_count];

	if (last == p)
		return;
	heap_set(i, last);
	heap_up(i);
	heap_down(last->heap_at);
}

/* ---- pending sockets ---- */

static uint64_t
event_tag(const struct pending *p)
{
	return ((uint64_t)(uint32_t)(p - slots) << 32) | p->gen;
}

/* The slot an event names, or NULL when it was let go since. */
static struct pending *
tagged(uint64_t tag)
{
	uint32_t idx = (uint32_t)(tag >> 32);

	if (idx >= slots_used || slots[idx].fd < 0 || slots[idx].gen != (uint32_t)tag)
		return NULL;
	return &slots[idx];
}

static void
release(struct pending *p)
{
	p->fd = -1;
	p->gen++;
	p->next_free = free_slots;
	free_slots = p;
}

static void
drop(struct pending *p, enum policy_close_kind how)
{
	heap_remove(p);
	(void)REAL(epoll_ctl)(epoll_fd, EPOLL_CTL_DEL, p->fd, NULL);
	finish(p->fd, how);
	release(p);
}

/* Peer-first ran out of time: its fallback, which may itself wait. */
static void
fall_back(struct pending *p, int64_t now)
{
	if (p->fallback == CLOSE_GRACEFUL) {
		(void)shutdown(p->fd, SHUT_WR);
		p->kind = CLOSE_GRACEFUL;
		p->fallback = CLOSE_NORMAL;
		p->deadline_ms = now + p->fallback_ms;
		heap_down(p->heap_at);
		return;
	}
	drop(p, p->fallback);
}

/* Read and discard what the peer sends; true at EOF or error. */
static bool
drain(int fd)
{
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(fd, drain_buf, sizeof drain_buf, MSG_DONTWAIT);

		if (n == 0)
			return true;
		if (n < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
	}
	return false;	/* a fast sender: come back on the next wake-up */
}

static void
readable(struct pending *p)
{
	if (!drain(p->fd))
		return;
	if (p->kind == CLOSE_PEER_FIRST) {
		tw_count(peer_first_ok);
		tw_log(TW_LOG_DEBUG, "peer-first: peer closed first on fd %d", p->fd);
	} else {
		tw_count(graceful_eof);
	}
	drop(p, CLOSE_NORMAL);
}

static void
expire(int64_t now)
{
	while (pending_count > 0 && heap[0]->deadline_ms <= now) {
		struct pending *p = heap[0];

		if (p->kind == CLOSE_PEER_FIRST) {
			tw_count(peer_first_timeout);
			fall_back(p, now);
		} else {
			tw_count(graceful_timeout);
			drop(p, CLOSE_NORMAL);
		}
	}
}

static void *
reaper_main(void *arg)
{
	struct epoll_event ev[64];
	int64_t now;
	int n, timeout;

	(void)arg;
	for (;;) {
		lock();
		now = now_ms();
		armed_ms = pending_count > 0 ? heap[0]->deadline_ms : -1;
		timeout = armed_ms < 0 ? -1 : armed_ms <= now ? 0 : (int)(armed_ms - now);
		unlock();
		n = epoll_wait(epoll_fd, ev, 64, timeout);
		lock();
		for (int i = 0; i < n; i++) {
			struct pending *p;
			uint64_t v;

			if (ev[i].data.u64 == UINT64_MAX) {
				(void)!read(wake_fd, &v, sizeof v);
				continue;
			}
			/* An event queued before its slot was let go names nothing now. */
			if ((p = tagged(ev[i].data.u64)) != NULL)
				readable(p);
		}
		expire(now_ms());
		unlock();
	}
	return NULL;
}

/*
 * The epoll instance and the wake-up eventfd, placed as tw_own_descriptor() says.
 * Placing a descriptor there grows the process's descriptor table, and
 * in a multi-threaded process the kernel then waits for an RCU grace
 * period (about 10 ms here): done at start-up, before any thread of ours
 * or, usually, of the program exists, close() never pays for it.
 */
static bool
make_descriptors(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int wk = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int hi_ep = tw_own_descriptor(ep, true);
	int hi_wk = tw_own_descriptor(wk, true);

	if (hi_ep < 0 || hi_wk < 0 || REAL(epoll_ctl)(hi_ep, EPOLL_CTL_ADD, hi_wk, &ev) < 0) {
		int fds[4] = { ep, wk, hi_ep, hi_wk };

		for (int i = 0; i < 4; i++) {
			if (fds[i] < 0 || (i < 2 && fds[i + 2] >= 0))
				continue;	/* never made, or moved (closed already) */
			fdt_set_internal(fds[i], false);
			REAL(close)(fds[i]);
		}
		return false;
	}
	epoll_fd = hi_ep;
	wake_fd = hi_wk;
	return true;
}

static bool
start_thread(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	if (thread_running)
		return true;
	if (slots == NULL) {
		slots = tw_alloc(pending_cap * sizeof *slots);
		heap = tw_alloc(pending_cap * sizeof *heap);
		if (slots == NULL || heap == NULL) {
			tw_free(slots, pending_cap * sizeof *slots);
			tw_free(heap, pending_cap * sizeof *heap);
			slots = NULL;
			heap = NULL;
			return false;
		}
		/* Left untouched: pages come into use with the slots on them. */
	}
	if (epoll_fd < 0 && !make_descriptors())
		return false;
	/* The thread must never take a signal meant for the program. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	rc = pthread_create(&tid, &attr, reaper_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		tw_log(TW_LOG_WARN, "cannot start the reaper thread: %s; closing at once",
		    strerror(rc));
		return false;
	}
	thread_running = true;
	return true;
}

void
tw_reaper_init(bool waiting)
{
	struct rlimit rl;
	rlim_t room;
	int dup_floor = tw_fd_floor();
	/*
	 * Half the numbers above the floor, so that a program that needs
	 * that many descriptors still finds some; the rest of its closes
	 * then finish at once.
	 */
	room = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > (rlim_t)dup_floor ? (rl.rlim_cur - (rlim_t)dup_floor) / 2 : 16;
	pending_cap = room < 16 ? 16 : room > PENDING_MAX ? PENDING_MAX : (unsigned)room;
	if (waiting) {
		lock();
		(void)make_descriptors();
		unlock();
	}
}

int
tw_reaper_take(int fd, const struct policy_close *c, bool shut_wr_done)
{
	struct epoll_event ev;
	struct pending *p;
	struct linger l;
	socklen_t len = sizeof l;
	int dupfd, flags;
	uint64_t one = 1;

	/*
	 * A socket with SO_LINGER on (the program's, perhaps through its
	 * listener) would make the reaper's final close block, with the lock
	 * held: such a close happens now, in the program's thread, as it asked.
	 */
	if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) == 0 && l.l_onoff && l.l_linger > 0)
		return -1;
	lock();
	if (exiting || pending_count >= pending_cap || !start_thread()) {
		unlock();
		return -1;
	}
	/* Never in the low numbers the program uses (see tw_own_descriptor). */
	if ((dupfd = tw_own_descriptor(fd, false)) < 0) {
		unlock();
		return -1;
	}
	/* The program's number is free from here on. */
	REAL(close)(fd);

	flags = REAL(fcntl)(dupfd, F_GETFL);
	if (flags >= 0)
		(void)REAL(fcntl)(dupfd, F_SETFL, flags | O_NONBLOCK);
	if ((p = free_slots) != NULL)
		free_slots = p->next_free;
	else
		p = &slots[slots_used++];	/* pending_count < pending_cap: one is left */
	p->fd = dupfd;
	p->kind = c->kind;
	p->fallback = c->kind == CLOSE_PEER_FIRST ? c->fallback : CLOSE_NORMAL;
	p->fallback_ms = c->fallback_ms;
	p->deadline_ms = now_ms() + c->wait_ms;
	if (c->kind == CLOSE_GRACEFUL && !shut_wr_done)
		(void)shutdown(dupfd, SHUT_WR);

	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.u64 = event_tag(p);
	if (REAL(epoll_ctl)(epoll_fd, EPOLL_CTL_ADD, dupfd, &ev) < 0) {
		finish(dupfd, p->fallback);
		release(p);
		unlock();
		return 0;
	}
	heap_set(pending_count++, p);
	heap_up(p->heap_at);
	/* The reaper sleeps toward armed_ms: wake it only for something sooner. */
	if (armed_ms < 0 || p->deadline_ms < armed_ms) {
		armed_ms = p->deadline_ms;
		(void)!write(wake_fd, &one, sizeof one);
	}
	unlock();
	return 0;
}

void
tw_reaper_flush(void)
{
	lock();
	exiting = true;
	while (pending_count > 0) {
		struct pending *p = heap[0];

		tw_count(reaper_at_exit);
		drop(p, p->kind == CLOSE_PEER_FIRST ? p->fallback : CLOSE_NORMAL);
	}
	unlock();
}

/*
 * The program dup2()s onto a number the reaper holds: move the duplicate
 * elsewhere so that the program gets its number and we keep our socket.
 */
void
tw_reaper_evict(int fd)
{
	struct epoll_event ev;
	int moved, saved = errno;

	lock();
	if (fd == epoll_fd || fd == wake_fd) {
		moved = tw_own_descriptor(fd, false);
		if (moved >= 0) {
			/* The epoll instance lives on in `moved`; only the number changes. */
			if (fd == epoll_fd)
				epoll_fd = moved;
			else {
				ev.events = EPOLLIN;
				ev.data.u64 = UINT64_MAX;
				(void)REAL(epoll_ctl)(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
				(void)REAL(epoll_ctl)(epoll_fd, EPOLL_CTL_ADD, moved, &ev);
				wake_fd = moved;
			}
		}
		fdt_set_internal(fd, false);
		unlock();
		errno = saved;
		return;
	}
	/* Rare (a program dup2()ing onto a number this high): a scan will do. */
	for (unsigned i = 0; i < pending_count; i++) {
		struct pending *p = heap[i];

		if (p->fd != fd)
			continue;
		moved = tw_own_descriptor(fd, false);
		(void)REAL(epoll_ctl)(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		fdt_set_internal(fd, false);
		if (moved < 0) {
			/* Nowhere to go: the program's dup2 closes our copy. */
			heap_remove(p);
			release(p);
			break;
		}
		p->fd = moved;
		ev.events = EPOLLIN | EPOLLRDHUP;
		ev.data.u64 = event_tag(p);
		(void)REAL(epoll_ctl)(epoll_fd, EPOLL_CTL_ADD, moved, &ev);
		break;
	}
	unlock();
	errno = saved;
}

void
tw_reaper_prefork(void)
{
	lock();
}

void
tw_reaper_postfork_parent(void)
{
	unlock();
}

/*
 * The child has copies of our duplicates, and no reaper thread.  Its
 * copies must go: the parent's reaper finishes those sockets.
 */
void
tw_reaper_postfork_child(void)
{
	while (pending_count > 0) {
		struct pending *p = heap[--pending_count];

		fdt_set_internal(p->fd, false);
		REAL(close)(p->fd);
		release(p);
	}
	if (epoll_fd >= 0) {
		fdt_set_internal(epoll_fd, false);
		REAL(close)(epoll_fd);
	}
	if (wake_fd >= 0) {
		fdt_set_internal(wake_fd, false);
		REAL(close)(wake_fd);
	}
	epoll_fd = wake_fd = -1;
	armed_ms = -1;
	thread_running = false;
	pthread_mutex_init(&reaper_lock, NULL);
	/* prefork's lock() left cancellation off in this thread: as it was. */
	pthread_setcancelstate(cancel_state, NULL);
	tw_busy--;
}
