/*
 * mcache.c - per-thread span cache: refill and release.
 * Go counterpart: runtime/mcache.go.  Contract and invariants K1-K5:
 * alloc/mcache.h.  Overview: alloc/malloc.c.
 *
 * Allocation counts are not kept per object: when a span leaves the cache
 * the slots it gave out since it arrived (alloc_count minus
 * alloc_count_before_cache) are added to the heap's per-class counters,
 * as Go does, so the fast path has no counter to bump.  The bytes allocated
 * black during a mark are counted the same way (K5).
 */
#define GCHI_BUILDING 1
#include "mcache.h"

void mcache_init(struct mcache *c, struct mheap *h)
{
    for (size_t i = 0; i < NUM_SPAN_CLASSES; i++)
        c->alloc[i] = &h->emptyspan;
    c->heap = h;
    atomic_uptr_store_relaxed(&c->owner_tag, 0);
    atomic_u32_store_relaxed(&c->attached, 0);
    atomic_u32_store_relaxed(&c->gcstress, 0);
    c->gcstress_left = 0;
    /* Distinct sequences per cache and per attach. */
    c->sample_rng = (uint64_t)(uintptr_t)c ^ (uint64_t)sys_nanotime() * 0x9e3779b97f4a7c15u;
    c->next_sample = mprof_next_interval(h->prof.rate, &c->sample_rng);
    c->inline_off = GCH_TRACKING ? MCACHE_INLINE_TRACK : 0; /* K4 */
    c->in_scan = false;
    c->alloc_black = false;
    c->black_bytes = 0;
    atomic_u64_store_relaxed(&c->sweep_ns, 0);
}

/* flush_span: publish the allocations s made while cached and give it
 * back to its central list. */
static void flush_span(struct mcache *c, spanclass_t spc, struct mspan *s)
{
    struct mheap *h = c->heap;
    uint32_t n = s->alloc_count - s->alloc_count_before_cache;
    if (n > 0)
        atomic_u64_add_relaxed(&h->counters.small_mallocs[spanclass_sizeclass(spc)], n);
    if (s->black) { /* K5: before the alloc bits are committed */
        span_uncolour_free(s);
        c->black_bytes += (uint64_t)n * s->elemsize;
    }
    /* The refill counted every free slot as allocated (alloc_since_gc);
     * take back the ones left unused, never below zero (a cycle may have
     * reset the counter since). */
    uint64_t unused = (uint64_t)(s->nelems - s->alloc_count) * s->elemsize;
    uint64_t cur = atomic_u64_load_relaxed(&h->counters.alloc_since_gc);
    while (cur > 0 && !atomic_u64_cas_acq_rel(&h->counters.alloc_since_gc, &cur,
                                              cur > unused ? cur - unused : 0)) {
    }
    mcentral_uncache_span(&h->central[spc], s);
}

bool mcache_refill(struct mcache *c, spanclass_t spc)
{
    struct mheap *h = c->heap;
    struct mspan *s = c->alloc[spc];
    if (s != &h->emptyspan) {
        GCH_ASSERT_INTERNAL(s->alloc_count == s->nelems);
        c->alloc[spc] = &h->emptyspan;
        flush_span(c, spc, s);
    }
    s = mcentral_cache_span(&h->central[spc], &c->sweep_ns);
    if (s == NULL)
        return false;
    GCH_ASSERT_INTERNAL(s->nelems <= UINT16_MAX); /* small classes: at most 1024 slots */
    s->alloc_count_before_cache = (uint16_t)s->alloc_count;
    if (c->alloc_black)
        span_colour_free(s); /* K5 */
    atomic_u64_add_relaxed(&h->counters.alloc_since_gc,
                           (uint64_t)(s->nelems - s->alloc_count) * s->elemsize);
    c->alloc[spc] = s;
    return true;
}

void mcache_release_all(struct mcache *c)
{
    struct mheap *h = c->heap;
    for (size_t i = 0; i < NUM_SPAN_CLASSES; i++) {
        struct mspan *s = c->alloc[i];
        if (s != &h->emptyspan) {
            c->alloc[i] = &h->emptyspan;
            flush_span(c, (spanclass_t)i, s);
        }
    }
    if (c->black_bytes > 0) {
        atomic_u64_add_relaxed(&h->counters.black_bytes, c->black_bytes);
        c->black_bytes = 0;
    }
}
