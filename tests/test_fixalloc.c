/*
 * test_fixalloc.c - the off-heap metadata allocators (alloc/mfixalloc.h).
 *
 * persistent_alloc is where every arena record, index table and span
 * record comes from, and the heap relies on what it promises: zeroed
 * memory (arena bitmaps are never cleared after it), the requested
 * alignment, no overlap between blocks, and that persistent_release_all
 * gives every byte back (P1; checked through the sysmem counters, which
 * see every sys_alloc / sys_free).  fixalloc hands out span and thread
 * records: tested for distinct non-overlapping records, LIFO reuse of
 * freed records, the zero flag, the inuse count (F1), and a clean NULL
 * (and later recovery) when the OS refuses memory.
 */
#include "testutil.h"
#include "mfixalloc.h"

#include <sys/mman.h>

/* A sysmem + persistent pair over the real OS calls. */
struct meta {
    struct sysmem sys;
    struct persistent pa;
};

static int meta_setup(void **state)
{
    struct meta *m = calloc(1, sizeof *m);
    if (m == NULL)
        return -1;
    sysmem_init(&m->sys, &sys_linux_ops, false);
    persistent_init(&m->pa, &m->sys);
    *state = m;
    return 0;
}

static int meta_teardown(void **state)
{
    struct meta *m = *state;
    persistent_release_all(&m->pa);
    /* P1: every chunk went back, so nothing is left in any state. */
    assert_int_equal(atomic_u64_load_relaxed(&m->pa.sys_bytes), 0);
    assert_int_equal(atomic_u64_load_relaxed(&m->sys.ready), 0);
    assert_int_equal(atomic_u64_load_relaxed(&m->sys.prepared), 0);
    assert_int_equal(atomic_u64_load_relaxed(&m->sys.reserved), 0);
    free(m);
    return 0;
}

/* The persistent allocator's bytes are exactly what the sysmem holds
 * Ready (it is the only user of this sysmem). */
static void check_accounting(struct meta *m)
{
    assert_int_equal(atomic_u64_load_relaxed(&m->pa.sys_bytes),
                     atomic_u64_load_relaxed(&m->sys.ready));
    assert_int_equal(atomic_u64_load_relaxed(&m->sys.reserved), 0);
    assert_int_equal(atomic_u64_load_relaxed(&m->sys.prepared), 0);
}

/* ---- persistent_alloc ------------------------------------------------ */

struct block {
    unsigned char *p;
    size_t n;
    unsigned char tag;
};

/* Many random small requests: aligned, zeroed, disjoint (each block is
 * filled with its own tag and re-checked at the end). */
static void test_persistent_align_zero_disjoint(void **state)
{
    struct meta *m = *state;
    enum { N = 3000 };
    struct block *b = calloc(N, sizeof *b);
    assert_non_null(b);
    uint64_t rng = 42;
    for (int i = 0; i < N; i++) {
        size_t align = (size_t)1 << (rng_next(&rng) % 13); /* 1 .. 4096 */
        size_t n = 1 + (size_t)(rng_next(&rng) % ((rng_next(&rng) & 7) ? 200 : 5000));
        b[i].p = persistent_alloc(&m->pa, n, align);
        assert_non_null(b[i].p);
        b[i].n = n;
        b[i].tag = (unsigned char)(1 + i % 251);
        if ((uintptr_t)b[i].p % align != 0)
            fail_msg("block %d: %p is not %zu-aligned", i, (void *)b[i].p, align);
        assert_true(mem_is_zero(b[i].p, n));
        memset(b[i].p, b[i].tag, n);
    }
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < b[i].n; k++)
            if (b[i].p[k] != b[i].tag)
                fail_msg("block %d byte %zu was overwritten by another block", i, k);
    check_accounting(m);
    free(b);
}

/* A zero-byte request still gives a distinct, usable address. */
static void test_persistent_zero_size(void **state)
{
    struct meta *m = *state;
    unsigned char *a = persistent_alloc(&m->pa, 0, 1);
    unsigned char *b = persistent_alloc(&m->pa, 0, 1);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    *a = 1;
    *b = 2;
    assert_int_equal(*a, 1);
}

/* Requests above a quarter chunk get their own mapping: page aligned,
 * zeroed, fully writable, and they do not disturb the shared bump
 * region (the next small block follows the previous small one). */
static void test_persistent_large(void **state)
{
    struct meta *m = *state;
    char *s1 = persistent_alloc(&m->pa, 100, 8);
    assert_non_null(s1);
    uint64_t before = atomic_u64_load_relaxed(&m->pa.sys_bytes);
    const size_t sizes[] = {(64u << 10) + 1, 100u << 10, 1u << 20, (3u << 20) + 17};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *p = persistent_alloc(&m->pa, n, 4096);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 4096, 0);
        assert_true(mem_is_zero(p, n));
        memset(p, 0x5a, n);
        assert_int_equal(p[n - 1], 0x5a);
        uint64_t now = atomic_u64_load_relaxed(&m->pa.sys_bytes);
        assert_true(now - before >= n);
        assert_true(now - before <= n + 4096 + sys_phys_page_size());
        before = now;
        check_accounting(m);
    }
    char *s2 = persistent_alloc(&m->pa, 100, 8);
    assert_ptr_equal(s2, s1 + 104); /* 100 rounded up to the 8-byte alignment */
}

/* release_all returns every chunk, small and large, and the allocator
 * can be set up again on the same sysmem afterwards. */
static void test_persistent_release_all(void **state)
{
    struct meta *m = *state;
    for (int i = 0; i < 100; i++)
        assert_non_null(persistent_alloc(&m->pa, 10000, 64)); /* several 256 KiB chunks */
    assert_non_null(persistent_alloc(&m->pa, 1u << 20, 64));
    assert_true(atomic_u64_load_relaxed(&m->sys.ready) > (2u << 20));
    check_accounting(m);
    persistent_release_all(&m->pa);
    assert_int_equal(atomic_u64_load_relaxed(&m->pa.sys_bytes), 0);
    assert_int_equal(atomic_u64_load_relaxed(&m->sys.ready), 0);
    persistent_init(&m->pa, &m->sys);
    unsigned char *p = persistent_alloc(&m->pa, 64, 16);
    assert_non_null(p);
    assert_true(mem_is_zero(p, 64));
    check_accounting(m);
}

/* ---- fixalloc -------------------------------------------------------- */

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

/* Records are distinct, never overlap, are 16-byte aligned, zero when
 * fresh, and inuse counts them (F1), across many 16 KiB blocks. */
static void test_fixalloc_distinct(void **state)
{
    struct meta *m = *state;
    struct fixalloc f;
    fixalloc_init(&f, 40, &m->pa, false);
    assert_int_equal(f.size, 48);
    enum { N = 2000 };
    void **v = calloc(N, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < N; i++) {
        v[i] = fixalloc_alloc(&f);
        assert_non_null(v[i]);
        assert_int_equal((uintptr_t)v[i] % 16, 0);
        assert_true(mem_is_zero(v[i], f.size));
        memset(v[i], 0xee, f.size);
        assert_int_equal(f.inuse, i + 1);
    }
    qsort(v, N, sizeof *v, cmp_ptr);
    for (size_t i = 1; i < N; i++)
        assert_true((uintptr_t)v[i] >= (uintptr_t)v[i - 1] + f.size);
    for (size_t i = 0; i < N; i++)
        fixalloc_free(&f, v[i]);
    assert_int_equal(f.inuse, 0);
    free(v);
}

/* fixalloc_init_align: sizes round up to the alignment asked for, not to
 * 16, and every record is aligned to it, distinct and non-overlapping
 * across blocks (a 136-byte record at 8: 120 to a 16 KiB block, whose
 * records straddle 16-byte boundaries). */
static void test_fixalloc_align(void **state)
{
    struct meta *m = *state;
    static const struct { size_t size, align, want; } cases[] = {
        {136, 8, 136}, {130, 8, 136}, {136, 16, 144}, {100, 64, 128}, {1, 8, 8}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct fixalloc f;
        fixalloc_init_align(&f, cases[c].size, cases[c].align, &m->pa, true);
        assert_int_equal(f.size, cases[c].want);
        enum { N = 300 };
        void *v[N];
        for (size_t i = 0; i < N; i++) {
            v[i] = fixalloc_alloc(&f);
            assert_non_null(v[i]);
            assert_int_equal((uintptr_t)v[i] % cases[c].align, 0);
            assert_true(mem_is_zero(v[i], f.size));
            memset(v[i], 0xee, f.size);
        }
        qsort(v, N, sizeof v[0], cmp_ptr);
        for (size_t i = 1; i < N; i++)
            assert_true((uintptr_t)v[i] >= (uintptr_t)v[i - 1] + f.size);
        for (size_t i = 0; i < N; i++)
            fixalloc_free(&f, v[i]);
        assert_int_equal(f.inuse, 0);
        /* zeroed pool: a reused record reads zero again */
        assert_true(mem_is_zero(fixalloc_alloc(&f), f.size));
    }
}

/* fixalloc_release: with every 7th record of the first half of a
 * 136-byte pool still handed out, a release gives back only pages wholly inside runs of free
 * records: the records in use keep their contents, the pages given back
 * read as not resident, and the counts add up (F1: in use + free + in
 * released runs).  Every record comes back zeroed and distinct, free
 * list first, then the released runs, before any fresh memory; a
 * release the OS refuses keeps every record on the free list. */
static bool refuse_unused(void *ctx, void *v, size_t n, bool madv_free)
{
    (void)ctx, (void)v, (void)n, (void)madv_free;
    return false;
}

/* held_at: the records test_fixalloc_release keeps: every 7th of the
 * first half (no page there is wholly free), none of the second. */
static bool held_at(size_t i) { return i < 1500 && i % 7 == 0; }

static void test_fixalloc_release(void **state)
{
    struct meta *m = *state;
    struct fixalloc f;
    fixalloc_init_align(&f, 136, 8, &m->pa, true);
    fixalloc_set_releasable(&f);
    enum { N = 3000 };
    unsigned char **v = calloc(N, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < N; i++) {
        v[i] = fixalloc_alloc(&f);
        memset(v[i], (int)(i % 251) + 1, f.size);
    }
    for (size_t i = 0; i < N; i++)
        if (!held_at(i))
            fixalloc_free(&f, v[i]);
    size_t held = f.inuse, nfree = f.nfree;
    assert_int_equal(held + nfree, N);
    /* Refused: nothing given back, nothing lost. */
    struct sysmem refusing = m->sys;
    refusing.ops.unused = refuse_unused;
    struct fixrelease r;
    assert_true(fixalloc_release_take(&f, 0, &r));
    assert_int_equal(f.nfree, 0);
    fixalloc_release(&f, &refusing, &r);
    fixalloc_release_put(&f, &r);
    assert_int_equal(r.released_bytes, 0);
    assert_null(f.released);
    assert_int_equal(f.nfree, nfree);
    /* Below the threshold: not taken. */
    assert_false(fixalloc_release_take(&f, nfree * f.size + 1, &r));
    assert_int_equal(f.nfree, nfree);
    /* Given back. */
    assert_true(fixalloc_release_take(&f, 0, &r));
    fixalloc_release(&f, &m->sys, &r);
    fixalloc_release_put(&f, &r);
    assert_true(r.released_bytes > 0);
    size_t page = (size_t)sysconf(_SC_PAGESIZE), in_runs = 0, pages = 0;
    for (const struct fixrun *d = f.released; d != NULL; d = d->next) {
        in_runs += d->n;
        uintptr_t lo = ((uintptr_t)d->start + page - 1) & ~(uintptr_t)(page - 1);
        for (; lo + page <= (uintptr_t)d->start + (d->n - 1) * f.size; lo += page) {
            unsigned char vec = 1;
            assert_int_equal(mincore((void *)lo, page, &vec), 0);
            assert_int_equal(vec & 1, 0);
            pages++;
        }
    }
    assert_true(pages >= 1);
    assert_int_equal(f.inuse + f.nfree + in_runs, N); /* F1 */
    assert_int_equal(f.inuse, held);
    for (size_t i = 0; i < N; i += 7) { /* the records in use are untouched */
        if (!held_at(i))
            continue;
        unsigned char want = (unsigned char)(i % 251 + 1);
        for (size_t k = 0; k < f.size; k++)
            assert_int_equal(v[i][k], want);
    }
    /* Everything comes back zeroed, distinct from what is held, before
     * any fresh memory: the pool maps nothing more. */
    uint64_t sys_before = atomic_u64_load_relaxed(&m->pa.sys_bytes);
    size_t again = f.nfree + in_runs;
    for (size_t i = 0, j = 0; j < again; i++) {
        if (held_at(i))
            continue;
        v[i] = fixalloc_alloc(&f);
        assert_non_null(v[i]);
        assert_true(mem_is_zero(v[i], f.size));
        memset(v[i], 0xee, f.size);
        j++;
    }
    assert_null(f.released);
    assert_int_equal(f.nfree, 0);
    assert_int_equal(f.inuse, N);
    assert_int_equal(atomic_u64_load_relaxed(&m->pa.sys_bytes), sys_before);
    qsort(v, N, sizeof *v, cmp_ptr);
    for (size_t i = 1; i < N; i++)
        assert_true((uintptr_t)v[i] >= (uintptr_t)v[i - 1] + f.size);
    for (size_t i = 0; i < N; i++)
        fixalloc_free(&f, v[i]);
    free(v);
    check_accounting(m);
}

/* A record smaller than a free-list link is grown to hold one. */
static void test_fixalloc_tiny_records(void **state)
{
    struct meta *m = *state;
    struct fixalloc f;
    fixalloc_init(&f, 1, &m->pa, true);
    assert_true(f.size >= sizeof(struct fixlink));
    char *a = fixalloc_alloc(&f), *b = fixalloc_alloc(&f);
    assert_true(b >= a + f.size || a >= b + f.size);
    fixalloc_free(&f, a);
    assert_ptr_equal(fixalloc_alloc(&f), a);
}

/* Freed records come back last-in first-out, before any fresh memory. */
static void test_fixalloc_lifo_reuse(void **state)
{
    struct meta *m = *state;
    struct fixalloc f;
    fixalloc_init(&f, 64, &m->pa, false);
    void *v[8];
    for (int i = 0; i < 8; i++)
        v[i] = fixalloc_alloc(&f);
    fixalloc_free(&f, v[2]);
    fixalloc_free(&f, v[5]);
    fixalloc_free(&f, v[0]);
    assert_int_equal(f.inuse, 5);
    assert_ptr_equal(fixalloc_alloc(&f), v[0]);
    assert_ptr_equal(fixalloc_alloc(&f), v[5]);
    assert_ptr_equal(fixalloc_alloc(&f), v[2]);
    assert_int_equal(f.inuse, 8);
    void *fresh = fixalloc_alloc(&f);
    for (int i = 0; i < 8; i++)
        assert_ptr_not_equal(fresh, v[i]);
    assert_int_equal(f.inuse, 9);
}

/* zero = true: a reused record is zeroed whole.  zero = false: the caller
 * takes it as it was (only the free-list link was written), which is why
 * span records (zero = false) are fully initialised by span_init_layout. */
static void test_fixalloc_zero_flag(void **state)
{
    struct meta *m = *state;
    struct fixalloc fz, fn;
    fixalloc_init(&fz, 96, &m->pa, true);
    fixalloc_init(&fn, 96, &m->pa, false);
    unsigned char *a = fixalloc_alloc(&fz), *b = fixalloc_alloc(&fn);
    memset(a, 0x77, fz.size);
    memset(b, 0x77, fn.size);
    fixalloc_free(&fz, a);
    fixalloc_free(&fn, b);
    assert_ptr_equal(fixalloc_alloc(&fz), a);
    assert_true(mem_is_zero(a, fz.size));
    assert_ptr_equal(fixalloc_alloc(&fn), b);
    for (size_t i = sizeof(struct fixlink); i < fn.size; i++)
        assert_int_equal(b[i], 0x77);
}

/* Records larger than the 16 KiB refill block still work (one record per
 * block) and do not overlap. */
static void test_fixalloc_large_records(void **state)
{
    struct meta *m = *state;
    struct fixalloc f;
    fixalloc_init(&f, 20000, &m->pa, false);
    unsigned char *v[5];
    for (int i = 0; i < 5; i++) {
        v[i] = fixalloc_alloc(&f);
        assert_non_null(v[i]);
        assert_true(mem_is_zero(v[i], f.size));
        memset(v[i], i + 1, f.size);
    }
    for (int i = 0; i < 5; i++) {
        assert_int_equal(v[i][0], i + 1);
        assert_int_equal(v[i][f.size - 1], i + 1);
    }
    assert_int_equal(f.inuse, 5);
}

/* Random alloc / free against a model: inuse always equals the number of
 * records handed out (F1), and no live record is handed out twice. */
static void test_fixalloc_random_model(void **state)
{
    struct meta *m = *state;
    struct fixalloc f;
    fixalloc_init(&f, 32, &m->pa, true);
    enum { N = 500 };
    unsigned char *live[N] = {0};
    size_t nlive = 0;
    uint64_t rng = 7;
    for (int step = 0; step < 20000; step++) {
        size_t i = (size_t)(rng_next(&rng) % N);
        if (live[i] == NULL) {
            live[i] = fixalloc_alloc(&f);
            assert_non_null(live[i]);
            assert_true(mem_is_zero(live[i], f.size));
            memset(live[i], (int)(i % 255 + 1), f.size);
            nlive++;
        } else {
            /* Its contents are intact: nobody else got this record. */
            for (size_t k = 0; k < f.size; k++)
                assert_int_equal(live[i][k], i % 255 + 1);
            fixalloc_free(&f, live[i]);
            live[i] = NULL;
            nlive--;
        }
        assert_int_equal(f.inuse, nlive);
    }
}

#if GCH_DEBUG >= 2
static void free_with_none_inuse(void *arg)
{
    struct meta *m = arg;
    struct fixalloc f;
    fixalloc_init(&f, 32, &m->pa, false);
    void *v = fixalloc_alloc(&f);
    fixalloc_free(&f, v);
    fixalloc_free(&f, v); /* F1: more frees than allocations */
}

static void test_fixalloc_overfree_is_fatal(void **state)
{
    expect_fatal(free_with_none_inuse, *state, "inuse > 0");
}
#endif

/* ---- out of memory --------------------------------------------------- */

/* OS operations that refuse every reservation while `fail` is set. */
struct failing {
    bool fail;
    int refused;
};

static void *failing_reserve(void *ctx, void *hint, size_t n)
{
    struct failing *fc = ctx;
    if (fc->fail) {
        fc->refused++;
        return NULL;
    }
    return sys_linux_ops.reserve(NULL, hint, n);
}

static bool fwd_map(void *ctx, void *v, size_t n) { (void)ctx; return sys_linux_ops.map(NULL, v, n); }
static void fwd_used(void *ctx, void *v, size_t n) { (void)ctx; sys_linux_ops.used(NULL, v, n); }
static bool fwd_unused(void *ctx, void *v, size_t n, bool f)
{
    (void)ctx;
    return sys_linux_ops.unused(NULL, v, n, f);
}
static void fwd_release(void *ctx, void *v, size_t n) { (void)ctx; sys_linux_ops.release(NULL, v, n); }
static void fwd_fault(void *ctx, void *v, size_t n) { (void)ctx; sys_linux_ops.fault(NULL, v, n); }

/* When the OS refuses a chunk, persistent_alloc and fixalloc_alloc return
 * NULL, count nothing, and work again once memory is available. */
static void test_out_of_memory_recovers(void **state)
{
    (void)state;
    struct failing fc = {true, 0};
    struct sys_ops ops = {failing_reserve, fwd_map, fwd_used, fwd_unused, fwd_release, fwd_fault, &fc, NULL};
    struct sysmem sys;
    struct persistent pa;
    sysmem_init(&sys, &ops, false);
    persistent_init(&pa, &sys);
    struct fixalloc f;
    fixalloc_init(&f, 48, &pa, true);

    assert_null(persistent_alloc(&pa, 100, 8));
    assert_null(persistent_alloc(&pa, 1u << 20, 8));
    assert_null(fixalloc_alloc(&f));
    assert_int_equal(f.inuse, 0);
    assert_int_equal(fc.refused, 3);
    assert_int_equal(atomic_u64_load_relaxed(&pa.sys_bytes), 0);
    assert_int_equal(atomic_u64_load_relaxed(&sys.ready), 0);

    fc.fail = false;
    void *r = fixalloc_alloc(&f);
    assert_non_null(r);
    assert_int_equal(f.inuse, 1);
    assert_non_null(persistent_alloc(&pa, 1u << 20, 8));
    assert_int_equal(atomic_u64_load_relaxed(&pa.sys_bytes), atomic_u64_load_relaxed(&sys.ready));
    persistent_release_all(&pa);
    assert_int_equal(atomic_u64_load_relaxed(&sys.ready), 0);
}

/* A pass that gave nothing back (every free record shares a page with
 * one in use) is not repeated until as many bytes of records again were
 * freed since (kept): the scavenger's every step ran it on the same
 * records after a shrink (review of memory3, M1).  A forced pass
 * (min_bytes 0) takes them regardless; kept never exceeds nfree. */
static void test_fixalloc_release_skips_kept(void **state)
{
    struct meta *m = *state;
    struct fixalloc f;
    fixalloc_init_align(&f, 136, 8, &m->pa, true);
    fixalloc_set_releasable(&f);
    enum { N = 3000, MORE = 100 };
    void **v = calloc(N, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < N; i++)
        v[i] = fixalloc_alloc(&f);
    for (size_t i = 0; i < 1500; i++)
        if (!held_at(i))
            fixalloc_free(&f, v[i]);
    size_t nfree = f.nfree;
    struct fixrelease r;
    assert_true(fixalloc_release_take(&f, 64, &r));
    fixalloc_release(&f, &m->sys, &r);
    fixalloc_release_put(&f, &r);
    assert_int_equal(r.released_bytes, 0); /* no page was wholly free */
    assert_int_equal(f.nfree, nfree);
    assert_int_equal(f.kept, nfree);
    assert_false(fixalloc_release_take(&f, 64, &r)); /* the same records: skipped */
    assert_int_equal(f.nfree, nfree);
    for (size_t i = 1500; i < 1500 + MORE; i++)
        fixalloc_free(&f, v[i]);
    assert_false(fixalloc_release_take(&f, MORE * f.size + 1, &r));
    struct sysmem refusing = m->sys;
    refusing.ops.unused = refuse_unused;
    assert_true(fixalloc_release_take(&f, MORE * f.size, &r)); /* MORE new ones */
    fixalloc_release(&f, &refusing, &r);
    fixalloc_release_put(&f, &r); /* all back, unreleased: all count as kept */
    assert_int_equal(f.kept, nfree + MORE);
    assert_true(fixalloc_release_take(&f, 0, &r)); /* forced */
    fixalloc_release(&f, &refusing, &r);
    fixalloc_release_put(&f, &r);
    assert_int_equal(f.nfree, nfree + MORE);
    for (size_t i = 0; i < 500; i++) { /* handed out from the free list */
        assert_non_null(fixalloc_alloc(&f));
        assert_true(f.kept <= f.nfree);
    }
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_persistent_align_zero_disjoint, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_persistent_zero_size, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_persistent_large, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_persistent_release_all, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_fixalloc_distinct, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_fixalloc_align, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_fixalloc_release, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_fixalloc_release_skips_kept, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_fixalloc_tiny_records, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_fixalloc_lifo_reuse, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_fixalloc_zero_flag, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_fixalloc_large_records, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_fixalloc_random_model, meta_setup, meta_teardown),
#if GCH_DEBUG >= 2
        cmocka_unit_test_setup_teardown(test_fixalloc_overfree_is_fatal, meta_setup, meta_teardown),
#endif
        cmocka_unit_test(test_out_of_memory_recovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
