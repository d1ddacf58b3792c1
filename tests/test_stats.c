/*
 * test_stats.c - gch_read_stats: the MemStats identities it promises
 * (include/gcheap.h), read while another thread allocates and frees, and
 * kept exactly by a single thread across many flushes and frees.
 * Subject: gc/proc.c (gch_read_stats), the counters of alloc/mheap.h
 * (heap_counters; the page counters, read under the heap lock) and the
 * code that moves them: alloc/mcache.c (flush), alloc/malloc.c (large
 * allocation, gchi_free), alloc/mheap.c (spans in and out of use).
 * Go counterpart: runtime.ReadMemStats (spec section 10.1).
 *
 * What it proves:
 *   - while a writer thread loops over 4 large + 36 small allocations,
 *     gch_thread_flush and freeing all 40, a reader thread never sees a
 *     torn or wrapped snapshot: HeapObjects <= Mallocs, Frees <= Mallocs,
 *     HeapAlloc <= HeapSys (no unsigned wraparound), HeapSys == HeapInuse
 *     + HeapIdle exactly, HeapSys == the mapped pages whenever they did
 *     not change around the read, HeapReleased <= HeapIdle; and HeapSys,
 *     Mallocs, Frees and TotalAlloc never go backwards (nothing unmaps
 *     heap memory while the heap lives);
 *   - once the writer has detached, the counts are exact: Mallocs ==
 *     Frees == 40 per iteration, HeapObjects == HeapAlloc == HeapInuse ==
 *     0, TotalAlloc and BySize equal what the writer counted;
 *   - one thread, a random mix of tiny, small and large objects over many
 *     rounds of allocate / flush / free: after every flush and every free
 *     HeapAlloc <= HeapInuse, HeapAlloc, HeapObjects, Mallocs, Frees and
 *     TotalAlloc equal an independent model, BySize sums to Mallocs and
 *     Frees minus the tiny sub-allocations, and the cumulative counters
 *     are monotone.
 *   - gch_thread_read_gc_time: stop time for a thread whose allocation
 *     runs stop-the-world cycles, handshake time for its own root scan,
 *     zero after a new attach, GCH_EINVAL for NULL.
 * Must be clean under ThreadSanitizer.  Bounded: the concurrent test
 * stops after 20000 writer iterations or one second.
 */
#include "testutil.h"
#include "msize.h"
#include <pthread.h>
#include <time.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- a reader racing a writer -------------------------------------------- */

#define WRITER_ITERS 20000
#define WRITER_SECONDS 1.0
#define NLARGE 4
#define NSMALL 36
#define SMALL_SIZE 48

struct race {
    gch_heap *h;
    struct atomic_u32 writer_done;
    struct atomic_u32 reader_started;
    /* writer's tally [writer; read after join] */
    uint64_t iters, large_bytes, failed;
    /* reader's findings [reader; read after join] */
    uint64_t reads, exact_sys_checks;
    uint64_t bad_objects, bad_frees, bad_alloc, bad_sys_sum, bad_sys_mapped, bad_released,
        bad_monotone;
    gch_stats first_bad;
    int have_bad;
};

static size_t large_size(uint64_t it, int i) { return 100000 + (size_t)((it + (uint64_t)i) & 7) * 8192; }

static void *writer_main(void *arg)
{
    struct race *r = arg;
    gch_thread *t = gch_thread_attach(r->h);
    if (t == NULL) {
        r->failed++;
        atomic_u32_store_release(&r->writer_done, 1);
        return NULL;
    }
    while (atomic_u32_load_acquire(&r->reader_started) == 0)
        ;
    void *objs[NLARGE + NSMALL];
    double deadline = now_seconds() + WRITER_SECONDS;
    uint64_t it = 0;
    for (; it < WRITER_ITERS && (it % 64 != 0 || now_seconds() < deadline); it++) {
        for (int i = 0; i < NLARGE; i++) {
            size_t n = large_size(it, i);
            objs[i] = gch_alloc_noscan(t, n);
            r->large_bytes += (n + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
        }
        for (int i = NLARGE; i < NLARGE + NSMALL; i++)
            objs[i] = gch_alloc_noscan(t, SMALL_SIZE);
        gch_thread_flush(t); /* the small spans leave the cache: frees are legal */
        for (int i = 0; i < NLARGE + NSMALL; i++) {
            if (objs[i] == NULL)
                r->failed++;
            else
                gchi_free(t, objs[i]);
        }
    }
    r->iters = it;
    if (gch_thread_detach(t) != GCH_OK)
        r->failed++;
    atomic_u32_store_release(&r->writer_done, 1);
    return NULL;
}

static void note_bad(struct race *r, uint64_t *counter, const gch_stats *st)
{
    (*counter)++;
    if (!r->have_bad) {
        r->have_bad = 1;
        r->first_bad = *st;
    }
}

static void *reader_main(void *arg)
{
    struct race *r = arg;
    struct mheap *m = &r->h->mheap;
    gch_stats st, prev;
    memset(&prev, 0, sizeof prev);
    atomic_u32_store_release(&r->reader_started, 1);
    /* at least one read after the writer finished, then stop */
    for (int last = 0; !last;) {
        last = atomic_u32_load_acquire(&r->writer_done) != 0;
        uint64_t m0 = ld(&m->pages_mapped);
        gch_read_stats(r->h, &st);
        uint64_t m1 = ld(&m->pages_mapped);
        r->reads++;
        if (st.heap_objects > st.mallocs)
            note_bad(r, &r->bad_objects, &st);
        if (st.frees > st.mallocs)
            note_bad(r, &r->bad_frees, &st);
        if (st.heap_alloc > st.heap_sys)
            note_bad(r, &r->bad_alloc, &st);
        if (st.heap_sys != st.heap_inuse + st.heap_idle)
            note_bad(r, &r->bad_sys_sum, &st);
        if (m0 == m1) {
            r->exact_sys_checks++;
            if (st.heap_sys != m0 * PAGE_SIZE)
                note_bad(r, &r->bad_sys_mapped, &st);
        }
        if (st.heap_released > st.heap_idle)
            note_bad(r, &r->bad_released, &st);
        if (st.heap_sys < prev.heap_sys || st.mallocs < prev.mallocs || st.frees < prev.frees ||
            st.total_alloc < prev.total_alloc)
            note_bad(r, &r->bad_monotone, &st);
        prev = st;
    }
    return NULL;
}

static void test_read_stats_while_allocating(void **state)
{
    (void)state;
    struct race *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->h = gch_heap_new(NULL);
    assert_non_null(r->h);
    pthread_t wt, rt;
    assert_int_equal(pthread_create(&rt, NULL, reader_main, r), 0);
    assert_int_equal(pthread_create(&wt, NULL, writer_main, r), 0);
    assert_int_equal(pthread_join(wt, NULL), 0);
    assert_int_equal(pthread_join(rt, NULL), 0);

    print_message("writer: %llu iterations; reader: %llu reads, %llu with HeapSys checked "
                  "against the mapped pages\n",
                  (unsigned long long)r->iters, (unsigned long long)r->reads,
                  (unsigned long long)r->exact_sys_checks);
    assert_int_equal(r->failed, 0);
    assert_true(r->iters >= 100);
    assert_true(r->reads >= 10);
    assert_true(r->exact_sys_checks > 0);
    if (r->have_bad)
        fail_msg("%llu reads, bad: objects>mallocs %llu, frees>mallocs %llu, alloc>sys %llu, "
                 "sys!=inuse+idle %llu, sys!=mapped %llu, released>idle %llu, backwards %llu; "
                 "first: alloc %llu sys %llu inuse %llu idle %llu released %llu objects %llu "
                 "mallocs %llu frees %llu",
                 (unsigned long long)r->reads, (unsigned long long)r->bad_objects,
                 (unsigned long long)r->bad_frees, (unsigned long long)r->bad_alloc,
                 (unsigned long long)r->bad_sys_sum, (unsigned long long)r->bad_sys_mapped,
                 (unsigned long long)r->bad_released, (unsigned long long)r->bad_monotone,
                 (unsigned long long)r->first_bad.heap_alloc,
                 (unsigned long long)r->first_bad.heap_sys,
                 (unsigned long long)r->first_bad.heap_inuse,
                 (unsigned long long)r->first_bad.heap_idle,
                 (unsigned long long)r->first_bad.heap_released,
                 (unsigned long long)r->first_bad.heap_objects,
                 (unsigned long long)r->first_bad.mallocs, (unsigned long long)r->first_bad.frees);

    /* The writer detached: every count is published, and all was freed. */
    gch_stats st;
    gch_read_stats(r->h, &st);
    uint64_t n = r->iters * (NLARGE + NSMALL);
    unsigned sc = size_to_class(SMALL_SIZE);
    assert_int_equal(st.mallocs, n);
    assert_int_equal(st.frees, n);
    assert_int_equal(st.heap_objects, 0);
    assert_int_equal(st.heap_alloc, 0);
    assert_int_equal(st.tiny_allocs, 0);
    assert_int_equal(st.by_size[0].mallocs, r->iters * NLARGE);
    assert_int_equal(st.by_size[0].frees, r->iters * NLARGE);
    assert_int_equal(st.by_size[sc].mallocs, r->iters * NSMALL);
    assert_int_equal(st.by_size[sc].frees, r->iters * NSMALL);
    assert_int_equal(st.total_alloc, r->large_bytes + r->iters * NSMALL * SMALL_SIZE);
    assert_int_equal(st.heap_inuse, 0); /* empty spans went back to the heap */
    assert_int_equal(st.heap_idle, st.heap_sys);
    assert_int_equal(st.heap_sys, ld(&r->h->mheap.pages_mapped) * PAGE_SIZE);
    assert_true(st.heap_released <= st.heap_idle);
    heap_free_checked(r->h);
    free(r);
}

/* ---- one thread, exact identities ------------------------------------- */

/* What the heap must report, counted independently. */
struct model {
    uint64_t calls;        /* every successful allocation call */
    uint64_t frees;        /* gchi_free calls */
    uint64_t live_bytes;   /* usable bytes of live objects */
    uint64_t total_bytes;  /* usable bytes ever allocated */
    uint64_t per_class_mallocs[NUM_SIZE_CLASSES], per_class_frees[NUM_SIZE_CLASSES];
};

struct obj {
    void *p;
    size_t usable;
    unsigned sc;
};

/* check_exact: every identity, with the model, after a flush. */
static void check_exact(gch_heap *h, const struct model *md, gch_stats *prev)
{
    gch_stats st;
    gch_read_stats(h, &st);
    assert_int_equal(st.tiny_allocs, 0); /* no tiny allocator */
    assert_int_equal(st.mallocs, md->calls);
    assert_int_equal(st.frees, md->frees);
    assert_int_equal(st.heap_objects, st.mallocs - st.frees);
    assert_int_equal(st.heap_alloc, md->live_bytes);
    assert_int_equal(st.total_alloc, md->total_bytes);
    assert_true(st.heap_alloc <= st.heap_inuse);
    assert_int_equal(st.heap_sys, st.heap_inuse + st.heap_idle);
    assert_int_equal(st.heap_sys, ld(&h->mheap.pages_mapped) * PAGE_SIZE);
    assert_true(st.heap_released <= st.heap_idle);
    assert_int_equal(st.sys, st.heap_sys + st.metadata_sys);
    uint64_t m = 0, f = 0, live_small = 0;
    for (unsigned sc = 0; sc < NUM_SIZE_CLASSES; sc++) {
        m += st.by_size[sc].mallocs;
        f += st.by_size[sc].frees;
        uint64_t want = md->per_class_mallocs[sc];
        if (st.by_size[sc].mallocs != want || st.by_size[sc].frees != md->per_class_frees[sc])
            fail_msg("class %u: mallocs %llu frees %llu, model %llu / %llu", sc,
                     (unsigned long long)st.by_size[sc].mallocs,
                     (unsigned long long)st.by_size[sc].frees, (unsigned long long)want,
                     (unsigned long long)md->per_class_frees[sc]);
        if (sc > 0) {
            assert_int_equal(st.by_size[sc].size, gchi_class_to_size[sc]);
            live_small += (st.by_size[sc].mallocs - st.by_size[sc].frees) * gchi_class_to_size[sc];
        }
    }
    assert_int_equal(m, st.mallocs);
    assert_int_equal(f, st.frees);
    assert_true(live_small <= st.heap_alloc);
    /* cumulative counters never go backwards */
    assert_true(st.mallocs >= prev->mallocs);
    assert_true(st.frees >= prev->frees);
    assert_true(st.total_alloc >= prev->total_alloc);
    assert_true(st.heap_sys >= prev->heap_sys);
    *prev = st;
}

static const uint8_t scan_mask[4] = {0xff, 0xff, 0xff, 0xff};

static void *alloc_one(gch_thread *t, size_t size, bool scan)
{
    if (!scan || size > 32 * 8)
        return gch_alloc_noscan(t, size);
    gch_type ty = {"scan", size, scan_mask, NULL};
    return gch_alloc(t, &ty);
}

static void test_identities_across_rounds(void **state)
{
    struct fixture *f = *state;
    enum { ROUNDS = 40, PER_ROUND = 2000, MAXLIVE = ROUNDS * PER_ROUND };
    struct obj *live = calloc(MAXLIVE, sizeof *live);
    assert_non_null(live);
    size_t nlive = 0;
    struct model md;
    memset(&md, 0, sizeof md);
    gch_stats prev;
    memset(&prev, 0, sizeof prev);
    check_exact(f->h, &md, &prev);
    uint64_t rng = 0x5eed;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < PER_ROUND; i++) {
            uint64_t r = rng_next(&rng);
            bool scan = (r >> 9) & 1;
            size_t size;
            if (r % 250 == 0)
                size = MAX_SMALL_SIZE + 1 + (size_t)((r >> 20) % 300000);
            else if (r % 4 == 0)
                size = 1 + (size_t)((r >> 16) % 15);
            else
                size = 1 + (size_t)((r >> 16) % ((r >> 40) % 8 == 0 ? 8000 : 300));
            void *p = alloc_one(f->t, size, scan);
            assert_non_null(p);
            md.calls++;
            /* alloc_one sends big scan requests down the noscan path */
            unsigned sc = size > MAX_SMALL_SIZE ? 0 : size_to_class(size);
            size_t usable = gch_usable_size(f->h, p);
            assert_int_equal(usable, sc ? gchi_class_to_size[sc]
                                        : (size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE);
            md.per_class_mallocs[sc]++;
            md.live_bytes += usable;
            md.total_bytes += usable;
            live[nlive++] = (struct obj){p, usable, sc};
        }
        assert_int_equal(gch_thread_flush(f->t), GCH_OK);
        check_exact(f->h, &md, &prev);
        /* free a random half of what lives (legal: nothing is cached) */
        for (size_t i = 0; i < nlive;) {
            if (rng_next(&rng) & 1) {
                gchi_free(f->t, live[i].p);
                md.frees++;
                md.live_bytes -= live[i].usable;
                md.per_class_frees[live[i].sc]++;
                live[i] = live[--nlive];
            } else {
                i++;
            }
        }
        check_exact(f->h, &md, &prev);
    }
    /* free the rest: nothing remains */
    for (size_t i = 0; i < nlive; i++) {
        gchi_free(f->t, live[i].p);
        md.frees++;
        md.live_bytes -= live[i].usable;
        md.per_class_frees[live[i].sc]++;
    }
    check_exact(f->h, &md, &prev);
    assert_int_equal(md.live_bytes, 0);
    assert_int_equal(prev.heap_objects, 0);
    free(live);
}

/* ---- per-thread collector time (gch_thread_read_gc_time) ----------------- */

static gch_heap *gctime_heap(const char *godebug, int gogc)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "GCTIME_";
    cfg.gc_percent = gogc;
    setenv("GCTIME_GODEBUG", godebug, 1);
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("GCTIME_GODEBUG");
    assert_non_null(h);
    return h;
}

static gch_gc_time read_time(const gch_thread *t)
{
    gch_gc_time g;
    memset(&g, 0xff, sizeof g);
    assert_int_equal(gch_thread_read_gc_time(t, &g), GCH_OK);
    return g;
}

/* Triggered cycles with gcstoptheworld=1 run whole on the allocating
 * thread: stop time, and no handshake or assist; a new attach (which
 * reuses the record) starts from zero. */
static void test_thread_gc_time_stw(void **state)
{
    (void)state;
    gch_heap *h = gctime_heap("gcstoptheworld=1", 25);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    gch_gc_time g = read_time(t);
    assert_int_equal(g.stop_ns + g.scan_ns + g.assist_ns + g.sweep_ns, 0);
    for (int i = 0; i < 200000; i++) /* ~12 MiB of garbage: several cycles */
        assert_non_null(gch_alloc_noscan(t, 64));
    gch_stats st;
    gch_read_stats(h, &st);
    assert_true(st.num_gc >= 2);
    g = read_time(t);
    assert_true(g.stop_ns > 0);
    assert_int_equal(g.scan_ns, 0);
    assert_int_equal(g.assist_ns, 0);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    t = gch_thread_attach(h);
    g = read_time(t);
    assert_int_equal(g.stop_ns + g.scan_ns + g.assist_ns + g.sweep_ns, 0);
    assert_int_equal(gch_thread_read_gc_time(NULL, &g), GCH_EINVAL);
    assert_int_equal(gch_thread_read_gc_time(t, NULL), GCH_EINVAL);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

/* A concurrent mark: the thread scans its own roots at its safepoint. */
static void test_thread_gc_time_handshake(void **state)
{
    (void)state;
    gch_heap *h = gctime_heap("", -1);
    gch_thread *t = gch_thread_attach(h);
    GCH_LOCALS(t, locals, 1);
    locals[0] = gch_alloc_noscan(t, 64);
    gchi_test_hold_mark(h, true);
    assert_true(gchi_test_gc_start(h));
    uint64_t before = read_time(t).scan_ns;
    gch_safepoint(t); /* the root-scan handshake */
    assert_true(read_time(t).scan_ns > before);
    gchi_test_hold_mark(h, false);
    gchi_test_gc_wait(h);
    GCH_LOCALS_END(t, locals);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_stats_while_allocating),
        cmocka_unit_test_setup_teardown(test_identities_across_rounds, heap_setup, heap_teardown),
        cmocka_unit_test(test_thread_gc_time_stw),
        cmocka_unit_test(test_thread_gc_time_handshake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
