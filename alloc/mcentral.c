/*
 * mcentral.c - central span lists, one per span class.
 * Go counterpart: runtime/mcentral.go.  Contract and invariants C1-C4:
 * alloc/mcentral.h.  Overview: alloc/malloc.c.
 *
 * Go keeps these sets in lock-free spanSets; gcheap uses doubly linked
 * lists under one mutex per class, which also lets a span move between
 * lists in O(1) when an object in it is freed.  When the collector flips
 * the sweep generation the swept and unswept sets trade places (index
 * (sg / 2) & 1 is the swept one), so every listed span becomes unswept
 * without being touched; a refill sweeps them lazily (sweep_for_cache).
 */
#define GCHI_BUILDING 1
#include "mcentral.h"
#include "mheap.h"
#include "error.h"

void spanlist_push(struct spanlist *l, struct mspan *s)
{
    GCH_ASSERT_INTERNAL(/*C1*/ s->list == NULL);
    s->prev = NULL;
    s->next = l->first;
    if (l->first != NULL)
        l->first->prev = s;
    l->first = s;
    s->list = l;
    l->n++;
}

void spanlist_remove(struct spanlist *l, struct mspan *s)
{
    GCH_ASSERT_INTERNAL(/*C1*/ s->list == l);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        l->first = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->list = NULL;
    l->n--;
}

struct mspan *spanlist_pop(struct spanlist *l)
{
    struct mspan *s = l->first;
    if (s != NULL)
        spanlist_remove(l, s);
    return s;
}

static unsigned swept_index(uint32_t sg) { return (sg / 2) & 1; }

void mcentral_init(struct mcentral *c, spanclass_t spc, struct mheap *h)
{
    lock_init(&c->lock, LOCKRANK_MCENTRAL);
    c->spanclass = spc;
    c->heap = h;
    memset(c->partial, 0, sizeof c->partial);
    memset(c->full, 0, sizeof c->full);
}

/* mcentral_grow: a fresh span for this class from the heap.  Caller holds
 * no lock.  Go counterpart: (*mcentral).grow. */
static struct mspan *mcentral_grow(struct mcentral *c)
{
    unsigned sc = spanclass_sizeclass(c->spanclass);
    GCH_ASSERT_INTERNAL(sc != 0);
    struct mspan *s = mheap_alloc_span(c->heap, gchi_class_to_allocnpages[sc], c->spanclass);
    if (s != NULL) /* every slot free: no-access for sanitizers (track.h) */
        track_span_fresh(s->start, s->npages * PAGE_SIZE);
    return s;
}

struct mspan *mcentral_take_unswept(struct mcentral *c, uint32_t sg)
{
    unsigned u = swept_index(sg) ^ 1;
    lock_acquire(&c->lock);
    struct spanlist *l = &c->partial[u];
    struct mspan *s = spanlist_pop(l);
    if (s == NULL) {
        l = &c->full[u];
        s = spanlist_pop(l);
    }
    if (s != NULL && !span_claim_sweep(s, sg)) /* C4 makes the claim certain */
        gch_fatal("unswept span with a wrong sweepgen", (uintptr_t)s,
                  atomic_u32_load_relaxed(&s->sweepgen), sg);
    /* The next sweep's span is now first on this list: start loading the
     * lines of its record that the claim and the sweep read (sweepgen,
     * the mark map's address), which the pop touched only at prev. */
    if (s != NULL) /* and the first mark bytes the sweep reads (its record's line was) */
        __builtin_prefetch(s->gcmarks, 0);
    struct mspan *n = l->first;
    if (n != NULL) {
        __builtin_prefetch(&n->sweepgen, 1);
        __builtin_prefetch(&n->gcmarks, 0);
    }
    lock_release(&c->lock);
    return s;
}

/* Unswept spans a refill sweeps, looking for free slots, before it grows
 * the heap instead (Go's spanBudget). */
#define REFILL_SWEEP_BUDGET 100

/* sweep_for_cache: sweep this class's unswept spans until one has a free
 * slot, and return it claimed for an mcache (C3).  Full ones go to the
 * swept full list.  NULL when none has room within the budget.  The
 * caller is a running thread: no flip can happen before it returns. */
static struct mspan *sweep_for_cache(struct mcentral *c)
{
    struct mheap *h = c->heap;
    if (!sweep_begin(h))
        return NULL;
    uint32_t sg = mheap_sweepgen(h); /* after sweep_begin: SW4 */
    struct mspan *s = NULL;
    for (int budget = REFILL_SWEEP_BUDGET; budget > 0; budget--) {
        if (!gcbits_reserve(&h->gcbits)) /* GB1: the OS refuses; grow instead */
            break;
        s = mcentral_take_unswept(c, sg);
        if (s == NULL)
            break;
        span_sweep(h, s, true); /* an empty span is kept, below */
        if (s->alloc_count < s->nelems) {
            /* Even an empty span is kept: the refill wanted this class. */
            atomic_u32_store_release(&s->sweepgen, sg + 3);
            break;
        }
        mcentral_push_swept(c, s, sg);
        s = NULL;
    }
    sweep_end(h);
    return s;
}

/* grow_for_cache: a new span from the heap, claimed for an mcache. */
static struct mspan *grow_for_cache(struct mcentral *c, uint32_t sg)
{
    struct mspan *s = mcentral_grow(c);
    if (s != NULL)
        atomic_u32_store_release(&s->sweepgen, sg + 3); /* C3 */
    return s;
}

/* take_swept_partial: a swept span with room, claimed for an mcache. */
static struct mspan *take_swept_partial(struct mcentral *c, uint32_t sg)
{
    lock_acquire(&c->lock);
    struct mspan *s = spanlist_pop(&c->partial[swept_index(sg)]);
    if (s != NULL)
        atomic_u32_store_release(&s->sweepgen, sg + 3); /* C3, inside the lock */
    lock_release(&c->lock);
    return s;
}

/* cache_find / cache_grow: mcentral_cache_span's ways to a span, for
 * mheap_alloc_swept.  No flip happens during a refill, so sweepgen is the
 * same at each call. */
static struct mspan *cache_find(void *ctx, bool may_sweep)
{
    struct mcentral *c = ctx;
    struct mspan *s = take_swept_partial(c, mheap_sweepgen(c->heap));
    if (s == NULL && may_sweep)
        s = sweep_for_cache(c);
    return s;
}

static struct mspan *cache_grow(void *ctx)
{
    struct mcentral *c = ctx;
    return grow_for_cache(c, mheap_sweepgen(c->heap));
}

struct mspan *mcentral_cache_span(struct mcentral *c, struct atomic_u64 *sweep_ns)
{
    static const struct sweep_alloc how = {cache_find, cache_grow};
    size_t npages = gchi_class_to_allocnpages[spanclass_sizeclass(c->spanclass)];
    struct mspan *s = mheap_alloc_swept(c->heap, npages, sweep_ns, &how, c);
    if (s == NULL)
        return NULL;
    GCH_ASSERT_INTERNAL(/*C2*/ s->alloc_count < s->nelems);
    /* Zero the free slots now, in bulk, rather than each as it is handed
     * out: the inline path then serves the span (gcheap/alloc.h's rare
     * tail is for needzero).  Not with clobberfree, whose fill should
     * stay visible in free slots until each is reused. */
    if (s->needzero && !c->heap->sweep.clobberfree)
        span_zero_free(s);
    span_prepare_cache(s);
    return s;
}

void mcentral_uncache_span(struct mcentral *c, struct mspan *s)
{
    span_commit_alloc_bits(s); /* M4 */
    uint32_t sg = mheap_sweepgen(c->heap);
    uint32_t was = atomic_u32_load_relaxed(&s->sweepgen);
    if (was != sg + 3) /* C3: a flip with this span cached (sg + 1) */
        gch_fatal("span cached across a sweep-generation flip: every cache must be flushed "
                  "before the flip", (uintptr_t)s, was, sg);
    /* An empty span goes straight back to the heap, where its pages can
     * serve any class, unless the collector is marking: then no span may
     * be freed (mheap.h H5), and it waits on the partial list for the
     * next sweep. */
    if (s->alloc_count == 0 && !mheap_spans_pinned(c->heap))
        mheap_free_span(c->heap, s);
    else
        mcentral_push_swept(c, s, sg);
}

void mcentral_push_swept(struct mcentral *c, struct mspan *s, uint32_t sg)
{
    /* A span a sweep emptied without fresh alloc bits must be freed
     * (msweep.c span_sweep): kept, its marks would read as its allocs. */
    GCH_ASSERT_INTERNAL(s->alloc_bits != s->gcmarks);
    lock_acquire(&c->lock);
    atomic_u32_store_release(&s->sweepgen, sg); /* C3/C4: inside the lock */
    unsigned i = swept_index(sg);
    spanlist_push(s->alloc_count == s->nelems ? &c->full[i] : &c->partial[i], s);
    lock_release(&c->lock);
}

void mcentral_add_large(struct mcentral *c, struct mspan *s)
{
    lock_acquire(&c->lock);
    spanlist_push(&c->full[swept_index(mheap_sweepgen(c->heap))], s);
    lock_release(&c->lock);
}

bool mcentral_free_object(struct mcentral *c, struct mspan *s, uint32_t idx)
{
    uint32_t sg = mheap_sweepgen(c->heap);
    lock_acquire(&c->lock);
    if (s->list == NULL || atomic_u32_load_relaxed(&s->sweepgen) != sg) {
        lock_release(&c->lock);
        gch_fatal("free of an object whose span is cached by a thread (flush it first)",
                  s->start + idx * s->elemsize, (uintptr_t)s, 0);
    }
    if (!bit_is_set(s->alloc_bits, idx)) {
        lock_release(&c->lock);
        gch_fatal("double free: object is not allocated", s->start + idx * s->elemsize,
                  (uintptr_t)s, idx);
    }
    bit_clear(s->alloc_bits, idx);
    track_free(s->start + idx * s->elemsize, s->elemsize);
    s->alloc_count--;
    s->needzero = true; /* the freed slot holds old data */
    struct spanlist *from = s->list;
    if (s->alloc_count == 0 && !mheap_spans_pinned(c->heap)) {
        spanlist_remove(from, s);
        lock_release(&c->lock);
        mheap_free_span(c->heap, s);
        return true;
    }
    if (from == &c->full[swept_index(sg)]) {
        spanlist_remove(from, s);
        spanlist_push(&c->partial[swept_index(sg)], s);
    }
    lock_release(&c->lock);
    return false;
}

/* check_list: every span on l is valid, belongs to l, satisfies C2 for
 * a full (want_full) or partial list (empty spans only if allow_empty),
 * has sweepgen want_sg (C4) and is not coloured (a listed span is in no
 * cache: mcache.h K5). */
static bool check_list(const struct spanlist *l, bool want_full, bool allow_empty, spanclass_t spc,
                       uint32_t want_sg)
{
    size_t n = 0;
    for (const struct mspan *s = l->first; s != NULL; s = s->next, n++) {
        GCH_CHECK("C1", s->list == l);
        GCH_CHECK_CMP("C1", s->spanclass, ==, spc);
        if (!span_is_valid(s))
            return false;
        GCH_CHECK_CMP("C4", atomic_u32_load_relaxed(&s->sweepgen), ==, want_sg);
        GCH_CHECK("K5", !s->black); /* uncoloured when its cache gave it back */
        if (want_full) {
            GCH_CHECK_CMP("C2", s->alloc_count, ==, s->nelems);
        } else {
            GCH_CHECK_CMP("C2", s->alloc_count, <, s->nelems);
            GCH_CHECK("C2", s->alloc_count != 0 || allow_empty);
        }
    }
    GCH_CHECK_CMP("C1", n, ==, l->n);
    return true;
}

bool mcentral_is_valid(struct mcentral *c, uint32_t sweepgen)
{
    bool pinned = mheap_spans_pinned(c->heap);
    lock_acquire(&c->lock);
    bool ok = true;
    for (unsigned i = 0; i < 2 && ok; i++) {
        /* C4: the swept set holds sg, the unswept set sg - 2; C2: an empty
         * span stays listed only while pinned, until its next sweep */
        bool swept = i == swept_index(sweepgen);
        uint32_t want = swept ? sweepgen : sweepgen - 2;
        ok = check_list(&c->partial[i], false, pinned || !swept, c->spanclass, want) &&
             check_list(&c->full[i], true, false, c->spanclass, want);
    }
    lock_release(&c->lock);
    return ok;
}
