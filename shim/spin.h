/*
 * spin.h - the lock of the fd table and the allocator.
 *
 * Critical sections here are a few dozen instructions and never block, so
 * a spinning lock costs a fraction of a mutex on the uncontended path; a
 * waiter that keeps finding it taken yields the CPU, in case the holder
 * was preempted.
 */
#ifndef TWSHIM_SPIN_H
#define TWSHIM_SPIN_H

#include <sched.h>

static inline void
tw_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile ("yield");
#else
	__asm__ volatile ("" ::: "memory");
#endif
}

/*
 * Built with TW_SPIN_STATS (the benchmarks' copy of the library only), the
 * time spent waiting for a lock is added up and printed at exit.
 */
#ifdef TW_SPIN_STATS
#include <time.h>
extern unsigned long tw_spin_waits, tw_spin_ns, tw_spin_takes;

static inline unsigned long
tw_spin_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000000000UL + (unsigned long)ts.tv_nsec;
}
#endif

static inline void
tw_spin_lock(int *lock)
{
#ifdef TW_SPIN_STATS
	unsigned long t0 = 0;

	__atomic_add_fetch(&tw_spin_takes, 1, __ATOMIC_RELAXED);
#endif
	for (unsigned spins = 0; __atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE) != 0;) {
#ifdef TW_SPIN_STATS
		if (t0 == 0)
			t0 = tw_spin_now_ns();
#endif
		while (__atomic_load_n(lock, __ATOMIC_RELAXED) != 0) {
			if (++spins < 64)
				tw_cpu_relax();
			else
				sched_yield();
		}
	}
#ifdef TW_SPIN_STATS
	if (t0 != 0) {
		__atomic_add_fetch(&tw_spin_waits, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&tw_spin_ns, tw_spin_now_ns() - t0, __ATOMIC_RELAXED);
	}
#endif
}

static inline void
tw_spin_unlock(int *lock)
{
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

#endif
