/*
 * test_sweep_wait.c - sweeping at the heap limit, and waiting for
 * sweepers (alloc/msweep.h SW3; review of the lazy sweep).
 *
 * What it checks:
 *   1. a large allocation at the heap limit succeeds when the free run it
 *      needs appears only once everything is swept: the bounded reclaim
 *      frees scattered pages first, and the allocation must then sweep
 *      the rest and retry instead of failing;
 *   2. the same for a refill of a size class whose spans have 4 pages;
 *   3. mheap_sweep_finish sleeps (uses almost no CPU) while another
 *      thread is inside a sweep, and returns once that thread leaves.
 *
 * How: GC-off heaps with a 4 MiB limit are filled with 512 one-page
 * spans of 64-byte objects; the test sets mark bits by hand and flips
 * the sweep generation (one thread: the world is trivially stopped).
 * The unswept full list gives spans back newest first, so the scattered
 * garbage spans sit at the top of the heap and the contiguous run low.
 */
#include "testutil.h"
#include "msize.h"

#include <pthread.h>
#include <time.h>

#define N64 128          /* 64-byte objects per one-page span */
#define LIMIT_PAGES 512  /* heap_limit = HEAP_GROW_PAGES pages */
#define RUN_START 10     /* the only run of garbage spans: pages 10..14 */
#define RUN_LEN 5

static struct mheap *mh(gch_heap *h) { return &h->mheap; }
static uint64_t pages_mapped(gch_heap *h) { return atomic_u64_load_relaxed(&h->mheap.pages_mapped); }

static gch_heap *limited_heap(gch_thread **tp)
{
    gch_config c;
    gch_config_init(&c);
    c.gc_percent = -1;
    c.read_env = 0;
    c.heap_limit = LIMIT_PAGES * PAGE_SIZE;
    gch_heap *h = gch_heap_new(&c);
    assert_non_null(h);
    *tp = gch_thread_attach(h);
    assert_non_null(*tp);
    return h;
}

/* fill_and_flip: fill the heap with one-page spans of 64-byte objects,
 * mark every span except the garbage ones (the run, and every other span
 * of the top 100), and flip. */
static void fill_and_flip(gch_heap *h, gch_thread *t)
{
    while (pages_mapped(h) < LIMIT_PAGES || atomic_u64_load_relaxed(&h->mheap.pages_free) +
                                                    atomic_u64_load_relaxed(&h->mheap.pages_released) > 0)
        assert_non_null(gch_alloc_noscan(t, 64));
    mcache_release_all(gchi_thread_cache(t));
    assert_int_equal(atomic_u64_load_relaxed(&h->mheap.pages_inuse), LIMIT_PAGES);
    for (size_t k = 0; k < LIMIT_PAGES; k++) {
        bool garbage = (k >= RUN_START && k < RUN_START + RUN_LEN) ||
                       (k >= LIMIT_PAGES - 100 && k % 2 == 1);
        struct mspan *s = mheap_span_of_heap(mh(h), h->mheap.arenas->base + k * PAGE_SIZE);
        assert_non_null(s);
        assert_int_equal(s->nelems, N64);
        if (!garbage)
            memset(s->gcmarks, 1, N64);
    }
    mheap_sweep_flip(mh(h));
}

static void test_large_at_limit(void **state)
{
    (void)state;
    gch_thread *t;
    gch_heap *h = limited_heap(&t);
    fill_and_flip(h, t);
    gch_clear_error();
    char *big = gch_alloc_noscan(t, RUN_LEN * PAGE_SIZE);
    if (big == NULL)
        fail_msg("a %d-page object at the limit failed: %s", RUN_LEN, gch_last_error_message());
    assert_ptr_equal(big, (char *)(h->mheap.arenas->base + RUN_START * PAGE_SIZE));
    assert_int_equal(gch_last_error(), GCH_OK);
    assert_true(mheap_sweep_done(mh(h)));
    assert_int_equal(pages_mapped(h), LIMIT_PAGES);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

static void test_multipage_refill_at_limit(void **state)
{
    (void)state;
    gch_thread *t;
    gch_heap *h = limited_heap(&t);
    fill_and_flip(h, t);
    /* The 32 KiB class has 4-page spans and none exists yet. */
    unsigned sc = size_to_class(32768);
    assert_int_equal(gchi_class_to_allocnpages[sc], 4);
    gch_clear_error();
    void *obj = gch_alloc_noscan(t, 32768);
    if (obj == NULL)
        fail_msg("a 32 KiB refill at the limit failed: %s", gch_last_error_message());
    assert_int_equal(gch_last_error(), GCH_OK);
    assert_int_equal(pages_mapped(h), LIMIT_PAGES);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

/* ---- sleeping until the last sweeper leaves ------------------------------ */

struct finisher {
    gch_heap *h;
    int done;              /* __atomic */
    uint64_t cpu_ns;       /* the finisher's CPU time while it waited */
};

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *finisher_main(void *arg)
{
    struct finisher *f = arg;
    uint64_t t0 = thread_cpu_ns();
    mheap_sweep_finish(mh(f->h));
    f->cpu_ns = thread_cpu_ns() - t0;
    __atomic_store_n(&f->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_finish_sleeps_for_sweepers(void **state)
{
    (void)state;
    gch_thread *t;
    gch_heap *h = limited_heap(&t);
    for (int i = 0; i < 4 * N64; i++)
        assert_non_null(gch_alloc_noscan(t, 64));
    mcache_release_all(gchi_thread_cache(t));
    mheap_sweep_flip(mh(h));
    /* This thread plays a sweeper stuck inside its span (descheduled). */
    assert_true(sweep_begin(mh(h)));
    struct finisher f = {.h = h};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, finisher_main, &f), 0);
    sleep_ms(200);
    assert_int_equal(__atomic_load_n(&f.done, __ATOMIC_ACQUIRE), 0); /* SW3: not done yet */
    assert_false(mheap_sweep_done(mh(h)));
    sweep_end(mh(h));
    for (int i = 0; i < 2000 && !__atomic_load_n(&f.done, __ATOMIC_ACQUIRE); i++)
        sleep_ms(1);
    assert_int_equal(__atomic_load_n(&f.done, __ATOMIC_ACQUIRE), 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(mheap_sweep_done(mh(h)));
    /* It slept: spinning for 200 ms would cost about that much CPU. */
    if (f.cpu_ns > 50 * 1000000u)
        fail_msg("mheap_sweep_finish used %.1f ms of CPU while waiting 200 ms", (double)f.cpu_ns / 1e6);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_at_limit),
        cmocka_unit_test(test_multipage_refill_at_limit),
        cmocka_unit_test(test_finish_sleeps_for_sweepers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
