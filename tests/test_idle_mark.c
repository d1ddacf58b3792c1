/*
 * test_idle_mark.c - idle marking (gc/mgcworker.c, gc_idle_cpu): the
 * fractional mark worker marks past its share of the wall time only when
 * GOMAXPROCS leaves a CPU that no attached thread and no worker claims,
 * as Go runs idle mark workers only on idle Ps.  Idle marking is what
 * the gctrace "idle" CPU column reports.
 *
 *   - the decision itself, as threads attach, detach and enter blocking
 *     sections (which claim no CPU), for 1, 2 and 6 GOMAXPROCS;
 *   - no cycle reports idle time when no CPU is spare (GOMAXPROCS=1; and
 *     GOMAXPROCS=2 with a second thread running): the worker kept to
 *     its share, never oversubscribing GOMAXPROCS; except in a cycle
 *     where an assist parked at the goal: a parked thread is in a
 *     blocking section and frees its CPU for the worker, by design;
 *   - with one thread on GOMAXPROCS=2 some cycle does report idle time:
 *     a mark's first drains already run past a share measured from the
 *     mark's start.  The test waits for that event over up to 500
 *     cycles, not for a time (a loaded machine only spreads it out).
 *
 * Cycles here are the pacer's own (GOGC=100), never gch_collect's: a
 * forced cycle's worker is never paced, so reports no idle time.
 */
#include "testutil.h"
#include "mgcworker.h"
#include "mgcpacer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cell {
    struct cell *next;
    uint64_t pad[3];
};
static const uint8_t cell_mask[1] = {0x01};
static const gch_type cell_type = {"idle_cell", sizeof(struct cell), cell_mask, NULL};

/* The trace sink: counts gctrace lines and those with idle time; with h
 * set, also the lines with idle time in a cycle where no assist parked
 * (the sink runs at the cycle's end, after any park in its mark). */
struct idle_count {
    atomic_int lines, idle_lines, bad_lines, idle_without_park;
    gch_heap *h;
    uint64_t parks_seen;
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
    if (c->h != NULL) {
        uint64_t parks = ld(&c->h->gc.assist_parks);
        if (idle > 0 && parks == c->parks_seen)
            atomic_fetch_add(&c->idle_without_park, 1);
        c->parks_seen = parks;
    }
}

static gch_heap *traced_heap(int procs, struct idle_count *c, int gogc)
{
    setenv("IDLETEST_GODEBUG", "gctrace=1", 1);
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "IDLETEST_";
    cfg.gc_percent = gogc;
    cfg.gomaxprocs = procs;
    cfg.trace = count_idle;
    cfg.trace_ctx = c;
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    return h;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* push_cells: n new cells at the head of the list in the root *head. */
static void push_cells(gch_thread *t, struct cell **head, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct cell *c = gch_alloc(t, &cell_type);
        assert_non_null(c);
        gch_write(t, (void **)&c->next, *head);
        gch_write(t, (void **)head, c);
    }
}

/* churn: keep a 1 MiB list live in a root and allocate garbage (1 KiB
 * pointer-free objects: few allocations per cycle, for TSan), 128 KiB
 * then `spin_us` of running without allocating (at safepoints), until
 * `cycles` more cycles ended, or (stop_on_idle) one reported idle time. */
static void churn(gch_heap *h, gch_thread *t, int cycles, const struct idle_count *c, bool stop_on_idle,
                  uint64_t spin_us)
{
    static struct cell *live;
    live = NULL; /* not yet a root: it may point into an earlier test's heap */
    assert_int_equal(gch_root_add(h, (void **)&live), GCH_OK);
    push_cells(t, &live, (1 << 20) / sizeof(struct cell));
    gch_stats st;
    gch_read_stats(h, &st);
    uint32_t end = st.num_gc + (uint32_t)cycles;
    while (st.num_gc < end && !(stop_on_idle && atomic_load(&c->idle_lines) > 0)) {
        for (int i = 0; i < 128; i++)
            assert_non_null(gch_alloc_noscan(t, 1024));
        for (uint64_t t0 = now_us(); now_us() - t0 < spin_us;)
            gch_safepoint(t);
        gch_read_stats(h, &st);
    }
    assert_int_equal(gch_root_remove(h, (void **)&live), GCH_OK);
}

/* Another attached thread until told to leave: running (polling for
 * safepoints) or, with `block`, in a blocking section. */
struct other {
    gch_heap *h;
    bool block;
    atomic_int attached, leave;
};

static void *other_main(void *arg)
{
    struct other *o = arg;
    gch_thread *t = gch_thread_attach(o->h);
    assert_non_null(t);
    if (o->block)
        gch_blocking_enter(t);
    atomic_store(&o->attached, 1);
    while (!atomic_load(&o->leave)) {
        if (o->block)
            sleep_ms(1);
        else
            gch_safepoint(t); /* spins: a running thread claims its CPU */
    }
    if (o->block)
        gch_blocking_leave(t);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

static void other_start(struct other *o, pthread_t *th, gch_heap *h, bool block)
{
    *o = (struct other){.h = h, .block = block};
    assert_int_equal(pthread_create(th, NULL, other_main, o), 0);
    while (!atomic_load(&o->attached))
        sleep_ms(1);
}

static void other_stop(struct other *o, pthread_t th)
{
    atomic_store(&o->leave, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
}

static void test_idle_cpu_follows_attached_threads(void **state)
{
    (void)state;
    struct idle_count c = {0};
    gch_heap *h = traced_heap(2, &c, 100); /* no dedicated worker, one fractional */
    assert_true(gc_idle_cpu(h));      /* no thread: the worker's CPU and one more */
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    assert_true(gc_idle_cpu(h)); /* the worker and this thread: 2 of 2 */
    struct other o;
    pthread_t th;
    other_start(&o, &th, h, false);
    assert_false(gc_idle_cpu(h)); /* three claimants */
    other_stop(&o, th);
    assert_true(gc_idle_cpu(h));
    other_start(&o, &th, h, true);
    assert_true(gc_idle_cpu(h)); /* a blocking thread claims no CPU */
    gch_blocking_enter(t);
    assert_true(gc_idle_cpu(h));
    gch_blocking_leave(t);
    other_stop(&o, th);
    assert_true(gc_idle_cpu(h));
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);

    h = traced_heap(1, &c, 100);
    assert_true(gc_idle_cpu(h)); /* one CPU, and no thread to run on it */
    t = gch_thread_attach(h);
    assert_non_null(t);
    assert_false(gc_idle_cpu(h)); /* one CPU, claimed by the thread */
    gch_blocking_enter(t);
    assert_true(gc_idle_cpu(h));
    gch_blocking_leave(t);
    assert_false(gc_idle_cpu(h));
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);

    h = traced_heap(6, &c, 100); /* one dedicated worker, one fractional: 2 + threads */
    struct other os[5];
    pthread_t ths[5];
    for (int i = 0; i < 5; i++) {
        other_start(&os[i], &ths[i], h, false);
        if (i < 4) /* i + 1 threads and 2 workers */
            assert_true(gc_idle_cpu(h));
        else
            assert_false(gc_idle_cpu(h)); /* 5 threads and 2 workers: 7 of 6 */
    }
    for (int i = 0; i < 5; i++)
        other_stop(&os[i], ths[i]);
    heap_free_checked(h);
}

/* no_spare_cpu_run: 10 paced cycles on GOMAXPROCS=procs with `others`
 * more threads running; asserts idle time only in cycles where an assist
 * parked at the goal (a parked thread frees its CPU for the worker). */
static void no_spare_cpu_run(int procs, int others)
{
    struct idle_count c = {0};
    gch_heap *h = traced_heap(procs, &c, 100);
    c.h = h; /* before any cycle: the first is triggered below */
    struct other o;
    pthread_t th;
    if (others > 0)
        other_start(&o, &th, h, false);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    churn(h, t, 10, &c, false, 2000); /* 64 MiB/s: the mark keeps up, mostly */
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    if (others > 0)
        other_stop(&o, th);
    uint64_t parks = ld(&h->gc.assist_parks);
    heap_free_checked(h);
    print_message("GOMAXPROCS=%d: %d line(s), %d with idle time, %llu assist park(s)\n", procs,
                  atomic_load(&c.lines), atomic_load(&c.idle_lines), (unsigned long long)parks);
    assert_int_equal(atomic_load(&c.bad_lines), 0);
    assert_true(atomic_load(&c.lines) >= 10);
    /* A cycle with idle time had an assist parked in it (each park
     * counts once, in the mark it waits for). */
    assert_true((uint64_t)atomic_load(&c.idle_lines) <= parks);
    assert_int_equal(atomic_load(&c.idle_without_park), 0);
}

static void test_no_idle_time_without_a_spare_cpu(void **state)
{
    (void)state;
    no_spare_cpu_run(1, 0);
    no_spare_cpu_run(2, 1);
}

static void test_idle_time_with_a_spare_cpu(void **state)
{
    (void)state;
    struct idle_count c = {0};
    gch_heap *h = traced_heap(2, &c, 100);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    churn(h, t, 500, &c, true, 0);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
    print_message("idle time after %d cycle(s)\n", atomic_load(&c.lines));
    assert_int_equal(atomic_load(&c.bad_lines), 0);
    assert_true(atomic_load(&c.idle_lines) > 0);
}

/* Idle marking is not the worker's share: on GOMAXPROCS=1 a thread
 * blocks 20 ms just after a mark starts (the worker marks idle all that
 * time), then runs again without allocating.  The worker must go on at
 * its share at once; it used to count the idle stretch in its share and
 * sleep about 4 x the stretch (one 64 KiB drain per 10 ms meanwhile),
 * while the thread it was to help ran (review finding 1 of idle
 * marking).  The scan work done in the 40 ms after the block tells
 * them apart: at most ~5 drains (320 KiB) then, against 10 ms of marking
 * at the share.  TSan builds run it without the bound (their marking is
 * too slow for 10 ms to clear it). */
static void test_idle_stretch_is_not_the_share(void **state)
{
    (void)state;
    struct idle_count c = {0};
    gch_heap *h = traced_heap(1, &c, 100);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    static struct cell *live;
    live = NULL;
    assert_int_equal(gch_root_add(h, (void **)&live), GCH_OK);
    /* The mark must outlast the window: a machine that marks the whole
     * list sooner gets a list twice as long (up to 3 times). */
    size_t ncells = 0, want = (SLOW_SAN ? (size_t)8 << 20 : (size_t)64 << 20) / sizeof(struct cell);
    bool measured = false;
    uint64_t done = 0;
    for (int attempt = 0, grown = 0; attempt < 10 && !measured; attempt++) {
        push_cells(t, &live, want - ncells);
        ncells = want;
        /* Wait out any mark in progress, then allocate into the next one. */
        while (atomic_u32_load_relaxed(&h->gc.phase) != GCPHASE_OFF)
            gch_safepoint(t);
        gch_stats st;
        gch_read_stats(h, &st);
        uint32_t n0 = st.num_gc;
        while (atomic_u32_load_relaxed(&h->gc.phase) != GCPHASE_MARK)
            assert_non_null(gch_alloc_noscan(t, 64 << 10));
        gch_blocking_enter(t);
        sleep_ms(20);
        gch_blocking_leave(t);
        uint64_t t0 = now_us();
        while (now_us() - t0 < 2000)
            gch_safepoint(t);
        uint64_t w0 = pacer_work_done(h);
        while (now_us() - t0 < 42000)
            gch_safepoint(t);
        uint64_t w1 = pacer_work_done(h);
        gch_read_stats(h, &st);
        if (st.num_gc != n0 || atomic_u32_load_relaxed(&h->gc.phase) != GCPHASE_MARK) {
            if (grown < 3) { /* the mark ended in the window: no measure */
                grown++;
                want *= 2;
            }
            continue;
        }
        measured = true;
        done = w1 - w0;
    }
    gch_write(t, (void **)&live, NULL);
    assert_int_equal(gch_root_remove(h, (void **)&live), GCH_OK);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
    print_message("scan work in the 40 ms after a 20 ms idle stretch: %llu KiB (measured: %d, "
                  "%zu MiB live)\n",
                  (unsigned long long)(done >> 10), measured, ncells * sizeof(struct cell) >> 20);
    assert_true(measured);
    if (!SLOW_SAN)
        assert_true(done >= (uint64_t)1 << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_cpu_follows_attached_threads),
        cmocka_unit_test(test_no_idle_time_without_a_spare_cpu),
        cmocka_unit_test(test_idle_time_with_a_spare_cpu),
        cmocka_unit_test(test_idle_stretch_is_not_the_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
