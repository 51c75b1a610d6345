/*
 * mem.h - the shim's own allocator.
 *
 * The table must work before the constructor, inside a vfork child's
 * parent, and on paths an interposed malloc may re-enter, so the shim
 * never calls malloc for it.  Small blocks come from mmap'd slabs and go
 * back to a free list of their size; large ones are mmap'd whole.
 * Callers pass the size back on free, as uthash does.
 */
#ifndef TWSHIM_MEM_H
#define TWSHIM_MEM_H

#include <stddef.h>

void *tw_alloc(size_t size);		/* zeroed; NULL when out of memory */
void tw_free(void *p, size_t size);

/* Bytes taken from the system so far (for the memory benchmark). */
size_t tw_mem_mapped(void);

/* fork(): hold the allocator across it, and make the child's lock usable. */
void tw_mem_prefork(void);
void tw_mem_postfork_parent(void);
void tw_mem_postfork_child(void);

#endif
