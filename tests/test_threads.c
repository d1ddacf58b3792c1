/*
 * test_threads.c - concurrent allocation stress: several attached threads
 * allocate at once, while others attach and detach.  Not a benchmark: it
 * checks correctness, and must be clean under ThreadSanitizer.
 * Subject: the mcache/mcentral/mheap hand-offs (alloc/mcache.c,
 * mcentral.c, mheap.c) and the thread registry (gc/proc.c, T1-T3).
 *
 * What it proves:
 *   - four threads allocating ten million objects in total (small
 *     scan/noscan, 1..15-byte noscan of several classes, arrays, a few large objects) never
 *     get the same memory: each writes a per-thread, per-object pattern,
 *     and after the join the last RING objects of every thread plus a
 *     sparse sample still hold their pattern and no two sampled objects
 *     overlap; every object is zeroed when handed out; gch_object_base
 *     answers correctly for a thread's own objects while others grow the
 *     heap;
 *   - after the threads detach: Mallocs counts every call (no tiny
 *     allocator: TinyAllocs and Frees stay 0), HeapObjects and
 *     HeapAlloc and the per-class counts equal what the threads counted,
 *     gchi_heap_verify() == 0 and every mcentral is valid;
 *   - attach/detach churn from several threads while others allocate keeps
 *     the registry (T1-T3) and the counts exact, and a churning thread's
 *     second attach gets GCH_ESTATE.
 * Seeds are fixed.
 */
#include "testutil.h"
#include "msize.h"
#include <pthread.h>

/* Measured on a 2-core machine: about 1 s in the normal build, 2 s under
 * ASan, 13 s and 1.5 GB RSS under TSan, so the counts are the same in
 * every build.  If TSan ever gets too slow, scale TOTAL_OBJECTS down only
 * under __SANITIZE_THREAD__ / __has_feature(thread_sanitizer). */
#define TOTAL_OBJECTS 10000000u
#define CHURN_CYCLES 1500u
#define CHURN_ALLOCS 300000u

#define NWORKERS 4
_Static_assert(TOTAL_OBJECTS % NWORKERS == 0, "equal shares");
#define RING 4096          /* last objects kept per thread */
#define SPARSE_EVERY 2048  /* and one in this many */
#define LARGE_EVERY 100000 /* one large object per this many calls */

static const uint8_t scan_mask[8] = {0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55};
static const size_t noscan_sizes[] = {16, 24, 32, 48, 64, 96};
static const gch_type scan_types[] = {
    {"obj16", 16, scan_mask, NULL}, {"obj24", 24, scan_mask, NULL}, {"obj32", 32, scan_mask, NULL},
    {"obj48", 48, scan_mask, NULL}, {"obj64", 64, scan_mask, NULL},
};
static const gch_type word_type = {"word", 8, scan_mask, NULL};
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

struct sample {
    unsigned char *p;
    uint32_t size;
    uint32_t seq;
    uint32_t tid;
};

/* What one allocating thread did, counted independently of the heap. */
struct tally {
    uint64_t calls, large, bytes; /* bytes: usable */
    uint64_t per_class[NUM_SIZE_CLASSES];
    uint64_t not_zeroed, bad_base, failed;
};

static void tally_add(struct tally *a, const struct tally *b)
{
    a->calls += b->calls;
    a->large += b->large;
    a->bytes += b->bytes;
    for (unsigned i = 0; i < NUM_SIZE_CLASSES; i++)
        a->per_class[i] += b->per_class[i];
    a->not_zeroed += b->not_zeroed;
    a->bad_base += b->bad_base;
    a->failed += b->failed;
}

static unsigned char pattern_byte(uint32_t tid, uint32_t seq)
{
    return (unsigned char)((tid * 0x9Du + seq * 0x3Bu) | 1u);
}

/* fill: the pattern of object (tid, seq): a tag word when it fits, then
 * one byte derived from both. */
static void fill(unsigned char *p, size_t size, uint32_t tid, uint32_t seq)
{
    memset(p, pattern_byte(tid, seq), size);
    if (size >= 8) {
        uint64_t tag = ((uint64_t)tid << 32) | seq;
        memcpy(p, &tag, 8);
    }
}

static bool intact(const struct sample *s)
{
    size_t from = 0;
    if (s->size >= 8) {
        uint64_t tag;
        memcpy(&tag, s->p, 8);
        if (tag != (((uint64_t)s->tid << 32) | s->seq))
            return false;
        from = 8;
    }
    return mem_all(s->p + from, pattern_byte(s->tid, s->seq), s->size - from);
}

static bool zeroed(const unsigned char *p, size_t n) { return mem_all(p, 0, n); }

static size_t usable_of(size_t size)
{
    if (size > MAX_SMALL_SIZE)
        return (size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
    return gchi_class_to_size[size_to_class(size)];
}

/* alloc_one: one object of a random kind; counts it in *ty.  Returns the
 * object and its requested size. */
static unsigned char *alloc_one(gch_thread *t, uint64_t *rng, uint64_t call, struct tally *ty,
                                size_t *size_out)
{
    uint64_t r = rng_next(rng);
    unsigned kind = (unsigned)(r % 100);
    size_t size;
    unsigned char *p;
    if (call % LARGE_EVERY == LARGE_EVERY - 1) {
        size = MAX_SMALL_SIZE + 8 + (size_t)((r >> 8) % 300000) / 8 * 8;
        p = (r >> 40) & 1 ? gch_alloc_noscan(t, size) : gch_alloc_array(t, &word_type, size / 8);
        ty->large++;
    } else if (kind < 45) {
        size = 1 + (size_t)((r >> 8) % 15);
        p = gch_alloc_noscan(t, size); /* 1..15 bytes: whole 8- or 16-byte slots */
    } else if (kind < 70) {
        size = noscan_sizes[(r >> 8) % COUNT_OF(noscan_sizes)];
        p = gch_alloc_noscan(t, size);
    } else if (kind < 97) {
        const gch_type *ty_ = &scan_types[(r >> 8) % COUNT_OF(scan_types)];
        size = ty_->size;
        p = gch_alloc(t, ty_);
    } else {
        /* arrays of 8-byte words: 2..8 elements */
        size_t n = 2 + (size_t)((r >> 8) % 7);
        size = 8 * n;
        p = gch_alloc_array(t, &word_type, n);
    }
    ty->calls++;
    if (p == NULL) {
        ty->failed++;
        return NULL;
    }
    ty->bytes += usable_of(size);
    ty->per_class[size > MAX_SMALL_SIZE ? 0 : size_to_class(size)]++;
    *size_out = size;
    return p;
}

/* ---- ten million objects from four threads -------------------------------- */

struct worker {
    gch_heap *h;
    pthread_barrier_t *start;
    uint32_t tid;
    uint64_t n;
    struct tally ty;
    struct sample ring[RING];
    uint64_t ring_total;
    struct sample *sparse;
    size_t nsparse;
    bool attached;
    gch_error flush, detach;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    gch_thread *t = gch_thread_attach(w->h);
    w->attached = t != NULL;
    pthread_barrier_wait(w->start);
    if (t == NULL)
        return NULL;
    uint64_t rng = 0x9E3779B97F4A7C15ULL * (w->tid + 1);
    for (uint64_t i = 0; i < w->n; i++) {
        size_t size = 0;
        unsigned char *p = alloc_one(t, &rng, i, &w->ty, &size);
        if (p == NULL)
            continue;
        if (!zeroed(p, size))
            w->ty.not_zeroed++;
        fill(p, size, w->tid, (uint32_t)i);
        struct sample s = {p, (uint32_t)size, (uint32_t)i, w->tid};
        w->ring[w->ring_total++ % RING] = s;
        if (i % SPARSE_EVERY == 0) {
            w->sparse[w->nsparse++] = s;
            /* own objects resolve while other threads grow the heap */
            if (gch_object_base(w->h, p + size - 1) != p)
                w->ty.bad_base++;
        }
    }
    w->flush = gch_thread_flush(t);
    w->detach = gch_thread_detach(t);
    return NULL;
}

static int cmp_sample(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct sample *)a)->p;
    uintptr_t y = (uintptr_t)((const struct sample *)b)->p;
    return x < y ? -1 : x > y;
}

/* check_samples: every sample holds its pattern, and no two overlap. */
static void check_samples(struct sample *all, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!intact(&all[i]))
            fail_msg("object %p (thread %u, #%u, %u bytes) was overwritten", (void *)all[i].p,
                     all[i].tid, all[i].seq, all[i].size);
    qsort(all, n, sizeof *all, cmp_sample);
    for (size_t i = 1; i < n; i++)
        if (all[i - 1].p + all[i - 1].size > all[i].p)
            fail_msg("objects overlap: %p (thread %u #%u, %u B) and %p (thread %u #%u)",
                     (void *)all[i - 1].p, all[i - 1].tid, all[i - 1].seq, all[i - 1].size,
                     (void *)all[i].p, all[i].tid, all[i].seq);
}

/* check_counts: the heap's statistics against the threads' own tally. */
static void check_counts(gch_heap *h, const struct tally *sum)
{
    gch_stats st;
    gch_read_stats(h, &st);
    assert_int_equal(st.mallocs, sum->calls);
    assert_int_equal(st.tiny_allocs, 0);
    assert_int_equal(st.frees, 0);
    assert_int_equal(st.heap_objects, sum->calls);
    assert_int_equal(st.by_size[0].mallocs, sum->per_class[0]);
    assert_int_equal(st.by_size[0].mallocs, sum->large);
    for (unsigned sc = 1; sc < NUM_SIZE_CLASSES; sc++)
        assert_int_equal(st.by_size[sc].mallocs, sum->per_class[sc]);
    assert_int_equal(st.heap_alloc, sum->bytes);
    assert_int_equal(st.total_alloc, st.heap_alloc);
    assert_int_equal(st.heap_sys, st.heap_inuse + st.heap_idle);
    assert_true(st.heap_alloc <= st.heap_inuse);
    assert_int_equal(gchi_heap_verify(h), 0);
    for (size_t i = 0; i < NUM_SPAN_CLASSES; i++)
        assert_valid(mcentral_is_valid(&h->mheap.central[i], mheap_sweepgen(&h->mheap)));
}

static void test_four_threads_ten_million_objects(void **state)
{
    (void)state;
    gch_heap *h = gch_heap_new(NULL);
    assert_non_null(h);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, NWORKERS);
    struct worker *w = calloc(NWORKERS, sizeof *w);
    pthread_t th[NWORKERS];
    for (uint32_t i = 0; i < NWORKERS; i++) {
        w[i].h = h;
        w[i].start = &start;
        w[i].tid = i + 1;
        w[i].n = TOTAL_OBJECTS / NWORKERS;
        w[i].sparse = calloc(w[i].n / SPARSE_EVERY + 1, sizeof *w[i].sparse);
        w[i].flush = w[i].detach = -100;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NWORKERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);

    struct tally sum = {0};
    size_t nsamples = 0;
    for (int i = 0; i < NWORKERS; i++) {
        assert_true(w[i].attached);
        assert_int_equal(w[i].flush, GCH_OK);
        assert_int_equal(w[i].detach, GCH_OK);
        tally_add(&sum, &w[i].ty);
        nsamples += RING + w[i].nsparse;
    }
    assert_int_equal(sum.calls, TOTAL_OBJECTS);
    assert_int_equal(sum.failed, 0);
    assert_int_equal(sum.not_zeroed, 0);
    assert_int_equal(sum.bad_base, 0);
    assert_true(sum.large > 0);

    struct sample *all = malloc(nsamples * sizeof *all);
    size_t n = 0;
    for (int i = 0; i < NWORKERS; i++) {
        memcpy(all + n, w[i].ring, sizeof w[i].ring);
        n += RING;
        /* the sparse samples may repeat ring entries: keep the older ones */
        for (size_t k = 0; k < w[i].nsparse; k++)
            if (w[i].sparse[k].seq + RING < w[i].n)
                all[n++] = w[i].sparse[k];
    }
    check_samples(all, n);
    check_counts(h, &sum);
    free(all);
    for (int i = 0; i < NWORKERS; i++)
        free(w[i].sparse);
    free(w);
    heap_free_checked(h);
}

/* ---- attach/detach churn while others allocate ---------------------------- */

#define NALLOCATORS 2
#define NCHURNERS 3
#define CHURN_KEEP 64

struct churner {
    gch_heap *h;
    pthread_barrier_t *start;
    uint32_t tid;
    bool allocator;        /* steady allocator rather than churner */
    struct tally ty;
    uint64_t attach_failed, second_attach_wrong, detach_failed, broken;
    struct sample keep[CHURN_KEEP]; /* objects of its last cycle */
    size_t nkeep;
};

/* churn_cycle: attach, allocate a few dozen objects (some past a span's
 * end, sometimes a large one), check them, detach. */
static void churn_cycle(struct churner *c, uint64_t *rng, uint32_t cycle)
{
    gch_thread *t = gch_thread_attach(c->h);
    if (t == NULL) {
        c->attach_failed++;
        return;
    }
    gch_clear_error();
    if (gch_thread_attach(c->h) != NULL || gch_last_error() != GCH_ESTATE)
        c->second_attach_wrong++;
    size_t n = 8 + rng_next(rng) % (CHURN_KEEP - 8);
    c->nkeep = 0;
    for (size_t i = 0; i < n; i++) {
        size_t size = 0;
        uint64_t call = cycle % 10 == 0 && i == 0 ? LARGE_EVERY - 1 : 0;
        unsigned char *p = alloc_one(t, rng, call, &c->ty, &size);
        if (p == NULL)
            continue;
        if (!zeroed(p, size))
            c->ty.not_zeroed++;
        uint32_t seq = cycle * CHURN_KEEP + (uint32_t)i;
        fill(p, size, c->tid, seq);
        c->keep[c->nkeep++] = (struct sample){p, (uint32_t)size, seq, c->tid};
    }
    for (size_t i = 0; i < c->nkeep; i++)
        if (!intact(&c->keep[i]))
            c->broken++;
    if (cycle % 3 == 0 && gch_thread_flush(t) != GCH_OK)
        c->detach_failed++;
    if (gch_thread_detach(t) != GCH_OK)
        c->detach_failed++;
}

static void *churner_main(void *arg)
{
    struct churner *c = arg;
    uint64_t rng = 0xC0FFEEULL * c->tid;
    pthread_barrier_wait(c->start);
    if (!c->allocator) {
        for (uint32_t cycle = 0; cycle < CHURN_CYCLES; cycle++)
            churn_cycle(c, &rng, cycle);
        return NULL;
    }
    gch_thread *t = gch_thread_attach(c->h);
    if (t == NULL) {
        c->attach_failed++;
        return NULL;
    }
    for (uint64_t i = 0; i < CHURN_ALLOCS; i++) {
        size_t size = 0;
        unsigned char *p = alloc_one(t, &rng, i, &c->ty, &size);
        if (p == NULL)
            continue;
        if (!zeroed(p, size))
            c->ty.not_zeroed++;
        fill(p, size, c->tid, (uint32_t)i);
        c->keep[i % CHURN_KEEP] = (struct sample){p, (uint32_t)size, (uint32_t)i, c->tid};
    }
    c->nkeep = CHURN_KEEP;
    if (gch_thread_detach(t) != GCH_OK)
        c->detach_failed++;
    return NULL;
}

static void test_attach_detach_churn_while_allocating(void **state)
{
    struct fixture *f = *state;
    /* the fixture's own thread stays attached and allocates a little */
    assert_non_null(gch_alloc_noscan(f->t, 100));
    assert_non_null(gch_alloc_noscan(f->t, 100000));
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    enum { N = NALLOCATORS + NCHURNERS };
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    struct churner *c = calloc(N, sizeof *c);
    pthread_t th[N];
    for (uint32_t i = 0; i < N; i++) {
        c[i].h = f->h;
        c[i].start = &start;
        c[i].tid = 100 + i;
        c[i].allocator = i < NALLOCATORS;
        assert_int_equal(pthread_create(&th[i], NULL, churner_main, &c[i]), 0);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);

    struct tally sum = {0};
    struct sample all[N * CHURN_KEEP];
    size_t n = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(c[i].attach_failed, 0);
        assert_int_equal(c[i].second_attach_wrong, 0);
        assert_int_equal(c[i].detach_failed, 0);
        assert_int_equal(c[i].broken, 0);
        tally_add(&sum, &c[i].ty);
        memcpy(all + n, c[i].keep, c[i].nkeep * sizeof *all);
        n += c[i].nkeep;
    }
    for (int i = 0; i < N; i++)
        if (c[i].allocator)
            assert_int_equal(c[i].ty.calls, CHURN_ALLOCS);
        else
            assert_true(c[i].ty.calls >= 8 * (uint64_t)CHURN_CYCLES);
    assert_int_equal(sum.failed, 0);
    assert_int_equal(sum.not_zeroed, 0);
    assert_true(sum.large >= NCHURNERS * (CHURN_CYCLES / 10));
    check_samples(all, n);
    /* two objects from the fixture thread: one small, one large */
    sum.calls += 2;
    sum.per_class[size_to_class(100)]++;
    sum.per_class[0]++;
    sum.large++;
    sum.bytes += usable_of(100) + usable_of(100000);
    check_counts(f->h, &sum);
    lock_acquire(&f->h->threads_lock);
    size_t attached = f->h->nattached, recycled = 0;
    for (struct gch_thread *t = f->h->detached; t != NULL; t = t->next)
        recycled++;
    lock_release(&f->h->threads_lock);
    assert_int_equal(attached, 1); /* only the fixture's thread */
    assert_true(recycled >= 1 && recycled <= N); /* records are reused (T1) */
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_threads_ten_million_objects),
        cmocka_unit_test_setup_teardown(test_attach_detach_churn_while_allocating, heap_setup,
                                        heap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
