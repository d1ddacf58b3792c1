/*
 * test_verify.c - validators name the invariant that broke (GCH_CHECK,
 * alloc/check.h), and gchi_heap_verify covers the grey queues, the
 * barrier buffers and the workbuf pool (issue 14).
 *
 * Each test breaks one thing in a live heap, asserts that the validator
 * fails with the part number and a message naming the invariant (and,
 * for a comparison, both values), repairs it, and lets the teardown
 * verify the heap again:
 *   - span_is_valid: M5 (alloc_count above nelems), values reported;
 *   - gchi_heap_verify part 1: H1 (the in-use page counter off by one);
 *   - part 2: G8 (a grey entry left in a thread's gcwork outside a
 *     cycle) and B2 (an unflushed barrier buffer outside a cycle);
 *   - part 3: G3 (the pool's published full count out of step);
 *   - a grey entry during a (held) mark is legal: no G8 while a cycle
 *     runs.
 */
#include "testutil.h"

static const char *last_msg(void) { return gch_last_error_message(); }

static void expect_verify(gch_heap *h, int part, const char *needle)
{
    gch_clear_error();
    assert_int_equal(gchi_heap_verify(h), part);
    assert_int_equal(gch_last_error(), GCH_ESTATE);
    if (strstr(last_msg(), needle) == NULL)
        fail_msg("expected \"%s\" in: %s", needle, last_msg());
}

static void test_span_check_names_m5_and_values(void **state)
{
    struct fixture *f = *state;
    void *p = gch_alloc_noscan(f->t, 64);
    assert_non_null(p);
    struct mspan *s = mheap_span_of_heap(&f->h->mheap, (uintptr_t)p);
    assert_non_null(s);
    assert_valid(span_is_valid(s));
    uint16_t saved = s->alloc_count;
    s->alloc_count = (uint16_t)(s->nelems + 5);
    gch_clear_error();
    assert_false(span_is_valid(s));
    char want[96];
    snprintf(want, sizeof want, "(%u vs %u)", (unsigned)s->nelems + 5, (unsigned)s->nelems);
    assert_non_null(strstr(last_msg(), "invariant M5 failed: s->alloc_count <= s->nelems"));
    assert_non_null(strstr(last_msg(), "alloc/mspan.c:"));
    if (strstr(last_msg(), want) == NULL)
        fail_msg("expected \"%s\" in: %s", want, last_msg());
    s->alloc_count = saved;
    assert_valid(span_is_valid(s));
}

static void test_verify_names_h1(void **state)
{
    struct fixture *f = *state;
    assert_non_null(gch_alloc_noscan(f->t, 4096));
    atomic_u64_add_relaxed(&f->h->mheap.pages_inuse, 1);
    expect_verify(f->h, 1, "invariant H1 failed");
    atomic_u64_sub_relaxed(&f->h->mheap.pages_inuse, 1);
    assert_heap_valid(f->h);
}

static void test_verify_finds_grey_left_outside_a_cycle(void **state)
{
    struct fixture *f = *state;
    void *p = gch_alloc_noscan(f->t, 32);
    assert_non_null(p);
    struct gcwork *w = &f->t->marker.work;
    assert_true(gcwork_put(w, (uintptr_t)p));
    expect_verify(f->h, 2, "invariant G8 failed");
    assert_int_equal(gcwork_tryget(w), (uintptr_t)p);
    assert_heap_valid(f->h);
}

static void test_verify_finds_unflushed_barrier_buffer(void **state)
{
    struct fixture *f = *state;
    f->t->wbuf_n = 1;
    expect_verify(f->h, 2, "invariant B2 failed: t->wbuf_n == 0");
    f->t->wbuf_n = 0;
    assert_heap_valid(f->h);
}

static void test_verify_checks_the_workbuf_pool(void **state)
{
    struct fixture *f = *state;
    struct workbuf_pool *p = &f->h->gc.workbufs;
    atomic_u64_add_relaxed(&p->nfull_atomic, 1);
    expect_verify(f->h, 3, "invariant G3 failed");
    atomic_u64_sub_relaxed(&p->nfull_atomic, 1);
    assert_heap_valid(f->h);
}

/* While a cycle runs, grey entries are the mark's business: no G8. */
static void test_grey_during_a_mark_is_legal(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.read_env = 0;
    cfg.gc_percent = -1;
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    void *p = gch_alloc_noscan(t, 32);
    assert_non_null(p);
    gchi_test_hold_mark(h, true);
    assert_true(gchi_test_gc_start(h));
    gch_safepoint(t);
    assert_true(gcwork_put(&t->marker.work, (uintptr_t)p));
    assert_heap_valid(h);
    assert_int_equal(gcwork_tryget(&t->marker.work), (uintptr_t)p);
    gchi_test_hold_mark(h, false);
    gchi_test_gc_wait(h); /* waits in a blocking section */
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_span_check_names_m5_and_values, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_verify_names_h1, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_verify_finds_grey_left_outside_a_cycle, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_verify_finds_unflushed_barrier_buffer, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_verify_checks_the_workbuf_pool, heap_setup, heap_teardown),
        cmocka_unit_test(test_grey_during_a_mark_is_legal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
