/*
 * test_mcentral.c - central span lists and the mcache refill/release
 * protocol.  Subject: alloc/mcentral.c and alloc/mcache.c (invariants
 * C1-C4 in mcentral.h, K1-K3 in mcache.h, M4/M5 in mspan.h).
 * Go counterpart: runtime/mcentral.go, mcache.go (spec section 5.6).
 *
 * What it proves:
 *   - allocating past the end of a cached span refills the mcache, and the
 *     full span lands on the full list of the swept set, its counts
 *     published at once;
 *   - on flush, a full span goes to the full list, a partial one to the
 *     partial list, and a cached span with no object goes back to the heap;
 *   - gchi_free of an object in a full span moves the span to the partial
 *     list; freeing its last object returns its pages (HeapInuse drops);
 *   - the next refill takes a partial span before growing, also when the
 *     partial span was left by another thread;
 *   - large objects' spans sit on class 0's full lists;
 *   - C3 (cached spans are on no list, sweepgen sg + 3) and C4 (listed
 *     spans have sweepgen sg) hold, and mcentral_is_valid() rejects each
 *     kind of corruption it documents (C1, C2, C4, list length).
 */
#include "testutil.h"
#include <pthread.h>

#define SC64 6 /* 64-byte class: 128 objects in one page */
#define SPC64 make_spanclass(SC64, true)

static struct mcentral *central(gch_heap *h, spanclass_t spc) { return &h->mheap.central[spc]; }
static uint32_t sweepgen(gch_heap *h) { return mheap_sweepgen(&h->mheap); }
static unsigned swept(gch_heap *h) { return (sweepgen(h) / 2) & 1; }
static struct mspan *span_of(gch_heap *h, const void *p)
{
    return mheap_span_of_heap(&h->mheap, (uintptr_t)p);
}

static bool all_centrals_valid(gch_heap *h)
{
    for (size_t i = 0; i < NUM_SPAN_CLASSES; i++)
        if (!mcentral_is_valid(central(h, (spanclass_t)i), sweepgen(h)))
            return false;
    return true;
}

static size_t list_total(const struct mcentral *c)
{
    return c->partial[0].n + c->partial[1].n + c->full[0].n + c->full[1].n;
}

/* assert_cached: C3 and K1 for the span t caches for spc. */
static void assert_cached(gch_heap *h, gch_thread *t, spanclass_t spc, struct mspan *s)
{
    struct mcache *c = gchi_thread_cache(t);
    assert_ptr_equal(c->alloc[spc], s);
    assert_ptr_not_equal(s, &h->mheap.emptyspan);
    assert_null(s->list);
    assert_int_equal(atomic_u32_load_relaxed(&s->sweepgen), sweepgen(h) + 3);
    assert_int_equal(s->spanclass, spc);
}

static void test_refill_sends_full_span_to_full_list(void **state)
{
    struct fixture *f = *state;
    struct mcache *mc = gchi_thread_cache(f->t);
    struct mcentral *c = central(f->h, SPC64);
    unsigned si = swept(f->h);
    assert_ptr_equal(mc->alloc[SPC64], &f->h->mheap.emptyspan); /* K3 before first use */
    void *first = gch_alloc_noscan(f->t, 64);
    struct mspan *s1 = span_of(f->h, first);
    assert_cached(f->h, f->t, SPC64, s1);
    assert_int_equal(s1->alloc_count, 1);
    for (uint32_t i = 1; i < s1->nelems; i++)
        assert_ptr_equal(span_of(f->h, gch_alloc_noscan(f->t, 64)), s1);
    assert_int_equal(s1->alloc_count, s1->nelems);
    assert_int_equal(list_total(c), 0); /* still cached */
    gch_stats st;
    gch_read_stats(f->h, &st);
    assert_int_equal(st.by_size[SC64].mallocs, 0); /* not published yet */

    void *next = gch_alloc_noscan(f->t, 64); /* refill */
    struct mspan *s2 = span_of(f->h, next);
    assert_ptr_not_equal(s2, s1);
    assert_cached(f->h, f->t, SPC64, s2);
    assert_ptr_equal(s1->list, &c->full[si]);
    assert_int_equal(c->full[si].n, 1);
    assert_int_equal(c->partial[si].n, 0);
    assert_int_equal(atomic_u32_load_relaxed(&s1->sweepgen), sweepgen(f->h)); /* C4 */
    assert_int_equal(s1->freeindex, 0); /* M4: exact bits once uncached */
    for (uint32_t i = 0; i < s1->nelems; i++)
        assert_true(bit_is_set(s1->alloc_bits, i));
    gch_read_stats(f->h, &st);
    assert_int_equal(st.by_size[SC64].mallocs, s1->nelems); /* published at refill */

    /* flush: the partial span (one object) goes to the partial list */
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    assert_ptr_equal(mc->alloc[SPC64], &f->h->mheap.emptyspan);
    assert_ptr_equal(s2->list, &c->partial[si]);
    assert_int_equal(c->partial[si].n, 1);
    assert_int_equal(c->full[si].n, 1);
    assert_int_equal(c->partial[1 - si].n + c->full[1 - si].n, 0); /* unswept sets unused */
    assert_int_equal(s2->alloc_count, 1);
    assert_true(bit_is_set(s2->alloc_bits, 0));
    assert_false(bit_is_set(s2->alloc_bits, 1));
    gch_read_stats(f->h, &st);
    assert_int_equal(st.by_size[SC64].mallocs, s1->nelems + 1);
    assert_true(all_centrals_valid(f->h));
}

/* A multi-page class with a count that does not divide 64 (M3 windows). */
static void test_refill_many_spans_multi_page_class(void **state)
{
    struct fixture *f = *state;
    const unsigned sc = 35; /* 1408 B, 2 pages, 11 objects */
    const spanclass_t spc = make_spanclass(sc, false);
    static const uint8_t mask[176] = {0};
    /* A scan object over 512 bytes carries an 8-byte type header at the
     * end of its slot: 1400 bytes fill the 1408-byte class. */
    const gch_type ty = {"t1400", 1400, mask, NULL};
    const uint32_t nelems = gchi_class_to_nelems[sc];
    const size_t nspans = 20;
    gch_stats before, after;
    gch_read_stats(f->h, &before);
    void *prev = NULL;
    for (size_t i = 0; i < nspans * nelems; i++) {
        char *p = gch_alloc(f->t, &ty);
        assert_non_null(p);
        if (i % nelems != 0) /* consecutive slots of one span */
            assert_ptr_equal(p, (char *)prev + 1408);
        assert_int_equal(span_of(f->h, p)->spanclass, spc);
        const gch_type *hdr;
        memcpy(&hdr, p + 1408 - 8, sizeof hdr);
        assert_ptr_equal(hdr, &ty);
        prev = p;
    }
    struct mcentral *c = central(f->h, spc);
    assert_int_equal(c->full[swept(f->h)].n, nspans - 1);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    assert_int_equal(c->full[swept(f->h)].n, nspans);
    assert_int_equal(c->partial[swept(f->h)].n, 0);
    gch_read_stats(f->h, &after);
    assert_int_equal(after.heap_inuse - before.heap_inuse, nspans * 2 * PAGE_SIZE);
    assert_int_equal(after.by_size[sc].mallocs, nspans * nelems);
    assert_true(all_centrals_valid(f->h));
}

/* A cached span with alloc_count 0 goes back to the heap on release. */
static void test_empty_cached_span_returns_to_heap(void **state)
{
    struct fixture *f = *state;
    struct mcache *mc = gchi_thread_cache(f->t);
    gch_stats before, mid, after;
    gch_read_stats(f->h, &before);
    uint64_t spans = atomic_u64_load_relaxed(&f->h->mheap.spans_inuse);
    assert_true(mcache_refill(mc, SPC64));
    struct mspan *s = mc->alloc[SPC64];
    assert_cached(f->h, f->t, SPC64, s);
    assert_int_equal(s->alloc_count, 0);
    gch_read_stats(f->h, &mid);
    assert_int_equal(mid.heap_inuse, before.heap_inuse + PAGE_SIZE);
    assert_int_equal(atomic_u64_load_relaxed(&f->h->mheap.spans_inuse), spans + 1);
    uintptr_t start = s->start;
    mcache_release_all(mc);
    gch_read_stats(f->h, &after);
    assert_int_equal(after.heap_inuse, before.heap_inuse);
    assert_int_equal(after.by_size[SC64].mallocs, 0);
    assert_int_equal(atomic_u64_load_relaxed(&f->h->mheap.spans_inuse), spans);
    assert_int_equal(list_total(central(f->h, SPC64)), 0);
    assert_null(span_of(f->h, (void *)start));
    assert_int_equal(gchi_heap_verify(f->h), 0);
}

/* H5: while spans are pinned (the collector is marking) an emptied span
 * stays on its partial list instead of going back to the heap, the
 * validator accepts it there only while pinned, and freeing any span is
 * fatal. */
static void test_pinned_spans_are_kept(void **state)
{
    struct fixture *f = *state;
    struct mcache *mc = gchi_thread_cache(f->t);
    uint64_t spans = atomic_u64_load_relaxed(&f->h->mheap.spans_inuse);
    atomic_u32_store_relaxed(&f->h->mheap.spans_pinned, 1);
    assert_true(mcache_refill(mc, SPC64));
    struct mspan *s = mc->alloc[SPC64];
    mcache_release_all(mc);
    assert_int_equal(atomic_u64_load_relaxed(&f->h->mheap.spans_inuse), spans + 1);
    assert_ptr_equal(s->list, &central(f->h, SPC64)->partial[swept(f->h)]);
    assert_int_equal(s->alloc_count, 0);
    assert_valid(mcentral_is_valid(central(f->h, SPC64), sweepgen(f->h)));
    atomic_u32_store_relaxed(&f->h->mheap.spans_pinned, 0);
    assert_invalid(mcentral_is_valid(central(f->h, SPC64), sweepgen(f->h)), "C2");
    /* the next refill takes it again; released unpinned, it is freed */
    assert_true(mcache_refill(mc, SPC64));
    assert_ptr_equal(mc->alloc[SPC64], s);
    mcache_release_all(mc);
    assert_int_equal(atomic_u64_load_relaxed(&f->h->mheap.spans_inuse), spans);
}

static void child_free_pinned(void *arg)
{
    struct fixture *f = arg;
    struct mcache *mc = gchi_thread_cache(f->t);
    assert_true(mcache_refill(mc, SPC64));
    struct mspan *s = mc->alloc[SPC64];
    mc->alloc[SPC64] = &f->h->mheap.emptyspan;
    span_commit_alloc_bits(s);
    atomic_u32_store_relaxed(&f->h->mheap.spans_pinned, 1);
    mheap_free_span(&f->h->mheap, s);
}

static void test_free_while_pinned_is_fatal(void **state)
{
    expect_fatal(child_free_pinned, *state, "H5");
}

/* gchi_free: full -> partial -> back to the heap. */
static void free_walk(struct fixture *f, unsigned sc, bool noscan)
{
    const spanclass_t spc = make_spanclass(sc, noscan);
    const uint32_t nelems = gchi_class_to_nelems[sc];
    const size_t span_bytes = gchi_class_to_allocnpages[sc] * PAGE_SIZE;
    static const uint8_t mask[MAX_SMALL_SIZE / 64] = {0};
    /* scan objects over 512 bytes take the class of size + 8 (the type
     * header): ask for 8 bytes less than the slot to fill class sc */
    size_t size = gchi_class_to_size[sc];
    if (!noscan && size > 512)
        size -= 8;
    const gch_type ty = {"t", size, noscan ? NULL : mask, NULL};
    void **objs = calloc(nelems, sizeof *objs);
    for (uint32_t i = 0; i < nelems; i++) {
        objs[i] = gch_alloc(f->t, &ty);
        assert_non_null(objs[i]);
    }
    struct mspan *s = span_of(f->h, objs[0]);
    assert_int_equal(s->spanclass, spc);
    assert_int_equal(s->alloc_count, nelems);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    struct mcentral *c = central(f->h, spc);
    unsigned si = swept(f->h);
    assert_ptr_equal(s->list, &c->full[si]);
    size_t full0 = c->full[si].n, partial0 = c->partial[si].n;
    gch_stats before, st;
    gch_read_stats(f->h, &before);

    gchi_free(f->t, objs[nelems / 2]);
    assert_ptr_equal(s->list, &c->partial[si]);
    assert_int_equal(c->full[si].n, full0 - 1);
    assert_int_equal(c->partial[si].n, partial0 + 1);
    assert_int_equal(s->alloc_count, nelems - 1);
    assert_false(bit_is_set(s->alloc_bits, nelems / 2));
    assert_true(s->needzero);
    assert_true(all_centrals_valid(f->h));
    for (uint32_t i = 0; i < nelems; i++) {
        if (i == nelems / 2 || i == 0)
            continue;
        gchi_free(f->t, objs[i]);
        assert_ptr_equal(s->list, &c->partial[si]); /* C2: 0 < count < nelems */
    }
    assert_int_equal(s->alloc_count, 1);
    gch_read_stats(f->h, &st);
    assert_int_equal(st.heap_inuse, before.heap_inuse);
    uintptr_t start = s->start;
    gchi_free(f->t, objs[0]); /* the last object: the span goes */
    gch_read_stats(f->h, &st);
    assert_int_equal(st.heap_inuse, before.heap_inuse - span_bytes);
    assert_int_equal(st.heap_idle, before.heap_idle + span_bytes);
    assert_int_equal(st.by_size[sc].frees, before.by_size[sc].frees + nelems);
    assert_int_equal(c->partial[si].n, partial0);
    assert_int_equal(c->full[si].n, full0 - 1);
    assert_null(span_of(f->h, (void *)start));
    assert_null(gch_object_base(f->h, objs[0]));
    assert_true(all_centrals_valid(f->h));
    free(objs);
}

static void test_free_moves_full_to_partial_then_to_heap(void **state)
{
    struct fixture *f = *state;
    free_walk(f, SC64, true);
    free_walk(f, 1, false);   /* 8 B, 1024 objects */
    free_walk(f, 35, true);   /* 1408 B, 2 pages */
    free_walk(f, 66, false);  /* 28 KiB, 7 pages, two objects */
    free_walk(f, 35, false);  /* 1408 B scan: 1400 + the type header */
}

/* The next allocation takes the partial span's free slots before any
 * fresh span. */
static void test_refill_prefers_partial_span(void **state)
{
    struct fixture *f = *state;
    void *objs[128];
    for (int i = 0; i < 128; i++)
        objs[i] = gch_alloc_noscan(f->t, 64);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    struct mspan *s = span_of(f->h, objs[0]);
    gchi_free(f->t, objs[7]);
    gchi_free(f->t, objs[100]);
    gch_stats before, after;
    gch_read_stats(f->h, &before);
    void *a = gch_alloc_noscan(f->t, 64);
    void *b = gch_alloc_noscan(f->t, 64);
    assert_ptr_equal(a, objs[7]); /* lowest free slot first */
    assert_ptr_equal(b, objs[100]);
    assert_cached(f->h, f->t, SPC64, s);
    assert_int_equal(list_total(central(f->h, SPC64)), 0);
    gch_read_stats(f->h, &after);
    assert_int_equal(after.heap_inuse, before.heap_inuse); /* no growth */
    void *c = gch_alloc_noscan(f->t, 64); /* s is full: a fresh span */
    assert_ptr_not_equal(span_of(f->h, c), s);
    assert_ptr_equal(s->list, &central(f->h, SPC64)->full[swept(f->h)]);
}

/* ---- reuse across threads ------------------------------------------------- */

struct taker {
    gch_heap *h;
    void *p;                 /* the object it allocated */
    struct mspan *span;      /* its span while cached */
    size_t partial_n_cached; /* partial list length while it held the span */
    uint32_t sweepgen_cached;
    gch_error flush, detach;
};

static void *taker_main(void *arg)
{
    struct taker *k = arg;
    gch_thread *t = gch_thread_attach(k->h);
    if (t == NULL)
        return NULL;
    k->p = gch_alloc_noscan(t, 64);
    k->span = gchi_thread_cache(t)->alloc[SPC64];
    k->partial_n_cached = central(k->h, SPC64)->partial[swept(k->h)].n;
    k->sweepgen_cached = atomic_u32_load_relaxed(&k->span->sweepgen);
    k->flush = gch_thread_flush(t);
    k->detach = gch_thread_detach(t);
    return NULL;
}

static void test_second_thread_takes_partial_span(void **state)
{
    struct fixture *f = *state;
    void *objs[10];
    for (int i = 0; i < 10; i++)
        objs[i] = gch_alloc_noscan(f->t, 64);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    struct mspan *s = span_of(f->h, objs[0]);
    struct mcentral *c = central(f->h, SPC64);
    assert_ptr_equal(s->list, &c->partial[swept(f->h)]);
    gch_stats before, after;
    gch_read_stats(f->h, &before);

    struct taker k = {.h = f->h, .flush = -100, .detach = -100};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, taker_main, &k), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_ptr_equal(k.span, s);                   /* the same span, reused */
    assert_ptr_equal(k.p, (char *)objs[9] + 64);   /* its first free slot */
    assert_int_equal(k.partial_n_cached, 0);       /* C3: off the list while cached */
    assert_int_equal(k.sweepgen_cached, sweepgen(f->h) + 3);
    assert_int_equal(k.flush, GCH_OK);
    assert_int_equal(k.detach, GCH_OK);
    assert_ptr_equal(s->list, &c->partial[swept(f->h)]);
    assert_int_equal(s->alloc_count, 11);
    gch_read_stats(f->h, &after);
    assert_int_equal(after.heap_inuse, before.heap_inuse);
    assert_int_equal(after.by_size[SC64].mallocs, 11);
    for (int i = 0; i < 10; i++)
        assert_ptr_not_equal(k.p, objs[i]);
    assert_true(all_centrals_valid(f->h));
}

/* ---- large objects ------------------------------------------------------ */

static void test_large_spans_on_class0_full_list(void **state)
{
    struct fixture *f = *state;
    static const uint8_t mask[1] = {1};
    const gch_type big = {"big", 100000, mask, NULL};
    struct mcentral *scan = central(f->h, make_spanclass(0, false));
    struct mcentral *noscan = central(f->h, make_spanclass(0, true));
    unsigned si = swept(f->h);
    void *a = gch_alloc(f->t, &big);
    void *b = gch_alloc_noscan(f->t, 100000);
    void *c = gch_alloc_noscan(f->t, 1 << 20);
    assert_int_equal(scan->full[si].n, 1);
    assert_int_equal(noscan->full[si].n, 2);
    assert_int_equal(scan->partial[si].n + noscan->partial[si].n, 0);
    assert_ptr_equal(span_of(f->h, a)->list, &scan->full[si]);
    assert_int_equal(span_of(f->h, a)->alloc_count, 1);
    assert_true(all_centrals_valid(f->h));
    gchi_free(f->t, b);
    assert_int_equal(noscan->full[si].n, 1);
    gchi_free(f->t, a);
    gchi_free(f->t, c);
    assert_int_equal(list_total(scan) + list_total(noscan), 0);
    assert_true(all_centrals_valid(f->h));
}

/* ---- the validator ------------------------------------------------------- */

/* A span on a full list and one on a partial list of the 64-byte class. */
static void make_full_and_partial(struct fixture *f, struct mspan **full, struct mspan **partial)
{
    void *p = NULL;
    for (int i = 0; i < 130; i++)
        p = gch_alloc_noscan(f->t, 64);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    struct mcentral *c = central(f->h, SPC64);
    *full = c->full[swept(f->h)].first;
    *partial = span_of(f->h, p);
    assert_non_null(*full);
    assert_ptr_equal((*partial)->list, &c->partial[swept(f->h)]);
    assert_valid(mcentral_is_valid(c, sweepgen(f->h)));
}

static void test_validator_rejects_c1_c2_corruption(void **state)
{
    struct fixture *f = *state;
    struct mspan *full, *partial;
    make_full_and_partial(f, &full, &partial);
    struct mcentral *c = central(f->h, SPC64);
    uint32_t sg = sweepgen(f->h);

    /* C1: the span's list field names another list */
    struct spanlist *saved = partial->list;
    partial->list = &c->full[swept(f->h)];
    assert_invalid(mcentral_is_valid(c, sg), "C1");
    partial->list = saved;
    /* list length out of step with the spans on it */
    c->partial[swept(f->h)].n++;
    assert_invalid(mcentral_is_valid(c, sg), "C1");
    c->partial[swept(f->h)].n--;
    /* K5: a listed (uncached) span still coloured */
    partial->black = true;
    assert_invalid(mcentral_is_valid(c, sg), "K5");
    partial->black = false;
    /* C2: a full span on the partial list */
    uint32_t count = partial->alloc_count;
    partial->alloc_count = partial->nelems;
    assert_invalid(mcentral_is_valid(c, sg), "C2");
    /* C2: an empty span on the partial list */
    partial->alloc_count = 0;
    assert_invalid(mcentral_is_valid(c, sg), "C2");
    partial->alloc_count = count;
    /* C2: a span with a free slot on the full list */
    full->alloc_count--;
    assert_invalid(mcentral_is_valid(c, sg), "C2");
    full->alloc_count++;
    /* a span of another class on this class's list */
    full->spanclass = make_spanclass(SC64, false);
    assert_invalid(mcentral_is_valid(c, sg), "C1");
    full->spanclass = SPC64;
    assert_valid(mcentral_is_valid(c, sg));
    assert_int_equal(gchi_heap_verify(f->h), 0);
}

/* C4: a span on a list has sweepgen == sg (swept set) or sg - 2 (unswept
 * set).  mcentral.h says mcentral_is_valid checks C4. */
static void test_validator_rejects_c4_corruption(void **state)
{
    struct fixture *f = *state;
    struct mspan *full, *partial;
    make_full_and_partial(f, &full, &partial);
    struct mcentral *c = central(f->h, SPC64);
    uint32_t sg = sweepgen(f->h);
    /* a listed span that claims to be cached (C3's sg + 3) */
    atomic_u32_store_relaxed(&partial->sweepgen, sg + 3);
    bool cached_ok = mcentral_is_valid(c, sg);
    /* a span on the swept list that claims to need sweeping */
    atomic_u32_store_relaxed(&partial->sweepgen, sg - 2);
    bool unswept_ok = mcentral_is_valid(c, sg);
    atomic_u32_store_relaxed(&partial->sweepgen, sg);
    assert_valid(mcentral_is_valid(c, sg));
    assert_false(cached_ok);
    assert_false(unswept_ok);
    atomic_u32_store_relaxed(&partial->sweepgen, sg + 3);
    assert_invalid(mcentral_is_valid(c, sg), "C4");
    atomic_u32_store_relaxed(&partial->sweepgen, sg);
}

/* C3 for every cached span, after a mixed workload. */
static void test_cached_spans_satisfy_c3(void **state)
{
    struct fixture *f = *state;
    uint64_t rng = 7;
    for (int i = 0; i < 20000; i++) {
        size_t size = 1 + rng_next(&rng) % 2048;
        assert_non_null(gch_alloc_noscan(f->t, size));
    }
    struct mcache *mc = gchi_thread_cache(f->t);
    size_t cached = 0;
    for (size_t i = 0; i < NUM_SPAN_CLASSES; i++) {
        struct mspan *s = mc->alloc[i];
        if (s == &f->h->mheap.emptyspan)
            continue;
        cached++;
        assert_cached(f->h, f->t, (spanclass_t)i, s);
        assert_true(s->alloc_count > 0 && s->alloc_count <= s->nelems);
        assert_valid(span_is_valid(s));
    }
    assert_true(cached > 10);
    assert_true(all_centrals_valid(f->h));
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    assert_true(all_centrals_valid(f->h));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refill_sends_full_span_to_full_list, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_refill_many_spans_multi_page_class, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_empty_cached_span_returns_to_heap, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_free_moves_full_to_partial_then_to_heap, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_refill_prefers_partial_span, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_second_thread_takes_partial_span, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_large_spans_on_class0_full_list, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_validator_rejects_c1_c2_corruption, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_validator_rejects_c4_corruption, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_cached_spans_satisfy_c3, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_pinned_spans_are_kept, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_free_while_pinned_is_fatal, heap_setup, heap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
