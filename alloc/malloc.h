/*
 * malloc.h - the allocator's internal interface for gc/ and tests.
 * Overview: alloc/malloc.c.
 */
#ifndef GCHEAP_ALLOC_MALLOC_H
#define GCHEAP_ALLOC_MALLOC_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include "gcheap.h"
#include "mcache.h"

/* THREAD_MCACHE_OFFSET: byte offset of the allocator cache inside a
 * gch_thread, right after its gchi_thread_head (gc/heap.h); gc/heap.c
 * pins it with a _Static_assert.  Internal: no inline fast path reads
 * the cache. */
#define THREAD_MCACHE_OFFSET 16

/* gchi_thread_cache: the mcache of t. */
static inline struct mcache *gchi_thread_cache(gch_thread *t)
{
    return (struct mcache *)(void *)((char *)t + THREAD_MCACHE_OFFSET);
}

/* gchi_check_thread: GCH_OK when c is attached and used by its own OS
 * thread; otherwise sets the error and returns its code. */
gch_error gchi_check_thread(const struct mcache *c);

#endif
