/*
 * test_heap_limit.c - at the heap limit an allocation collects before it
 * fails (gcheap.h, gch_config.heap_limit; gchi_hook_alloc_failed and
 * gc_collect_at_limit in gc/mgc.c).  Regression tests for
 * issue 16 item 4 (../shared/repro/limit_nogc.c).
 *
 * The heaps here set GOGC=1000, so that the pacer's goal lies far above
 * the limit and every cycle is one the limit started.  What it proves:
 *   - allocating pure garbage many times the limit succeeds, for large
 *     objects and for small ones (span refills), from one thread and
 *     from two at once, and the live data survives intact;
 *   - when the live data itself fills the limit, allocation fails with
 *     GCH_ENOMEM, after a cycle was run, the heap unchanged and usable;
 *   - with GOGC=off no cycle runs: allocation fails at the limit as the
 *     embedder's own choice (only gch_collect collects).
 */
#include "testutil.h"

#include <pthread.h>

#define LIMIT ((size_t)24 << 20)
#define LIVE ((size_t)12 << 20)

static gch_heap *limited_heap(int gc_percent)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.read_env = 0;
    cfg.heap_limit = LIMIT;
    cfg.gc_percent = gc_percent;
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    return h;
}

static uint32_t num_gc(gch_heap *h)
{
    gch_stats st;
    gch_read_stats(h, &st);
    assert_true(st.heap_sys <= LIMIT);
    return st.num_gc;
}

/* garbage: allocate n objects of `size` bytes and drop them; the count
 * that succeeded. */
static size_t garbage(gch_thread *t, size_t size, size_t n)
{
    size_t i = 0;
    for (; i < n; i++) {
        char *p = gch_alloc_noscan(t, size);
        if (p == NULL)
            break;
        p[0] = p[size - 1] = 1;
    }
    return i;
}

/* live_setup: 12 MiB of live data in a root, filled with a pattern. */
static char *live_setup(gch_heap *h, gch_thread *t, void **root)
{
    assert_int_equal(gch_root_add(h, root), GCH_OK);
    char *live = gch_alloc_noscan(t, LIVE);
    assert_non_null(live);
    memset(live, 0x5A, LIVE);
    gch_write(t, root, live);
    return live;
}

/* live_teardown: undo live_setup, detach t and free the verified heap. */
static void live_teardown(gch_heap *h, gch_thread *t, void **root)
{
    gch_write(t, root, NULL);
    assert_int_equal(gch_root_remove(h, root), GCH_OK);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h); /* verifies first */
}

static void test_garbage_past_the_limit(void **state)
{
    (void)state;
    gch_heap *h = limited_heap(1000);
    gch_thread *t = gch_thread_attach(h);
    static void *root;
    char *live = live_setup(h, t, &root);
    uint32_t gc0 = num_gc(h);
    /* 128 MiB of 64 KiB objects, then 128 MiB of 1 KiB ones */
    assert_int_equal(garbage(t, (size_t)64 << 10, 2048), 2048);
    uint32_t gc1 = num_gc(h);
    assert_true(gc1 > gc0);
    assert_int_equal(garbage(t, 1024, (size_t)128 << 10), (size_t)128 << 10);
    assert_true(num_gc(h) > gc1);
    assert_int_equal(gch_last_error(), GCH_OK); /* a retry that succeeded clears it */
    assert_ptr_equal(root, live);
    assert_true(mem_all(live, 0x5A, LIVE));
    live_teardown(h, t, &root);
}

static void *garbage_thread(void *arg)
{
    gch_heap *h = arg;
    gch_thread *t = gch_thread_attach(h);
    size_t ok = garbage(t, 4096, (size_t)24 << 10) + garbage(t, (size_t)48 << 10, 1024);
    gch_thread_detach(t);
    return (void *)ok;
}

static void test_garbage_past_the_limit_two_threads(void **state)
{
    (void)state;
    gch_heap *h = limited_heap(1000);
    gch_thread *t = gch_thread_attach(h);
    static void *root;
    char *live = live_setup(h, t, &root);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, garbage_thread, h), 0);
    size_t mine = garbage(t, (size_t)40 << 10, 2048) + garbage(t, 512, (size_t)96 << 10);
    void *theirs = NULL;
    gch_blocking_enter(t); /* a cycle need not wait for us */
    assert_int_equal(pthread_join(th, &theirs), 0);
    gch_blocking_leave(t);
    assert_int_equal(mine, 2048 + ((size_t)96 << 10));
    assert_int_equal((size_t)theirs, ((size_t)24 << 10) + 1024);
    assert_true(mem_all(live, 0x5A, LIVE));
    live_teardown(h, t, &root);
}

static void *herd_thread(void *arg)
{
    gch_heap *h = arg;
    gch_thread *t = gch_thread_attach(h);
    size_t ok = garbage(t, (size_t)64 << 10, 1024);
    gch_thread_detach(t);
    return (void *)ok;
}

/* Four threads reach the limit together, again and again (a review
 * found: one thread's next cycle starting between another's cycle end
 * and its retry made the retry rule read a torn live figure, and each
 * thread ran cycles of its own).  Every allocation must succeed, and
 * threads arriving together share cycles: for 256 MiB of garbage one
 * thread alone needs about one cycle per 12 MiB; four may take at most
 * half as many again. */
static void test_garbage_past_the_limit_herd(void **state)
{
    (void)state;
    enum { THREADS = 4, ROUNDS = 4 };
    for (int round = 0; round < ROUNDS; round++) {
        gch_heap *h = limited_heap(1000);
        gch_thread *t = gch_thread_attach(h);
        static void *root;
        char *live = live_setup(h, t, &root);
        uint32_t gc0 = num_gc(h);
        pthread_t th[THREADS];
        for (int i = 0; i < THREADS; i++)
            assert_int_equal(pthread_create(&th[i], NULL, herd_thread, h), 0);
        size_t ok = 0;
        gch_blocking_enter(t);
        for (int i = 0; i < THREADS; i++) {
            void *r = NULL;
            assert_int_equal(pthread_join(th[i], &r), 0);
            ok += (size_t)r;
        }
        gch_blocking_leave(t);
        assert_int_equal(ok, (size_t)THREADS * 1024);
        /* 256 MiB of garbage, 12 MiB of room: about 22 cycles when shared */
        uint32_t cycles = num_gc(h) - gc0;
        assert_true(cycles <= 3 * (THREADS * 64 / 12) / 2 + 4);
        assert_true(mem_all(live, 0x5A, LIVE));
        live_teardown(h, t, &root);
    }
}

/* Live data that fills the limit: a cycle runs, then GCH_ENOMEM. */
static void test_live_data_at_the_limit_fails(void **state)
{
    (void)state;
    gch_heap *h = limited_heap(1000);
    gch_thread *t = gch_thread_attach(h);
    enum { SLOTS = 64 };
    static void *roots[SLOTS];
    assert_int_equal(gch_root_range_add(h, roots, SLOTS), GCH_OK);
    size_t n = 0;
    for (; n < SLOTS; n++) {
        char *p = gch_alloc_noscan(t, (size_t)1 << 20);
        if (p == NULL)
            break;
        memset(p, (int)n, (size_t)1 << 20);
        gch_write(t, &roots[n], p);
    }
    assert_true(n >= 16 && n <= 24);
    assert_int_equal(gch_last_error(), GCH_ENOMEM);
    uint32_t gc0 = num_gc(h);
    expect_error(gch_alloc_noscan(t, (size_t)1 << 20), GCH_ENOMEM);
    expect_error(gch_alloc_noscan(t, 4096 * 512), GCH_ENOMEM);
    assert_true(num_gc(h) > gc0); /* it collected before giving up */
    for (size_t i = 0; i < n; i++)
        assert_true(mem_all(roots[i], (int)i, (size_t)1 << 20));
    /* drop half: room again */
    for (size_t i = 0; i < n; i += 2)
        gch_write(t, &roots[i], NULL);
    gch_clear_error();
    assert_non_null(gch_alloc_noscan(t, (size_t)1 << 20));
    assert_non_null(gch_alloc_noscan(t, 1024));
    gch_write_clear(t, roots, SLOTS);
    assert_int_equal(gch_root_range_remove(h, roots), GCH_OK);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

/* GOGC=off: the embedder collects; the limit does not. */
static void test_gogc_off_fails_without_collecting(void **state)
{
    (void)state;
    gch_heap *h = limited_heap(-1);
    gch_thread *t = gch_thread_attach(h);
    size_t n = garbage(t, (size_t)64 << 10, 2048);
    assert_true(n > 0 && n < 2048);
    assert_int_equal(gch_last_error(), GCH_ENOMEM);
    assert_int_equal(num_gc(h), 0);
    assert_int_equal(gch_collect(h), GCH_OK);
    assert_non_null(gch_alloc_noscan(t, (size_t)64 << 10));
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage_past_the_limit),
        cmocka_unit_test(test_garbage_past_the_limit_two_threads),
        cmocka_unit_test(test_garbage_past_the_limit_herd),
        cmocka_unit_test(test_live_data_at_the_limit_fails),
        cmocka_unit_test(test_gogc_off_fails_without_collecting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
