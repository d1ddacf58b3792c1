/*
 * test_gc_limit.c - the runtime setters (gch_set_gc_percent,
 * gch_set_memory_limit), GOMEMLIMIT as a soft limit on the memory the
 * heap holds, GOGC=off with and without a limit, and the goal the trace
 * lines show.
 *
 * "Memory the heap holds" is Go's mappedReady: Ready heap pages plus
 * metadata (sys.ready), the same as Sys - HeapReleased in gch_stats.
 *
 * Sizes: the issue's 200 MiB live under a 256 MiB limit in the normal
 * build; a quarter of both under ASan and TSan (shadow memory and
 * instrumented scanning make 200 MiB of churn take minutes there).
 */
#include "testutil.h"
#include "gcbase.h"
#include "mgcpacer.h"
#include "mgc.h"
#include "mgclimit.h"

#include <pthread.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SCALE 4
#else
#define SCALE 1
#endif
#define MIB ((uint64_t)1 << 20)
#define LIMIT ((256 * MIB) / SCALE)
#define LIVE ((200 * MIB) / SCALE)

struct capture {
    pthread_mutex_t mu;
    char text[1 << 16];
    size_t len;
};

static void capture_sink(const char *line, void *ctx)
{
    struct capture *c = ctx;
    pthread_mutex_lock(&c->mu);
    size_t n = strlen(line);
    if (c->len + n < sizeof c->text) {
        memcpy(c->text + c->len, line, n + 1);
        c->len += n;
    }
    pthread_mutex_unlock(&c->mu);
}

/* sink_heap: a heap whose trace lines go to sink(ctx) (NULL: stderr),
 * with GODEBUG from godebug (NULL: none) and no idle scavenging. */
static gch_heap *sink_heap(int gc_percent, int64_t limit, int64_t force_gc_ms, const char *godebug,
                           void (*sink)(const char *, void *), void *ctx)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = gc_percent;
    cfg.memory_limit = limit;
    cfg.env_prefix = "LIMTEST_";
    cfg.force_gc_ms = force_gc_ms;
    cfg.scavenge_idle_ms = 0;
    cfg.trace = sink;
    cfg.trace_ctx = ctx;
    if (godebug != NULL)
        setenv("LIMTEST_GODEBUG", godebug, 1);
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("LIMTEST_GODEBUG");
    assert_non_null(h);
    return h;
}

/* new_heap: a heap whose trace lines go to cap (when not NULL). */
static gch_heap *new_heap(int gc_percent, int64_t limit, const char *godebug, struct capture *cap)
{
    if (cap != NULL) {
        pthread_mutex_init(&cap->mu, NULL);
        cap->len = 0;
        cap->text[0] = '\0';
    }
    return sink_heap(gc_percent, limit, 0, godebug, cap != NULL ? capture_sink : NULL, cap);
}

static void free_heap(gch_heap *h)
{
    heap_free_checked(h);
}

/* mapped_ready: Go's mappedReady, what GOMEMLIMIT bounds. */
static uint64_t mapped_ready(gch_heap *h) { return ld(&h->mheap.sys.ready); }

/* gch_set_gc_percent: the previous value back, negative means off (-1),
 * the goal follows at once (GOGC=50 on an empty heap: Go's 2 MiB floor). */
static void test_set_gc_percent(void **state)
{
    (void)state;
    gch_heap *h = new_heap(100, GCH_UNSET, NULL, NULL);
    gch_stats st;
    gch_read_stats(h, &st);
    assert_int_equal(st.next_gc, 4 * MIB);
    assert_int_equal(gch_set_gc_percent(h, 50), 100);
    gch_read_stats(h, &st);
    assert_int_equal(st.next_gc, 2 * MIB);
    assert_int_equal(gch_set_gc_percent(h, -7), 50);
    assert_int_equal(gch_set_gc_percent(h, 200), -1);
    gch_read_stats(h, &st);
    assert_int_equal(st.next_gc, 8 * MIB);
    gch_clear_error();
    assert_int_equal(gch_set_gc_percent(NULL, 1), GCH_UNSET);
    assert_int_equal(gch_last_error(), GCH_EINVAL);
    free_heap(h);
}

/* gch_set_memory_limit: previous value back, a negative limit only
 * reads, and the goal drops under the limit at once. */
static void test_set_memory_limit(void **state)
{
    (void)state;
    gch_heap *h = new_heap(100, GCH_UNSET, NULL, NULL);
    assert_int_equal(gch_set_memory_limit(h, -1), INT64_MAX);
    assert_int_equal(gch_set_memory_limit(h, 2 * MIB), INT64_MAX);
    assert_int_equal(gch_set_memory_limit(h, -5), 2 * MIB);
    assert_int_equal(gch_set_memory_limit(h, -1), 2 * MIB);
    gch_stats st;
    gch_read_stats(h, &st);
    assert_true(st.next_gc < 2 * MIB); /* under the limit, not the 4 MiB GOGC floor */
    assert_int_equal(gch_set_memory_limit(h, INT64_MAX), 2 * MIB);
    gch_read_stats(h, &st);
    assert_int_equal(st.next_gc, 4 * MIB);
    free_heap(h);
}

/* A setter from another thread during a mark: the mark paces to the new
 * goal, and GOGC=off returns only once no cycle runs. */
struct setter_arg {
    gch_heap *h;
    int old;
    struct atomic_u32 done;
};

static void *set_off(void *arg)
{
    struct setter_arg *a = arg;
    a->old = gch_set_gc_percent(a->h, -1);
    atomic_u32_store_release(&a->done, 1);
    return NULL;
}

static void test_setter_during_mark(void **state)
{
    (void)state;
    gch_heap *h = new_heap(100, GCH_UNSET, NULL, NULL);
    gchi_test_hold_mark(h, true);
    if (!gchi_test_gc_start(h) || atomic_u32_load_relaxed(&h->gc.phase) != GCPHASE_MARK) {
        gchi_test_hold_mark(h, false); /* no workers: the cycle ran stopped */
        free_heap(h);
        skip();
    }
    assert_int_equal(gch_set_memory_limit(h, 3 * MIB), INT64_MAX);
    assert_true(ld(&h->gc.pacer.goal) < 3 * MIB); /* the running mark's goal moved */
    struct setter_arg a = {h, 0, {0}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, set_off, &a), 0);
    sleep_ms(50);
    assert_int_equal(atomic_u32_load_acquire(&a.done), 0); /* waits for the mark */
    gchi_test_hold_mark(h, false);
    pthread_join(th, NULL);
    assert_int_equal(a.old, 100);
    lock_acquire(&h->stw.lock);
    assert_false(h->gc.cycle_running);
    lock_release(&h->stw.lock);
    free_heap(h);
}

/* GOGC=off and no limit: the goal is Go's, from the INT64_MAX limit
 * (about 0.97 x 2^63), not UINT64_MAX; gctrace prints it so, and no
 * automatic cycle ever starts. */
static void test_gogc_off_no_limit(void **state)
{
    (void)state;
    struct capture cap;
    gch_heap *h = new_heap(-1, GCH_UNSET, "gctrace=1", &cap);
    gch_stats st;
    gch_read_stats(h, &st);
    assert_true(st.next_gc < (uint64_t)INT64_MAX);
    assert_true(st.next_gc > (uint64_t)INT64_MAX / 100 * 96);
    gch_thread *t = gch_thread_attach(h);
    for (int i = 0; i < 64; i++)
        assert_non_null(gch_alloc_noscan(t, 256 << 10)); /* 16 MiB of garbage */
    assert_int_equal(gch_collect(h), GCH_OK);
    gch_read_stats(h, &st);
    assert_int_equal(st.num_gc, 1); /* only the one asked for */
    /* The line's goal is the one set before the cycle; the metadata the
     * cycle maps (a 1 MiB chunk of mark records, say) lowers the next
     * one by as much: equal within 16 MiB. */
    pthread_mutex_lock(&cap.mu);
    const char *g = strstr(cap.text, " MB goal, ");
    assert_non_null(g);
    while (g > cap.text && g[-1] >= '0' && g[-1] <= '9')
        g--;
    unsigned long long line_goal = strtoull(g, NULL, 10), next = st.next_gc >> 20;
    assert_true(line_goal + 16 >= next && line_goal <= next + 16);
    assert_null(strstr(cap.text, "17592186044415"));
    pthread_mutex_unlock(&cap.mu);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    free_heap(h);
}

/* What the heap held when churn saw its peak, printed when a bound
 * fails (a flake under load must say where the memory was). */
struct peak_detail {
    uint64_t ready, inuse, free, released, goal, alloc;
    size_t trace_len; /* how much gctrace had been printed then */
};
static struct peak_detail peak_at;

static void peak_record(gch_heap *h, uint64_t ready, struct capture *cap)
{
    struct mheap *m = &h->mheap;
    peak_at.ready = ready;
    peak_at.inuse = ld(&m->pages_inuse) * PAGE_SIZE;
    peak_at.free = ld(&m->pages_free) * PAGE_SIZE;
    peak_at.released = ld(&m->pages_released) * PAGE_SIZE;
    peak_at.goal = ld(&h->gc.next_gc);
    peak_at.alloc = gchi_heap_alloc_bytes(h);
    pthread_mutex_lock(&cap->mu);
    peak_at.trace_len = cap->len;
    pthread_mutex_unlock(&cap->mu);
}

static void peak_print(void)
{
    print_message("at the peak: ready %llu KiB = in use %llu + free %llu (+ metadata); released %llu;"
                  " goal %llu, alloc %llu KiB; gctrace up to byte %zu\n",
                  (unsigned long long)(peak_at.ready >> 10), (unsigned long long)(peak_at.inuse >> 10),
                  (unsigned long long)(peak_at.free >> 10), (unsigned long long)(peak_at.released >> 10),
                  (unsigned long long)(peak_at.goal >> 10), (unsigned long long)(peak_at.alloc >> 10),
                  peak_at.trace_len);
}

/* peak_fail: print what made up the peak and the cycles' gctrace, then
 * fail. */
static void peak_fail(struct capture *cap, uint64_t peak, uint64_t limit, uint64_t slack,
                      uint64_t limiter_on)
{
    peak_print();
    pthread_mutex_lock(&cap->mu);
    print_message("gctrace:\n%s", cap->text);
    pthread_mutex_unlock(&cap->mu);
    fail_msg("peak %llu bytes over the limit %llu + %llu (limiter on %llu times)", (unsigned long long)peak,
             (unsigned long long)limit, (unsigned long long)slack, (unsigned long long)limiter_on);
}

/* churn: keep `live` bytes reachable in 1 MiB chunks and allocate
 * `garbage` bytes of 64 KiB garbage, sampling the memory the heap holds;
 * returns the peak (peak_at says what made it up). */
static uint64_t churn(gch_heap *h, gch_thread *t, uint64_t live, uint64_t garbage, struct capture *cap)
{
    size_t nlive = (size_t)(live / MIB);
    void **roots = calloc(nlive, sizeof *roots);
    assert_int_equal(gch_root_range_add(h, roots, nlive), GCH_OK);
    uint64_t peak = 0;
    for (size_t i = 0; i < nlive; i++) {
        char *p = gch_alloc_noscan(t, MIB);
        assert_non_null(p);
        memset(p, 1, 4096);
        gch_write(t, &roots[i], p);
    }
    for (uint64_t done = 0; done < garbage; done += 64 << 10) {
        char *p = gch_alloc_noscan(t, 64 << 10);
        assert_non_null(p);
        p[0] = 1;
        uint64_t m = mapped_ready(h);
        if (m > peak) {
            peak = m;
            peak_record(h, m, cap);
        }
    }
    assert_int_equal(gch_root_range_remove(h, roots), GCH_OK);
    free(roots);
    return peak;
}

/* GOMEMLIMIT=256MiB with 200 MiB live (GOGC=100 would let the heap reach
 * 400 MiB): the memory the heap holds stays under the limit + 5% at its
 * peak, and gctrace shows goals under the limit. */
static void test_limit_caps_heap(void **state)
{
    (void)state;
    struct capture cap;
    gch_heap *h = new_heap(100, (int64_t)LIMIT, "gctrace=1", &cap);
    gch_thread *t = gch_thread_attach(h);
    uint64_t peak = churn(h, t, LIVE, 4 * LIVE, &cap);
    gch_stats st;
    gch_read_stats(h, &st);
    print_message("limit %llu MiB, live %llu MiB: peak %llu MiB held, %u cycles, limiter on %llu\n",
                  (unsigned long long)(LIMIT >> 20), (unsigned long long)(LIVE >> 20),
                  (unsigned long long)(peak >> 20), st.num_gc,
                  (unsigned long long)ld(&h->gc.limiter.enabled_count));
    assert_true(st.num_gc >= 2);
    /* If the machine is so loaded that marks stretch and the waits at
     * the goal cost this thread half its time, the CPU limiter rightly
     * lets the heap past the limit (Go's trade): then only a loose bound
     * holds.  Seen once under a load average of 26 on 2 cores. */
    uint64_t slack = ld(&h->gc.limiter.enabled_count) == 0 ? LIMIT / 20 : LIMIT / 2;
    if (peak > LIMIT + slack)
        peak_fail(&cap, peak, LIMIT, slack, ld(&h->gc.limiter.enabled_count));
    pthread_mutex_lock(&cap.mu);
    const char *g = strstr(cap.text, " MB goal, ");
    assert_non_null(g);
    while (g > cap.text && g[-1] != ' ')
        g--;
    assert_true(strtoull(g, NULL, 10) <= LIMIT >> 20);
    pthread_mutex_unlock(&cap.mu);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    free_heap(h);
}

/* When a mark finds more to scan than the last one did, the pacer
 * stretches the goal (Go's extended goal) so assists stay flat; Go caps
 * the stretch at (1 + GOGC/100) x goal, 1001x with GOGC=off.  A goal the
 * memory limit set must not be stretched: bench_gogc's first cycle under
 * GOGC=off and an 80 MiB limit went 73->95 MB against a 77 MB goal with
 * almost no assists (peak RSS 98-104 MiB; 83 after).  Here: triggered at
 * 73 MiB, goal 77 MiB set by the limit, 2 MiB scanned against 1 MiB
 * expected: the ratio must pace the whole live heap's scan into the 4 MiB
 * left (about 18), not into a stretched 365 MiB goal (about 0.24). */
static void test_limit_goal_not_stretched(void **state)
{
    (void)state;
    gch_heap *h = new_heap(-1, (int64_t)(80 * MIB), NULL, NULL);
    struct pacer *p = &h->gc.pacer;
    lock_acquire(&h->stw.lock);
    atomic_u64_store_relaxed(&h->gc.heap_marked_live, 73 * MIB);
    atomic_u64_store_relaxed(&h->mheap.counters.alloc_since_gc, 0);
    p->triggered = 73 * MIB;
    atomic_u64_store_relaxed(&p->goal, 77 * MIB);
    atomic_u32_store_relaxed(&p->goal_limited, 1);
    atomic_u64_store_relaxed(&p->heap_scan_work, 2 * MIB);
    pacer_revise(h);
    double ratio = pacer_assist_ratio(h);
    p->triggered = UINT64_MAX;
    atomic_u64_store_relaxed(&p->heap_scan_work, 0);
    atomic_u64_store_relaxed(&h->gc.heap_marked_live, 0);
    lock_release(&h->stw.lock);
    print_message("assist ratio with the limit's goal and work over expected: %.3f\n", ratio);
    assert_true(ratio > 10.0);
    free_heap(h);
}

/* The trigger's floor (TRIGGER_MIN_64THS): a mark that starts at the
 * trigger and is held at the goal by assists allocates at most goal -
 * trigger black, and that floating garbage counts twice in the next goal.
 * At Go's floor (45/64, 0.70) binary-trees, churn and GCBench started
 * every mark there (the cons/mark runway was longer in each); the floor is
 * 58/64, so such a mark carries at most 6/64 of the way.  Marked 100 MiB,
 * goal 200 MiB: a runway longer than the way starts at 190.625 MiB; a
 * 9 MiB runway at 191 MiB; none at the ceiling (the goal less 4 MiB). */
static void test_trigger_floor(void **state)
{
    (void)state;
    gch_heap *h = new_heap(100, GCH_UNSET, NULL, NULL);
    struct pacer *p = &h->gc.pacer;
    lock_acquire(&h->stw.lock);
    double saved_cons = p->cons_mark;
    uint64_t saved_heap = p->last_heap_scan, saved_stack = p->last_stack_scan;
    uint64_t saved_globals = p->last_globals_scan;
    uint64_t marked = 100 * MIB, goal = 200 * MIB;
    p->last_heap_scan = 10 * MIB;
    p->last_stack_scan = p->last_globals_scan = 0;
    p->cons_mark = 10.0; /* runway 300 MiB */
    uint64_t at_floor = pacer_trigger(h, marked, goal);
    p->cons_mark = 0.3; /* runway 9 MiB */
    uint64_t inside = pacer_trigger(h, marked, goal);
    p->cons_mark = 0.0;
    uint64_t at_ceiling = pacer_trigger(h, marked, goal);
    p->cons_mark = saved_cons;
    p->last_heap_scan = saved_heap;
    p->last_stack_scan = saved_stack;
    p->last_globals_scan = saved_globals;
    lock_release(&h->stw.lock);
    print_message("trigger: floor %.2f, 9 MiB runway %.2f, no runway %.2f MiB\n",
                  (double)at_floor / (double)MIB, (double)inside / (double)MIB, (double)at_ceiling / (double)MIB);
    assert_true(at_floor == marked + (goal - marked) / 64 * 58);
    assert_true(at_floor - marked >= (goal - marked) / 100 * 80); /* at least 80% of the way */
    assert_true(inside == goal - 9 * MIB);
    assert_true(at_ceiling == goal - 4 * MIB);
    free_heap(h);
}

/* GOGC=off plus a limit: no cycle until the heap nears the limit, then
 * cycles keep it under the limit + 5%.  The churn is all noscan, so a
 * mark has almost no scan work to pace allocation with: what holds the
 * line is the assist that waits for the mark's end once the heap is at
 * the goal (assist_park; before it, peaks of 2-4x the limit under load). */
static void test_gogc_off_with_limit(void **state)
{
    (void)state;
    struct capture cap;
    gch_heap *h = new_heap(-1, (int64_t)(64 * MIB / (SCALE > 1 ? 2 : 1)), "gctrace=1", &cap);
    gch_thread *t = gch_thread_attach(h);
    for (int i = 0; i < 64 / (SCALE > 1 ? 2 : 1) / 2; i++)
        assert_non_null(gch_alloc_noscan(t, 1 << 20)); /* half the limit */
    gch_stats st;
    gch_read_stats(h, &st);
    assert_int_equal(st.num_gc, 0);
    uint64_t peak = churn(h, t, 16 * MIB / SCALE, 256 * MIB / SCALE, &cap); /* a 32 MiB limit at least */
    gch_read_stats(h, &st);
    assert_true(st.num_gc >= 1);
    uint64_t limit = 64 * MIB / (SCALE > 1 ? 2 : 1);
    print_message("GOGC=off, limit %llu MiB: peak %llu MiB held, %u cycles\n",
                  (unsigned long long)(limit >> 20), (unsigned long long)(peak >> 20), st.num_gc);
    uint64_t slack = ld(&h->gc.limiter.enabled_count) == 0 ? limit / 20 : limit / 2; /* as above */
    if (peak > limit + slack)
        peak_fail(&cap, peak, limit, slack, ld(&h->gc.limiter.enabled_count));
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    free_heap(h);
}

static int64_t clock_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* lost_ns: what t spent on the collector's behalf (stops, root scans,
 * assists and their waits, sweeping to allocate). */
static uint64_t lost_ns(gch_thread *t)
{
    gch_gc_time gt;
    assert_int_equal(gch_thread_read_gc_time(t, &gt), GCH_OK);
    return gt.stop_ns + gt.scan_ns + gt.assist_ns + gt.sweep_ns;
}

/* spiral: allocate 64 KiB garbage for 2 s over a live heap above the
 * limit; returns the share of its time t lost to the collector over the
 * second second, and the allocations made then in *allocs. */
static double spiral(gch_heap *h, gch_thread *t, uint64_t *allocs)
{
    int64_t t0 = clock_ns(CLOCK_MONOTONIC), mid = 0;
    uint64_t lost0 = 0;
    *allocs = 0;
    for (;;) {
        int64_t now = clock_ns(CLOCK_MONOTONIC);
        if (now - t0 >= 2000000000)
            break;
        if (mid == 0 && now - t0 >= 1000000000) {
            mid = now;
            lost0 = lost_ns(t);
            *allocs = 0;
        }
        assert_non_null(gch_alloc_noscan(t, 64 << 10));
        (*allocs)++;
    }
    return (double)(lost_ns(t) - lost0) / (double)(clock_ns(CLOCK_MONOTONIC) - mid);
}

/* death_spiral_run: the death spiral over a limiter bucket of `capacity`
 * ns per thread; returns the share of its time the mutator lost over the
 * second second (and prints the run). */
static double death_spiral_run(int64_t capacity, const char *name, uint64_t *enabled)
{
    gch_heap *h = new_heap(100, (int64_t)(16 * MIB / SCALE), NULL, NULL);
    h->gc.limiter.capacity_per_thread_ns = capacity;
    gch_thread *t = gch_thread_attach(h);
    size_t nlive = 24 / SCALE;
    void **roots = calloc(nlive, sizeof *roots);
    assert_int_equal(gch_root_range_add(h, roots, nlive), GCH_OK);
    for (size_t i = 0; i < nlive; i++)
        gch_write(t, &roots[i], gch_alloc_noscan(t, MIB));
    uint64_t allocs;
    double lost = spiral(h, t, &allocs);
    gch_stats st;
    gch_read_stats(h, &st);
    *enabled = ld(&h->gc.limiter.enabled_count);
    print_message("death spiral, %s: the mutator lost %.0f%% of its time in the second second; "
                  "%u cycles, %llu allocations then, limiter on %llu times\n",
                  name, lost * 100, st.num_gc, (unsigned long long)allocs, (unsigned long long)*enabled);
    gch_gc_time gt;
    gch_thread_read_gc_time(t, &gt);
    print_message("  (whole run: stop %llu, scan %llu, assist %llu, sweep %llu ms; %llu waits at the goal)\n",
                  (unsigned long long)gt.stop_ns / 1000000, (unsigned long long)gt.scan_ns / 1000000,
                  (unsigned long long)gt.assist_ns / 1000000, (unsigned long long)gt.sweep_ns / 1000000,
                  (unsigned long long)ld(&h->gc.assist_parks));
    assert_true(st.num_gc >= 2);
    assert_int_equal(gch_root_range_remove(h, roots), GCH_OK);
    free(roots);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    free_heap(h);
    return lost;
}

/* The death spiral: live data above the memory limit.  The goal is then
 * the live heap itself, cycles run back to back, and every allocation
 * during a mark waits at the goal for its end: without the GC CPU
 * limiter the mutator gets next to nothing done.  The limiter (its
 * bucket shortened to 100 ms) stops assists, waits at the goal and
 * cycle starts once the collector has had half of the mutator's time,
 * and the heap runs over the limit instead.  Measured alone: 19-54% of
 * the mutator's time lost with the limiter, 86-94% without.
 *
 * The times are wall-clock: a thread descheduled in the middle of a
 * sweep or a wait counts the whole delay as lost, and the limiter sees
 * it late (sweeping, which it cannot stop, is a third of the loss).  On
 * a loaded machine the limited run lost 57% and then 71% (ctest -j3 at
 * a load average of 25), over the fixed 65% bound this test had.  So
 * the limiter is judged against a peer in the same run and under the
 * same load, the same spiral with the limiter off (a bucket that never
 * fills): the mutator must keep at least twice the time it keeps
 * without it (measured under a load average of 15-25: 6-22 times). */
static void test_death_spiral(void **state)
{
    (void)state;
    uint64_t enabled = 0, enabled_off = 0;
    double lost = death_spiral_run(100 * 1000000, "limiter on", &enabled);
    assert_true(enabled >= 1);
    /* Under ASan and TSan sweeping alone (which the limiter does not
     * control) takes most of the mutator's time: the ratio says nothing
     * there, only that the limiter engaged. */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    double lost_off = death_spiral_run(INT64_MAX / 1024, "limiter off", &enabled_off);
    assert_int_equal(enabled_off, 0);
    if (1 - lost < 2 * (1 - lost_off))
        fail_msg("the mutator kept %.0f%% of its time with the limiter, %.0f%% without", (1 - lost) * 100,
                 (1 - lost_off) * 100);
#else
    (void)lost;
    (void)enabled_off;
#endif
}

/* A setter re-paces the sweep (Go's gcControllerCommit ->
 * gcPaceSweeper): after a cycle, raising GOGC moves the trigger out, so
 * the pages left to sweep are spread over a longer allocation budget,
 * counted from the allocation so far (review finding 5). */
static void test_setter_repaces_sweep(void **state)
{
    (void)state;
    gch_heap *h = new_heap(100, GCH_UNSET, NULL, NULL);
    gch_thread *t = gch_thread_attach(h);
    for (int i = 0; i < 2048; i++)
        assert_non_null(gch_alloc_noscan(t, 1024)); /* garbage over many spans */
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    assert_true(gchi_test_gc_start(h));
    gchi_test_gc_wait(h);
    uint64_t before = ld(&h->mheap.sweep.pace_bytes);
    assert_true(before > 0);
    assert_int_equal(gch_set_gc_percent(h, 400), 100);
    uint64_t after = ld(&h->mheap.sweep.pace_bytes);
    uint64_t trigger = ld(&h->gc.trigger);
    print_message("sweep pace: %llu -> %llu bytes (trigger %llu)\n", (unsigned long long)before,
                  (unsigned long long)after, (unsigned long long)trigger);
    assert_true(after > before);
    assert_true(after < trigger); /* the distance from the live heap to the trigger, less 1 MiB */
    assert_int_equal(ld(&h->mheap.sweep.pace_spent_basis), ld(&h->mheap.counters.alloc_since_gc));
    free_heap(h);
}

/* A heap scanner held at a gate keeps a mark from ending. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool inside, open;
};

static void gated_scanner(gch_visitor *v, void *ctx)
{
    (void)v;
    struct gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->inside = true;
    pthread_cond_broadcast(&g->cv);
    for (int i = 0; i < 1000 && !g->open; i++) { /* 10 s at most */
        pthread_mutex_unlock(&g->mu);
        sleep_ms(10);
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

struct small_allocs {
    gch_heap *h;
    struct atomic_u32 done;
};

static void *allocate_small(void *arg)
{
    struct small_allocs *a = arg;
    gch_thread *t = gch_thread_attach(a->h);
    assert_non_null(t);
    for (int i = 0; i < 2560; i++) /* past the limited goal, not the 4 MiB one */
        assert_non_null(gch_alloc_noscan(t, 1024));
    atomic_u32_store_release(&a->done, 1);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

/* An assist waiting at the goal for the mark's end goes on allocating as
 * soon as a setter moves the goal past the heap (review finding 6): the
 * mark is held open by a gated heap scanner, a 1-byte limit puts the
 * goal at 0 so the allocating thread waits, then lifting the limit must
 * let it finish while the mark still runs.  The CPU limiter, which
 * would also end the wait, is kept off. */
static void test_setter_wakes_parked_assist(void **state)
{
    (void)state;
    gch_heap *h = new_heap(100, GCH_UNSET, NULL, NULL);
    h->gc.limiter.capacity_per_thread_ns = INT64_MAX / 1024; /* never full */
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
    assert_int_equal(gch_heap_scanner_add(h, gated_scanner, &g), GCH_OK);
    bool started = gchi_test_gc_start(h) && atomic_u32_load_relaxed(&h->gc.phase) == GCPHASE_MARK;
    pthread_mutex_lock(&g.mu);
    while (started && !g.inside)
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    if (!started) { /* no workers: the cycle ran stopped (and passed the gate) */
        gchi_test_gc_wait(h);
        free_heap(h);
        skip();
    }
    gch_set_memory_limit(h, 1); /* goal: the live heap; every allocation is past it */
    struct small_allocs a = {h, {0}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, allocate_small, &a), 0);
    for (int i = 0; i < 500 && ld(&h->gc.assist_parks) == 0; i++)
        sleep_ms(10);
    uint64_t parks = ld(&h->gc.assist_parks);
    gch_set_memory_limit(h, INT64_MAX);
    bool finished = false;
    for (int i = 0; i < 500 && !finished; i++) { /* 5 s; it needs microseconds */
        finished = atomic_u32_load_acquire(&a.done) != 0;
        if (!finished)
            sleep_ms(10);
    }
    pthread_mutex_lock(&g.mu);
    bool held = !g.open;
    g.open = true;
    pthread_mutex_unlock(&g.mu);
    pthread_join(th, NULL);
    gchi_test_gc_wait(h);
    assert_int_equal(gch_heap_scanner_remove(h, gated_scanner, &g), GCH_OK);
    assert_true(parks >= 1);
    assert_true(held);
    assert_true(finished); /* while the mark was still held open */
    free_heap(h);
}

/* A huge GOGC saturates the goal instead of wrapping (review finding 9):
 * (marked + roots) x GOGC past 2^64 once gave a goal below the live heap,
 * so every allocation started a cycle. */
static void test_goal_saturates(void **state)
{
    (void)state;
    uint64_t marked = (uint64_t)1 << 34; /* x 2^30 = 2^64: wrapped to 0 */
    unsigned __int128 exact = (unsigned __int128)marked + (unsigned __int128)marked * (1u << 30) / 100;
    assert_true(gc_heap_goal(1 << 30, marked, 0) == (uint64_t)exact);
    assert_true(gc_heap_goal(INT32_MAX, (uint64_t)1 << 40, 0) == GC_HEAP_GOAL_MAX);
    assert_true(gc_heap_goal(INT32_MAX, UINT64_MAX / 2, UINT64_MAX / 2) == GC_HEAP_GOAL_MAX);
    assert_true(gc_heap_goal(100, 1000, 0) == 4 * MIB); /* the floor, unchanged */
    assert_true(gc_heap_goal(-1, 1000, 0) == UINT64_MAX);
    gch_heap *h = new_heap(100, GCH_UNSET, NULL, NULL);
    assert_int_equal(gch_set_gc_percent(h, INT32_MAX), 100);
    gch_stats st;
    gch_read_stats(h, &st);
    assert_true(st.next_gc > 4 * MIB);
    assert_int_equal(gch_collect(h), GCH_OK);
    free_heap(h);
}

/* GOGC=off set from a trace sink: the sink runs inside the cycle it
 * prints, so waiting for no cycle to run would never end; gcheap.h says
 * it returns at once there (review finding 9). */
struct sink_setter {
    gch_heap *h;
    struct atomic_u32 calls;
    int old;
};

static void off_from_sink(const char *line, void *ctx)
{
    struct sink_setter *s = ctx;
    if (strncmp(line, "gc ", 3) == 0 && atomic_u32_load_relaxed(&s->calls) == 0) {
        s->old = gch_set_gc_percent(s->h, -1);
        atomic_u32_store_release(&s->calls, 1);
    }
}

struct collector_arg {
    gch_heap *h;
    struct atomic_u32 done;
};

static void *collect_once(void *arg)
{
    struct collector_arg *c = arg;
    assert_int_equal(gch_collect(c->h), GCH_OK);
    atomic_u32_store_release(&c->done, 1);
    return NULL;
}

static void test_set_gc_percent_off_from_sink(void **state)
{
    (void)state;
    struct sink_setter ss = {NULL, {0}, 0};
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.read_env = 0;
    cfg.force_gc_ms = 0;
    cfg.scavenge_idle_ms = 0;
    cfg.trace = off_from_sink;
    cfg.trace_ctx = &ss;
    setenv("SINKTEST_GODEBUG", "gctrace=1", 1);
    cfg.read_env = 1;
    cfg.env_prefix = "SINKTEST_";
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("SINKTEST_GODEBUG");
    assert_non_null(h);
    ss.h = h;
    struct collector_arg c = {h, {0}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, collect_once, &c), 0);
    bool done = false;
    for (int i = 0; i < 1000 && !done; i++) { /* 10 s; unfixed, never */
        done = atomic_u32_load_acquire(&c.done) != 0;
        if (!done)
            sleep_ms(10);
    }
    if (!done)
        fail_msg("gch_collect did not return: gch_set_gc_percent(-1) in the sink waits for its own cycle");
    pthread_join(th, NULL);
    assert_int_equal(atomic_u32_load_acquire(&ss.calls), 1);
    assert_int_equal(ss.old, 100);
    assert_int_equal(gch_set_gc_percent(h, -1), -1);
    free_heap(h);
}

/* An allocation at the trigger while another thread holds the cycle
 * waits for it instead of allocating on unchecked: neither an assist
 * (no mark) nor a new cycle (the old one still holds it) would stop it.
 * Two windows: a cycle ending (its mark over, its gctrace line not yet
 * printed) and a cycle starting (sysmon printed "GC forced", the world
 * not yet stopped).  Unfixed, a descheduled collector let the heap run
 * from 5 to 70 MB against a 10 MB goal (test_limit_caps_heap's flake).
 * Here a sink holds the cycle on the collecting thread while a mutator
 * allocates 64 MiB of garbage.  It must stop near the 4 MiB trigger, in a
 * blocking section (a RUNNING waiter would hang every stop of the world),
 * and finish once the sink lets go; the wait is not charged to its stop
 * time (which feeds the GC CPU limiter).  State is static: a failed
 * assertion longjmps out while other threads may still use it. */
/* 1 s: the stop-time bound below is 0.6 of it, and the mutator's own
 * 16 starts took over 300 ms once under TSan at load 15. */
#define HOLD_MS 1000
struct held_sink {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *prefix; /* the line to hold */
    bool held, release;
};
static struct held_sink held_sink = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, false, false};

static void holding_sink(const char *line, void *ctx)
{
    struct held_sink *s = ctx;
    if (strncmp(line, s->prefix, strlen(s->prefix)) != 0)
        return;
    pthread_mutex_lock(&s->mu);
    s->held = true;
    pthread_cond_broadcast(&s->cv);
    while (!s->release)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

static void held_sink_release(void)
{
    pthread_mutex_lock(&held_sink.mu);
    held_sink.release = true;
    pthread_cond_broadcast(&held_sink.cv);
    pthread_mutex_unlock(&held_sink.mu);
}

/* held_sink_wait: wait up to 30 s for the sink to hold its line. */
static bool held_sink_wait(void)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;
    pthread_mutex_lock(&held_sink.mu);
    while (!held_sink.held && pthread_cond_timedwait(&held_sink.cv, &held_sink.mu, &deadline) == 0)
        ;
    bool held = held_sink.held;
    pthread_mutex_unlock(&held_sink.mu);
    return held;
}

/* The mutator records what happened; the main thread asserts. */
struct garbage_arg {
    gch_heap *h;
    struct atomic_ptr thread;      /* its gch_thread once attached */
    struct atomic_u64 allocated;
    struct atomic_u32 failed, done;
    int64_t stop_ns;               /* written before done */
};
static struct garbage_arg garbage;

static void *allocate_garbage(void *arg)
{
    struct garbage_arg *a = arg;
    gch_thread *t = gch_thread_attach(a->h);
    if (t == NULL) {
        atomic_u32_store_release(&a->failed, 1);
        atomic_u32_store_release(&a->done, 1);
        return NULL;
    }
    atomic_ptr_store_release(&a->thread, t);
    for (int i = 0; i < 1024; i++) { /* 64 MiB */
        char *p = gch_alloc_noscan(t, 64 << 10);
        if (p == NULL) {
            atomic_u32_store_release(&a->failed, 1);
            break;
        }
        p[0] = 1;
        atomic_u64_add_relaxed(&a->allocated, 64 << 10);
    }
    gch_gc_time gt;
    gch_thread_read_gc_time(t, &gt);
    a->stop_ns = (int64_t)gt.stop_ns;
    if (gch_thread_detach(t) != GCH_OK)
        atomic_u32_store_release(&a->failed, 1);
    atomic_u32_store_release(&a->done, 1);
    return NULL;
}

/* wait_flag: poll *flag for up to ms; whether it was set. */
static bool wait_flag(struct atomic_u32 *flag, long ms)
{
    for (long waited = 0; atomic_u32_load_acquire(flag) == 0; waited += 5) {
        if (waited >= ms)
            return false;
        sleep_ms(5);
    }
    return true;
}

/* held_heap: a heap whose trace sink holds the first line starting with
 * prefix; force_gc_ms as given (0: no periodic cycle). */
static gch_heap *held_heap(const char *prefix, int64_t force_gc_ms)
{
    held_sink.prefix = prefix;
    held_sink.held = held_sink.release = false;
    memset(&garbage, 0, sizeof garbage);
    return sink_heap(GCH_UNSET, GCH_UNSET, force_gc_ms, "gctrace=1", holding_sink, &held_sink);
}

/* allocate_while_held: the sink holds the cycle now; run the mutator
 * for HOLD_MS, let the sink go, wait for the mutator and for `other`
 * (NULL: nothing else), and check what the header comment says. */
static void allocate_while_held(gch_heap *h, struct atomic_u32 *other, const char *window)
{
    pthread_t mutator;
    garbage.h = h;
    assert_int_equal(pthread_create(&mutator, NULL, allocate_garbage, &garbage), 0);
    sleep_ms(HOLD_MS); /* unfixed, the mutator finishes its 64 MiB in this time */
    uint64_t held_at = atomic_u64_load_relaxed(&garbage.allocated);
    bool finished_early = atomic_u32_load_acquire(&garbage.done) != 0;
    /* Unless it finished (the bug), the mutator is still attached: its
     * record is valid while it waits for the sink we hold. */
    gch_thread *t = finished_early ? NULL : atomic_ptr_load_acquire(&garbage.thread);
    lock_acquire(&h->stw.lock);
    bool blocking = t != NULL && t->run == RUN_BLOCKING;
    lock_release(&h->stw.lock);
    uint64_t trigger = ld(&h->gc.trigger);
    held_sink_release();
    bool joined = wait_flag(&garbage.done, 60000) && (other == NULL || wait_flag(other, 60000));
    print_message("while the cycle's %s was held: %llu KiB allocated (trigger %llu KiB), %s; "
                  "stop time charged %.1f ms\n",
                  window, (unsigned long long)(held_at >> 10), (unsigned long long)(trigger >> 10),
                  blocking ? "waiting in a blocking section" : "not blocking", (double)garbage.stop_ns / 1e6);
    if (!joined)
        fail_msg("the mutator or the collector did not finish after the sink let the cycle go");
    pthread_join(mutator, NULL);
    assert_false(finished_early);
    assert_true(held_at <= trigger + (1u << 20));
    assert_true(blocking);
    assert_int_equal(atomic_u32_load_acquire(&garbage.failed), 0);
    assert_int_equal(atomic_u64_load_relaxed(&garbage.allocated), 64u << 20);
    /* Its own starts only (tens of ms under TSan for 16 cycles), not the
     * HOLD_MS wait: unfixed, at least HOLD_MS less the few ms to the trigger. */
    assert_true(garbage.stop_ns < (int64_t)HOLD_MS * 1000000 / 10 * 6);
}

static void test_trigger_waits_for_ending_cycle(void **state)
{
    (void)state;
    gch_heap *h = held_heap("gc 1 @", 0);
    static struct collector_arg c;
    c.h = h;
    atomic_u32_store_relaxed(&c.done, 0);
    pthread_t collector;
    assert_int_equal(pthread_create(&collector, NULL, collect_once, &c), 0);
    if (!held_sink_wait())
        fail_msg("cycle 1's gctrace line never reached the sink");
    allocate_while_held(h, &c.done, "end");
    pthread_join(collector, NULL);
    free_heap(h);
}

/* The start window: sysmon's periodic cycle prints "GC forced" after it
 * claimed the cycle and before it stops the world (gcheap.h: the line
 * holds the cycle it is about to start). */
static void test_trigger_waits_for_starting_cycle(void **state)
{
    (void)state;
    gch_heap *h = held_heap("GC forced", 20);
    assert_int_equal(gch_collect(h), GCH_OK); /* a periodic cycle needs one ended before */
    if (!held_sink_wait())
        fail_msg("sysmon's GC forced line never reached the sink");
    allocate_while_held(h, NULL, "start");
    free_heap(h);
}

/* At heap_limit an allocation runs a cycle unless GOGC is off: off as
 * set now by gch_set_gc_percent, not as configured at creation. */
static void fill_to_limit(gch_thread *t, bool *failed)
{
    *failed = false;
    for (int i = 0; i < 64 && !*failed; i++) /* 16 MiB of garbage into 8 MiB */
        *failed = gch_alloc_noscan(t, 256 << 10) == NULL;
}

static void test_heap_limit_follows_setter(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.read_env = 0;
    cfg.heap_limit = 8 * MIB;
    cfg.force_gc_ms = 0;
    cfg.scavenge_idle_ms = 0;
    cfg.gc_percent = 100;
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    assert_int_equal(gch_set_gc_percent(h, -1), 100);
    gch_thread *t = gch_thread_attach(h);
    bool failed;
    fill_to_limit(t, &failed);
    gch_stats st;
    gch_read_stats(h, &st);
    assert_true(failed); /* GOGC off now: NULL at the limit ... */
    assert_int_equal(gch_last_error(), GCH_ENOMEM);
    assert_int_equal(st.num_gc, 0); /* ... with no cycle */
    assert_int_equal(gch_set_gc_percent(h, 100), -1);
    fill_to_limit(t, &failed);
    gch_read_stats(h, &st);
    assert_false(failed); /* GOGC on again: cycles at the limit free the garbage */
    assert_true(st.num_gc >= 1);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    free_heap(h);
}

/* The CPU limiter stops heap-triggered cycles only when the memory limit
 * sets the goal (the death spiral); under a GOGC goal cycles go on (Go),
 * or a low GOGC runs far past its goal (bench_gogc).  The limiter is
 * forced on (a bucket of capacity 0 is always full). */
static void test_limiter_keeps_gogc_cycles(void **state)
{
    (void)state;
    gch_heap *h = new_heap(100, GCH_UNSET, NULL, NULL);
    h->gc.limiter.capacity_per_thread_ns = 0;
    gch_thread *t = gch_thread_attach(h);
    sleep_ms(2); /* a whole update window */
    assert_true(gc_limiter_update(h)); /* on, and it stays on */
    for (int i = 0; i < 256; i++) { /* 64 MiB of garbage against a 4 MiB goal */
        assert_non_null(gch_alloc_noscan(t, 256 << 10));
        gchi_test_gc_wait(h); /* a cycle this allocation started ends (no timing) */
    }
    gch_stats st;
    gch_read_stats(h, &st);
    print_message("limiter on %llu times, %u cycles, heap_sys %llu MiB\n",
                  (unsigned long long)ld(&h->gc.limiter.enabled_count), st.num_gc,
                  (unsigned long long)(st.heap_sys >> 20));
    assert_int_equal(atomic_u32_load_relaxed(&h->gc.limiter.on), 1);
    assert_int_equal(atomic_u32_load_relaxed(&h->gc.pacer.goal_limited), 0);
    assert_true(st.num_gc >= 8); /* ~16 expected; deferred, 2 */
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    free_heap(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_gc_percent),
        cmocka_unit_test(test_set_memory_limit),
        cmocka_unit_test(test_setter_during_mark),
        cmocka_unit_test(test_setter_repaces_sweep),
        cmocka_unit_test(test_setter_wakes_parked_assist),
        cmocka_unit_test(test_goal_saturates),
        cmocka_unit_test(test_set_gc_percent_off_from_sink),
        cmocka_unit_test(test_heap_limit_follows_setter),
        cmocka_unit_test(test_limiter_keeps_gogc_cycles),
        cmocka_unit_test(test_gogc_off_no_limit),
        cmocka_unit_test(test_limit_caps_heap),
        cmocka_unit_test(test_trigger_waits_for_ending_cycle),
        cmocka_unit_test(test_trigger_waits_for_starting_cycle),
        cmocka_unit_test(test_limit_goal_not_stretched),
        cmocka_unit_test(test_trigger_floor),
        cmocka_unit_test(test_gogc_off_with_limit),
        cmocka_unit_test(test_death_spiral),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
