/*
 * reaper.c - the background half of the waiting close strategies.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fdtable.h"
#include "mem.h"
#include "ownfd.h"
#include "real.h"
#include "reaper.h"
#include "shim.h"
#include "sockinfo.h"
#include "strategy.h"
#include "stats.h"

/*
 * Pending sockets live in a pool of slots, mapped once for the most there
 * can ever be (pages come into use with the slots on them); a min-heap of
 * them by deadline gives the next timeout and the expired ones without a
 * scan.  An epoll event names its slot by index and generation: a slot
 * finished and reused since the event was queued is recognised at once,
 * and its memory is never returned, so a late event cannot touch freed
 * memory.
 *
 * Every descriptor here is checked for identity before it is used: a
 * program may close it where the shim cannot see (a raw close_range system
 * call) and get the number back for something of its own.  Sockets by
 * their SO_COOKIE; the epoll instance by the wake-up socket it must hold.
 */
#define PENDING_MAX	16384
#define OWN_FDS		3	/* the epoll instance and the two ends of the wake-up pair */
#define IDLE_MS		200	/* the thread exits after this long with nothing pending */
#define CHECK_MS	1000	/* the longest the thread sleeps without looking */
#define WAKE_TAG	UINT64_MAX
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE	(1U << 1)
#endif

struct pending {
	int fd;				/* our duplicate; -1 in a free slot */
	uint32_t gen;			/* bumped each time the slot is let go */
	uint64_t cookie;		/* the socket's SO_COOKIE */
	unsigned heap_at;		/* index in heap[] */
	enum policy_close_kind kind;	/* CLOSE_GRACEFUL or CLOSE_PEER_FIRST */
	enum policy_close_kind fallback;
	uint32_t fallback_ms;
	bool unsafe;			/* the policy's "unsafe" (tw_keep_time_wait) */
	struct tw_desc origin;		/* role and port origin only, for the reuse quarantine */
	bool reset_set;			/* SO_LINGER {1,0} is on it already (see take) */
	int64_t deadline_ms;		/* CLOCK_MONOTONIC */
	struct pending *next_free;
};

static pthread_mutex_t reaper_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pending *slots;	/* PENDING_MAX of them */
static struct pending **heap;	/* the pending ones, soonest deadline first */
static uint16_t slot_of[TW_FLAG_SLOTS];	/* 1 + the slot whose duplicate is on a number */
static unsigned pending_count;	/* entries in heap[] */
static struct pending *free_slots;
static unsigned slots_used;	/* slots[] beyond this were never handed out */
static int64_t armed_ms = -1;	/* the deadline the reaper sleeps toward; -1: none */

static struct {
	int ep, rx, tx;			/* epoll instance, wake-up pair (rx is watched) */
	uint64_t rx_cookie, tx_cookie;
} own = { -1, -1, -1, 0, 0 };
static bool need_repair;	/* one of them was found gone */
static unsigned wait_failures;	/* epoll_wait errors in a row */

static unsigned thread_epoch;	/* a thread whose epoch this is not, exits */
static bool thread_running;
static bool exiting;
static unsigned pending_cap;	/* past it, a waiting close finishes at once */
static int table_wanted;	/* the numbers our descriptors may need, all below this */
static rlim_t limit_seen;	/* RLIMIT_NOFILE when pending_cap was set */
static int table_sized;		/* the descriptor table covers numbers below this */
static char drain_buf[65536];
static __thread int cancel_state __attribute__((tls_model("initial-exec")));
/* This thread's descriptor table is not the reaper's any more (tw_reaper_unshare). */
static __thread bool table_private __attribute__((tls_model("initial-exec")));

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

/* Close a descriptor the reaper has just checked is its own. */
static void
close_own(int fd)
{
	tw_own_forget(fd);
	if (REAL(close)(fd) < 0)
		tw_log(TW_LOG_DEBUG, "reaper: close of its fd %d: %s", fd, strerror(errno));
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

/* The pending socket whose duplicate is on fd, or NULL. */
static struct pending *
holding(int fd)
{
	unsigned i;

	if ((unsigned)fd >= TW_FLAG_SLOTS || (i = slot_of[fd]) == 0 || slots[i - 1].fd != fd)
		return NULL;
	return &slots[i - 1];
}

static bool
still_ours(const struct pending *p)
{
	return tw_same_socket(p->fd, p->cookie);
}

/* The epoll instance or an end of the wake-up pair: the one test of it. */
static bool
reaper_own(int fd)
{
	return fd == own.ep || fd == own.rx || fd == own.tx;
}

/* One of the reaper's own descriptors, or the log's. */
static bool
own_descriptor(int fd)
{
	return reaper_own(fd) || fd == tw_log_fd();
}

/* p's descriptor number no longer leads to p. */
static void
unslot(struct pending *p)
{
	if (holding(p->fd) == p)
		slot_of[p->fd] = 0;
}

/* Back to the free list; a late event for p's old generation is ignored. */
static void
free_slot(struct pending *p)
{
	p->fd = -1;
	p->gen++;
	p->next_free = free_slots;
	free_slots = p;
}

/*
 * Let the slot go.  With `how`, the duplicate is still ours: ready it as
 * `how` says and close it.  Without, the number is no longer ours: it is
 * left alone, and so is its flag unless it still marks it internal.
 */
static void
let_go(struct pending *p, const enum policy_close_kind *how)
{
	heap_remove(p);
	unslot(p);
	if (how != NULL) {
		(void)REAL(epoll_ctl)(own.ep, EPOLL_CTL_DEL, p->fd, NULL);
		if (*how == CLOSE_NORMAL && p->reset_set)
			tw_set_linger(p->fd, 0, 0);
		else if (*how != CLOSE_NORMAL)
			tw_act(p->fd, &p->origin, *how, p->unsafe, false, TW_AT_FALLBACK);
		close_own(p->fd);
	} else {
		tw_log(TW_LOG_DEBUG, "reaper: fd %d was closed behind its back; left alone", p->fd);
		if (holding(p->fd) == NULL && !own_descriptor(p->fd))
			tw_own_forget(p->fd);
	}
	free_slot(p);
}

/* Finish p as `how` says, if its duplicate is still ours. */
static void
finish(struct pending *p, enum policy_close_kind how)
{
	let_go(p, still_ours(p) ? &how : NULL);
}

/* Peer-first ran out of time: its fallback, which may itself wait. */
static void
fall_back(struct pending *p, int64_t now)
{
	if (p->fallback == CLOSE_GRACEFUL && still_ours(p)) {
		(void)REAL(shutdown)(p->fd, SHUT_WR);
		p->kind = CLOSE_GRACEFUL;
		p->fallback = CLOSE_NORMAL;
		p->deadline_ms = now + p->fallback_ms;
		heap_down(p->heap_at);
		return;
	}
	finish(p, p->fallback);
}

/* Read and discard what the peer sends; true at EOF or error. */
static bool
drain(int fd)
{
	for (int i = 0; i < 16; i++) {
		ssize_t n = REAL(recv)(fd, drain_buf, sizeof drain_buf, MSG_DONTWAIT);

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
	if (!still_ours(p)) {
		let_go(p, NULL);
		return;
	}
	if (!drain(p->fd))
		return;
	if (p->kind == CLOSE_PEER_FIRST) {
		tw_count(peer_first_ok);
		tw_log(TW_LOG_DEBUG, "peer-first: peer closed first on fd %d", p->fd);
	} else {
		tw_count(graceful_eof);
	}
	finish(p, CLOSE_NORMAL);
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
			finish(p, CLOSE_NORMAL);
		}
	}
}

/* Every pending socket's fallback, now. */
static void
finish_all(bool at_exit)
{
	while (pending_count > 0) {
		struct pending *p = heap[0];

		if (at_exit)
			tw_count(reaper_at_exit);
		finish(p, p->kind == CLOSE_PEER_FIRST ? p->fallback : CLOSE_NORMAL);
	}
}

/* ---- the reaper's own descriptors ---- */

static bool
watch_wake(int op)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = WAKE_TAG };

	return REAL(epoll_ctl)(own.ep, op, own.rx, &ev) == 0;
}

/*
 * All three still ours: both ends of the pair by cookie, and the epoll
 * instance because it still holds rx (no other instance could).
 */
static bool
descriptors_ok(void)
{
	return own.ep >= 0 && tw_same_socket(own.rx, own.rx_cookie) &&
	    tw_same_socket(own.tx, own.tx_cookie) && watch_wake(EPOLL_CTL_MOD);
}

/* Let the three go, closing those still ours.  Needs the own lock. */
static void
drop_descriptors(void)
{
	bool ep_ok = own.ep >= 0 && tw_same_socket(own.rx, own.rx_cookie) &&
	    watch_wake(EPOLL_CTL_MOD);

	if (own.ep >= 0) {
		if (ep_ok)
			close_own(own.ep);
		else if (holding(own.ep) == NULL)
			tw_own_forget(own.ep);
	}
	if (own.rx >= 0) {
		if (tw_same_socket(own.rx, own.rx_cookie))
			close_own(own.rx);
		else if (holding(own.rx) == NULL)
			tw_own_forget(own.rx);
	}
	if (own.tx >= 0) {
		if (tw_same_socket(own.tx, own.tx_cookie))
			close_own(own.tx);
		else if (holding(own.tx) == NULL)
			tw_own_forget(own.tx);
	}
	own.ep = own.rx = own.tx = -1;
	need_repair = false;
	/* A thread waiting on the old instance exits when it wakes. */
	thread_epoch++;
	thread_running = false;
	armed_ms = -1;
}

/*
 * Make the table cover numbers below `upto` now, so that placing our
 * duplicates never grows it: in a process with several threads the kernel
 * waits for an RCU grace period each time it does (milliseconds), and
 * that would land on some close().  Needs the own lock.
 */
static void
size_table(int upto)
{
	struct rlimit rl;
	int fd;

	if (upto <= table_sized || own.ep < 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)upto >= rl.rlim_cur)
		upto = (int)rl.rlim_cur - 1;
	if (upto >= TW_FLAG_SLOTS)
		upto = TW_FLAG_SLOTS - 1;
	if ((fd = REAL(fcntl)(own.ep, F_DUPFD_CLOEXEC, upto)) >= 0)
		REAL(close)(fd);
	table_sized = upto;
}

/*
 * The epoll instance and the wake-up pair, placed as tw_own_descriptor()
 * says.  The pair is a socket pair rather than an eventfd so that each
 * end has an identity to check.  Needs the own lock.
 */
static bool
make_descriptors(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), pair[2] = { -1, -1 };
	int hi[3] = { -1, -1, -1 };

	if (ep >= 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, pair) == 0) {
		hi[0] = tw_own_descriptor(ep, false);
		hi[1] = tw_own_descriptor(pair[0], false);
		hi[2] = tw_own_descriptor(pair[1], false);
	}
	if (ep >= 0)
		REAL(close)(ep);
	if (pair[0] >= 0) {
		REAL(close)(pair[0]);
		REAL(close)(pair[1]);
	}
	own.ep = hi[0];
	own.rx = hi[1];
	own.tx = hi[2];
	own.rx_cookie = tw_socket_cookie(own.rx);
	own.tx_cookie = tw_socket_cookie(own.tx);
	if (hi[0] < 0 || hi[1] < 0 || hi[2] < 0 || own.rx_cookie == 0 || own.tx_cookie == 0 ||
	    !watch_wake(EPOLL_CTL_ADD)) {
		for (int i = 0; i < 3; i++)
			if (hi[i] >= 0)
				close_own(hi[i]);
		own.ep = own.rx = own.tx = -1;
		return false;
	}
	need_repair = false;
	return true;
}

static void
wake(void)
{
	static const char one = 1;

	/* A full pipe already holds a wake-up; anything else means it is broken. */
	if (!tw_same_socket(own.tx, own.tx_cookie) ||
	    (send(own.tx, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
	    errno != EAGAIN && errno != EWOULDBLOCK))
		need_repair = true;
}

static bool start_thread(void);

/*
 * One of our descriptors is gone: new ones, with every pending socket
 * still ours watched again, and a new thread; or, when that cannot be,
 * every pending socket's fallback now.  Needs the own lock.
 */
static void
repair(void)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	bool ok;

	tw_log(TW_LOG_DEBUG, "reaper: its descriptors were closed behind its back; making new ones");
	drop_descriptors();
	ok = make_descriptors();
restart:
	for (unsigned i = 0; i < pending_count; i++) {
		struct pending *p = heap[i];

		if (!still_ours(p)) {
			let_go(p, NULL);
			goto restart;	/* the heap moved */
		}
		ev.data.u64 = event_tag(p);
		if (ok && REAL(epoll_ctl)(own.ep, EPOLL_CTL_ADD, p->fd, &ev) < 0 && errno != EEXIST)
			ok = false;
	}
	if (!ok || (pending_count > 0 && !start_thread())) {
		tw_log(TW_LOG_WARN, "reaper: cannot go on; pending closes get their fallback now");
		finish_all(false);
	}
}

/* ---- the thread ---- */

/* Drain the wake-up socket; false when its other end is gone. */
static bool
woken(void)
{
	char buf[64];
	ssize_t n;

	while ((n = REAL(recv)(own.rx, buf, sizeof buf, MSG_DONTWAIT)) > 0)
		;
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

/* Repair from the thread: the own lock comes first. */
static void
repair_from_thread(void)
{
	unlock();
	tw_own_lock();
	lock();
	if (need_repair || !descriptors_ok())
		repair();
	unlock();
	tw_own_unlock();
	lock();
}

/*
 * Wait for the next event or deadline on the epoll instance; false when
 * the thread must end.  Entered and left with the lock held.
 */
static bool
wait_once(unsigned epoch, int64_t *idle_since)
{
	struct epoll_event ev[64];
	int64_t now = now_ms();
	int n, err, timeout, ep;

	if (pending_count > 0) {
		*idle_since = -1;
		armed_ms = heap[0]->deadline_ms;
		timeout = armed_ms <= now ? 0 : (int)(armed_ms - now);
		/* Look up at least this often: a lost instance would report nothing. */
		if (timeout > CHECK_MS)
			timeout = CHECK_MS;
	} else {
		/* Nothing to do: go after a while; the next waiting close starts another. */
		if (*idle_since < 0)
			*idle_since = now;
		if (now - *idle_since >= IDLE_MS) {
			thread_running = false;
			thread_epoch++;
			return false;
		}
		armed_ms = -1;
		timeout = (int)(*idle_since + IDLE_MS - now);
	}
	ep = own.ep;
	unlock();
	n = epoll_wait(ep, ev, 64, timeout);
	err = errno;
	lock();
	if (epoch != thread_epoch)
		return false;
	if (n < 0) {
		/* Never spin on an instance that is gone: it is made again, or given up. */
		if (err != EINTR && ep == own.ep && (++wait_failures > 2 || !descriptors_ok())) {
			wait_failures = 0;
			need_repair = true;
		}
		return true;
	}
	wait_failures = 0;
	for (int i = 0; i < n; i++) {
		struct pending *p;

		if (ev[i].data.u64 == WAKE_TAG) {
			if (!woken())
				need_repair = true;
			continue;
		}
		/* An event queued before its slot was let go names nothing now. */
		if ((p = tagged(ev[i].data.u64)) != NULL)
			readable(p);
	}
	expire(now_ms());
	return true;
}

static void *
reaper_main(void *arg)
{
	unsigned epoch = (unsigned)(uintptr_t)arg;
	int64_t idle_since = -1;

	lock();
	while (epoch == thread_epoch) {
		if (need_repair)
			repair_from_thread();
		else if (!wait_once(epoch, &idle_since))
			break;
	}
	unlock();
	return NULL;
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
	if (own.ep < 0 && !make_descriptors())
		return false;
	/* The thread must never take a signal meant for the program. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	rc = pthread_create(&tid, &attr, reaper_main, (void *)(uintptr_t)thread_epoch);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		tw_log(TW_LOG_WARN, "cannot start the reaper thread: %s; closing at once",
		    strerror(rc));
		return false;
	}
	thread_running = true;
	armed_ms = -1;
	return true;
}

/* ---- the calls ---- */

/*
 * RLIMIT_NOFILE, read again whenever a close is taken: the program may
 * have raised or lowered it.  Our descriptors, these three and the
 * duplicates, take at most half the numbers above the floor, so that a
 * program that needs that many still finds some; the rest of its closes
 * then finish at once.  Needs the own lock.
 */
static void
follow_limit(void)
{
	struct rlimit rl;
	rlim_t limit, room;
	int floor;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	limit = rl.rlim_cur;
	if (limit == limit_seen && pending_cap > 0)
		return;
	limit_seen = limit;
	floor = tw_fd_floor_of(limit);
	tw_own_set_floor(floor);
	if (limit == RLIM_INFINITY || limit > (rlim_t)TW_FLAG_SLOTS)
		limit = TW_FLAG_SLOTS;
	room = limit > (rlim_t)floor ? (limit - (rlim_t)floor) / 2 : 0;
	pending_cap = room <= OWN_FDS ? 0 : room - OWN_FDS > PENDING_MAX ? PENDING_MAX :
	    (unsigned)(room - OWN_FDS);
	table_wanted = floor + (int)pending_cap + OWN_FDS + 1;
	size_table(table_wanted);
}

static bool
have_slots(void)
{
	if (slots != NULL)
		return true;
	slots = tw_alloc(PENDING_MAX * sizeof *slots);
	heap = tw_alloc(PENDING_MAX * sizeof *heap);
	if (slots == NULL || heap == NULL) {
		tw_free(slots, PENDING_MAX * sizeof *slots);
		tw_free(heap, PENDING_MAX * sizeof *heap);
		slots = NULL;
		heap = NULL;
		return false;
	}
	return true;
}

void
tw_reaper_init(bool waiting)
{
	/*
	 * Made now, when the program is most likely single-threaded, so that
	 * neither they nor sizing the table make any close() wait.
	 */
	if (!waiting)
		return;
	tw_own_lock();
	lock();
	follow_limit();
	if (pending_cap > 0 && make_descriptors())
		size_table(table_wanted);
	unlock();
	tw_own_unlock();
}

/*
 * Whether the abort fallback may be put on the socket in advance: only
 * where it would be allowed at the end (the timestamps option is settled
 * in the handshake).  Counted and said when the fallback comes.
 */
static bool
may_reset(int fd, const struct tw_desc *origin, bool unsafe)
{
	struct tw_tcp_info t;

	return tw_read_tcp_info(fd, &t) &&
	    tw_keep_time_wait(fd, origin, NULL, &t.ti, unsafe) == TW_TIME_WAIT_MAY_GO;
}

int
tw_reaper_take(int fd, const struct policy_close *c, const struct tw_desc *d)
{
	bool shut_wr_done = (d->flags & TW_D_SHUT_WR) != 0;
	struct epoll_event ev;
	struct pending *p, *stale;
	struct linger l;
	socklen_t len = sizeof l;
	int dupfd;
	uint64_t cookie;

	/*
	 * A socket with SO_LINGER on (the program's, perhaps through its
	 * listener) would make the reaper's final close block, with the lock
	 * held: such a close happens now, in the program's thread, as it asked.
	 */
	if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) == 0 && l.l_onoff && l.l_linger > 0)
		return -1;
	if (table_private)
		return -1;
	if ((cookie = tw_socket_cookie(fd)) == 0)
		return -1;
	tw_own_lock();
	lock();
	follow_limit();
	if (need_repair || (own.ep >= 0 && !thread_running && !descriptors_ok()))
		repair();
	if (exiting || pending_count >= pending_cap || !have_slots() || !start_thread())
		goto refuse;
	size_table(table_wanted);
	/* Never in the low numbers the program uses (see tw_own_descriptor). */
	if ((dupfd = tw_own_descriptor(fd, false)) < 0)
		goto refuse;
	if ((stale = holding(dupfd)) != NULL) {
		let_go(stale, NULL);	/* its number was closed behind our back */
		fdt_set_internal(dupfd, true);
	}
	if (reaper_own(dupfd))
		need_repair = true;	/* likewise: the thread repairs */

	if ((p = free_slots) != NULL)
		free_slots = p->next_free;
	else
		p = &slots[slots_used++];	/* pending_count < pending_cap: one is left */
	p->fd = dupfd;
	p->cookie = cookie;
	p->kind = c->kind;
	p->fallback = c->kind == CLOSE_PEER_FIRST ? c->fallback : CLOSE_NORMAL;
	p->fallback_ms = c->fallback_ms;
	p->deadline_ms = now_ms() + c->wait_ms;
	/*
	 * An abort fallback is put on the socket now, so that it holds even
	 * when the process dies without running any code of ours (SIGTERM,
	 * SIGKILL): the kernel's own close then resets.  A peer that closes
	 * first takes it off again (let_go).
	 */
	p->unsafe = c->unsafe;
	memset(&p->origin, 0, sizeof p->origin);
	p->origin.role = d->role;
	p->origin.pool_port = d->pool_port;
	p->origin.port_span = d->port_span;
	p->reset_set = p->fallback == CLOSE_ABORT && may_reset(dupfd, &p->origin, c->unsafe);
	if (p->reset_set)
		tw_set_linger(dupfd, 1, 0);
	heap_set(pending_count++, p);
	heap_up(p->heap_at);
	slot_of[dupfd] = (uint16_t)(p - slots + 1);

	/* The program's number is free from here on. */
	REAL(close)(fd);

	/* Every read of ours is MSG_DONTWAIT: the file's flags stay as they were. */
	if (c->kind == CLOSE_GRACEFUL && !shut_wr_done)
		(void)REAL(shutdown)(dupfd, SHUT_WR);

	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.u64 = event_tag(p);
	if (REAL(epoll_ctl)(own.ep, EPOLL_CTL_ADD, dupfd, &ev) < 0) {
		finish(p, p->fallback);
		goto taken;
	}
	/* The reaper sleeps toward armed_ms: wake it only for something sooner. */
	if (armed_ms < 0 || p->deadline_ms < armed_ms) {
		armed_ms = p->deadline_ms;
		wake();
	}
taken:
	unlock();
	tw_own_unlock();
	return 0;
refuse:
	unlock();
	tw_own_unlock();
	return -1;
}

void
tw_reaper_flush(void)
{
	lock();
	exiting = true;
	finish_all(true);
	unlock();
}

void
tw_reaper_resume(void)
{
	lock();
	exiting = false;
	unlock();
}

/*
 * A thread of the program gets a private copy of the descriptor table
 * (close_range with CLOSE_RANGE_UNSHARE).  The reaper's thread keeps the
 * shared one, so the copies of its duplicates there are of no use to it,
 * but each would hold its socket open after the reaper closes its own:
 * the peer would wait for our FIN, or reset, until that thread ends.  So
 * the table is unshared here, closing nothing, with the lock held, so
 * that its copies are exactly the duplicates pending now; and those are
 * closed in it.  The reaper's own three are left: they hold no
 * connection.  While the reaper's thread runs, the table is shared for
 * certain, so nothing here closes one of its own descriptors.
 *
 * From then on this thread sees none of the reaper's descriptors (when
 * the reaper is not running, none it would start either): it hands the
 * reaper no close (a duplicate made in its table would be out
 * of the reaper's sight), and what it finds on the reaper's numbers is
 * not taken for a sign that the reaper lost them.
 */
void
tw_reaper_unshare(void)
{
	real_close_range_fn unshare = REAL(close_range);
	int saved = errno;

	if (tw_busy || unshare == NULL)
		return;
	lock();
	if (!thread_running) {
		/*
		 * The program's close_range() unshares next.  A reaper this
		 * thread started afterwards would share its private table and
		 * lose sight of every other thread's duplicates: it starts none.
		 */
		table_private = true;
	} else if (unshare(~0U, ~0U, CLOSE_RANGE_UNSHARE) == 0) {
		table_private = true;
		for (unsigned i = 0; i < pending_count; i++)
			if (still_ours(heap[i]))
				(void)REAL(close)(heap[i]->fd);
	}
	unlock();
	errno = saved;
}

/*
 * The program dup2()s onto a number the reaper holds: move the duplicate
 * elsewhere so that the program gets its number and we keep our socket.
 * Where there is no other number, the socket gets its fallback now.
 * Called with the own lock held (tw_own_dup2_begin).
 */
void
tw_reaper_evict(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct pending *p;
	int moved, saved = errno;

	lock();
	if (reaper_own(fd)) {
		if (!descriptors_ok()) {
			need_repair = true;
			if (holding(fd) == NULL)
				tw_own_forget(fd);
		} else if ((moved = tw_own_descriptor(fd, false)) < 0) {
			/* Nowhere to go: the reaper stops, and its sockets get their fallback. */
			tw_log(TW_LOG_WARN, "reaper: no number left for its fd %d; "
			    "pending closes get their fallback now", fd);
			finish_all(false);
			drop_descriptors();
		} else {
			if (fd == own.rx) {
				(void)REAL(epoll_ctl)(own.ep, EPOLL_CTL_DEL, fd, NULL);
				own.rx = moved;
				(void)watch_wake(EPOLL_CTL_ADD);
			} else if (fd == own.tx) {
				own.tx = moved;
			} else {
				own.ep = moved;
				wake();		/* the thread waits on the old number */
			}
			close_own(fd);
		}
	} else if ((p = holding(fd)) != NULL) {
		if (!still_ours(p)) {
			let_go(p, NULL);
		} else if ((moved = tw_own_descriptor(fd, false)) < 0) {
			tw_log(TW_LOG_DEBUG, "reaper: no number left to move fd %d to; "
			    "its fallback now", fd);
			finish(p, p->kind == CLOSE_PEER_FIRST ? p->fallback : CLOSE_NORMAL);
		} else {
			(void)REAL(epoll_ctl)(own.ep, EPOLL_CTL_DEL, fd, NULL);
			slot_of[fd] = 0;
			p->fd = moved;
			slot_of[moved] = (uint16_t)(p - slots + 1);
			ev.data.u64 = event_tag(p);
			(void)REAL(epoll_ctl)(own.ep, EPOLL_CTL_ADD, moved, &ev);
			close_own(fd);
		}
	} else {
		tw_own_forget(fd);
	}
	unlock();
	errno = saved;
}

bool
tw_reaper_claims(int fd)
{
	struct pending *p;
	bool ours;

	/* Inside the reaper already (a signal handler): it cannot look; keep it. */
	if (tw_busy)
		return true;
	/* Not in this thread's table: nothing it finds there says anything of ours. */
	if (table_private)
		return false;
	lock();
	if (reaper_own(fd)) {
		ours = fd == own.tx ? tw_same_socket(fd, own.tx_cookie) :
		    tw_same_socket(own.rx, own.rx_cookie) &&
		    (fd == own.rx || watch_wake(EPOLL_CTL_MOD));
		if (!ours)
			need_repair = true;
	} else if ((p = holding(fd)) != NULL) {
		ours = still_ours(p);
		if (!ours)
			let_go(p, NULL);
	} else {
		ours = false;
	}
	unlock();
	return ours;
}

void
tw_reaper_prefork(void)
{
	tw_own_prefork();
	lock();
}

void
tw_reaper_postfork_parent(void)
{
	unlock();
	tw_own_postfork_parent();
}

/*
 * Close, in a child, the copies of the reaper's descriptors: the parent's
 * reaper finishes those sockets, and a copy kept here would hold each one
 * open until this child exits.  Takes no lock and calls only what is safe
 * in a signal handler: it also serves children made where no fork handler
 * ran (_Fork(), fork() from a signal handler inside the shim).
 */
void
tw_reaper_drop_inherited(void)
{
	unsigned n = __atomic_load_n(&pending_count, __ATOMIC_RELAXED);

	tw_own_postfork_child();

	/* The heap may be mid-update (no lock): the cookie decides. */
	for (unsigned i = 0; heap != NULL && i < n && i < PENDING_MAX; i++) {
		struct pending *p = heap[i];

		if (p != NULL && p->fd >= 0 && still_ours(p))
			(void)REAL(close)(p->fd);
	}
	if (own.ep >= 0 && tw_same_socket(own.rx, own.rx_cookie) && watch_wake(EPOLL_CTL_MOD))
		(void)REAL(close)(own.ep);
	if (tw_same_socket(own.rx, own.rx_cookie))
		(void)REAL(close)(own.rx);
	if (tw_same_socket(own.tx, own.tx_cookie))
		(void)REAL(close)(own.tx);
}

/*
 * The child has copies of our duplicates, and no reaper thread.  Its
 * copies must go: the parent's reaper finishes those sockets.
 */
void
tw_reaper_postfork_child(void)
{
	tw_reaper_drop_inherited();
	while (pending_count > 0) {
		struct pending *p = heap[--pending_count];

		unslot(p);
		tw_own_forget(p->fd);
		free_slot(p);
	}
	tw_own_forget(own.ep);
	tw_own_forget(own.rx);
	tw_own_forget(own.tx);
	own.ep = own.rx = own.tx = -1;
	armed_ms = -1;
	thread_running = false;
	table_private = false;	/* the child's one table is its reaper's too */
	pthread_mutex_init(&reaper_lock, NULL);
	/* prefork's lock() left cancellation off in this thread: as it was. */
	pthread_setcancelstate(cancel_state, NULL);
	tw_busy -= 2;	/* prefork's lock() and tw_own_prefork() */
}
