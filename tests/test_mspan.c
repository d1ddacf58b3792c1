/*
 * test_mspan.c - a span's slot allocation state (alloc/mspan.h M1-M5), its
 * layout and object index, and the gcBits arenas.
 *
 * The allocation fast path (next_free_fast) and its slow half
 * (span_next_free_index) are only correct together with
 * span_prepare_cache (M3 when a span enters an mcache) and
 * span_commit_alloc_bits (M4 when it leaves).  These tests take real spans
 * from mheap_alloc_span for several size classes (many objects, 341 with
 * a partial last 64-slot window, exactly 64, a handful, one), pre-set
 * random alloc bits to simulate a partly used span, and then allocate to
 * the end the way malloc.c does, checking against a model that:
 *   - exactly the free slots come back, in increasing order, never a set one;
 *   - the fast path counts its allocation (alloc_count + 1), the slow path
 *     leaves counting to its caller;
 *   - alloc_cache follows M3 after every step;
 *   - a full span answers 0 / nelems, repeatedly.
 * span_object_index is checked for every byte offset of every size class
 * (it replaces a division by a multiply, which is exact only by design of
 * the divmagic table).  gcbits_alloc is checked for zeroed, aligned,
 * disjoint bitmaps, and gcbits_new_epoch for reuse only after the arena
 * has passed through current and previous (two epochs), zeroed again.
 */
#include "testutil.h"
#include "mheap.h"

#include <pthread.h>

static int heapspan_setup(void **state)
{
    struct mheap *h = calloc(1, sizeof *h);
    if (h == NULL || !mheap_init(h, &sys_linux_ops, false, 0))
        return -1;
    *state = h;
    return 0;
}

static int heapspan_teardown(void **state)
{
    struct mheap *h = *state;
    assert_valid(mheap_is_valid(h));
    mheap_destroy(h);
    free(h);
    return 0;
}

static struct mspan *class_span(struct mheap *h, unsigned sc)
{
    struct mspan *s = mheap_alloc_span(h, gchi_class_to_allocnpages[sc], make_spanclass(sc, true));
    assert_non_null(s);
    assert_int_equal(s->nelems, gchi_class_to_nelems[sc]);
    assert_int_equal(s->elemsize, gchi_class_to_size[sc]);
    assert_int_equal(s->freeindex, 0);
    assert_int_equal(s->alloc_count, 0);
    for (uint32_t i = 0; i < s->nelems; i++)
        assert_false(bit_is_set(s->alloc_bits, i)); /* fresh bitmaps */
    assert_valid(span_is_valid(s));
    return s;
}

/* expected_cache: M3 for the current freeindex. */
static uint64_t expected_cache(const struct mspan *s)
{
    uint32_t window = s->freeindex & ~(uint32_t)63;
    uint64_t w = ~load_le64(s->alloc_bits + window / 8);
    return w >> (s->freeindex & 63);
}

/* preset: mark slots allocated with probability num/den (plus the given
 * extra pattern), fill model[] and set alloc_count (M5). */
static void preset(struct mspan *s, bool *model, uint64_t *rng, unsigned num, unsigned den)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->nelems; i++) {
        model[i] = den != 0 && (unsigned)(rng_next(rng) % den) < num;
        if (model[i]) {
            bit_set(s->alloc_bits, i);
            n++;
        }
    }
    s->alloc_count = n;
}

/* drain: allocate to the end the way malloc.c's alloc_slot / next_free do,
 * checking each slot against the model; returns how many were taken. */
static uint32_t drain(struct mspan *s, bool *model)
{
    uint32_t expect = 0, taken = 0;
    for (;;) {
        while (expect < s->nelems && model[expect])
            expect++;
        uint32_t before = s->alloc_count;
        uintptr_t v = next_free_fast(s);
        uint32_t idx;
        if (v != 0) {
            assert_int_equal(s->alloc_count, before + 1);
            assert_int_equal((v - s->start) % s->elemsize, 0);
            idx = (uint32_t)((v - s->start) / s->elemsize);
        } else {
            idx = span_next_free_index(s);
            assert_int_equal(s->alloc_count, before); /* the caller counts */
            if (idx == s->nelems)
                break;
            s->alloc_count++;
        }
        if (idx != expect)
            fail_msg("got slot %u, the next free slot is %u (nelems %u)", idx, expect, s->nelems);
        assert_false(bit_is_set(s->alloc_bits, idx));
        assert_int_equal(s->freeindex, idx + 1); /* M1 */
        if (s->freeindex < s->nelems && s->alloc_cache != expected_cache(s))
            fail_msg("M3: after slot %u cache %#llx, want %#llx", idx,
                     (unsigned long long)s->alloc_cache, (unsigned long long)expected_cache(s));
        model[idx] = true;
        taken++;
        expect++;
    }
    assert_int_equal(expect, s->nelems); /* every free slot was found */
    return taken;
}

/* expect_full: a full span stays full. */
static void expect_full(struct mspan *s)
{
    assert_int_equal(s->alloc_count, s->nelems);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(next_free_fast(s), 0);
        assert_int_equal(span_next_free_index(s), s->nelems);
        assert_int_equal(s->freeindex, s->nelems);
    }
    assert_int_equal(s->alloc_count, s->nelems);
}

static const unsigned test_classes[] = {1, 3, 5, 10, 35, 40, 67};

/* A fresh span gives every slot in order, then reports full. */
static void test_fresh_span_in_order(void **state)
{
    struct mheap *h = *state;
    for (size_t c = 0; c < sizeof test_classes / sizeof test_classes[0]; c++) {
        struct mspan *s = class_span(h, test_classes[c]);
        bool *model = calloc(s->nelems, sizeof *model);
        assert_non_null(model);
        span_prepare_cache(s);
        assert_int_equal(s->alloc_cache, ~(uint64_t)0);
        assert_int_equal(drain(s, model), s->nelems);
        expect_full(s);
        free(model);
        mheap_free_span(h, s);
    }
}

/* Partly used spans at several densities, for every size class. */
static void test_partial_spans_random(void **state)
{
    struct mheap *h = *state;
    uint64_t rng = 0x51ab1e;
    static const unsigned dens[][2] = {{0, 1}, {1, 10}, {1, 2}, {9, 10}, {63, 64}, {1, 1}};
    for (unsigned sc = 1; sc < NUM_SIZE_CLASSES; sc++) {
        for (size_t d = 0; d < sizeof dens / sizeof dens[0]; d++) {
            struct mspan *s = class_span(h, sc);
            bool *model = calloc(s->nelems, sizeof *model);
            assert_non_null(model);
            preset(s, model, &rng, dens[d][0], dens[d][1]);
            uint32_t used = s->alloc_count;
            span_prepare_cache(s);
            assert_int_equal(s->alloc_cache, expected_cache(s));
            assert_int_equal(drain(s, model), s->nelems - used);
            expect_full(s);
            free(model);
            mheap_free_span(h, s);
        }
    }
}

/* Hand-made patterns around the 64-slot windows: the only free slot at the
 * end of a window (which the fast path leaves to the slow path), at the
 * start of the next, in the partial last window, and whole windows full. */
static void test_window_edges(void **state)
{
    struct mheap *h = *state;
    static const uint32_t lone[] = {0, 62, 63, 64, 65, 127, 128, 300, 319, 320, 340};
    for (size_t k = 0; k < sizeof lone / sizeof lone[0]; k++) {
        struct mspan *s = class_span(h, 3); /* 341 slots: windows of 64, then 21 */
        bool model[341];
        for (uint32_t i = 0; i < s->nelems; i++) {
            model[i] = i != lone[k];
            if (model[i])
                bit_set(s->alloc_bits, i);
        }
        s->alloc_count = s->nelems - 1;
        span_prepare_cache(s);
        assert_int_equal(drain(s, model), 1);
        expect_full(s);
        mheap_free_span(h, s);
    }
    /* Class 1: two free slots separated by several full windows. */
    struct mspan *s = class_span(h, 1);
    bool model[1024];
    for (uint32_t i = 0; i < 1024; i++) {
        model[i] = i != 5 && i != 1000;
        if (model[i])
            bit_set(s->alloc_bits, i);
    }
    s->alloc_count = 1022;
    span_prepare_cache(s);
    assert_int_equal(drain(s, model), 2);
    expect_full(s);
    mheap_free_span(h, s);
}

/* span_prepare_cache with freeindex anywhere in a window: slots below it
 * count as allocated (M1) whatever their bits say, and allocation resumes
 * at the first free slot at or above it. */
static void test_prepare_cache_mid_window(void **state)
{
    struct mheap *h = *state;
    uint64_t rng = 99;
    static const struct { unsigned sc; uint32_t fi; } cases[] = {
        {1, 1}, {1, 63}, {1, 64}, {1, 70}, {1, 1000}, {1, 1023}, {1, 1024},
        {3, 7}, {3, 130}, {3, 320}, {3, 330}, {3, 340}, {3, 341},
        {10, 33}, {10, 64}, {40, 1}, {40, 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct mspan *s = class_span(h, cases[c].sc);
        bool *model = calloc(s->nelems, sizeof *model);
        assert_non_null(model);
        preset(s, model, &rng, 1, 3);
        uint32_t fi = cases[c].fi;
        for (uint32_t i = 0; i < fi; i++)
            model[i] = true; /* M1 */
        uint32_t used = 0;
        for (uint32_t i = 0; i < s->nelems; i++)
            used += model[i];
        s->alloc_count = used;
        s->freeindex = fi;
        s->alloc_cache = 0x1234; /* stale: prepare must overwrite it */
        span_prepare_cache(s);
        if ((fi & ~63u) < s->nelems)
            assert_int_equal(s->alloc_cache, expected_cache(s));
        if ((fi & ~63u) >= s->nelems)
            assert_int_equal(s->alloc_cache, 0);
        assert_int_equal(drain(s, model), s->nelems - used);
        expect_full(s);
        free(model);
        mheap_free_span(h, s);
    }
}

/* M4: committing records every slot below freeindex in the alloc bits,
 * keeps the bits above, leaves the bits past nelems clear, and resets
 * freeindex / alloc_cache; allocation then resumes with exactly the
 * remaining free slots. */
static void test_commit_alloc_bits(void **state)
{
    struct mheap *h = *state;
    uint64_t rng = 4242;
    for (size_t c = 0; c < sizeof test_classes / sizeof test_classes[0]; c++) {
        for (int round = 0; round < 8; round++) {
            struct mspan *s = class_span(h, test_classes[c]);
            uint32_t n = s->nelems;
            bool *model = calloc(n, sizeof *model);
            assert_non_null(model);
            preset(s, model, &rng, 1, 4);
            span_prepare_cache(s);
            /* Take a random number of slots (freeindex then lands on
             * arbitrary, non-byte-aligned positions). */
            uint32_t want = (uint32_t)(rng_next(&rng) % (n + 1));
            for (uint32_t k = 0; k < want; k++) {
                uintptr_t v = next_free_fast(s);
                uint32_t idx;
                if (v != 0) {
                    idx = (uint32_t)((v - s->start) / s->elemsize);
                } else {
                    idx = span_next_free_index(s);
                    if (idx == n)
                        break;
                    s->alloc_count++;
                }
                model[idx] = true;
            }
            uint32_t fi = s->freeindex;
            span_commit_alloc_bits(s);
            assert_int_equal(s->freeindex, 0);
            assert_int_equal(s->alloc_cache, 0);
            uint32_t count = 0;
            for (uint32_t i = 0; i < n; i++) {
                bool want_set = i < fi || model[i];
                if (bit_is_set(s->alloc_bits, i) != want_set)
                    fail_msg("class %u slot %u: bit %d, want %d (freeindex was %u)",
                             test_classes[c], i, bit_is_set(s->alloc_bits, i), want_set, fi);
                count += want_set;
            }
            for (uint32_t i = n; i < bitmap_bytes(n) * 8; i++)
                assert_false(bit_is_set(s->alloc_bits, i));
            assert_int_equal(count, s->alloc_count); /* M5 */
            /* Back into a cache: the rest of the slots, nothing twice. */
            for (uint32_t i = 0; i < fi; i++)
                model[i] = true;
            uint32_t before = s->alloc_count;
            span_prepare_cache(s);
            assert_int_equal(drain(s, model), n - before);
            expect_full(s);
            free(model);
            mheap_free_span(h, s);
        }
    }
}

/* Committing a full span sets exactly nelems bits (whole bytes plus a
 * partial one for 341 slots). */
static void test_commit_full_span(void **state)
{
    struct mheap *h = *state;
    const unsigned classes[] = {1, 3, 67};
    for (size_t c = 0; c < 3; c++) {
        struct mspan *s = class_span(h, classes[c]);
        bool *model = calloc(s->nelems, sizeof *model);
        assert_non_null(model);
        span_prepare_cache(s);
        drain(s, model);
        span_commit_alloc_bits(s);
        for (uint32_t i = 0; i < bitmap_bytes(s->nelems) * 8; i++)
            assert_int_equal(bit_is_set(s->alloc_bits, i), i < s->nelems);
        span_prepare_cache(s);
        assert_int_equal(next_free_fast(s), 0);
        assert_int_equal(span_next_free_index(s), s->nelems);
        free(model);
        mheap_free_span(h, s);
    }
}

/* ---- layout ------------------------------------------------------------ */

/* span_object_index == offset / elemsize for every byte of every class's
 * slots; the layout fits its pages. */
static void test_object_index_every_offset(void **state)
{
    (void)state;
    const uintptr_t start = (uintptr_t)1 << 36;
    for (unsigned sc = 1; sc < NUM_SIZE_CLASSES; sc++) {
        struct mspan s;
        memset(&s, 0, sizeof s);
        size_t np = gchi_class_to_allocnpages[sc];
        span_init_layout(&s, start, np, make_spanclass(sc, false));
        assert_int_equal(s.elemsize, gchi_class_to_size[sc]);
        assert_int_equal(s.nelems, gchi_class_to_nelems[sc]);
        assert_int_equal(s.limit, start + (uintptr_t)s.nelems * s.elemsize);
        assert_true(s.limit <= start + np * PAGE_SIZE);
        assert_true(s.limit + s.elemsize > start + np * PAGE_SIZE); /* no room for one more */
        for (uintptr_t off = 0; off < s.limit - start; off++) {
            uint32_t idx = span_object_index(&s, start + off);
            if (idx != off / s.elemsize)
                fail_msg("class %u (%zu B): offset %lu gives %u, want %lu", sc, s.elemsize,
                         (unsigned long)off, idx, (unsigned long)(off / s.elemsize));
        }
    }
    /* A large span: one object covering its pages. */
    struct mspan s;
    memset(&s, 0, sizeof s);
    span_init_layout(&s, start, 7, make_spanclass(0, true));
    assert_int_equal(s.nelems, 1);
    assert_int_equal(s.elemsize, 7 * PAGE_SIZE);
    assert_int_equal(s.limit, start + 7 * PAGE_SIZE);
    assert_int_equal(s.divmagic, 0);
    assert_true(spanclass_noscan(s.spanclass));
    assert_int_equal(spanclass_sizeclass(s.spanclass), 0);
}

/* span_is_valid rejects the broken states it claims to check. */
static void test_span_is_valid(void **state)
{
    struct mheap *h = *state;
    struct mspan *s = class_span(h, 3);
    assert_valid(span_is_valid(s));
    s->alloc_count = s->nelems + 1;
    assert_false(span_is_valid(s));
    s->alloc_count = 0;
    s->freeindex = s->nelems + 1;
    assert_false(span_is_valid(s));
    s->freeindex = 0;
    uintptr_t limit = s->limit;
    s->limit = s->start + s->npages * PAGE_SIZE + 1;
    assert_false(span_is_valid(s));
    s->limit = limit;
    assert_valid(span_is_valid(s));
    mheap_free_span(h, s);
    assert_false(span_is_valid(s)); /* dead */
}

/* ---- gcBits arenas ------------------------------------------------------ */

struct bitsenv {
    struct sysmem sys;
    struct gcbits g;
};

/* Zeroed, 8-byte aligned, disjoint bitmaps of every legal size. */
static void test_gcbits_alloc(void **state)
{
    (void)state;
    struct bitsenv *e = calloc(1, sizeof *e);
    assert_non_null(e);
    sysmem_init(&e->sys, &sys_linux_ops, false);
    gcbits_init(&e->g, &e->sys);
    enum { N = 400 };
    uint8_t *p[N];
    size_t n[N];
    uint64_t rng = 3;
    for (int i = 0; i < N; i++) {
        n[i] = 8 * (1 + (size_t)(rng_next(&rng) % 128)); /* 8 .. 1024 */
        p[i] = gcbits_alloc(&e->g, n[i]);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 8, 0);
        assert_true(mem_is_zero(p[i], n[i]));
        memset(p[i], i % 255 + 1, n[i]);
    }
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < n[i]; k++)
            assert_int_equal(p[i][k], i % 255 + 1);
    assert_int_equal(ld(&e->g.sys_bytes), ld(&e->sys.ready));
    gcbits_release_all(&e->g);
    assert_int_equal(ld(&e->sys.ready), 0);
    free(e);
}

/* arena_range: the 64 KiB arena holding bitmap p, found from the first
 * bitmap of the arena (arenas are page aligned, the header is small). */
struct range {
    uintptr_t lo, hi;
};

static bool in_ranges(const struct range *r, size_t nr, const void *p)
{
    for (size_t i = 0; i < nr; i++)
        if ((uintptr_t)p >= r[i].lo && (uintptr_t)p < r[i].hi)
            return true;
    return false;
}

/* An arena filled in epoch E is not reused while it is "current" (E+1) or
 * "previous" (E+2); after the third new_epoch it is reused, zeroed, and
 * the OS is not asked for more memory. */
static void test_gcbits_epochs(void **state)
{
    (void)state;
    struct bitsenv *e = calloc(1, sizeof *e);
    assert_non_null(e);
    sysmem_init(&e->sys, &sys_linux_ops, false);
    gcbits_init(&e->g, &e->sys);
    const size_t chunk = (size_t)64 << 10;
    enum { N = 200 }; /* more than three arenas of 1 KiB bitmaps */
    uint8_t *a[N];
    struct range r[N];
    size_t nr = 0;
    for (int i = 0; i < N; i++) {
        a[i] = gcbits_alloc(&e->g, 1024);
        assert_non_null(a[i]);
        memset(a[i], 0xff, 1024);
        if (i == 0 || a[i] != a[i - 1] + 1024) {
            uintptr_t lo = (uintptr_t)a[i] & ~(uintptr_t)4095;
            r[nr++] = (struct range){lo, lo + chunk};
        }
    }
    assert_true(nr >= 4);
    uint64_t s0 = ld(&e->g.sys_bytes);
    assert_int_equal(s0, nr * chunk);

    for (int epoch = 1; epoch <= 2; epoch++) {
        gcbits_new_epoch(&e->g);
        uint8_t *b = gcbits_alloc(&e->g, 8);
        assert_non_null(b);
        assert_false(in_ranges(r, nr, b)); /* still current / previous */
        assert_int_equal(ld(&e->g.sys_bytes), s0 + (uint64_t)epoch * chunk);
        for (int i = 0; i < N; i++)
            assert_int_equal(a[i][1023], 0xff); /* old bitmaps untouched */
    }
    uint64_t s2 = ld(&e->g.sys_bytes);
    gcbits_new_epoch(&e->g); /* the first epoch's arenas are free now */
    for (int i = 0; i < N; i++) {
        uint8_t *c = gcbits_alloc(&e->g, 1024);
        assert_non_null(c);
        assert_true(in_ranges(r, nr, c));
        assert_true(mem_is_zero(c, 1024));
    }
    assert_int_equal(ld(&e->g.sys_bytes), s2); /* all reuse, no new memory */
    gcbits_release_all(&e->g);
    assert_int_equal(ld(&e->sys.ready), 0);
    free(e);
}

/* Concurrent allocation from the arena being filled (one atomic add, no
 * lock, mspan.c bits_alloc): threads taking bitmaps at once, through both
 * entry points and across many arena changes, each get zeroed bitmaps no
 * other thread got (each fills its own with its mark and finds it intact
 * at the end), and handed_bytes counts every byte.  Run under TSan. */
enum { GB_THREADS = 4, GB_EACH = 3000 };

struct gb_worker {
    struct gcbits *g;
    unsigned id;
    uint8_t *p[GB_EACH];
    size_t n[GB_EACH];
    bool dirty; /* a bitmap was not zero when handed out */
    size_t bytes;
};

static void *gb_run(void *arg)
{
    struct gb_worker *w = arg;
    uint64_t rng = 77 + w->id;
    for (int i = 0; i < GB_EACH; i++) {
        size_t n = 8 * (1 + (size_t)(rng_next(&rng) % 16)); /* 8 .. 128: a sweep's sizes */
        uint8_t *p = i % 2 ? gcbits_alloc_sweep(w->g, n) : gcbits_alloc(w->g, n);
        if (p == NULL)
            return NULL;
        w->dirty |= !mem_is_zero(p, n);
        memset(p, (int)w->id + 1, n);
        w->p[i] = p;
        w->n[i] = n;
        w->bytes += n;
    }
    return NULL;
}

static void test_gcbits_concurrent(void **state)
{
    (void)state;
    struct bitsenv *e = calloc(1, sizeof *e);
    struct gb_worker *w = calloc(GB_THREADS, sizeof *w);
    assert_non_null(e);
    assert_non_null(w);
    sysmem_init(&e->sys, &sys_linux_ops, false);
    gcbits_init(&e->g, &e->sys);
    for (int round = 0; round < 4; round++) { /* arenas reused from the free list too */
        pthread_t th[GB_THREADS];
        memset(w, 0, GB_THREADS * sizeof *w);
        uint64_t handed0 = ld(&e->g.handed_bytes);
        for (unsigned k = 0; k < GB_THREADS; k++) {
            w[k].g = &e->g;
            w[k].id = k;
            assert_int_equal(pthread_create(&th[k], NULL, gb_run, &w[k]), 0);
        }
        size_t bytes = 0;
        for (unsigned k = 0; k < GB_THREADS; k++) {
            pthread_join(th[k], NULL);
            assert_false(w[k].dirty);
            bytes += w[k].bytes;
            for (int i = 0; i < GB_EACH; i++) {
                assert_non_null(w[k].p[i]);
                for (size_t b = 0; b < w[k].n[i]; b++)
                    assert_int_equal(w[k].p[i][b], k + 1);
            }
        }
        assert_int_equal(ld(&e->g.handed_bytes), handed0 + bytes);
        gcbits_new_epoch(&e->g);
    }
    gcbits_release_all(&e->g);
    assert_int_equal(ld(&e->sys.ready), 0);
    free(w);
    free(e);
}

/* gcbits_reserve holds one spare arena, taken from the free list before
 * the OS, and gcbits_alloc (a new span's bits) never takes it. */
static void test_gcbits_spare(void **state)
{
    (void)state;
    struct bitsenv *e = calloc(1, sizeof *e);
    assert_non_null(e);
    sysmem_init(&e->sys, &sys_linux_ops, false);
    gcbits_init(&e->g, &e->sys);
    const uint64_t chunk = (uint64_t)64 << 10;
    assert_true(gcbits_reserve(&e->g));
    void *spare = atomic_ptr_load_relaxed(&e->g.spare);
    assert_non_null(spare);
    assert_int_equal(ld(&e->g.sys_bytes), chunk);
    assert_true(gcbits_reserve(&e->g)); /* held: nothing new */
    assert_int_equal(ld(&e->g.sys_bytes), chunk);
    for (int i = 0; i < 200; i++) /* several arenas, none of them the spare */
        assert_non_null(gcbits_alloc(&e->g, 1024));
    assert_ptr_equal(atomic_ptr_load_relaxed(&e->g.spare), spare);
    assert_int_equal(ld(&e->g.spare_taken), 0);
    gcbits_release_all(&e->g);
    assert_int_equal(ld(&e->sys.ready), 0);
    free(e);
}

/* bit_set_atomic sets exactly bit i of the byte-addressed bitmap (the
 * bit bit_load, load_le64 and the sweeper read), whatever word-sized
 * operation it uses, returns true only the first time, and leaves every
 * other bit alone. */
static void test_bit_set_atomic_layout(void **state)
{
    (void)state;
    _Alignas(8) uint8_t bits[32];
    for (uint32_t i = 0; i < 8 * sizeof(bits); i++) {
        memset(bits, 0, sizeof(bits));
        assert_true(bit_set_atomic(bits, i));
        assert_false(bit_set_atomic(bits, i));
        for (uint32_t j = 0; j < 8 * sizeof(bits); j++)
            assert_int_equal(bit_load(bits, j), j == i);
        assert_int_equal(bits[i / 8], 1u << (i % 8));
        assert_int_equal(load_le64(bits + i / 64 * 8), (uint64_t)1 << (i % 64));
    }
}

/* Real spans get their alloc bitmaps and mark bytes from the heap's
 * gcbits: distinct, zeroed, sized for nelems (a bit, a byte per slot). */
static void test_span_bitmaps(void **state)
{
    struct mheap *h = *state;
    struct mspan *s1 = class_span(h, 1), *s2 = class_span(h, 1);
    assert_int_equal(bitmap_bytes(s1->nelems), 128);
    assert_int_equal(mark_bytes(s1->nelems), 1024);
    const uint8_t *bm[4] = {s1->alloc_bits, s1->gcmarks, s2->alloc_bits, s2->gcmarks};
    size_t nb[4] = {128, 1024, 128, 1024};
    for (int i = 0; i < 4; i++) {
        assert_true(mem_is_zero(bm[i], nb[i]));
        for (int j = 0; j < i; j++)
            assert_true(bm[i] + nb[i] <= bm[j] || bm[j] + nb[j] <= bm[i]);
    }
    mheap_free_span(h, s1);
    mheap_free_span(h, s2);
}

/* MB4: a span's mark bytes live with it; a span record freed with marks
 * set and taken again (the pool's free list) comes back with all of its
 * marks clear, for every pool size. */
static void test_mark_bytes_reused_clear(void **state)
{
    struct mheap *h = *state;
    static const unsigned classes[] = {1, 2, 5, 20, 40};
    for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++) {
        struct mspan *s = class_span(h, classes[k]);
        uint8_t *marks = s->gcmarks;
        for (uint32_t i = 0; i < s->nelems; i += 3)
            mark_store(s->gcmarks, i);
        mheap_free_span(h, s);
        s = class_span(h, classes[k]);
        assert_ptr_equal(s->gcmarks, marks); /* the same record, from the free list */
        assert_true(mem_is_zero(s->gcmarks, mark_bytes(s->nelems)));
        mheap_free_span(h, s);
    }
}

/* mark_pack8 turns every pattern of 8 mark bytes (0 or 1) into the byte
 * with bit k set exactly when byte k is 1: no partial product of its
 * multiply leaks into another bit (the sweep's alloc bits, MB1). */
static void test_mark_pack8_all_patterns(void **state)
{
    (void)state;
    uint8_t b[8];
    for (unsigned pat = 0; pat < 256; pat++) {
        for (int k = 0; k < 8; k++)
            b[k] = (uint8_t)((pat >> k) & 1);
        assert_int_equal(mark_pack8(b), pat);
    }
}

/* mark_pack64 gathers 64 mark bytes into one alloc-bitmap word, bit k
 * for byte k, for single marks at every position and random patterns. */
static void test_mark_pack64(void **state)
{
    (void)state;
    uint8_t b[64];
    for (unsigned k = 0; k < 64; k++) {
        memset(b, 0, sizeof b);
        b[k] = 1;
        assert_true(mark_pack64(b) == (uint64_t)1 << k);
    }
    uint64_t seed = 64;
    for (int round = 0; round < 1000; round++) {
        uint64_t want = rng_next(&seed);
        for (unsigned k = 0; k < 64; k++)
            b[k] = (uint8_t)((want >> k) & 1);
        assert_true(mark_pack64(b) == want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_span_in_order, heapspan_setup, heapspan_teardown),
        cmocka_unit_test_setup_teardown(test_partial_spans_random, heapspan_setup, heapspan_teardown),
        cmocka_unit_test_setup_teardown(test_window_edges, heapspan_setup, heapspan_teardown),
        cmocka_unit_test_setup_teardown(test_prepare_cache_mid_window, heapspan_setup,
                                        heapspan_teardown),
        cmocka_unit_test_setup_teardown(test_commit_alloc_bits, heapspan_setup, heapspan_teardown),
        cmocka_unit_test_setup_teardown(test_commit_full_span, heapspan_setup, heapspan_teardown),
        cmocka_unit_test(test_object_index_every_offset),
        cmocka_unit_test_setup_teardown(test_span_is_valid, heapspan_setup, heapspan_teardown),
        cmocka_unit_test(test_gcbits_alloc),
        cmocka_unit_test(test_gcbits_epochs),
        cmocka_unit_test(test_gcbits_concurrent),
        cmocka_unit_test(test_gcbits_spare),
        cmocka_unit_test(test_bit_set_atomic_layout),
        cmocka_unit_test(test_mark_pack8_all_patterns),
        cmocka_unit_test(test_mark_pack64),
        cmocka_unit_test_setup_teardown(test_mark_bytes_reused_clear, heapspan_setup, heapspan_teardown),
        cmocka_unit_test_setup_teardown(test_span_bitmaps, heapspan_setup, heapspan_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
