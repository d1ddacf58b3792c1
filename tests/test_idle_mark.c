/*
 * test_idle_mark.c - idle marking (gc/mgcworker.c, gc_idle_cpu): the
 * fractional mark worker marks past its share of the wall time only when
 * GOMAXPROCS leaves a CPU that no attached thread and no worker claims,
 * as Go runs idle mark workers only on idle Ps.  Idle marking is what
 * the gctrace "idle" CPU column reports.
 *
 *   - the decision itself, as threads attach and detach, for 1, 2 and 6
 *     GOMAXPROCS;
 *   - no cycle reports idle time when no CPU is spare (GOMAXPROCS=1; and
 *     GOMAXPROCS=2 with a second thread attached): the worker kept to
 *     its share, never oversubscribing GOMAXPROCS;
 *   - with one thread on GOMAXPROCS=2 some cycle does report idle time:
 *     a mark's first drains already run past a share measured from the
 *     mark's start.  The test waits for that event over up to 500
 *     cycles, not for a time (a loaded machine only spreads it out).
 *
 * Cycles here are the pacer's own (GOGC=100), never gch_collect's: a
 * forced cycle's worker is never paced, so reports no idle time.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cell {
    struct cell *next;
    uint64_t pad[3];
};
static const uint8_t cell_mask[1] = {0x01};
static const gch_type cell_type = {"idle_cell", sizeof(struct cell), cell_mask, NULL};

/* The trace sink: counts gctrace lines and those with idle time. */
struct idle_count {
    atomic_int lines, idle_lines, bad_lines;
};

static void count_idle(const char *line, void *ctx)
{
    struct idle_count *c = ctx;
    if (strncmp(line, "gc ", 3) != 0)
        return;
    const char *p = strstr(line, " ms clock, ");
    double st, assist, bg, idle, mt;
    if (p == NULL || sscanf(p + 11, "%lf+%lf/%lf/%lf+%lf ms cpu", &st, &assist, &bg, &idle, &mt) != 5) {
        atomic_fetch_add(&c->bad_lines, 1);
        return;
    }
    atomic_fetch_add(&c->lines, 1);
    if (idle > 0)
        atomic_fetch_add(&c->idle_lines, 1);
}

static gch_heap *traced_heap(int procs, struct idle_count *c)
{
    setenv("IDLETEST_GODEBUG", "gctrace=1", 1);
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "IDLETEST_";
    cfg.gc_percent = 100;
    cfg.gomaxprocs = procs;
    cfg.trace = count_idle;
    cfg.trace_ctx = c;
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    return h;
}

/* churn: keep a 1 MiB list live in a root and allocate garbage until
 * `cycles` more cycles ended, or (stop_on_idle) one reported idle time. */
static void churn(gch_heap *h, gch_thread *t, int cycles, const struct idle_count *c, bool stop_on_idle)
{
    static struct cell *live;
    assert_int_equal(gch_root_add(h, (void **)&live), GCH_OK);
    live = NULL;
    for (int i = 0; i < (1 << 20) / (int)sizeof(struct cell); i++) {
        struct cell *n = gch_alloc(t, &cell_type);
        assert_non_null(n);
        gch_write(t, (void **)&n->next, live);
        live = n;
    }
    gch_stats st;
    gch_read_stats(h, &st);
    uint32_t end = st.num_gc + (uint32_t)cycles;
    while (st.num_gc < end && !(stop_on_idle && atomic_load(&c->idle_lines) > 0)) {
        for (int i = 0; i < 4096; i++)
            assert_non_null(gch_alloc(t, &cell_type));
        gch_read_stats(h, &st);
    }
    assert_int_equal(gch_root_remove(h, (void **)&live), GCH_OK);
}

/* A second attached thread, parked in a blocking section until told. */
struct other {
    gch_heap *h;
    atomic_int attached, leave;
};

static void *other_main(void *arg)
{
    struct other *o = arg;
    gch_thread *t = gch_thread_attach(o->h);
    assert_non_null(t);
    gch_blocking_enter(t);
    atomic_store(&o->attached, 1);
    while (!atomic_load(&o->leave))
        sleep_ms(1);
    gch_blocking_leave(t);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

static void test_idle_cpu_follows_attached_threads(void **state)
{
    (void)state;
    struct idle_count c = {0};
    gch_heap *h = traced_heap(2, &c); /* no dedicated worker, one fractional */
    assert_true(gc_idle_cpu(h));      /* no thread: the worker's CPU and one more */
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    assert_true(gc_idle_cpu(h)); /* the worker and this thread: 2 of 2 */
    struct other o = {.h = h};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, other_main, &o), 0);
    while (!atomic_load(&o.attached))
        sleep_ms(1);
    assert_false(gc_idle_cpu(h)); /* blocking threads count: three claimants */
    atomic_store(&o.leave, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(gc_idle_cpu(h));
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);

    h = traced_heap(1, &c);
    assert_true(gc_idle_cpu(h)); /* one CPU, and no thread to run on it */
    t = gch_thread_attach(h);
    assert_non_null(t);
    assert_false(gc_idle_cpu(h)); /* one CPU, claimed by the thread */
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);

    h = traced_heap(6, &c); /* one dedicated worker, one fractional: 2 + threads */
    struct other os[5];
    pthread_t ths[5];
    for (int i = 0; i < 5; i++) {
        os[i] = (struct other){.h = h};
        assert_int_equal(pthread_create(&ths[i], NULL, other_main, &os[i]), 0);
        while (!atomic_load(&os[i].attached))
            sleep_ms(1);
        if (i < 4)
            assert_true(gc_idle_cpu(h));
        else
            assert_false(gc_idle_cpu(h));
    }
    for (int i = 0; i < 5; i++) {
        atomic_store(&os[i].leave, 1);
        assert_int_equal(pthread_join(ths[i], NULL), 0);
    }
    heap_free_checked(h);
}

static void test_no_idle_time_without_a_spare_cpu(void **state)
{
    (void)state;
    struct idle_count c = {0};
    gch_heap *h = traced_heap(1, &c);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    churn(h, t, 20, &c, false);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
    assert_int_equal(atomic_load(&c.bad_lines), 0);
    assert_true(atomic_load(&c.lines) >= 20);
    assert_int_equal(atomic_load(&c.idle_lines), 0);

    struct idle_count c2 = {0};
    h = traced_heap(2, &c2);
    struct other o = {.h = h};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, other_main, &o), 0);
    while (!atomic_load(&o.attached))
        sleep_ms(1);
    t = gch_thread_attach(h);
    assert_non_null(t);
    churn(h, t, 20, &c2, false);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    atomic_store(&o.leave, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    heap_free_checked(h);
    assert_int_equal(atomic_load(&c2.bad_lines), 0);
    assert_true(atomic_load(&c2.lines) >= 20);
    assert_int_equal(atomic_load(&c2.idle_lines), 0);
}

static void test_idle_time_with_a_spare_cpu(void **state)
{
    (void)state;
    struct idle_count c = {0};
    gch_heap *h = traced_heap(2, &c);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    churn(h, t, 500, &c, true);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
    print_message("idle time after %d cycle(s)\n", atomic_load(&c.lines));
    assert_int_equal(atomic_load(&c.bad_lines), 0);
    assert_true(atomic_load(&c.idle_lines) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_cpu_follows_attached_threads),
        cmocka_unit_test(test_no_idle_time_without_a_spare_cpu),
        cmocka_unit_test(test_idle_time_with_a_spare_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
