/*
 * test_sweep.c - lazy, concurrent and proportional sweeping.  Subject:
 * alloc/msweep.c (invariants SW1-SW4 in msweep.h), the sweeping half of
 * alloc/mcentral.c (lazy sweep on refill, a span cached across a flip,
 * C3/C4 in mcentral.h) and the policy in gc/mgcsweep.c (background
 * sweeper, gch_collect's full sweep, GODEBUG=gcstoptheworld=2).
 * Go counterpart: runtime/mgcsweep.go, mheap.go (reclaim).
 *
 * What it proves:
 *   1. after a flip every listed span is unswept (sg - 2) and sweeping is
 *      not done; the claim CAS succeeds once; a refill sweeps lazily and
 *      hands out a slot of an unmarked object, zeroed; mheap_sweep_one
 *      sweeps the rest; marked objects keep their alloc bits and bytes,
 *      unmarked slots are reused before the heap grows, empty spans went
 *      back to the heap, and pages_swept is exactly the pages in use at
 *      the flip (every span counted once, lazily swept ones included); a
 *      second generation with no marks frees everything; a second flip
 *      before the sweep is done is fatal (SW4);
 *   2. a span an mcache held across the flip (sg + 1) is a fatal error
 *      when the cache releases it (C3, SW1);
 *   3. proportional credit sweeps exactly the proportional share of the
 *      pages, and all of them once the budget is spent;
 *   4. reclaim: freeing garbage spans lets a large object reuse pages
 *      instead of growing the heap; and a refill at the heap limit uses
 *      the free slots its reclaim swept;
 *   5. four threads sweeping while an attached thread allocates in the
 *      same classes lose no marked object and count no page twice (TSan);
 *   6. with the collector on: the background sweeper finishes a
 *      generation by itself; gch_collect returns swept; gcstoptheworld=2
 *      sweeps inside the cycle and starts no thread; a cycle first
 *      finishes a generation left unswept (sweep termination);
 *   7. freeing a heap right after a cycle, its sweeper busy, is clean
 *      (ASan, LeakSanitizer);
 *   8. reachable lists survive 50 triggered cycles with two threads
 *      allocating, checksummed after every cycle.
 *
 * How: tests 1-5 (and 6's last) run on GC-off heaps and play the
 * collector's part by hand: they release the thread's cache (no span
 * cached, as the cycle's flush_all), set mark bits directly in
 * s->gcmarks and call mheap_sweep_flip (one thread: the world is
 * trivially stopped).  Tests 6-8 set GOGC in their heap's config with the
 * environment ignored (CTest runs this program with GOGC=off), or read it
 * under a prefix of their own.
 */
#include "testutil.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#define SC64 6 /* 64-byte class: 128 objects in one page */
#define SPC64 make_spanclass(SC64, true)
#define N64 128
#define SC256 18 /* 256-byte class: 32 objects in one page */
#define N256 32
#define BIG 40000 /* a large object: 5 pages */
#define BIG_PAGES 5

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
    nanosleep(&ts, NULL);
}

static struct mheap *mh(gch_heap *h) { return &h->mheap; }
static uint32_t sweepgen(gch_heap *h) { return mheap_sweepgen(mh(h)); }
static uint32_t span_sg(const struct mspan *s) { return atomic_u32_load_relaxed(&s->sweepgen); }
static uint64_t pages_inuse(gch_heap *h) { return atomic_u64_load_relaxed(&h->mheap.pages_inuse); }
static uint64_t pages_mapped(gch_heap *h) { return atomic_u64_load_relaxed(&h->mheap.pages_mapped); }
static uint64_t pages_idle(gch_heap *h)
{
    return atomic_u64_load_relaxed(&h->mheap.pages_free) +
           atomic_u64_load_relaxed(&h->mheap.pages_released);
}
static uint64_t pages_swept(gch_heap *h) { return atomic_u64_load_relaxed(&h->mheap.sweep.pages_swept); }
static uint64_t nflips(gch_heap *h) { return atomic_u64_load_relaxed(&h->mheap.sweep.nflips); }
static uint64_t small_frees(gch_heap *h, unsigned sc)
{
    return atomic_u64_load_relaxed(&h->mheap.counters.small_frees[sc]);
}
static uint64_t large_frees(gch_heap *h) { return atomic_u64_load_relaxed(&h->mheap.counters.large_frees); }
static struct mspan *span_of(gch_heap *h, const void *p) { return mheap_span_of_heap(mh(h), (uintptr_t)p); }
static uint32_t slot_of(const struct mspan *s, const void *p) { return span_object_index(s, (uintptr_t)p); }
static void release_cache(gch_thread *t) { mcache_release_all(gchi_thread_cache(t)); }

/* set_mark: what the marker would do for the object at p. */
static void set_mark(gch_heap *h, const void *p)
{
    struct mspan *s = span_of(h, p);
    assert_non_null(s);
    mark_store(s->gcmarks, slot_of(s, p));
}

static bool alloc_bit(gch_heap *h, const void *p)
{
    struct mspan *s = span_of(h, p);
    return s != NULL && bit_is_set(s->alloc_bits, slot_of(s, p));
}

/* fill / intact: every word of the object derived from its id. */
static void fill(void *p, size_t size, uint64_t id)
{
    uint64_t *w = p;
    for (size_t i = 0; i < size / 8; i++)
        w[i] = mix(id * 8192 + i);
}

static bool intact(const void *p, size_t size, uint64_t id)
{
    const uint64_t *w = p;
    for (size_t i = 0; i < size / 8; i++)
        if (w[i] != mix(id * 8192 + i))
            return false;
    return true;
}

/* fill2 / intact2: the first and last word only (the big populations). */
static void fill2(void *p, size_t size, uint64_t id)
{
    uint64_t *w = p;
    w[0] = mix(id);
    w[size / 8 - 1] = ~mix(id);
}

static bool intact2(const void *p, size_t size, uint64_t id)
{
    const uint64_t *w = p;
    return w[0] == mix(id) && w[size / 8 - 1] == ~mix(id);
}

/* unswept_lists_empty: no class has a span left on its unswept set (C4). */
static bool unswept_lists_empty(gch_heap *h)
{
    unsigned u = ((sweepgen(h) / 2) & 1) ^ 1;
    bool ok = true;
    for (size_t i = 0; i < NUM_SPAN_CLASSES; i++) {
        struct mcentral *c = &h->mheap.central[i];
        lock_acquire(&c->lock);
        ok = ok && c->partial[u].n == 0 && c->full[u].n == 0;
        lock_release(&c->lock);
    }
    return ok;
}

/* sweep_all: mheap_sweep_one until it finds nothing; the pages it swept.
 * At most max_calls spans may be left. */
static size_t sweep_all(gch_heap *h, size_t max_calls)
{
    size_t total = 0, got, calls = 0;
    while ((got = mheap_sweep_one(mh(h), NULL)) != 0) {
        total += got;
        assert_true(++calls <= max_calls);
    }
    return total;
}

/* struct popn: nspans * per objects of one size allocated in order by one
 * thread from a heap with no partial span of that class, so span k holds
 * objects k*per .. k*per + per - 1 in slot order (checked). */
struct popn {
    void **obj;
    uint8_t *marked;
    struct mspan **span;  /* by span ordinal; dangling once the span is freed */
    uintptr_t *start;     /* span starts, for after they are freed */
    uint32_t *marks;      /* marked objects per span */
    size_t n, nspans, per, size;
    uint64_t id0;
};

static void popn_alloc(struct popn *p, gch_thread *t, gch_heap *h, size_t nspans, size_t per,
                       size_t size, uint64_t id0)
{
    p->nspans = nspans;
    p->per = per;
    p->size = size;
    p->id0 = id0;
    p->n = nspans * per;
    p->obj = calloc(p->n, sizeof *p->obj);
    p->marked = calloc(p->n, 1);
    p->span = calloc(nspans, sizeof *p->span);
    p->start = calloc(nspans, sizeof *p->start);
    p->marks = calloc(nspans, sizeof *p->marks);
    assert_true(p->obj && p->marked && p->span && p->start && p->marks);
    for (size_t i = 0; i < p->n; i++) {
        p->obj[i] = gch_alloc_noscan(t, size);
        assert_non_null(p->obj[i]);
        fill2(p->obj[i], size, id0 + i);
    }
    for (size_t k = 0; k < nspans; k++) {
        p->span[k] = span_of(h, p->obj[k * per]);
        assert_non_null(p->span[k]);
        p->start[k] = p->span[k]->start;
        assert_int_equal(p->span[k]->nelems, per);
        for (size_t j = 0; j < per; j++) {
            assert_ptr_equal(span_of(h, p->obj[k * per + j]), p->span[k]);
            assert_int_equal(slot_of(p->span[k], p->obj[k * per + j]), j);
        }
    }
}

/* popn_mark: mark object i of span k when rule(k, i, ctx). */
static void popn_mark(struct popn *p, gch_heap *h, bool (*rule)(size_t k, size_t i, void *ctx), void *ctx)
{
    for (size_t i = 0; i < p->n; i++) {
        size_t k = i / p->per;
        if (rule(k, i, ctx)) {
            set_mark(h, p->obj[i]);
            p->marked[i] = 1;
            p->marks[k]++;
        }
    }
}

static size_t popn_nmarked(const struct popn *p)
{
    size_t n = 0;
    for (size_t k = 0; k < p->nspans; k++)
        n += p->marks[k];
    return n;
}

/* popn_span_index: the ordinal of span s, or nspans. */
static size_t popn_span_index(const struct popn *p, const struct mspan *s)
{
    size_t k = 0;
    while (k < p->nspans && p->span[k] != s)
        k++;
    return k;
}

/* popn_live_index: the ordinal of s among the spans of p still in use
 * after the sweep (those with marks, and `cached`), or nspans: records of
 * freed spans may be reused by new ones. */
static size_t popn_live_index(const struct popn *p, const struct mspan *s, const struct mspan *cached)
{
    size_t k = popn_span_index(p, s);
    return k < p->nspans && (p->marks[k] > 0 || p->span[k] == cached) ? k : p->nspans;
}

/* popn_check_marked: every marked object is allocated and intact. */
static void popn_check_marked(const struct popn *p, gch_heap *h)
{
    for (size_t i = 0; i < p->n; i++) {
        if (!p->marked[i])
            continue;
        if (!alloc_bit(h, p->obj[i]) || !intact2(p->obj[i], p->size, p->id0 + i))
            fail_msg("marked object %zu (span %zu) lost its alloc bit or its bytes", i, i / p->per);
    }
}

static void popn_free(struct popn *p)
{
    free(p->obj);
    free(p->marked);
    free(p->span);
    free(p->start);
    free(p->marks);
}

/* ------------------------------------------------------------------ */
/* 1. The mechanism: flip, claim, lazy refill, full sweep, reuse         */
/* ------------------------------------------------------------------ */

#define T1_SPANS 40
#define T1_BIG 6

/* Spans with an even ordinal keep every third object; odd ones die. */
static bool t1_rule(size_t k, size_t i, void *ctx)
{
    (void)ctx;
    return k % 2 == 0 && i % 3 == 0;
}

/* check_flipped: right after the flip, every span of p and every large
 * span is unswept, and nothing has been swept yet. */
static void check_flipped(gch_heap *h, const struct popn *p, void *const *big, uint32_t sg0)
{
    uint32_t sg = sweepgen(h);
    assert_int_equal(sg, sg0 + 2);
    for (size_t k = 0; k < p->nspans; k++) {
        assert_int_equal(span_sg(p->span[k]), sg - 2);
        assert_non_null(p->span[k]->list); /* on the unswept set */
    }
    for (int j = 0; j < T1_BIG; j++)
        assert_int_equal(span_sg(span_of(h, big[j])), sg - 2);
    assert_false(mheap_sweep_done(mh(h)));
    assert_int_equal(atomic_u32_load_relaxed(&h->mheap.sweep.state), 0); /* SW3: nobody inside */
    assert_int_equal(pages_swept(h), 0);
}

/* check_claim: SW1's compare-and-swap wins once, then the state is put
 * back so the span is swept normally later. */
static void check_claim(gch_heap *h, struct mspan *s)
{
    uint32_t sg = sweepgen(h);
    assert_false(span_claim_sweep(s, sg - 2)); /* a stale generation never claims */
    assert_true(span_claim_sweep(s, sg));
    assert_int_equal(span_sg(s), sg - 1);
    assert_false(span_claim_sweep(s, sg)); /* already owned */
    assert_int_equal(span_sg(s), sg - 1);
    atomic_u32_store_release(&s->sweepgen, sg - 2); /* restore: still listed as unswept */
    assert_valid(mcentral_is_valid(&h->mheap.central[SPC64], sg));
}

/* lazy_refill: the first allocation after the flip sweeps exactly one
 * span of its class (every span has room once swept) and takes a slot
 * that held an unmarked object, zeroed.  Returns the cached span. */
static struct mspan *lazy_refill(struct fixture *f, const struct popn *p, uint64_t mapped0)
{
    gch_heap *h = f->h;
    void *a = gch_alloc_noscan(f->t, 64);
    assert_non_null(a);
    struct mspan *s = span_of(h, a);
    size_t k = popn_span_index(p, s);
    assert_true(k < p->nspans); /* an old span, swept, not a new one */
    assert_int_equal(span_sg(s), sweepgen(h) + 3); /* C3: cached */
    assert_null(s->list);
    assert_int_equal(pages_swept(h), s->npages); /* one span swept lazily */
    assert_false(mheap_sweep_done(mh(h)));
    assert_false(p->marked[k * p->per + slot_of(s, a)]);
    assert_true(mem_is_zero(a, 64)); /* needzero: the slot held a pattern */
    assert_int_equal(s->alloc_count, p->marks[k] + 1);
    assert_int_equal(pages_mapped(h), mapped0);
    return s;
}

/* check_swept_spans: live spans hold exactly their marks, with fresh mark
 * bits, on the swept set; dead ones (but the cached one) are gone. */
static void check_swept_spans(gch_heap *h, const struct popn *p, const struct mspan *cached)
{
    uint32_t sg = sweepgen(h);
    for (size_t k = 0; k < p->nspans; k++) {
        struct mspan *s = p->span[k];
        if (s == cached)
            continue;
        if (p->marks[k] == 0) {
            assert_null(span_of(h, (void *)p->start[k])); /* back to the heap */
            continue;
        }
        assert_ptr_equal(span_of(h, (void *)p->start[k]), s);
        assert_int_equal(span_sg(s), sg);
        assert_int_equal(s->alloc_count, p->marks[k]);
        assert_int_equal(s->freeindex, 0);
        assert_true(mem_is_zero(s->gcmarks, mark_bytes(s->nelems)));
        assert_non_null(s->list);
        for (size_t j = 0; j < p->per; j++)
            assert_int_equal(bit_is_set(s->alloc_bits, (uint32_t)j), p->marked[k * p->per + j]);
    }
    popn_check_marked(p, h);
}

/* check_reuse: the free slots of the surviving spans are handed out
 * (each one an unmarked object's slot) before the heap grows. */
static void check_reuse(struct fixture *f, const struct popn *p, const struct mspan *cached)
{
    gch_heap *h = f->h;
    size_t room = 0;
    for (size_t k = 0; k < p->nspans; k++)
        if (p->marks[k] > 0 || p->span[k] == cached)
            room += p->span[k]->nelems - p->span[k]->alloc_count;
    uint64_t mapped = pages_mapped(h), inuse = pages_inuse(h);
    void **fresh = calloc(room, sizeof *fresh);
    assert_non_null(fresh);
    for (size_t j = 0; j < room; j++) {
        fresh[j] = gch_alloc_noscan(f->t, 64);
        assert_non_null(fresh[j]);
        struct mspan *s = span_of(h, fresh[j]);
        size_t k = popn_live_index(p, s, cached);
        assert_true(k < p->nspans);
        assert_false(p->marked[k * p->per + slot_of(s, fresh[j])]);
        assert_true(mem_is_zero(fresh[j], 64));
        fill(fresh[j], 64, 5000000 + j);
    }
    assert_int_equal(pages_mapped(h), mapped);
    assert_int_equal(pages_inuse(h), inuse);
    void *more = gch_alloc_noscan(f->t, 64); /* every old slot is taken: a new span */
    assert_true(popn_live_index(p, span_of(h, more), cached) == p->nspans);
    assert_int_equal(pages_inuse(h), inuse + 1);
    for (size_t j = 0; j < room; j++)
        assert_true(intact(fresh[j], 64, 5000000 + j));
    popn_check_marked(p, h);
    free(fresh);
}

/* second_generation: with no mark set this time, a second flip frees
 * everything, the first generation's survivors included (their marks
 * were consumed by the first sweep), and counts its pages from zero. */
static void second_generation(struct fixture *f, const struct popn *p, void *const *big)
{
    gch_heap *h = f->h;
    release_cache(f->t);
    uint64_t inuse = pages_inuse(h);
    assert_true(inuse > 0);
    mheap_sweep_flip(mh(h));
    assert_int_equal(pages_swept(h), 0);
    assert_false(mheap_sweep_done(mh(h)));
    assert_int_equal(sweep_all(h, inuse), inuse);
    assert_int_equal(pages_swept(h), inuse);
    assert_true(mheap_sweep_done(mh(h)));
    assert_int_equal(pages_inuse(h), 0);
    for (size_t k = 0; k < p->nspans; k++)
        assert_null(span_of(h, (void *)p->start[k]));
    assert_null(span_of(h, big[0]));
}

static void test_flip_and_sweep(void **state)
{
    struct fixture *f = *state;
    gch_heap *h = f->h;
    struct popn p;
    popn_alloc(&p, f->t, h, T1_SPANS, N64, 64, 0);
    void *big[T1_BIG];
    for (int j = 0; j < T1_BIG; j++) {
        big[j] = gch_alloc_noscan(f->t, BIG);
        assert_non_null(big[j]);
        fill(big[j], BIG, 1000000 + (uint64_t)j);
    }
    release_cache(f->t);
    popn_mark(&p, h, t1_rule, NULL);
    for (int j = 0; j < T1_BIG; j += 2)
        set_mark(h, big[j]);
    uint32_t sg0 = sweepgen(h);
    uint64_t inuse0 = pages_inuse(h), mapped0 = pages_mapped(h), flips0 = nflips(h);
    uint64_t frees0 = small_frees(h, SC64), lfrees0 = large_frees(h);
    assert_int_equal(inuse0, T1_SPANS + T1_BIG * BIG_PAGES);
    assert_true(mheap_sweep_done(mh(h))); /* nothing to sweep before the first flip */

    mheap_sweep_flip(mh(h));
    assert_int_equal(nflips(h), flips0 + 1);
    check_flipped(h, &p, big, sg0);
    check_claim(h, p.span[1]);
    struct mspan *cached = lazy_refill(f, &p, mapped0);
    size_t kc = popn_span_index(&p, cached);

    size_t rest = sweep_all(h, T1_SPANS + T1_BIG);
    assert_true(mheap_sweep_done(mh(h)));
    assert_int_equal(rest + cached->npages, inuse0); /* lazily + explicitly = all, once */
    assert_int_equal(pages_swept(h), inuse0);
    assert_int_equal(mheap_sweep_one(mh(h), NULL), 0);
    assert_true(unswept_lists_empty(h));
    assert_valid(mheap_is_valid(mh(h)));

    check_swept_spans(h, &p, cached);
    for (int j = 0; j < T1_BIG; j++) {
        if (j % 2 == 0)
            assert_true(alloc_bit(h, big[j]) && intact(big[j], BIG, 1000000 + (uint64_t)j));
        else
            assert_null(span_of(h, big[j]));
    }
    uint64_t live_pages = 0;
    for (size_t k = 0; k < p.nspans; k++)
        live_pages += p.marks[k] > 0 || k == kc;
    assert_int_equal(pages_inuse(h), live_pages + (T1_BIG / 2) * BIG_PAGES);
    assert_int_equal(small_frees(h, SC64) - frees0, p.n - popn_nmarked(&p));
    assert_int_equal(large_frees(h) - lfrees0, T1_BIG / 2);

    check_reuse(f, &p, cached);
    assert_int_equal(sweepgen(h), sg0 + 2); /* no cycle ran: GOGC off */
    second_generation(f, &p, big);
    popn_free(&p);
}

/* SW4: a flip while the previous generation is unswept is fatal. */
static void child_flip_twice(void *arg)
{
    struct fixture *f = arg;
    for (int i = 0; i < 200; i++)
        gch_alloc_noscan(f->t, 64);
    release_cache(f->t);
    mheap_sweep_flip(mh(f->h));
    mheap_sweep_flip(mh(f->h));
}

static uint64_t bits_handed(gch_heap *h) { return atomic_u64_load_relaxed(&h->mheap.gcbits.handed_bytes); }

/* A span the sweep frees takes no fresh alloc bits (msweep.c span_sweep):
 * only the survivors' spans do, one bitmap each; and an empty span a
 * refill keeps (mcentral sweep_for_cache) gets its own, apart from its
 * mark bytes, before the cache allocates from it. */
static void test_sweep_bits_only_for_kept_spans(void **state)
{
    struct fixture *f = *state;
    gch_heap *h = f->h;
    enum { DEAD = 6, LIVE = 3 };
    struct popn p;
    popn_alloc(&p, f->t, h, DEAD + LIVE, N64, 64, 0);
    release_cache(f->t);
    for (size_t k = DEAD; k < DEAD + LIVE; k++)
        set_mark(h, p.obj[k * N64 + 5]); /* one survivor in each of these spans */
    mheap_sweep_flip(mh(h));
    uint64_t handed0 = bits_handed(h);
    assert_int_equal(sweep_all(h, DEAD + LIVE), DEAD + LIVE);
    assert_int_equal(bits_handed(h), handed0 + LIVE * bitmap_bytes(N64));
    for (size_t k = 0; k < DEAD; k++)
        assert_null(span_of(h, (void *)p.start[k]));
    for (size_t k = DEAD; k < DEAD + LIVE; k++) {
        struct mspan *s = span_of(h, p.obj[k * N64 + 5]);
        assert_ptr_equal(s, p.span[k]);
        assert_int_equal(s->alloc_count, 1);
        assert_true(s->gcmarks != s->alloc_bits);
        assert_true(mem_is_zero(s->gcmarks, mark_bytes(N64)));
        assert_true(bit_is_set(s->alloc_bits, 5));
    }

    /* Two spans of another class, all garbage: the refill sweeps one,
     * keeps it although it is empty, and it gets its own alloc bits. */
    struct popn q;
    popn_alloc(&q, f->t, h, 2, N256, 256, 1000);
    release_cache(f->t);
    mheap_sweep_flip(mh(h));
    uint64_t handed1 = bits_handed(h);
    void *v = gch_alloc_noscan(f->t, 256);
    assert_non_null(v);
    struct mspan *kept = span_of(h, v);
    assert_true(kept == q.span[0] || kept == q.span[1]);
    assert_int_equal(bits_handed(h), handed1 + bitmap_bytes(N256));
    assert_true(kept->gcmarks != kept->alloc_bits);
    set_mark(h, v);
    assert_false(bit_is_set(kept->alloc_bits, slot_of(kept, v)));
    release_cache(f->t);
    sweep_all(h, DEAD + LIVE + 2); /* the rest is garbage: freed, no bits */
    assert_int_equal(bits_handed(h), handed1 + bitmap_bytes(N256));
    popn_free(&q);
    popn_free(&p);
}

static void test_flip_needs_finished_sweep(void **state)
{
    expect_fatal(child_flip_twice, *state, "mheap_sweep_done");
}

/* ------------------------------------------------------------------ */
/* 2. A span cached across the flip is a fatal error                    */
/* ------------------------------------------------------------------ */

/* child_cached_across_flip: flip while the thread's cache holds a span,
 * then release the cache: C3 makes that fatal (no cache may hold a span
 * at a flip, so objects allocated from it after the flip cannot be freed
 * with the old generation's marks). */
static void child_cached_across_flip(void *arg)
{
    struct fixture *f = arg;
    void *obj = gch_alloc_noscan(f->t, 64);
    set_mark(f->h, obj);
    mheap_sweep_flip(mh(f->h));
    assert_non_null(gch_alloc_noscan(f->t, 64)); /* would be freed by the old marks */
    release_cache(f->t);
}

static void test_cached_across_flip(void **state)
{
    expect_fatal(child_cached_across_flip, *state, "cached across a sweep-generation flip");
}

/* ------------------------------------------------------------------ */
/* 3. Proportional credit                                               */
/* ------------------------------------------------------------------ */

#define T3_SPANS 100

static bool t3_rule(size_t k, size_t i, void *ctx)
{
    (void)ctx;
    return k % 4 == 0 && i % N64 == 7;
}

static void set_alloc_since_gc(gch_heap *h, uint64_t v)
{
    atomic_u64_store_relaxed(&h->mheap.counters.alloc_since_gc, v);
}

static void test_proportional_credit(void **state)
{
    struct fixture *f = *state;
    gch_heap *h = f->h;
    struct popn p;
    popn_alloc(&p, f->t, h, T3_SPANS, N64, 64, 0);
    release_cache(f->t);
    popn_mark(&p, h, t3_rule, NULL);
    mheap_sweep_flip(mh(h));
    set_alloc_since_gc(h, 0); /* as the cycle does at the flip */
    const uint64_t P = pages_inuse(h), B = 800 * 1024;
    assert_int_equal(P, T3_SPANS);

    mheap_sweep_credit(mh(h), B); /* not paced yet: no credit owed */
    assert_int_equal(pages_swept(h), 0);
    mheap_sweep_pace(mh(h), B);
    assert_int_equal(atomic_u64_load_relaxed(&h->mheap.sweep.pace_pages), P);

    mheap_sweep_credit(mh(h), B / 4);
    assert_int_equal(pages_swept(h), P / 4); /* 1-page spans: exact */
    mheap_sweep_credit(mh(h), B / 4); /* the same spending owes nothing more */
    assert_int_equal(pages_swept(h), P / 4);
    mheap_sweep_credit(mh(h), B / 2 + 1);
    assert_int_equal(pages_swept(h), P * (B / 2 + 1) / B);
    assert_false(mheap_sweep_done(mh(h)));

    /* A refill pays first: bytes already handed out count too. */
    set_alloc_since_gc(h, 3 * B / 4 - PAGE_SIZE);
    assert_non_null(gch_alloc_noscan(f->t, 256)); /* a class with no unswept span */
    assert_true(pages_swept(h) >= P * 3 / 4);
    assert_true(pages_swept(h) < P);

    mheap_sweep_credit(mh(h), B); /* the whole budget: every page */
    assert_int_equal(pages_swept(h), P);
    assert_true(unswept_lists_empty(h));
    /* DRAINED is set by the next sweeper that finds nothing (Go's
     * sweepone does the same). */
    assert_int_equal(mheap_sweep_one(mh(h), NULL), 0);
    assert_true(mheap_sweep_done(mh(h)));
    uint64_t swept = pages_swept(h);
    mheap_sweep_credit(mh(h), 10 * B); /* done: credit is free */
    assert_int_equal(pages_swept(h), swept);
    popn_check_marked(&p, h);
    popn_free(&p);
}

/* ------------------------------------------------------------------ */
/* 4. Reclaim before a heap allocation                                  */
/* ------------------------------------------------------------------ */

#define T4_SPANS 480

static bool no_marks(size_t k, size_t i, void *ctx)
{
    (void)k;
    (void)i;
    (void)ctx;
    return false;
}

static void test_reclaim(void **state)
{
    struct fixture *f = *state;
    gch_heap *h = f->h;
    struct popn p;
    popn_alloc(&p, f->t, h, T4_SPANS, N64, 64, 0);
    release_cache(f->t);
    popn_mark(&p, h, no_marks, NULL); /* all garbage */
    mheap_sweep_flip(mh(h));
    uint64_t inuse0 = pages_inuse(h), mapped0 = pages_mapped(h);

    mheap_reclaim(mh(h), 0);
    assert_int_equal(pages_swept(h), 0);
    mheap_reclaim(mh(h), 50); /* stops as soon as 50 pages are free */
    assert_int_equal(pages_swept(h), 50);
    assert_int_equal(pages_inuse(h), inuse0 - 50);
    assert_false(mheap_sweep_done(mh(h)));

    /* More pages than are idle: without reclaim the heap would grow. */
    size_t idle = pages_idle(h), npages = idle + 100; /* reclaim sweeps <= 100 spans */
    assert_true(npages + 50 <= T4_SPANS);
    uint64_t swept0 = pages_swept(h);
    char *obj = gch_alloc_noscan(f->t, npages * PAGE_SIZE);
    assert_non_null(obj);
    assert_int_equal(pages_mapped(h), mapped0);
    assert_true(pages_swept(h) - swept0 >= npages - idle);
    assert_true(mem_is_zero(obj, npages * PAGE_SIZE)); /* the pages held patterns */
    assert_false(mheap_sweep_done(mh(h))); /* reclaim sweeps only what it needs */
    uint64_t before = pages_swept(h);
    size_t rest = sweep_all(h, T4_SPANS);
    assert_int_equal(rest, inuse0 - before);
    assert_int_equal(pages_swept(h), inuse0);
    assert_int_equal(pages_inuse(h), npages); /* only the large object is left */
    assert_int_equal(pages_mapped(h), mapped0);
    popn_free(&p);
}

/*
 * At the heap limit a refill must use free slots of its own class that
 * its reclaim found.  mcentral_cache_span sweeps at most
 * REFILL_SWEEP_BUDGET (100) unswept spans of the class; when they are
 * all full it calls mheap_reclaim, which sweeps spans of every class
 * until a page is freed (here: all of them, none is empty), putting this
 * class's spans with free slots on its swept partial list; the refill
 * must look there again before growing (regression: it grew, and failed
 * at the limit).
 */
#define T4L_FULL 150 /* spans swept first, every object marked */

static void test_refill_at_heap_limit(void **state)
{
    (void)state;
    gch_config c;
    gch_config_init(&c);
    c.gc_percent = -1;
    c.read_env = 0;
    c.heap_limit = HEAP_GROW_PAGES * PAGE_SIZE;
    gch_heap *h = gch_heap_new(&c);
    assert_non_null(h);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    while (pages_idle(h) > 0 || pages_mapped(h) < HEAP_GROW_PAGES) /* fill the heap */
        for (int i = 0; i < N64; i++)
            assert_non_null(gch_alloc_noscan(t, 64));
    size_t nspans = pages_inuse(h), nfree = 0;
    assert_int_equal(nspans, HEAP_GROW_PAGES);
    release_cache(t);
    /* Span k is page k (first fit, nothing freed).  The last T4L_FULL
     * spans, the first popped from the unswept full list, stay full;
     * the older ones lose their slot 0. */
    for (size_t k = 0; k < nspans; k++) {
        struct mspan *s = span_of(h, (void *)(h->mheap.arenas->base + k * PAGE_SIZE));
        assert_non_null(s);
        for (uint32_t i = 0; i < N64; i++)
            if (k >= nspans - T4L_FULL || i != 0)
                mark_store(s->gcmarks, i);
        nfree += k < nspans - T4L_FULL;
    }
    mheap_sweep_flip(mh(h));
    gch_clear_error();
    void *a = gch_alloc_noscan(t, 64);
    if (a == NULL)
        fail_msg("64-byte allocation at the heap limit failed with %zu free slots in its class: %s",
                 nfree, gch_last_error_message());
    assert_int_equal(pages_mapped(h), HEAP_GROW_PAGES);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

/* ------------------------------------------------------------------ */
/* 5. Concurrent sweepers and an allocating thread                      */
/* ------------------------------------------------------------------ */

#define C_SPANS64 1200
#define C_SPANS256 800
#define C_SWEEPERS 4
#define C_NEW 20000

struct csweeper {
    gch_heap *h;
    struct atomic_u32 *go;
    size_t pages, spans, freed;
};

static void *sweeper_main(void *arg)
{
    struct csweeper *w = arg;
    while (atomic_u32_load_acquire(w->go) == 0)
        sched_yield();
    size_t got, freed;
    while ((got = mheap_sweep_one(&w->h->mheap, &freed)) != 0) {
        w->pages += got;
        w->spans++;
        w->freed += freed;
    }
    return NULL;
}

/* Per span: a quarter get no mark, an eighth are all marked, the rest
 * have each object marked with probability 1/4. */
static bool c_rule(size_t k, size_t i, void *ctx)
{
    uint64_t m = mix(k * 977 + (uint64_t)(uintptr_t)ctx) % 8;
    if (m < 2)
        return false;
    if (m == 2)
        return true;
    return mix(i ^ ((uint64_t)(uintptr_t)ctx << 32)) % 4 == 0;
}

/* alloc_during_sweep: the attached thread's share: C_NEW objects of each
 * class, alternating, each stamped. */
static void alloc_during_sweep(gch_thread *t, void **fresh)
{
    for (size_t j = 0; j < 2 * C_NEW; j++) {
        size_t size = j % 2 ? 256 : 64;
        fresh[j] = gch_alloc_noscan(t, size);
        assert_non_null(fresh[j]);
        fill2(fresh[j], size, 9000000 + j);
    }
}

static void test_concurrent_sweepers(void **state)
{
    struct fixture *f = *state;
    gch_heap *h = f->h;
    struct popn p64, p256;
    popn_alloc(&p64, f->t, h, C_SPANS64, N64, 64, 0);
    popn_alloc(&p256, f->t, h, C_SPANS256, N256, 256, 1u << 24);
    release_cache(f->t);
    popn_mark(&p64, h, c_rule, (void *)1);
    popn_mark(&p256, h, c_rule, (void *)2);
    uint64_t f64 = small_frees(h, SC64), f256 = small_frees(h, SC256);
    mheap_sweep_flip(mh(h));
    uint64_t P = pages_inuse(h);
    assert_int_equal(P, C_SPANS64 + C_SPANS256);

    struct atomic_u32 go;
    atomic_u32_store_relaxed(&go, 0);
    struct csweeper w[C_SWEEPERS];
    pthread_t th[C_SWEEPERS];
    for (int i = 0; i < C_SWEEPERS; i++) {
        w[i] = (struct csweeper){h, &go, 0, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, sweeper_main, &w[i]), 0);
    }
    void **fresh = calloc(2 * C_NEW, sizeof *fresh);
    assert_non_null(fresh);
    atomic_u32_store_release(&go, 1);
    alloc_during_sweep(f->t, fresh);
    size_t by_sweepers = 0;
    for (int i = 0; i < C_SWEEPERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        by_sweepers += w[i].pages;
    }
    release_cache(f->t);

    assert_true(mheap_sweep_done(mh(h)));
    assert_int_equal(pages_swept(h), P); /* each span counted once */
    assert_true(by_sweepers <= P);
    assert_true(unswept_lists_empty(h));
    popn_check_marked(&p64, h);
    popn_check_marked(&p256, h);
    for (size_t j = 0; j < 2 * C_NEW; j++)
        if (!alloc_bit(h, fresh[j]) || !intact2(fresh[j], j % 2 ? 256 : 64, 9000000 + j))
            fail_msg("object %zu allocated during the sweep was damaged", j);
    /* Every unmarked old object freed exactly once (a span swept twice
     * would free its survivors or count twice). */
    assert_int_equal(small_frees(h, SC64) - f64, p64.n - popn_nmarked(&p64));
    assert_int_equal(small_frees(h, SC256) - f256, p256.n - popn_nmarked(&p256));
    assert_valid(mheap_is_valid(mh(h)));
    assert_int_equal(gchi_heap_verify(h), 0);
    free(fresh);
    popn_free(&p64);
    popn_free(&p256);
}

/* ------------------------------------------------------------------ */
/* 6. The collector's policy: background sweeper, gch_collect, STW=2    */
/* ------------------------------------------------------------------ */

/* gc_heap: a heap with automatic cycles at gc_percent; the environment
 * ignored, or read under prefix. */
static gch_heap *gc_heap(int gc_percent, const char *prefix)
{
    gch_config c;
    gch_config_init(&c);
    c.gc_percent = gc_percent;
    c.read_env = prefix != NULL;
    c.env_prefix = prefix;
    gch_heap *h = gch_heap_new(&c);
    assert_non_null(h);
    assert_int_equal(h->env.gc_percent, gc_percent);
    return h;
}

static void free_heap(gch_heap *h)
{
    heap_free_checked(h);
}

static uint32_t num_gc(gch_heap *h)
{
    lock_acquire(&h->stw.lock); /* written under it by finish_cycle */
    uint32_t n = h->gc.num_gc;
    lock_release(&h->stw.lock);
    return n;
}

static bool sweeper_started(gch_heap *h)
{
    lock_acquire(&h->gc.sweeper.lock);
    bool started = h->gc.sweeper.started;
    lock_release(&h->gc.sweeper.lock);
    return started;
}

static uint64_t sweeper_rounds(gch_heap *h) { return atomic_u64_load_relaxed(&h->gc.sweeper.rounds); }

static void test_background_sweeper(void **state)
{
    (void)state;
    /* GOGC=400: a 16 MiB goal leaves the proportional sweep a long
     * budget, so the mutator sweeps only a few spans after the cycle
     * (with a goal under Go's 1 MiB margin it would sweep them all at
     * its first refill, and the sweeper would have nothing to do). */
    gch_heap *h = gc_heap(400, NULL);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    assert_false(sweeper_started(h)); /* no cycle yet, no thread */
    uint64_t f0 = nflips(h);
    for (size_t i = 0; nflips(h) == f0; i++) {
        assert_non_null(gch_alloc_noscan(t, 1024));
        assert_true(i < 200000);
    }
    gch_blocking_enter(t); /* no more allocation: only the sweeper can finish */
    for (int ms = 0; ms < 10000 && !(mheap_sweep_done(mh(h)) && sweeper_rounds(h) > 0); ms++)
        sleep_us(1000);
    gch_blocking_leave(t);
    assert_true(sweeper_started(h));
    assert_true(mheap_sweep_done(mh(h)));
    assert_true(sweeper_rounds(h) > 0);
    assert_int_equal(num_gc(h), 1);
    assert_true(unswept_lists_empty(h));
    /* The first flip: no sweeper ran before pacing read the pages in use,
     * and every span listed at the flip was swept once. */
    assert_int_equal(pages_swept(h), atomic_u64_load_relaxed(&h->mheap.sweep.pace_pages));
    assert_true(pages_swept(h) > 1000);

    /* gch_collect returns with the generation swept: every object freed. */
    for (int i = 0; i < 2000; i++)
        assert_non_null(gch_alloc_noscan(t, 100));
    uint64_t flips = nflips(h);
    assert_int_equal(gch_collect(h), GCH_OK);
    assert_true(nflips(h) > flips);
    assert_true(mheap_sweep_done(mh(h)));
    gch_stats *st = calloc(1, sizeof *st);
    assert_non_null(st);
    gch_read_stats(h, st);
    assert_int_equal(st->heap_objects, 0);
    assert_int_equal(st->num_forced_gc, 1);
    free(st);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    free_heap(h);
}

static void test_stoptheworld_2(void **state)
{
    (void)state;
    assert_int_equal(setenv("TSWEEP_GODEBUG", "gcstoptheworld=2", 1), 0);
    gch_heap *h = gc_heap(400, "TSWEEP_"); /* a long sweep budget, as above */
    unsetenv("TSWEEP_GODEBUG");
    assert_int_equal(h->env.debug.gcstoptheworld, 2);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    uint64_t f0 = nflips(h);
    for (size_t i = 0; nflips(h) - f0 < 2; i++) {
        assert_non_null(gch_alloc_noscan(t, 1024));
        if (!mheap_sweep_done(mh(h))) /* also right after the allocation that ran a cycle */
            fail_msg("gcstoptheworld=2: sweep unfinished after flip %llu",
                     (unsigned long long)(nflips(h) - f0));
        assert_true(i < 400000);
    }
    assert_int_equal(nflips(h), num_gc(h));
    assert_true(pages_swept(h) > 1000); /* the cycle did sweep a generation */
    assert_int_equal(gch_collect(h), GCH_OK);
    assert_true(mheap_sweep_done(mh(h)));
    assert_false(sweeper_started(h));
    assert_int_equal(sweeper_rounds(h), 0);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    free_heap(h);
}

/* A cycle that finds the previous generation unswept sweeps it first
 * (sweep termination, X1): a generation flipped by hand on a GC-off heap
 * is still unswept when gch_collect starts, and no sweeper thread exists
 * yet.  Without sweep termination the cycle's flip would be fatal (SW4). */
static bool t6_rule(size_t k, size_t i, void *ctx)
{
    (void)k;
    (void)ctx;
    return i % 20 == 0;
}

static void test_collect_finishes_pending_sweep(void **state)
{
    struct fixture *f = *state;
    gch_heap *h = f->h;
    struct popn p;
    popn_alloc(&p, f->t, h, 50, N64, 64, 0);
    release_cache(f->t);
    popn_mark(&p, h, t6_rule, NULL); /* survivors of an earlier cycle */
    mheap_sweep_flip(mh(h));
    assert_false(mheap_sweep_done(mh(h)));
    assert_false(sweeper_started(h));
    uint64_t flips = nflips(h);
    GCH_LOCALS(f->t, keep, 10);
    for (int j = 0; j < 10; j++)
        keep[j] = p.obj[(size_t)j * 20 * 25]; /* marked ones, in 10 spans */
    assert_int_equal(gch_collect(h), GCH_OK);
    assert_int_equal(nflips(h), flips + 1);
    assert_true(mheap_sweep_done(mh(h)));
    gch_stats *st = calloc(1, sizeof *st);
    assert_non_null(st);
    gch_read_stats(h, st);
    assert_int_equal(st->heap_objects, 10); /* the rooted ones; the other marks were the old cycle's */
    free(st);
    assert_int_equal(pages_inuse(h), 10);
    for (int j = 0; j < 10; j++)
        assert_true(intact2(keep[j], 64, (uint64_t)j * 500));
    GCH_LOCALS_END(f->t, keep);
    popn_free(&p);
}

/* ------------------------------------------------------------------ */
/* 7. Freeing a heap while its sweeper is busy                          */
/* ------------------------------------------------------------------ */

static void test_free_while_sweeping(void **state)
{
    (void)state;
    static const long delay_us[] = {0, 20, 100, 300, 1000};
    int busy = 0;
    for (size_t r = 0; r < sizeof delay_us / sizeof delay_us[0]; r++) {
        gch_heap *h = gc_heap(200, NULL); /* 8 MiB goal: ~1000 garbage spans */
        gch_thread *t = gch_thread_attach(h);
        assert_non_null(t);
        uint64_t f0 = nflips(h);
        for (size_t i = 0; nflips(h) == f0; i++) {
            assert_non_null(gch_alloc_noscan(t, 1024));
            assert_true(i < 100000);
        }
        gchi_test_gc_wait(h); /* a worker may still be ending the cycle */
        assert_true(sweeper_started(h));
        sleep_us(delay_us[r]);
        busy += !mheap_sweep_done(mh(h));
        assert_int_equal(gch_thread_detach(t), GCH_OK);
        heap_free_checked(h); /* joins the sweeper */
    }
    print_message("heap freed with the sweep unfinished in %d of %zu rounds\n", busy,
                  sizeof delay_us / sizeof delay_us[0]);
}

/* ------------------------------------------------------------------ */
/* 8. Reachable lists survive back-to-back triggered cycles              */
/* ------------------------------------------------------------------ */

#define L_CYCLES 50
#define L_WORKERS 2

struct cnode {
    struct cnode *next;
    struct cnode *other;
    uint64_t id;
    uint64_t sum;
};
static const uint8_t cnode_mask[] = {0x3};
static const gch_type cnode_type = {"cnode", sizeof(struct cnode), cnode_mask, NULL};

#define L_MIN_CHECKS 5 /* cycles each worker must see */

struct lworker {
    gch_heap *h;
    pthread_barrier_t *start;
    void **root;          /* a registered global root: the list head */
    int idx;
    uint64_t flips0;
    uint64_t top, base;   /* the list holds ids top-1 down to base */
    uint64_t checks;      /* cycles observed and checked */
    uint64_t unswept;     /* of which the sweep was still unfinished */
    char err[160];        /* first failure, empty if none */
};

#define LEAF_BIT ((uint64_t)1 << 47)

static uint64_t lid(const struct lworker *w, uint64_t k) { return ((uint64_t)w->idx << 48) | k; }

/* list_ok: the list holds exactly ids top-1 .. base, each checksummed,
 * each leaf its node's.  *objects (if not NULL): nodes plus leaves. */
static bool list_ok(struct lworker *w, uint64_t *objects)
{
    const struct cnode *c = *w->root;
    uint64_t n = 0;
    for (uint64_t k = w->top; k > w->base; k--, c = c->next, n++) {
        if (c == NULL || c->id != lid(w, k - 1) || c->sum != mix(c->id))
            return false;
        if (c->other != NULL && (c->other->id != (c->id | LEAF_BIT) ||
                                 c->other->sum != mix(c->other->id) || c->other->next != NULL))
            return false;
        n += c->other != NULL;
    }
    if (objects != NULL)
        *objects = n;
    return c == NULL;
}

/* lworker_step: one action: push a node (a third of them with a leaf in
 * `other`), cut the list, or make garbage. */
static void lworker_step(struct lworker *w, gch_thread *t, uint64_t *rng)
{
    uint64_t r = rng_next(rng) % 100;
    if (r < 30) {
        struct cnode *c = gch_alloc(t, &cnode_type);
        if (c == NULL) {
            snprintf(w->err, sizeof w->err, "gch_alloc failed");
            return;
        }
        c->id = lid(w, w->top++);
        c->sum = mix(c->id);
        /* references through the write barrier: w->root is a global root */
        gch_write(t, (void **)&c->next, *w->root);
        gch_write(t, w->root, c); /* rooted before the next safepoint */
        if (r < 10) {
            struct cnode *leaf = gch_alloc(t, &cnode_type); /* c is rooted */
            if (leaf == NULL) {
                snprintf(w->err, sizeof w->err, "gch_alloc failed");
                return;
            }
            leaf->id = c->id | LEAF_BIT;
            leaf->sum = mix(leaf->id);
            gch_write(t, (void **)&c->other, leaf);
        }
    } else if (r < 31 && w->top - w->base > 400) {
        struct cnode *c = *w->root;
        for (int k = 1; k < 100; k++)
            c = c->next;
        gch_write(t, (void **)&c->next, NULL); /* the tail becomes garbage: lazy sweeping frees it */
        w->base = w->top - 100;
    } else {
        void *g = r < 60 ? gch_alloc(t, &cnode_type) : gch_alloc_noscan(t, 16 + rng_next(rng) % 600);
        if (g == NULL)
            snprintf(w->err, sizeof w->err, "garbage allocation failed");
    }
}

static void *lworker_main(void *arg)
{
    struct lworker *w = arg;
    pthread_barrier_wait(w->start);
    gch_thread *t = gch_thread_attach(w->h);
    if (t == NULL) {
        snprintf(w->err, sizeof w->err, "attach failed");
        return NULL;
    }
    uint64_t rng = 0x5eed + (uint64_t)w->idx, seen = nflips(w->h);
    while (w->err[0] == '\0' && (nflips(w->h) - w->flips0 < L_CYCLES || w->checks < L_MIN_CHECKS)) {
        lworker_step(w, t, &rng);
        uint64_t now = nflips(w->h);
        if (now != seen) { /* a cycle ran inside that allocation */
            seen = now;
            w->checks++;
            w->unswept += !mheap_sweep_done(&w->h->mheap);
            if (!list_ok(w, NULL))
                snprintf(w->err, sizeof w->err, "worker %d: list damaged after flip %llu", w->idx,
                         (unsigned long long)now);
        }
    }
    if (w->err[0] == '\0' && !list_ok(w, NULL))
        snprintf(w->err, sizeof w->err, "worker %d: list damaged at the end", w->idx);
    gch_thread_detach(t);
    return NULL;
}

static void test_lists_survive_cycles(void **state)
{
    (void)state;
    static void *roots[L_WORKERS];
    gch_heap *h = gc_heap(50, NULL); /* 2 MiB goal: the sweep spreads over 1 MiB */
    memset(roots, 0, sizeof roots);
    assert_int_equal(gch_root_range_add(h, roots, L_WORKERS), GCH_OK);
    struct lworker w[L_WORKERS];
    pthread_t th[L_WORKERS];
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, L_WORKERS), 0);
    uint64_t flips0 = nflips(h);
    for (int i = 0; i < L_WORKERS; i++) {
        w[i] = (struct lworker){h, &start, &roots[i], i + 1, flips0, 0, 0, 0, 0, {0}};
        assert_int_equal(pthread_create(&th[i], NULL, lworker_main, &w[i]), 0);
    }
    for (int i = 0; i < L_WORKERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < L_WORKERS; i++) {
        if (w[i].err[0] != '\0')
            fail_msg("%s", w[i].err);
        assert_true(w[i].checks >= L_MIN_CHECKS);
        assert_true(list_ok(&w[i], NULL)); /* nobody attached: nothing moved */
    }
    assert_true(nflips(h) - flips0 >= L_CYCLES);
    print_message("%llu cycles; lists checked %llu times, %llu of them with the sweep unfinished\n",
                  (unsigned long long)(nflips(h) - flips0), (unsigned long long)(w[0].checks + w[1].checks),
                  (unsigned long long)(w[0].unswept + w[1].unswept));
    assert_int_equal(num_gc(h), nflips(h));
    assert_int_equal(gch_collect(h), GCH_OK); /* the lists are still the whole live heap */
    uint64_t live = 0, n;
    for (int i = 0; i < L_WORKERS; i++) {
        assert_true(list_ok(&w[i], &n));
        live += n;
    }
    gch_stats *st = calloc(1, sizeof *st);
    assert_non_null(st);
    gch_read_stats(h, st);
    assert_int_equal(st->heap_objects, live);
    free(st);
    assert_int_equal(gch_root_range_remove(h, roots), GCH_OK);
    free_heap(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flip_and_sweep, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_flip_needs_finished_sweep, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_bits_only_for_kept_spans, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_cached_across_flip, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_proportional_credit, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_reclaim, heap_setup, heap_teardown),
        cmocka_unit_test(test_refill_at_heap_limit),
        cmocka_unit_test_setup_teardown(test_concurrent_sweepers, heap_setup, heap_teardown),
        cmocka_unit_test(test_background_sweeper),
        cmocka_unit_test(test_stoptheworld_2),
        cmocka_unit_test_setup_teardown(test_collect_finishes_pending_sweep, heap_setup, heap_teardown),
        cmocka_unit_test(test_free_while_sweeping),
        cmocka_unit_test(test_lists_survive_cycles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
