/*
 * test_alloc_inline.c - the inline allocation path of include/gcheap/alloc.h
 * (gch_alloc, gch_alloc_array and gch_alloc_noscan, compiled into this
 * file) against the library's own path (gch_alloc_slow,
 * gch_alloc_array_slow, gch_alloc_noscan_slow).
 *
 * The inline path reads the thread's cache and its spans through the
 * offsets gcheap/attrs.h publishes (pinned by _Static_asserts in
 * alloc/malloc.c) and the size classes of gcheap/sizeclass.h.  Each test
 * checks one contract the two paths share: the same classes, one
 * allocation window (no slot handed out twice or skipped), the same heap
 * bits (stale bits of a reused slot cleared), zeroing of reused slots,
 * one sampling check per allocation, K4: gcstress and sanitizer
 * tracking leave every allocation to the library, K5: during a mark the
 * inline path hands out black objects; a foreign or detached handle gets
 * the library's errors.  Zeroing in bulk of a recycled span as a cache
 * takes it (mcentral_cache_span).
 */
#include "testutil.h"

#include <pthread.h>

#include "mfinal.h"
#include "msize.h"
#include "mgc.h"
#include "mweak.h"

static const uint8_t mask_w0[] = {0x01, 0x00};
static const gch_type t16 = {"t16", 16, mask_w0, NULL};
/* 48-byte slots are 6 words: some straddle two heap-bitmap words. */
static const uint8_t mask_w0w2w5[] = {0x25};
static const gch_type t48 = {"t48", 48, mask_w0w2w5, NULL};

static struct mspan *cached_span(gch_thread *t, size_t size, bool noscan)
{
    return gchi_thread_cache(t)->alloc[make_spanclass(size_to_class(size), noscan)];
}

/* slot_bits: the heap-bitmap bits of the nwords-word slot at p. */
static uint64_t slot_bits(const struct mspan *s, const void *p, size_t nwords)
{
    size_t w0 = ((uintptr_t)p - s->start) / 8;
    uint64_t bits = 0;
    for (size_t w = 0; w < nwords; w++)
        bits |= ((s->typebits->words[(w0 + w) / 64] >> ((w0 + w) % 64)) & 1) << w;
    return bits;
}

static void test_class_table_agrees(void **state)
{
    (void)state;
    for (size_t i = 0; i <= GCHI_INLINE_MAX_SIZE / 8; i++)
        assert_int_equal(gchi_inline_class8[i], gchi_size_to_class8[i]);
    assert_int_equal(GCHI_INLINE_MAX_SIZE, HEAPBITS_MAX_SIZE);
}

/* Alternating the two paths in a fresh span hands out its slots in
 * order: they share freeindex, the window and alloc_count. */
static void test_paths_share_the_window(void **state)
{
    struct fixture *f = *state;
    char *p[200];
    for (int i = 0; i < 200; i++)
        p[i] = i % 3 == 1 ? gch_alloc_slow(f->t, &t16) : gch_alloc(f->t, &t16);
    struct mspan *s = cached_span(f->t, 16, false);
    for (int i = 1; i < 200; i++)
        assert_ptr_equal(p[i], p[i - 1] + 16);
    assert_int_equal(s->alloc_count, 200);
    assert_int_equal(s->freeindex, 200);
    char *q[100];
    for (int i = 0; i < 100; i++)
        q[i] = i % 2 ? gch_alloc_noscan_slow(f->t, 40) : gch_alloc_noscan(f->t, 40);
    for (int i = 1; i < 100; i++)
        assert_ptr_equal(q[i], q[i - 1] + 48);
    assert_int_equal(cached_span(f->t, 40, true)->alloc_count, 100);
}

/* Every slot's heap bits are the type's mask and nothing else, even when
 * the bitmap held stale ones (a reused span), for slots that straddle two
 * bitmap words too. */
static void test_heap_bits_match(void **state)
{
    struct fixture *f = *state;
    void *first = gch_alloc(f->t, &t48);
    struct mspan *s = cached_span(f->t, 48, false);
    assert_ptr_equal(first, (void *)s->start);
    for (size_t i = 0; i < sizeof s->typebits->words / 8; i++)
        s->typebits->words[i] = ~(uint64_t)0; /* stale bits everywhere */
    for (int i = 0; i < 150; i++) {
        void *p = i % 4 == 3 ? gch_alloc_slow(f->t, &t48) : gch_alloc(f->t, &t48);
        assert_ptr_equal(cached_span(f->t, 48, false), s);
        assert_int_equal(slot_bits(s, p, 6), 0x25);
    }
    void *p = gch_alloc(f->t, &t16);
    assert_int_equal(slot_bits(cached_span(f->t, 16, false), p, 2), 0x1);
    /* Arrays: the element's mask repeated (3 x 16 bytes share t48's class). */
    volatile size_t three = 3;
    for (int i = 0; i < 40; i++) {
        void *a = i % 2 ? gch_alloc_array_slow(f->t, &t16, three) : gch_alloc_array(f->t, &t16, three);
        assert_int_equal(slot_bits(mheap_span_of_heap(&f->h->mheap, (uintptr_t)a), a, 6), 0x15);
    }
}

/* A slot of a span that may hold old data is zeroed (gch_alloc_finish_slow). */
static void test_reused_slot_zeroed(void **state)
{
    struct fixture *f = *state;
    assert_non_null(gch_alloc(f->t, &t48));
    struct mspan *s = cached_span(f->t, 48, false);
    uintptr_t next = s->start + (uintptr_t)s->freeindex * 48;
    s->needzero = true;
    if (!GCH_TRACKING) /* the free slot is poisoned in tracked builds */
        memset((void *)next, 0xa5, 48);
    uint64_t *p = gch_alloc(f->t, &t48);
    assert_ptr_equal(p, (void *)next);
    assert_true(mem_is_zero(p, 48));
    assert_int_equal(slot_bits(s, p, 6), 0x25);
    char *q = gch_alloc_noscan(f->t, 48);
    assert_true(mem_is_zero(q, 48));
}

/* A span that may hold old data is zeroed in bulk when a cache takes it
 * (mcentral_cache_span): its free slots are zero, needzero is clear (so
 * the inline path serves it without the rare tail), and the objects
 * still allocated in it keep their bytes. */
static void test_needzero_span_zeroed_when_cached(void **state)
{
    struct fixture *f = *state;
    enum { N = 150 };
    unsigned char *objs[N];
    for (int i = 0; i < N; i++) {
        objs[i] = gch_alloc_noscan(f->t, 48);
        memset(objs[i], 0xAA, 48);
    }
    struct mspan *s = cached_span(f->t, 48, true);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    for (int i = 0; i < N; i += 3)
        gchi_free(f->t, objs[i]); /* needzero, the span on its partial list */
    assert_true(s->needzero);
    unsigned char *p = gch_alloc_noscan(f->t, 48); /* the refill takes s */
    assert_ptr_equal(cached_span(f->t, 48, true), s);
    assert_ptr_equal(p, objs[0]);
    assert_false(s->needzero);
    assert_true(mem_is_zero(p, 48));
    for (int i = 1; i < N; i++) {
        if (i % 3 != 0) {
            assert_true(mem_all(objs[i], 0xAA, 48));
            continue;
        }
        unsigned char *q = i % 2 ? gch_alloc_noscan(f->t, 48) : gch_alloc_noscan_slow(f->t, 48);
        assert_ptr_equal(q, objs[i]); /* the freed slots, in order */
        assert_true(mem_is_zero(q, 48));
    }
    if (!GCH_TRACKING) { /* free slots are poisoned in tracked builds */
        for (uint32_t i = N; i < s->nelems; i++)
            assert_true(mem_is_zero((void *)(s->start + (uintptr_t)i * 48), 48));
    }
}

/* With mem_profile_rate 1 every allocation is sampled: the inline path's
 * sampling check sends each one to the library. */
static void test_every_allocation_sampled(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = -1;
    cfg.read_env = 0;
    cfg.mem_profile_rate = 1;
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    uint64_t n0 = atomic_u64_load_relaxed(&h->mheap.prof.nsamples);
    for (int i = 0; i < 50; i++) {
        assert_non_null(gch_alloc(t, &t16));
        assert_non_null(gch_alloc_noscan(t, 24));
    }
    assert_int_equal(atomic_u64_load_relaxed(&h->mheap.prof.nsamples) - n0, 100);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

/* K4: the reasons the library must see each allocation. */
static void test_inline_off(void **state)
{
    struct fixture *f = *state;
    struct mcache *c = gchi_thread_cache(f->t);
    assert_int_equal(c->inline_off, GCH_TRACKING ? MCACHE_INLINE_TRACK : 0);
    assert_false(c->alloc_black);
    assert_false(c->in_scan);

    setenv("GODEBUG", "gcstress=1000000", 1);
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = -1;
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("GODEBUG");
    assert_non_null(h);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    c = gchi_thread_cache(t);
    assert_true(c->inline_off & MCACHE_INLINE_STRESS);
    assert_non_null(gch_alloc(t, &t16)); /* the first ones refill the cache */
    assert_non_null(gch_alloc_noscan(t, 16));
    uint32_t left = c->gcstress_left;
    assert_non_null(gch_alloc(t, &t16)); /* the window has room: counted all the same */
    assert_non_null(gch_alloc_noscan(t, 16));
    assert_int_equal(c->gcstress_left, left - 2);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

/* K5: while the collector marks, a new object is allocated black, on
 * either path. */
static void test_allocated_black_during_mark(void **state)
{
    struct fixture *f = *state;
    assert_non_null(gch_alloc(f->t, &t16)); /* the cache holds spans with room */
    assert_non_null(gch_alloc_noscan(f->t, 16));
    gchi_test_hold_mark(f->h, true);
    assert_true(gchi_test_gc_start(f->h));
    assert_int_equal(atomic_u32_load_relaxed(&f->h->gc.phase), GCPHASE_MARK);
    int black = 0;
    for (int i = 0; i < 3; i++) { /* a first refill after the mark began, then the window */
        black += gc_is_marked(f->h, (uintptr_t)gch_alloc(f->t, &t16));
        black += gc_is_marked(f->h, (uintptr_t)gch_alloc_noscan(f->t, 16));
    }
    gchi_test_hold_mark(f->h, false); /* before any assert: the teardown waits for the cycle */
    gch_safepoint(f->t);
    gchi_test_gc_wait(f->h);
    assert_int_equal(black, 6);
}

struct foreign {
    gch_thread *t;
    void *p, *q;
    gch_error e, eq;
};

static void *alloc_on_foreign_thread(void *arg)
{
    struct foreign *fo = arg;
    fo->p = gch_alloc(fo->t, &t16);
    fo->e = gch_last_error();
    fo->q = gch_alloc_noscan(fo->t, 16);
    fo->eq = gch_last_error();
    return NULL;
}

/* K3 on the inline path: another OS thread's handle, and a detached one,
 * get the library's errors and leave the cache untouched. */
static void test_foreign_and_detached(void **state)
{
    struct fixture *f = *state;
    assert_non_null(gch_alloc(f->t, &t16));
    struct mspan *s = cached_span(f->t, 16, false);
    uint32_t count = s->alloc_count;
    struct foreign fo = {f->t, NULL, NULL, GCH_OK, GCH_OK};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, alloc_on_foreign_thread, &fo), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_null(fo.p);
    assert_null(fo.q);
    assert_int_equal(fo.e, GCH_EWRONGTHREAD);
    assert_int_equal(fo.eq, GCH_EWRONGTHREAD);
    assert_int_equal(s->alloc_count, count);

    expect_error(gch_alloc(NULL, &t16), GCH_EINVAL);
    expect_error(gch_alloc_noscan(f->t, 0), GCH_EINVAL);
    expect_error(gch_alloc_array(f->t, &t16, 0), GCH_EINVAL);
    expect_error(gch_alloc_array(f->t, &t16, SIZE_MAX / 8), GCH_EOVERFLOW);
    gch_thread *t = f->t;
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    f->t = NULL; /* detached: the teardown must not detach it again */
    expect_error(gch_alloc(t, &t16), GCH_EDETACHED);
    expect_error(gch_alloc_noscan(t, 16), GCH_EDETACHED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_class_table_agrees),
        cmocka_unit_test_setup_teardown(test_paths_share_the_window, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_heap_bits_match, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_reused_slot_zeroed, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_needzero_span_zeroed_when_cached, heap_setup,
                                        heap_teardown),
        cmocka_unit_test(test_every_allocation_sampled),
        cmocka_unit_test_setup_teardown(test_inline_off, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_allocated_black_during_mark, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_and_detached, heap_setup, heap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
