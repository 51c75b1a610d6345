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

static inline void
tw_spin_lock(int *lock)
{
	for (unsigned spins = 0; __atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE) != 0;) {
		while (__atomic_load_n(lock, __ATOMIC_RELAXED) != 0) {
			if (++spins < 64)
				tw_cpu_relax();
			else
				sched_yield();
		}
	}
}

static inline void
tw_spin_unlock(int *lock)
{
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

#endif
