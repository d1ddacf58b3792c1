/*
 * test_alloc_black.c - allocate-black by colouring whole spans.  Subject:
 * alloc/mcache.h K4-K5 (mcache_refill, flush_span), alloc/mspan.c
 * (span_colour_free, span_uncolour_free), gc/mgc.h X2.
 *
 * What it proves:
 *   1. a span a cache takes during a mark arrives with every free slot
 *      marked and its allocated (old) slots untouched; giving it back
 *      during the mark clears the marks of the slots still free and keeps
 *      those of the objects handed out, whose bytes are counted in
 *      black_bytes; the cycle's sweep then frees the old unreachable
 *      objects and keeps exactly the ones handed out during the mark, so
 *      a coloured slot never handed out is never taken for an object;
 *   2. a fresh span taken during a mark is coloured whole, and only the
 *      objects handed out from it stay marked;
 *   3. objects allocated during a mark survive that cycle unreferenced
 *      (allocated black), and the next cycle clears a weak handle to one,
 *      queues the finalizer of another and keeps a rooted third;
 *   4. a thread running collector callbacks (in_scan) gets no slot from
 *      the inline path (K4);
 *   5. stress: three threads build and check linked lists through
 *      back-to-back concurrent cycles with gccheckmark (which aborts on a
 *      lost object), flushing their caches now and then mid-mark; every
 *      node comes back zeroed and intact.  GCH_STRESS_SECONDS (default 1)
 *      for soak runs; runs under TSan in CI.
 */
#define SPX_MAGIC 0xb1acb1acb1acb1acULL
#include "specials_fixture.h"
#include "msize.h"

#include <pthread.h>

static int setup(void **state)
{
    unsetenv("ABLK_GODEBUG");
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = -1;
    cfg.env_prefix = "ABLK_";
    cfg.manual_finalizers = 1;
    *state = spx_attach(calloc(1, sizeof(struct fx)), gch_heap_new(&cfg));
    return 0;
}

static struct mspan *cached(gch_thread *t, size_t size, bool noscan)
{
    return gchi_thread_cache(t)->alloc[make_spanclass(size_to_class(size), noscan)];
}

static bool marked(const struct mspan *s, uint32_t i) { return mark_load(s->gcmarks, i); }

static uint32_t count_bits(const uint8_t *bits, uint32_t n)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < n; i++)
        c += bit_is_set(bits, i);
    return c;
}

static uint32_t count_marks(const struct mspan *s)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < s->nelems; i++)
        c += marked(s, i);
    return c;
}

/* 1. Colour at refill, uncolour at release, count, sweep. */
static void test_partial_span_coloured_and_uncoloured(void **state)
{
    struct fx *f = *state;
    enum { OLD = 100 };
    struct node *first = spx_new_node(f->t, NULL);
    struct mspan *s = cached(f->t, sizeof(struct node), false);
    assert_ptr_equal(first, (void *)s->start);
    for (int i = 1; i < OLD; i++)
        spx_new_node(f->t, NULL); /* slots 0..99, held by nothing */
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    spx_start_held_mark(f);
    assert_ptr_equal(cached(f->t, sizeof(struct node), false), &f->h->mheap.emptyspan);
    struct node *p = spx_new_node(f->t, NULL); /* the refill takes s back */
    assert_ptr_equal(cached(f->t, sizeof(struct node), false), s);
    assert_ptr_equal(p, (void *)(s->start + OLD * sizeof(struct node)));
    assert_true(s->black);
    for (uint32_t i = 0; i < s->nelems; i++)
        if (marked(s, i) != (i >= OLD))
            fail_msg("slot %u: marked %d, want %d", i, marked(s, i), i >= OLD);
    for (int i = 1; i < 10; i++)
        spx_new_node(f->t, NULL); /* slots 100..109 */
    void *q = gch_alloc_noscan(f->t, 48);
    struct mspan *sq = cached(f->t, 48, true); /* a fresh span: wholly coloured */
    assert_true(sq->black);
    assert_int_equal(count_marks(sq), sq->nelems);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK); /* release both during the mark */
    assert_false(s->black || sq->black);
    for (uint32_t i = 0; i < s->nelems; i++)
        if (marked(s, i) != (i >= OLD && i < OLD + 10))
            fail_msg("slot %u after release: marked %d", i, marked(s, i));
    assert_int_equal(count_marks(sq), 1);
    assert_true(marked(sq, span_object_index(sq, (uintptr_t)q)));
    assert_int_equal(ld(&f->h->mheap.counters.black_bytes), 10 * s->elemsize + 48);
    struct node *r = spx_new_node(f->t, NULL); /* s again: coloured again */
    assert_ptr_equal(cached(f->t, sizeof(struct node), false), s);
    assert_ptr_equal(r, (void *)(s->start + (OLD + 10) * sizeof(struct node)));
    assert_true(s->black && marked(s, OLD + 10) && marked(s, s->nelems - 1));
    spx_end_held_mark(f);
    /* The old objects are freed, the 11 allocated black survive, and the
     * coloured slots never handed out are free. */
    assert_false(s->black);
    assert_int_equal(s->alloc_count, 11);
    assert_int_equal(count_bits(s->alloc_bits, s->nelems), 11);
    for (uint32_t i = 0; i < s->nelems; i++)
        if (bit_is_set(s->alloc_bits, i) != (i >= OLD && i <= OLD + 10))
            fail_msg("slot %u after the sweep: allocated %d", i, bit_is_set(s->alloc_bits, i));
    assert_int_equal(count_marks(s), 0);
    assert_true(p->magic == SPX_MAGIC && r->magic == SPX_MAGIC);
    assert_int_equal(gch_collect(f->h), GCH_OK); /* nothing holds them now */
    assert_false(spx_allocated(f->h, p) || spx_allocated(f->h, r) || spx_allocated(f->h, q));
}

/* 1b. Detaching mid-mark gives the span back uncoloured, with the
 * objects it handed out counted black; they survive that cycle (held by
 * nothing) and the slots it never handed out stay free. */
static void test_detach_mid_mark_uncolours(void **state)
{
    struct fx *f = *state;
    enum { K = 7 };
    spx_start_held_mark(f);
    void *objs[K];
    for (int i = 0; i < K; i++)
        assert_non_null(objs[i] = gch_alloc_noscan(f->t, 48));
    struct mspan *s = cached(f->t, 48, true); /* fresh: wholly coloured */
    assert_true(s->black);
    assert_int_equal(count_marks(s), s->nelems);
    uint64_t black0 = ld(&f->h->mheap.counters.black_bytes);
    assert_int_equal(gch_thread_detach(f->t), GCH_OK);
    assert_false(s->black);
    assert_int_equal(count_marks(s), K);
    for (int i = 0; i < K; i++)
        assert_true(marked(s, span_object_index(s, (uintptr_t)objs[i])));
    assert_int_equal(ld(&f->h->mheap.counters.black_bytes) - black0, K * s->elemsize);
    f->t = gch_thread_attach(f->h);
    assert_non_null(f->t);
    spx_end_held_mark(f);
    assert_int_equal(s->alloc_count, K);
    assert_int_equal(count_bits(s->alloc_bits, s->nelems), K);
    assert_int_equal(count_marks(s), 0);
    for (int i = 0; i < K; i++)
        assert_true(spx_allocated(f->h, objs[i]));
    assert_heap_valid(f->h);
}

/* 3. Weak handles, finalizers and roots on objects allocated black. */
static void *finalized;
static void record(void *obj, void *arg)
{
    (void)arg;
    finalized = obj;
}

static void test_specials_on_objects_allocated_during_mark(void **state)
{
    struct fx *f = *state;
    finalized = NULL;
    spx_start_held_mark(f);
    struct node *a = spx_new_node(f->t, NULL);
    gch_weak *w = gch_weak_new(f->t, a);
    assert_non_null(w);
    gch_write(f->t, &f->slots[0], w); /* a root range: a worker may be scanning it */
    struct node *b = spx_new_node(f->t, NULL);
    assert_int_equal(gch_set_finalizer(f->t, b, record, NULL), GCH_OK);
    struct node *c = spx_new_node(f->t, NULL);
    gch_write(f->t, &f->slots[1], c);
    spx_end_held_mark(f);
    assert_ptr_equal(gch_weak_get(f->t, w), a); /* black: survived unreferenced */
    assert_int_equal(gch_run_finalizers(f->t, -1), 0);
    assert_true(spx_allocated(f->h, a) && spx_allocated(f->h, b) && spx_allocated(f->h, c));
    assert_true(a->magic == SPX_MAGIC && b->magic == SPX_MAGIC);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_null(gch_weak_get(f->t, w));
    assert_int_equal(gch_run_finalizers(f->t, -1), 1);
    assert_ptr_equal(finalized, b);
    assert_true(spx_allocated(f->h, c) && c->magic == SPX_MAGIC);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_false(spx_allocated(f->h, a) || spx_allocated(f->h, b));
    assert_true(spx_allocated(f->h, c));
    f->slots[0] = f->slots[1] = NULL;
}

/* 4. K4: while the thread runs collector callbacks, no inline slot. */
static void test_in_scan_leaves_inline_path(void **state)
{
#if GCHI_ALLOC_INLINE
    struct fx *f = *state;
    struct mcache *c = gchi_thread_cache(f->t);
    spx_new_node(f->t, NULL); /* a span with free slots cached */
    unsigned spc = make_spanclass(size_to_class(sizeof(struct node)), false);
    char *s;
    bool inline_on = c->inline_off == 0; /* not in tracked (sanitizer) builds */
    assert_true(!inline_on || gchi_alloc_take(f->t, spc, &s) != 0);
    bool was = mcache_scan_enter(c);
    assert_false(was);
    assert_true(gchi_alloc_take(f->t, spc, &s) == 0);
    mcache_scan_leave(c, was);
    assert_false(c->in_scan);
    assert_true(!inline_on || gchi_alloc_take(f->t, spc, &s) != 0);
#else
    (void)state;
    skip();
#endif
}

/* ---- 5. stress ------------------------------------------------------------ */

struct bnode {
    struct bnode *next;
    uint64_t id, check, pad;
};
static const uint8_t bnode_mask[] = {0x1};
static const gch_type bnode_type = {"bnode", sizeof(struct bnode), bnode_mask, NULL};

struct stress {
    gch_heap *h;
    int64_t deadline_ns;
    _Atomic int stop;
    _Atomic long lists;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t check_of(uint64_t id) { return id * 0x9e3779b97f4a7c15u ^ SPX_MAGIC; }

static void *builder(void *arg)
{
    struct stress *st = arg;
    gch_thread *t = gch_thread_attach(st->h);
    assert_non_null(t);
    GCH_LOCALS(t, keep, 2);
    uint64_t seed = (uint64_t)(uintptr_t)t | 1;
    for (long round = 0; atomic_load(&st->stop) == 0; round++) {
        size_t n = 500 + rng_next(&seed) % 1500;
        keep[0] = NULL;
        for (size_t i = 0; i < n; i++) {
            struct bnode *b = gch_alloc(t, &bnode_type);
            assert_non_null(b);
            if (b->next != NULL || b->id != 0 || b->check != 0)
                fail_msg("a new node is not zeroed");
            b->id = i;
            b->check = check_of(i);
            gch_write(t, (void **)&b->next, keep[0]);
            keep[0] = b;
            if (rng_next(&seed) % 700 == 0) /* give the spans back, mid-mark or not */
                assert_int_equal(gch_thread_flush(t), GCH_OK);
            if (rng_next(&seed) % 3 == 0)
                keep[1] = gch_alloc_noscan(t, 8 + rng_next(&seed) % 200); /* other classes */
        }
        size_t got = 0;
        for (struct bnode *b = keep[0]; b != NULL; b = b->next, got++)
            if (b->id != n - 1 - got || b->check != check_of(b->id))
                fail_msg("node %zu of %zu is wrong: id %llu", got, n, (unsigned long long)b->id);
        assert_int_equal(got, n);
        atomic_fetch_add(&st->lists, 1);
        if (now_ns() > st->deadline_ns)
            atomic_store(&st->stop, 1);
    }
    GCH_LOCALS_END(t, keep);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

static void *collector(void *arg)
{
    struct stress *st = arg;
    while (atomic_load(&st->stop) == 0)
        assert_int_equal(gch_collect(st->h), GCH_OK);
    return NULL;
}

static void test_stress_alloc_during_marks(void **state)
{
    (void)state;
    setenv("ABLKS_GODEBUG", "gccheckmark=1", 1);
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = 20;
    cfg.env_prefix = "ABLKS_";
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("ABLKS_GODEBUG");
    assert_non_null(h);
    const char *secs = getenv("GCH_STRESS_SECONDS");
    struct stress st = {.h = h};
    st.deadline_ns = now_ns() + (int64_t)((secs ? atof(secs) : 1.0) * 1e9);
    pthread_t th[4];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, builder, &st), 0);
    assert_int_equal(pthread_create(&th[3], NULL, collector, &st), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    gch_stats stats;
    gch_read_stats(h, &stats);
    assert_true(atomic_load(&st.lists) >= 3);
    assert_true(stats.num_gc >= 2);
    heap_free_checked(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_partial_span_coloured_and_uncoloured, setup,
                                        spx_teardown),
        cmocka_unit_test_setup_teardown(test_detach_mid_mark_uncolours, setup, spx_teardown),
        cmocka_unit_test_setup_teardown(test_specials_on_objects_allocated_during_mark, setup,
                                        spx_teardown),
        cmocka_unit_test_setup_teardown(test_in_scan_leaves_inline_path, setup, spx_teardown),
        cmocka_unit_test(test_stress_alloc_during_marks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
