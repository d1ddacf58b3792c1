/*
 * test_stw.c - stop-the-world, safepoints, blocking sections, attach and
 * detach against a stopped world, handle frames (gc/stw.h W1-W3).
 *
 * Worker threads spin on a counter, polling gch_safepoint (or only
 * allocating, since allocation is a safepoint).  While the world is
 * stopped the counters must not move; after the restart they must.
 * Timing is used only to give threads a chance to misbehave (sleeps of a
 * few milliseconds), never as a pass/fail threshold.
 */
#include "testutil.h"
#include "stw.h"

#include <pthread.h>
#include <time.h>

enum mode { MODE_SAFEPOINT, MODE_ALLOC, MODE_BLOCKED };

struct worker {
    gch_heap *h;
    enum mode mode;
    _Atomic uint64_t count;
    _Atomic int stop;
    _Atomic int ready;
    _Atomic int in_blocking;
    _Atomic int left_blocking;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    gch_thread *t = gch_thread_attach(w->h);
    assert_non_null(t);
    w->ready = 1;
    if (w->mode == MODE_BLOCKED) {
        gch_blocking_enter(t);
        w->in_blocking = 1;
        while (!w->stop)
            sleep_ms(1);
        gch_blocking_leave(t); /* must wait while the world is stopped */
        w->left_blocking = 1;
    }
    while (!w->stop) {
        if (w->mode == MODE_ALLOC) {
            void *p = gch_alloc_noscan(t, 64);
            assert_non_null(p);
        } else {
            gch_safepoint(t);
        }
        w->count++;
    }
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

static void start_workers(gch_heap *h, struct worker *w, pthread_t *th, int n, enum mode m)
{
    for (int i = 0; i < n; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].h = h;
        w[i].mode = m;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < n; i++)
        while (!w[i].ready)
            sleep_ms(1);
}

static void join_workers(struct worker *w, pthread_t *th, int n)
{
    for (int i = 0; i < n; i++)
        w[i].stop = 1;
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
}

/* The counters of stopped threads do not move; they move again after
 * the restart.  from_attached: the stopper is itself an attached thread. */
static void check_stop_freezes(enum mode m, bool from_attached)
{
    gch_heap *h = gch_heap_new(NULL);
    gch_thread *self = from_attached ? gch_thread_attach(h) : NULL;
    struct worker w[3];
    pthread_t th[3];
    start_workers(h, w, th, 3, m);
    for (int round = 0; round < 5; round++) {
        stop_the_world(h, self);
        uint64_t before[3];
        for (int i = 0; i < 3; i++)
            before[i] = w[i].count;
        sleep_ms(5);
        for (int i = 0; i < 3; i++)
            assert_int_equal(w[i].count, before[i]); /* W1 */
        start_the_world(h);
        for (int i = 0; i < 3; i++)
            while (w[i].count == before[i])
                sleep_ms(1); /* progresses again (a hang here fails by timeout) */
    }
    assert_int_equal(h->stw.nstops, 5);
    join_workers(w, th, 3);
    if (self != NULL)
        assert_int_equal(gch_thread_detach(self), GCH_OK);
    heap_free_checked(h);
}

static void test_stop_freezes_safepoint_pollers(void **state)
{
    (void)state;
    check_stop_freezes(MODE_SAFEPOINT, false);
}

static void test_stop_freezes_allocators(void **state)
{
    (void)state;
    check_stop_freezes(MODE_ALLOC, true); /* allocation alone is a safepoint */
}

static void test_stop_with_no_threads(void **state)
{
    struct fixture *f = *state;
    stop_the_world(f->h, f->t); /* only the stopper is attached */
    void *p = gch_alloc_noscan(f->t, 32); /* the stopper may allocate */
    assert_non_null(p);
    gch_safepoint(f->t); /* the stopper's own poll does not park it */
    start_the_world(f->h);
    assert_int_equal(f->h->stw.nstops, 1);
    assert_false(f->h->stw.active);
    assert_int_equal(f->t->head.preempt, 0); /* W2 */
}

/* A thread in a blocking section does not hold the world up, and leaving
 * the section waits for the restart. */
static void test_blocked_thread_does_not_hold_up_the_world(void **state)
{
    (void)state;
    gch_heap *h = gch_heap_new(NULL);
    struct worker w[1];
    pthread_t th[1];
    start_workers(h, w, th, 1, MODE_BLOCKED);
    while (!w[0].in_blocking)
        sleep_ms(1);
    stop_the_world(h, NULL); /* returns although the thread never polls */
    w[0].stop = 1;           /* the worker now tries to leave the section */
    sleep_ms(10);
    assert_int_equal(w[0].left_blocking, 0); /* W1: still held outside */
    start_the_world(h);
    assert_int_equal(pthread_join(th[0], NULL), 0);
    assert_int_equal(w[0].left_blocking, 1);
    heap_free_checked(h);
}

struct attach_arg {
    gch_heap *h;
    _Atomic int attached;
};

static void *attach_main(void *arg)
{
    struct attach_arg *a = arg;
    gch_thread *t = gch_thread_attach(a->h);
    assert_non_null(t);
    a->attached = 1;
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

/* Attaching waits while the world is stopped. */
static void test_attach_waits_for_restart(void **state)
{
    (void)state;
    gch_heap *h = gch_heap_new(NULL);
    struct attach_arg a = {h, 0};
    stop_the_world(h, NULL);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, attach_main, &a), 0);
    sleep_ms(10);
    assert_int_equal(a.attached, 0);
    start_the_world(h);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(a.attached, 1);
    heap_free_checked(h);
}

/* Threads detaching while others stop the world repeatedly: no deadlock,
 * registry consistent. */
static void *churn_main(void *arg)
{
    gch_heap *h = arg;
    for (int i = 0; i < 200; i++) {
        gch_thread *t = gch_thread_attach(h);
        assert_non_null(t);
        assert_non_null(gch_alloc_noscan(t, 16));
        gch_safepoint(t);
        assert_int_equal(gch_thread_detach(t), GCH_OK);
    }
    return NULL;
}

static void test_attach_detach_churn_during_stops(void **state)
{
    (void)state;
    gch_heap *h = gch_heap_new(NULL);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, churn_main, h), 0);
    for (int i = 0; i < 100; i++) {
        stop_the_world(h, NULL);
        start_the_world(h);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(h->nattached, 0);
    heap_free_checked(h);
}

/* Two stoppers at once are serialised. */
static void *stopper_main(void *arg)
{
    gch_heap *h = arg;
    for (int i = 0; i < 200; i++) {
        stop_the_world(h, NULL);
        assert_true(h->stw.active);
        start_the_world(h);
    }
    return NULL;
}

static void test_concurrent_stoppers(void **state)
{
    (void)state;
    gch_heap *h = gch_heap_new(NULL);
    struct worker w[2];
    pthread_t th[2], st[2];
    start_workers(h, w, th, 2, MODE_SAFEPOINT);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&st[i], NULL, stopper_main, h), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(st[i], NULL), 0);
    assert_int_equal(h->stw.nstops, 400);
    join_workers(w, th, 2);
    heap_free_checked(h);
}

static void test_frames_push_pop(void **state)
{
    struct fixture *f = *state;
    gchi_thread_head *hd = gchi_head(f->t);
    assert_null(hd->frames);
    GCH_LOCALS(f->t, outer, 2);
    outer[0] = gch_alloc_noscan(f->t, 8);
    {
        GCH_LOCALS(f->t, inner, 3);
        assert_ptr_equal(hd->frames, &inner_gch_frame);
        assert_ptr_equal(hd->frames->prev, &outer_gch_frame);
        assert_int_equal(hd->frames->n, 3);
        assert_null(inner[2]);
        GCH_LOCALS_END(f->t, inner);
    }
    assert_ptr_equal(hd->frames, &outer_gch_frame);
    assert_ptr_equal(hd->frames->slots, outer);
    GCH_LOCALS_END(f->t, outer);
    assert_null(hd->frames);
}

static void pop_out_of_order(void *arg)
{
    gch_thread *t = arg; /* the fixture's thread: the child is its OS thread */
    gch_frame a, b;
    void *sa[1], *sb[1];
    gch_frame_push(t, &a, sa, 1);
    gch_frame_push(t, &b, sb, 1);
    gch_frame_pop(t, &a); /* b is on top: fatal */
}

static void detach_with_frame(void *arg)
{
    gch_thread *t = arg; /* the fixture's thread: the child is its OS thread */
    gch_frame a;
    void *sa[1];
    gch_frame_push(t, &a, sa, 1);
    gch_thread_detach(t);
}

static void leave_without_enter(void *arg)
{
    gch_thread *t = arg; /* the fixture's thread: the child is its OS thread */
    gch_blocking_leave(t);
}

static void test_misuse_is_fatal(void **state)
{
    struct fixture *f = *state;
    expect_fatal(pop_out_of_order, f->t, "not the top of the thread's handle stack");
    expect_fatal(detach_with_frame, f->t, "handle frames still pushed");
    expect_fatal(leave_without_enter, f->t, "without gch_blocking_enter");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stop_with_no_threads, heap_setup, heap_teardown),
        cmocka_unit_test(test_stop_freezes_safepoint_pollers),
        cmocka_unit_test(test_stop_freezes_allocators),
        cmocka_unit_test(test_blocked_thread_does_not_hold_up_the_world),
        cmocka_unit_test(test_attach_waits_for_restart),
        cmocka_unit_test(test_attach_detach_churn_during_stops),
        cmocka_unit_test(test_concurrent_stoppers),
        cmocka_unit_test_setup_teardown(test_frames_push_pop, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_misuse_is_fatal, heap_setup, heap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
