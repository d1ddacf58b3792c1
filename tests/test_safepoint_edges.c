/*
 * test_safepoint_edges.c - gch_safepoint at the edges of its contract
 * (gcheap.h, gcheap/safepoint.h; gc/stw.c), and allocation from scan
 * callbacks on the fast paths.  Regression tests for issue 16 items 3
 * and 6 (../shared/repro/safepoint_in_blocking.c):
 *   - inside a blocking section gch_safepoint does nothing: during a stop
 *     the thread stays BLOCKING (it used to park and come back RUNNING,
 *     so that gch_blocking_leave was fatal), and a pending root-scan
 *     handshake stays pending for the collector or for after the section
 *     (it used to run it, possibly alongside a worker running the same
 *     handshake on the same buffers);
 *   - a thread scanner that calls gch_safepoint is a named fatal error,
 *     on the thread's own handshake and on a worker (it used to recurse
 *     until the stack overflowed);
 *   - gch_safepoint with a thread that is not the caller's (another OS
 *     thread's, or detached) is a named fatal error (GCH_DEBUG >= 2
 *     checks every call; the slow path always does);
 *   - a scan callback that allocates is a named fatal error also when
 *     the allocation takes the fast path (GCH_DEBUG >= 2): a heap
 *     scanner shading on the thread that adds it during a mark.
 * Children that must die run on a heap whose parent never started a
 * cycle (a forked child has no mark workers).
 */
#include "testutil.h"
#include "handshake.h"
#include "stw.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static enum run_state run_of(gch_thread *t)
{
    lock_acquire(&t->heap->stw.lock);
    enum run_state r = t->run;
    lock_release(&t->heap->stw.lock);
    return r;
}

static uint32_t hs_ops_of(gch_thread *t)
{
    lock_acquire(&t->heap->stw.lock);
    uint32_t ops = t->hs_ops;
    lock_release(&t->heap->stw.lock);
    return ops;
}

/* ---- inside a blocking section ------------------------------------------ */

struct stopper {
    gch_heap *h;
    atomic_int stopped, polled;
};

/* stopper_main: stop the world (the test's thread is blocking), wait
 * until the test polled (or 5 s, if the poll parks), restart it. */
static void *stopper_main(void *arg)
{
    struct stopper *s = arg;
    stop_the_world(s->h, NULL);
    atomic_store(&s->stopped, 1);
    for (int i = 0; i < 5000 && !atomic_load(&s->polled); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    start_the_world(s->h);
    return NULL;
}

static void test_safepoint_in_blocking_during_stop(void **state)
{
    struct fixture *f = *state;
    struct stopper s = {f->h, 0, 0};
    gch_blocking_enter(f->t);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stopper_main, &s), 0);
    while (!atomic_load(&s.stopped))
        sched_yield();
    bool asked = __atomic_load_n(&f->t->head.preempt, __ATOMIC_RELAXED) != 0;
    for (int i = 0; i < 1000; i++)
        gch_safepoint(f->t); /* e.g. a shared helper that polls */
    enum run_state after = run_of(f->t);
    atomic_store(&s.polled, 1);
    if (after == RUN_BLOCKING)
        gch_blocking_leave(f->t); /* fatal if the poll had made it RUNNING */
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(asked); /* the slow path was taken */
    assert_int_equal(after, RUN_BLOCKING);
}

static void *start_marking(void *arg)
{
    gch_heap *h = arg;
    return gchi_test_gc_start(h) ? arg : NULL;
}

static void test_safepoint_in_blocking_leaves_handshake(void **state)
{
    struct fixture *f = *state;
    GCH_LOCALS(f->t, r, 1);
    r[0] = gch_alloc_noscan(f->t, 64);
    gchi_test_hold_mark(f->h, true); /* no worker runs our handshake */
    gch_blocking_enter(f->t);
    pthread_t th;
    void *started = NULL;
    assert_int_equal(pthread_create(&th, NULL, start_marking, f->h), 0);
    assert_int_equal(pthread_join(th, &started), 0);
    assert_non_null(started);
    uint32_t before = hs_ops_of(f->t);
    gch_safepoint(f->t);
    uint32_t after = hs_ops_of(f->t);
    enum run_state run = run_of(f->t);
    gch_blocking_leave(f->t);
    gch_safepoint(f->t); /* out of the section: the thread scans its roots now */
    uint32_t outside = hs_ops_of(f->t);
    gchi_test_hold_mark(f->h, false);
    gchi_test_gc_wait(f->h);
    GCH_LOCALS_END(f->t, r);
    assert_true(before & HS_SCAN_ROOTS);
    assert_true(after & HS_SCAN_ROOTS); /* still owed: the poll did not run it */
    assert_int_equal(run, RUN_BLOCKING);
    assert_false(outside & HS_SCAN_ROOTS);
}

/* ---- callbacks ------------------------------------------------------------ */

static void scanner_polls(gch_visitor *v, void *ctx)
{
    (void)v;
    gch_safepoint(ctx);
}

/* the scanner runs at the thread's own handshake */
static void child_own_scanner_polls(void *arg)
{
    struct fixture *f = arg;
    gch_thread_scanner_add(f->t, scanner_polls, f->t);
    gchi_test_hold_mark(f->h, true);
    gchi_test_gc_start(f->h);
    gch_safepoint(f->t);
}

/* the scanner runs on a worker while the thread waits in gch_collect */
static void child_worker_scanner_polls(void *arg)
{
    struct fixture *f = arg;
    gch_thread_scanner_add(f->t, scanner_polls, f->t);
    gch_collect(f->h);
}

static void test_scanner_calling_safepoint_is_fatal(void **state)
{
    struct fixture *f = *state;
    expect_fatal(child_own_scanner_polls, f, "gch_safepoint inside a collection");
    expect_fatal(child_worker_scanner_polls, f, "gch_safepoint inside a collection");
}

static void *poll_from_here(void *arg)
{
    gch_safepoint(arg);
    return NULL;
}

static void child_foreign_thread_polls(void *arg)
{
    struct fixture *f = arg;
    pthread_t th;
    pthread_create(&th, NULL, poll_from_here, f->t);
    pthread_join(th, NULL);
}

static void child_detached_thread_polls(void *arg)
{
    struct fixture *f = arg;
    gch_thread_detach(f->t);
    gch_safepoint(f->t);
}

static void test_safepoint_checks_its_thread(void **state)
{
    struct fixture *f = *state;
#if GCH_DEBUG >= 2
    expect_fatal(child_foreign_thread_polls, f, "not attached to this OS thread");
    expect_fatal(child_detached_thread_polls, f, "not attached to this OS thread");
#else
    (void)f;
    (void)child_foreign_thread_polls;
    (void)child_detached_thread_polls;
    skip();
#endif
}

static void scanner_allocates_small(gch_visitor *v, void *ctx)
{
    (void)v;
    gch_alloc_noscan(ctx, 48); /* a free slot in the cached span: the fast path */
}

/* A heap scanner added during a mark is shaded at once by the thread
 * adding it, which has a span of the size it allocates cached.  (A
 * thread scanner cannot reach the fast path: mark setup empties the
 * caches and the first allocation after it polls the handshake.) */
static void child_heap_scanner_shading_allocates(void *arg)
{
    struct fixture *f = arg;
    gchi_test_hold_mark(f->h, true);
    gchi_test_gc_start(f->h);
    gch_safepoint(f->t);         /* our root scan, done */
    gch_alloc_noscan(f->t, 48);  /* caches a 48-byte span with free slots */
    gch_heap_scanner_add(f->h, scanner_allocates_small, f->t);
}

static void test_scanner_allocating_on_fast_path_is_fatal(void **state)
{
    struct fixture *f = *state;
#if GCH_DEBUG >= 2
    expect_fatal(child_heap_scanner_shading_allocates, f, "allocation inside a collection");
#else
    (void)f;
    (void)child_heap_scanner_shading_allocates;
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_safepoint_in_blocking_during_stop, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_safepoint_in_blocking_leaves_handshake, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_scanner_calling_safepoint_is_fatal, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_safepoint_checks_its_thread, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_scanner_allocating_on_fast_path_is_fatal, heap_setup,
                                        heap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
