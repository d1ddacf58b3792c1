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
 *      a slot only while inline_off and in_scan are both 0: gcstress and
 *      sanitizer tracking (alloc/track.h) are done by the library alone,
 *      and an allocation from a scan or trace callback running on the
 *      owner thread (its assists, its own root-scan handshake, the
 *      shading of its root edits: in_scan is set around each) reaches the
 *      library's checks (every such allocation at GCH_DEBUG >= 2, its
 *      refill otherwise).  A tag decoder (gch_config.decode) is outside
 *      these brackets: gcheap.h requires it to be pure;
 *   K5 (allocate black) a span this cache takes while alloc_black is set
 *      has the mark bit of every free slot set as it arrives (s->black,
 *      span_colour_free), so each object handed out from it during the
 *      mark is black with nothing done per object, inline path included;
 *      when the span leaves the cache (at the latest when the mark ends:
 *      gc_set_phase releases every cache) the mark bits of the slots it
 *      still has free are cleared before its alloc bits are committed
 *      (span_uncolour_free), and the objects it handed out are counted in
 *      black_bytes.  So at every sweep a mark bit means an object, and
 *      during a mark a set mark bit in a cached black span may be a free
 *      slot (gc/mgc.h X2).  Large objects are marked one by one.
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
     * inline_off and in_scan as one 2-byte word and serves an
     * allocation only while both are 0 (K4).  MCACHE_INLINE_* bits. */
    uint8_t inline_off;                    /* [owner thread; written at init and attach] */
    bool in_scan;                          /* [owner thread] running collector callbacks */
    /* Allocate black (Go's gcmarknewobject): while the collector marks,
     * every new object is marked, so it survives the cycle unscanned:
     * small objects by their span's colouring (K5), large ones as they
     * are handed out. */
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
/* mcache_scan_enter / _leave: the owner thread is about to run, or has
 * run, collector callbacks (K4): its allocations leave the inline path.
 * Caller owns c; enter returns the previous state for leave. */
static inline bool mcache_scan_enter(struct mcache *c)
{
    bool was = c->in_scan;
    c->in_scan = true;
    return was;
}
static inline void mcache_scan_leave(struct mcache *c, bool was) { c->in_scan = was; }

#endif
