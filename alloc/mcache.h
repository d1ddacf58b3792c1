/*
 * mcache.h - the per-thread allocation cache (Go's per-P mcache).
 * Go counterpart: runtime/mcache.go.  Overview: alloc/malloc.c.
 *
 * One mcache per attached gch_thread, used only by that thread, so the
 * allocation fast path takes no lock and makes no atomic access.
 *
 * Invariants:
 *   K1 alloc[spc] is a span of class spc held only by this cache (C3), or
 *      the heap's emptyspan sentinel, which never has a free slot;
 *   K2 tiny is 0 or the address of a 16-byte noscan block allocated from
 *      alloc[tiny span class], with tinyoffset bytes of it handed out;
 *   K3 while not attached every alloc[] is the sentinel and tiny is 0, so
 *      every allocation reaches the slow path, which checks attachment.
 * Locking: [owner thread] for everything but `attached`, which the heap's
 *   thread registry also reads.
 */
#ifndef GCHEAP_ALLOC_MCACHE_H
#define GCHEAP_ALLOC_MCACHE_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include "mheap.h"

#define TINY_SPANCLASS make_spanclass(2, true) /* 16-byte noscan blocks */

struct mcache {
    struct mspan *alloc[NUM_SPAN_CLASSES]; /* [owner thread] K1; first: hot */
    uintptr_t tiny;                        /* [owner thread] K2 */
    size_t tinyoffset;                     /* [owner thread] K2 */
    uint64_t tiny_allocs;                  /* [owner thread] flushed to heap counters */
    struct mheap *heap;                    /* [immutable] */
    pthread_t owner;                       /* [immutable while attached] */
    struct atomic_u32 attached;            /* [owner writes; registry reads] K3 */
};

void mcache_init(struct mcache *c, struct mheap *h);
/* mcache_refill: replace the full span of class spc with one that has a
 * free slot.  False (gch_last_error set) when the heap cannot grow.
 * Go counterpart: (*mcache).refill. */
bool mcache_refill(struct mcache *c, spanclass_t spc);
/* mcache_release_all: return every cached span to its mcentral and flush
 * the counters (K3 afterwards).  Go counterpart: (*mcache).releaseAll. */
void mcache_release_all(struct mcache *c);

#endif
