/*
 * mem.c - slab allocator for the fd table and the reaper (see mem.h).
 */
#include <string.h>
#include <sys/mman.h>

#include "mem.h"
#include "spin.h"

#define GRAIN		8
#define SMALL_MAX	512
#define NCLASSES	(SMALL_MAX / GRAIN)
#define SLAB_BYTES	(256 * 1024)

struct free_block {
	struct free_block *next;
};

static int mem_lock;
static struct free_block *free_lists[NCLASSES + 1];
static char *slab_next, *slab_end;
static size_t mapped_bytes;

static void *
map_bytes(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	__atomic_add_fetch(&mapped_bytes, size, __ATOMIC_RELAXED);
	return p;
}

static size_t
page_round(size_t size)
{
	return (size + 4095) & ~(size_t)4095;
}

void *
tw_alloc(size_t size)
{
	size_t cls, bytes;
	void *p = NULL;

	if (size == 0)
		size = 1;
	if (size > SMALL_MAX)
		return map_bytes(page_round(size));	/* zero-filled by mmap */

	cls = (size + GRAIN - 1) / GRAIN;
	bytes = cls * GRAIN;
	tw_spin_lock(&mem_lock);
	if (free_lists[cls] != NULL) {
		p = free_lists[cls];
		free_lists[cls] = free_lists[cls]->next;
	} else {
		if (slab_next == NULL || (size_t)(slab_end - slab_next) < bytes) {
			/* The tail of the old slab is abandoned: at most SMALL_MAX bytes. */
			char *slab = map_bytes(SLAB_BYTES);
			if (slab != NULL) {
				slab_next = slab;
				slab_end = slab + SLAB_BYTES;
			}
		}
		if (slab_next != NULL && (size_t)(slab_end - slab_next) >= bytes) {
			p = slab_next;
			slab_next += bytes;
		}
	}
	tw_spin_unlock(&mem_lock);
	if (p != NULL)
		memset(p, 0, bytes);
	return p;
}

void
tw_free(void *p, size_t size)
{
	size_t cls;

	if (p == NULL)
		return;
	if (size == 0)
		size = 1;
	if (size > SMALL_MAX) {
		munmap(p, page_round(size));
		__atomic_sub_fetch(&mapped_bytes, page_round(size), __ATOMIC_RELAXED);
		return;
	}
	cls = (size + GRAIN - 1) / GRAIN;
	tw_spin_lock(&mem_lock);
	((struct free_block *)p)->next = free_lists[cls];
	free_lists[cls] = p;
	tw_spin_unlock(&mem_lock);
}

size_t
tw_mem_mapped(void)
{
	return __atomic_load_n(&mapped_bytes, __ATOMIC_RELAXED);
}

void
tw_mem_prefork(void)
{
	tw_spin_lock(&mem_lock);
}

void
tw_mem_postfork_parent(void)
{
	tw_spin_unlock(&mem_lock);
}

void
tw_mem_postfork_child(void)
{
	mem_lock = 0;
}
