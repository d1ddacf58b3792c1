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
 * gch_thread, right after its gchi_thread_head (gc/thread.h); gc/proc.c
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

/* GCHI_ALLOC_TEXT: the section of every out-of-line function that can be
 * on the stack between a public allocation call and mprof_sample, so
 * that the profiler cuts the heap's own frames off a sampled stack by
 * address (alloc/mprof.c: capture), however they were inlined. */
#define GCHI_ALLOC_TEXT __attribute__((section("gchi_alloc_text")))

/* mprof_sample: the object at v, of a `size`-byte slot, was the one at
 * which c's sampling count ran out: draw the next distance and, unless
 * profiling is off, account the object to its stack's bucket.  Returns
 * (void *)v, so that the fast paths can tail-call it.  Caller owns c.
 * Go counterpart: profilealloc.  alloc/mprof.h. */
GCHI_ALLOC_TEXT void *mprof_sample(struct mcache *c, uintptr_t v, size_t size);

/* mprof_count: the fast path's half of sampling (mprof.h): take `size`
 * bytes off c's count, and sample the object at v when it runs out. */
static GCH_ALWAYS_INLINE void *mprof_count(struct mcache *c, uintptr_t v, size_t size)
{
    c->next_sample -= (int64_t)size;
    if (GCH_UNLIKELY(c->next_sample < 0))
        return mprof_sample(c, v, size);
    return (void *)v;
}

#endif
