/*
 * mgcsweep.c - sweeping: mark bits become alloc bits, empty spans go back
 * to the heap.  Go counterpart: runtime/mgcsweep.go (sweepLocked.sweep).
 * Sweep generations: the table in alloc/mspan.h; invariant X1: gc/mgc.h.
 * Overview: gc/mgc.c.
 *
 * This first collector sweeps every span with the world stopped, at the
 * end of the cycle (Go's gcstoptheworld=2 behaviour).  Sweeping by CAS on
 * the span's sweepgen from the background, on allocation and in
 * proportion to it comes with the concurrent collector (issue 3 cont.).
 */
#define GCHI_BUILDING 1
#include "mgc.h"
#include "heap.h"

#include <string.h>

/* clobber: fill a freed object with 0xdeadbeef words (GODEBUG=clobberfree). */
static void clobber(uintptr_t obj, size_t size)
{
    for (size_t i = 0; i + 4 <= size; i += 4) {
        uint32_t v = 0xdeadbeefu;
        memcpy((void *)(obj + i), &v, 4);
    }
}

/* sweep_span: apply the marks to s; returns the live object count.  The
 * span is on no list; the caller frees it or lists it, publishing the new
 * sweepgen (mcentral_push_swept).  World stopped. */
static uint32_t sweep_span(struct gch_heap *h, struct mspan *s)
{
    struct mheap *mh = &h->mheap;
    size_t nbytes = bitmap_bytes(s->nelems);
    uint32_t live = 0;
    for (size_t i = 0; i < nbytes / 8; i++)
        live += (uint32_t)__builtin_popcountll(load_le64(s->gcmark_bits + 8 * i));
    GCH_ASSERT_INTERNAL(live <= s->alloc_count);
    uint32_t freed = s->alloc_count - live;
    if (freed > 0 && h->env.debug.clobberfree)
        for (uint32_t i = 0; i < s->nelems; i++)
            if (bit_is_set(s->alloc_bits, i) && !bit_is_set(s->gcmark_bits, i))
                clobber(s->start + (uintptr_t)i * s->elemsize, s->elemsize);
    unsigned sc = spanclass_sizeclass(s->spanclass);
    if (sc == 0 && freed > 0) {
        atomic_u64_add_relaxed(&mh->counters.large_frees, 1);
        atomic_u64_add_relaxed(&mh->counters.large_free_bytes, s->elemsize);
    } else if (freed > 0) {
        atomic_u64_add_relaxed(&mh->counters.small_frees[sc], freed);
    }
    /* The mark bits are the new alloc bits; fresh zeroed mark bits come
     * from this epoch's gcBits arena (the old alloc bits die with their
     * arena two epochs later). */
    uint8_t *fresh = gcbits_alloc(&mh->gcbits, nbytes);
    if (fresh == NULL) /* reusing the old alloc bits would outlive their epoch */
        gch_fatal("out of memory for mark bits while sweeping", (uintptr_t)s, nbytes, 0);
    s->alloc_bits = s->gcmark_bits;
    s->gcmark_bits = fresh;
    s->alloc_count = live;
    s->freeindex = 0;
    s->alloc_cache = 0;
    if (freed > 0)
        s->needzero = true;
    return live;
}

void gc_sweep_all(struct gch_heap *h)
{
    struct mheap *mh = &h->mheap;
    uint32_t newsg = mheap_sweepgen(mh) + 2;
    gcbits_new_epoch(&mh->gcbits); /* before any new mark bits (mspan.h) */
    atomic_u32_store_release(&mh->sweepgen, newsg);
    for (size_t spc = 0; spc < NUM_SPAN_CLASSES; spc++) {
        struct mcentral *c = &mh->central[spc];
        struct mspan *s = mcentral_take_all(c);
        while (s != NULL) {
            struct mspan *next = s->next;
            s->next = NULL;
            if (sweep_span(h, s) == 0)
                mheap_free_span(mh, s);
            else
                mcentral_push_swept(c, s, newsg);
            s = next;
        }
    }
}
