/*
 * mcache.h - the per-thread allocation cache (Go's per-P mcache).
 * Go counterpart: runtime/mcache.go.  Overview: alloc/malloc.c.
 *
 * One mcache per attached gch_thread, used only by that thread, so the
 * allocation fast path takes no lock; its one atomic access is a relaxed
 * load of owner_tag (a plain load on x86-64 and arm64).
 *
 * Invariants:
 *   K1 alloc[spc] is a span of class spc held only by this cache (C3), or
 *      the heap's emptyspan sentinel, which never has a free slot;
 *   K2 every object handed out is one whole slot of its span (there is no
 *      tiny allocator packing several objects into a slot), so a slot's
 *      alloc and mark bits are its object's, an object starts at its
 *      slot and is at least 8-byte aligned, and its usable size is the
 *      slot (less a type header) and overlaps no other object;
 *   K3 while not attached every alloc[] is the sentinel and owner_tag is
 *      0; every allocation first compares owner_tag with the
 *      calling thread's tag, so a detached or foreign handle never touches
 *      a span;
 *   K4 the inline path of gcheap/alloc.h, compiled into the embedder, takes
 *      a slot only while inline_off and alloc_black are both 0: gcstress,
 *      sanitizer tracking (alloc/track.h) and allocate-black are done by
 *      the library alone.  Scan and trace callbacks run only while
 *      alloc_black is set (a mark, up to mark termination's flip), so an
 *      allocation from one always reaches the library's checks.
 * Locking: [owner thread] for everything but `attached`, which the heap's
 *   thread registry also reads.
 */
#ifndef GCHEAP_ALLOC_MCACHE_H
#define GCHEAP_ALLOC_MCACHE_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include "mheap.h"

struct mcache {
    struct mspan *alloc[NUM_SPAN_CLASSES]; /* [owner thread] K1; first: hot */
    struct mheap *heap;                    /* [immutable] */
    struct atomic_uptr owner_tag;          /* [written under registry lock, read relaxed
                                            * by any thread] gchi_thread_tag() of the
                                            * owner while attached, else 0 (K3) */
    struct atomic_u32 attached;            /* [owner writes; registry reads] K3 */
    /* GODEBUG=gcstress=N (gc/mgcstress.c): N, or 0 when off; read before
     * the owner check by every gch_alloc* call, hence atomic.  Next to
     * owner_tag, so the check touches no other cache line. */
    struct atomic_u32 gcstress;            /* [written at attach, read relaxed] */
    uint32_t gcstress_left;                /* [owner thread] allocations to the next cycle */
    /* Heap profiling (mprof.h): bytes left before the next sampled
     * object; every allocation subtracts its slot size.  INT64_MAX when
     * profiling is off.  Beside owner_tag: the same cache line. */
    int64_t next_sample;                   /* [owner thread] */
    uint64_t sample_rng;                   /* [owner thread] its distances' generator */
    /* The public inline allocation path (include/gcheap/alloc.h) reads
     * inline_off and alloc_black as one 2-byte word and serves an
     * allocation only while both are 0 (K4).  MCACHE_INLINE_* bits. */
    uint8_t inline_off;                    /* [owner thread; written at init and attach] */
    /* Allocate black (Go's gcmarknewobject): while the collector marks,
     * each new object's mark bit is set as it is handed out, so it
     * survives the cycle unscanned. */
    bool alloc_black;                      /* [written with the world stopped] */
    uint64_t black_bytes;                  /* [owner thread] allocated black, flushed to
                                            * the heap's counter by release_all */
    struct atomic_u64 sweep_ns;            /* [owner writes; any thread reads] time spent
                                            * sweeping to allocate (gch_thread_read_gc_time) */
};

/* inline_off bits: why the inline path must leave c to the library. */
#define MCACHE_INLINE_TRACK 1u  /* a sanitizer or Valgrind build tracks each object */
#define MCACHE_INLINE_STRESS 2u /* GODEBUG=gcstress counts each allocation */

void mcache_init(struct mcache *c, struct mheap *h);
/* mcache_refill: replace the full span of class spc with one that has a
 * free slot.  False (gch_last_error set) when the heap cannot grow.
 * Go counterpart: (*mcache).refill. */
bool mcache_refill(struct mcache *c, spanclass_t spc);
/* mcache_release_all: return every cached span to its mcentral and flush
 * the counters (K3 afterwards).  Go counterpart: (*mcache).releaseAll. */
void mcache_release_all(struct mcache *c);

#endif
