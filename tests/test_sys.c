/*
 * test_sys.c - the OS memory layer (alloc/sys.h) and what the heap does
 * when the OS refuses memory.
 *
 * Part 1 drives the sys_* transitions on a bare sysmem and checks that
 * each moves exactly its bytes between the reserved / prepared / ready
 * counters (invariant S1), that mapped memory is writable, that a page
 * given back with MADV_DONTNEED reads as zero, that a faulted range is
 * inaccessible again, and that sys_alloc gives zeroed Ready memory.
 *
 * Part 2 is fault injection (STYLE.md habit 15): a struct sys_ops that
 * wraps sys_linux_ops and refuses reservations or mappings on demand
 * (all of them, or only the Nth).  Through gchi_heap_new_with_ops it shows
 * that an allocation that cannot get memory returns NULL with GCH_ENOMEM,
 * leaves the heap consistent (gchi_heap_verify, H1, S1 against the
 * arenas and metadata), and that the heap allocates normally once the OS
 * cooperates again: out of memory loses nothing.  Every reserve and map
 * point of a fixed workload is failed in turn.  Repeatedly refused
 * mappings of a new arena are retried in that arena: the heap does not
 * reserve another 64 MiB per failed attempt.
 *
 * Part 3 is the configured heap_limit (H4): allocations past it fail with
 * GCH_ENOMEM, smaller ones still succeed, HeapSys never exceeds it.
 */
#include "testutil.h"
#include "mheap.h"
#include "sys.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#define MIB ((size_t)1 << 20)

/* expect_counters: the three state counters, exactly. */
static void expect_counters(struct sysmem *m, uint64_t reserved, uint64_t prepared, uint64_t ready)
{
    if (ld(&m->reserved) != reserved || ld(&m->prepared) != prepared || ld(&m->ready) != ready)
        fail_msg("counters reserved/prepared/ready = %llu/%llu/%llu, want %llu/%llu/%llu",
                 (unsigned long long)ld(&m->reserved), (unsigned long long)ld(&m->prepared),
                 (unsigned long long)ld(&m->ready), (unsigned long long)reserved,
                 (unsigned long long)prepared, (unsigned long long)ready);
}

/* ---- part 1: the transitions ----------------------------------------- */

/* None -> Reserved -> Prepared -> Ready -> Prepared -> Ready -> Reserved
 * -> None over parts of one reservation; S1 holds after every step. */
static void test_state_transitions(void **state)
{
    (void)state;
    struct sysmem m;
    sysmem_init(&m, &sys_linux_ops, false);
    expect_counters(&m, 0, 0, 0);
    const size_t total = 4 * MIB, pg = sys_phys_page_size();

    char *base = sys_reserve(&m, NULL, total);
    assert_non_null(base);
    expect_counters(&m, total, 0, 0);

    assert_true(sys_map(&m, base, MIB));
    expect_counters(&m, total - MIB, MIB, 0);
    base[0] = 1; /* Prepared memory is accessible */
    base[MIB - 1] = 2;
    assert_int_equal(base[0] + base[MIB - 1], 3);

    sys_used(&m, base, MIB / 2);
    expect_counters(&m, total - MIB, MIB / 2, MIB / 2);
    memset(base, 0xab, MIB / 2);

    uint64_t calls = ld(&m.unused_calls);
    assert_true(sys_unused(&m, base, 4 * pg));
    expect_counters(&m, total - MIB, MIB / 2 + 4 * pg, MIB / 2 - 4 * pg);
    assert_int_equal(ld(&m.unused_calls), calls + 1);
    /* MADV_DONTNEED: the next touch sees zero pages; the rest is kept. */
    assert_true(mem_is_zero(base, 4 * pg));
    assert_int_equal((unsigned char)base[4 * pg], 0xab);

    sys_used(&m, base, 4 * pg);
    expect_counters(&m, total - MIB, MIB / 2, MIB / 2);
    base[pg] = 7;
    assert_int_equal(base[pg], 7);

    /* Back to Reserved from both mapped states. */
    sys_fault(&m, base, MIB / 2, SYS_READY);
    expect_counters(&m, total - MIB / 2, MIB / 2, 0);
    sys_fault(&m, base + MIB / 2, MIB / 2, SYS_PREPARED);
    expect_counters(&m, total, 0, 0);

    /* Mapping a faulted range again gives fresh zero pages. */
    assert_true(sys_map(&m, base, pg));
    assert_true(mem_is_zero(base, pg));
    expect_counters(&m, total - pg, pg, 0);
    sys_free(&m, base, pg, SYS_PREPARED);
    sys_free(&m, base + pg, total - pg, SYS_RESERVED);
    expect_counters(&m, 0, 0, 0);
}

/* MADV_FREE mode moves the same bytes between the same counters. */
static void test_unused_madv_free_counts(void **state)
{
    (void)state;
    struct sysmem m;
    sysmem_init(&m, &sys_linux_ops, true);
    const size_t n = 16 * sys_phys_page_size();
    char *p = sys_alloc(&m, n);
    assert_non_null(p);
    memset(p, 1, n);
    expect_counters(&m, 0, 0, n);
    assert_true(sys_unused(&m, p, n));
    expect_counters(&m, 0, n, 0);
    assert_int_equal(ld(&m.unused_calls), 1);
    sys_used(&m, p, n);
    p[n - 1] = 3; /* still ours and writable, whatever the kernel discarded */
    assert_int_equal(p[n - 1], 3);
    expect_counters(&m, 0, 0, n);
    sys_free(&m, p, n, SYS_READY);
    expect_counters(&m, 0, 0, 0);
}

/* sys_alloc: None -> Ready in one step, zeroed and writable; it counts
 * only Ready bytes. */
static void test_sys_alloc_ready_zeroed(void **state)
{
    (void)state;
    struct sysmem m;
    sysmem_init(&m, &sys_linux_ops, false);
    const size_t n = MIB + 3 * sys_phys_page_size();
    unsigned char *p = sys_alloc(&m, n);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % sys_phys_page_size(), 0);
    expect_counters(&m, 0, 0, n);
    assert_true(mem_is_zero(p, n));
    memset(p, 0xcd, n);
    unsigned char *q = sys_alloc(&m, n);
    assert_non_null(q);
    assert_true(mem_is_zero(q, n));
    expect_counters(&m, 0, 0, 2 * n);
    sys_free(&m, p, n, SYS_READY);
    sys_free(&m, q, n, SYS_READY);
    expect_counters(&m, 0, 0, 0);
}

/* touch_reserved: runs in a child; reading a Reserved page must fault. */
static void touch_page(void *arg)
{
    volatile char *p = arg;
    char c = *p;
    (void)c;
    _exit(0);
}

static void expect_crash(void (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", 0);
        if (devnull >= 0)
            dup2(devnull, 2); /* a sanitizer's SEGV report is expected noise */
        signal(SIGSEGV, SIG_DFL); /* not cmocka's handler: it would go on testing */
        signal(SIGBUS, SIG_DFL);
        fn(arg);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* A plain build dies of SIGSEGV; under ASan the handler exits non-zero. */
    assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
}

/* A range in state Reserved (never mapped, or faulted back) is not
 * accessible: the states are real, not just counters. */
static void test_reserved_is_inaccessible(void **state)
{
    (void)state;
    struct sysmem m;
    sysmem_init(&m, &sys_linux_ops, false);
    const size_t pg = sys_phys_page_size();
    char *p = sys_reserve(&m, NULL, 2 * pg);
    assert_non_null(p);
    expect_crash(touch_page, p);
    assert_true(sys_map(&m, p, 2 * pg));
    sys_used(&m, p, 2 * pg);
    p[pg] = 1;
    sys_fault(&m, p + pg, pg, SYS_READY);
    expect_crash(touch_page, p + pg);
    p[0] = 1; /* the first page is still Ready */
    expect_counters(&m, pg, 0, pg);
    sys_free(&m, p, pg, SYS_READY);
    sys_free(&m, p + pg, pg, SYS_RESERVED);
    expect_counters(&m, 0, 0, 0);
}

/* sys_map_ahead makes Reserved memory accessible without counting it:
 * it stays Reserved (S1 unchanged) until sys_map_premapped counts a part
 * Prepared, with no OS call; a refused map-ahead changes nothing. */
static void test_map_ahead(void **state)
{
    (void)state;
    struct sysmem m;
    sysmem_init(&m, &sys_linux_ops, false);
    const size_t pg = sys_phys_page_size();
    char *p = sys_reserve(&m, NULL, 4 * pg);
    assert_non_null(p);
    assert_true(sys_map_ahead(&m, p + pg, 3 * pg));
    expect_counters(&m, 4 * pg, 0, 0);
    expect_crash(touch_page, p); /* below the range: still inaccessible */
    assert_true(mem_is_zero(p + pg, 3 * pg));
    sys_map_premapped(&m, pg);
    expect_counters(&m, 3 * pg, pg, 0);
    sys_used_fresh(&m, p + pg, pg);
    p[pg] = 1;
    expect_counters(&m, 3 * pg, 0, pg);
    sys_free(&m, p + pg, pg, SYS_READY);
    sys_free(&m, p, pg, SYS_RESERVED);
    sys_free(&m, p + 2 * pg, 2 * pg, SYS_RESERVED);
    expect_counters(&m, 0, 0, 0);
}

/* ---- part 2: fault injection ------------------------------------------ */

/* The size of a gcBits arena (alloc/mspan.c GCBITS_CHUNK): the only
 * metadata the heap maps in 64 KiB (persistent chunks are 256 KiB or a
 * large record's own size). */
#define GCBITS_ARENA_BYTES ((size_t)64 << 10)

/* fake: counts calls and refuses some.  fail_*_all refuses every call;
 * fail_*_at = N refuses only the Nth call counted from arming (one-shot). */
struct fake {
    bool fail_reserve_all, fail_map_all;
    int fail_reserve_at, fail_map_at;
    int fail_arena_maps; /* refuse this many maps at an arena base (below) */
    int fail_bits_reserves; /* refuse this many reservations of a gcBits arena */
    bool fail_bits_all;     /* refuse every reservation of a gcBits arena */
    int reserves, maps; /* calls since arming */
    int big_reserves;   /* reservations of ARENA_SIZE or more, since arming */
    int arena_maps;     /* maps inside an arena reservation, since arming */
    uintptr_t small_lo; /* the latest reservation under ARENA_SIZE (metadata: sys_alloc */
    size_t small_n;     /* maps it next; the OS may place it in a trimmed arena's hole) */
    size_t max_arena_map; /* the largest of those, in bytes */
    int refused;
    uint64_t live;      /* bytes reserved through us and not yet released */
    /* the last reservations of ARENA_SIZE or more: [lo, hi) */
    uintptr_t big_lo[16], big_hi[16];
    /* Last (fake_arm keeps it): guards the fields above while the heap's
     * own threads may call in (the background sweeper's reserve of a
     * gcBits arena, with collection on); a zeroed mutex is an
     * initialised one (glibc). */
    pthread_mutex_t mu;
};

/* in_arena: v is inside one of our big reservations (an arena, not
 * metadata). */
static bool in_arena(const struct fake *f, const void *v)
{
    for (int i = 0; i < 16; i++)
        if ((uintptr_t)v >= f->big_lo[i] && (uintptr_t)v < f->big_hi[i])
            return true;
    return false;
}

/* at_arena_base: v is ARENA_SIZE-aligned and inside one of our big
 * reservations, so it is an arena's first page (not metadata that
 * happens to be aligned). */
static bool at_arena_base(const struct fake *f, const void *v)
{
    return ((uintptr_t)v & (ARENA_SIZE - 1)) == 0 && in_arena(f, v);
}

static void *fake_reserve_locked(struct fake *f, void *hint, size_t n)
{
    f->reserves++;
    if (f->fail_reserve_all || f->reserves == f->fail_reserve_at) {
        f->refused++;
        return NULL;
    }
    if (n == GCBITS_ARENA_BYTES && (f->fail_bits_all || f->fail_bits_reserves > 0)) {
        f->fail_bits_reserves -= f->fail_bits_reserves > 0;
        f->refused++;
        return NULL;
    }
    void *p = sys_linux_ops.reserve(NULL, hint, n);
    if (p != NULL)
        f->live += n;
    if (p != NULL && n < ARENA_SIZE) {
        f->small_lo = (uintptr_t)p;
        f->small_n = n;
    }
    if (p != NULL && n >= ARENA_SIZE) {
        int i = f->big_reserves++ % 16;
        f->big_lo[i] = (uintptr_t)p;
        f->big_hi[i] = (uintptr_t)p + n;
    }
    return p;
}

static void *fake_reserve(void *ctx, void *hint, size_t n)
{
    struct fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    void *p = fake_reserve_locked(f, hint, n);
    pthread_mutex_unlock(&f->mu);
    return p;
}

static bool fake_map_locked(struct fake *f, void *v, size_t n)
{
    f->maps++;
    bool arena = in_arena(f, v) && !((uintptr_t)v == f->small_lo && n == f->small_n);
    f->arena_maps += arena;
    if (arena && n > f->max_arena_map)
        f->max_arena_map = n;
    if (f->fail_map_all || f->maps == f->fail_map_at) {
        f->refused++;
        return false;
    }
    if (f->fail_arena_maps > 0 && at_arena_base(f, v)) {
        f->fail_arena_maps--;
        f->refused++;
        return false;
    }
    return sys_linux_ops.map(NULL, v, n);
}

static bool fake_map(void *ctx, void *v, size_t n)
{
    struct fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    bool ok = fake_map_locked(f, v, n);
    pthread_mutex_unlock(&f->mu);
    return ok;
}

static void fake_used(void *ctx, void *v, size_t n) { (void)ctx; sys_linux_ops.used(NULL, v, n); }
static bool fake_unused(void *ctx, void *v, size_t n, bool f)
{
    (void)ctx;
    return sys_linux_ops.unused(NULL, v, n, f);
}
static void fake_release(void *ctx, void *v, size_t n)
{
    struct fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    bool ok = f->live >= n;
    f->live -= n;
    pthread_mutex_unlock(&f->mu);
    assert_true(ok);
    sys_linux_ops.release(NULL, v, n);
}
static void fake_fault(void *ctx, void *v, size_t n) { (void)ctx; sys_linux_ops.fault(NULL, v, n); }

/* fake_arm: reset the call counts and failure plan (not `live`). */
static void fake_arm(struct fake *f, int reserve_at, int map_at)
{
    pthread_mutex_lock(&f->mu);
    uint64_t live = f->live;
    memset(f, 0, offsetof(struct fake, mu));
    f->live = live;
    f->fail_reserve_at = reserve_at;
    f->fail_map_at = map_at;
    pthread_mutex_unlock(&f->mu);
}

/* fake_arm_bits: refuse the next `count` gcBits arenas, or all of them. */
static void fake_arm_bits(struct fake *f, int count, bool all)
{
    pthread_mutex_lock(&f->mu);
    f->fail_bits_reserves = count;
    f->fail_bits_all = all;
    pthread_mutex_unlock(&f->mu);
}

/* fake_refused / fake_live: read under the lock (the background sweeper
 * may be calling in). */
static int fake_refused(struct fake *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->refused;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static uint64_t fake_live(struct fake *f)
{
    pthread_mutex_lock(&f->mu);
    uint64_t n = f->live;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static gch_heap *fake_heap(struct fake *f, const gch_config *cfg)
{
    struct sys_ops ops = {fake_reserve, fake_map,    fake_used, fake_unused,
                          fake_release, fake_fault, f,         NULL};
    gch_heap *h = gchi_heap_new_with_ops(cfg, &ops);
    assert_non_null(h);
    return h;
}

/* counters_agree: H1, S1 (every byte the sysmem counts is an arena or a
 * metadata chunk, and is address space the OS really gave and was not
 * given back) and released pages = Prepared bytes; false with the first
 * identity that fails in *why. */
static bool counters_agree(const struct mheap *m, const char **why)
{
    struct fake *f = m->sys.ops.ctx;
    uint64_t held = ld(&m->sys.reserved) + ld(&m->sys.prepared) + ld(&m->sys.ready);
    uint64_t narenas = 0;
    for (const struct heaparena *a = m->arenas; a != NULL; a = a->next)
        narenas++;
    uint64_t meta = ld(&m->pa.sys_bytes) + ld(&m->pa_rel.sys_bytes) + ld(&m->gcbits.sys_bytes);
    *why = fake_live(f) != held                    ? "fake's live bytes = sysmem's"
           : held != narenas * ARENA_SIZE + meta ? "S1: sysmem = arenas x 64 MiB + metadata"
           : ld(&m->pages_mapped) != ld(&m->pages_inuse) + ld(&m->pages_free) + ld(&m->pages_released)
               ? "H1: mapped = in use + free + released"
           /* Released heap pages are exactly the Prepared bytes (metadata is Ready). */
           : ld(&m->sys.prepared) != ld(&m->pages_released) * PAGE_SIZE ? "Prepared = released pages"
                                                                          : NULL;
    return *why == NULL;
}

/* check_heap: the heap's own verifier, counters_agree, span records ==
 * in-use spans, and the HeapSys identity.  With collection on, the
 * background sweeper and scavenger may be between two counters (a
 * release moves Ready to Prepared before it counts the pages released;
 * a sweeper's reserve maps a gcBits arena before it counts it): the
 * counters are read again until they agree, for up to 2 s. */
static void check_heap(gch_heap *h)
{
    struct mheap *m = &h->mheap;
    assert_int_equal(gchi_heap_verify(h), 0);
    lock_acquire(&m->lock); /* a sweeper may be freeing a span */
    size_t records = m->spanalloc.inuse;
    uint64_t spans = ld(&m->spans_inuse);
    lock_release(&m->lock);
    assert_int_equal(records, spans);
    const char *why = NULL;
    for (int tries = 0; !counters_agree(m, &why) && tries < 2000; tries++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (why != NULL)
        fail_msg("counters disagree: %s", why);
    gch_stats st;
    gch_read_stats(h, &st);
    assert_int_equal(st.heap_sys, st.heap_inuse + st.heap_idle);
    assert_true(st.heap_released <= st.heap_idle);
}

static const uint8_t one_ptr[1] = {0x1};
static const gch_type small_type = {"small", 48, one_ptr, NULL};
static const gch_type mid_type = {"mid", 1000, one_ptr, NULL};

/* With every reservation refused, nothing can be allocated, and nothing
 * changes; then the OS comes back and everything works. */
static void test_reserve_failure_loses_nothing(void **state)
{
    (void)state;
    struct fake f = {0};
    fake_arm(&f, 0, 0);
    gch_heap *h = fake_heap(&f, NULL);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    gch_stats before, after;
    gch_read_stats(h, &before);

    f.fail_reserve_all = true;
    expect_error(gch_alloc(t, &small_type), GCH_ENOMEM);
    expect_error(gch_alloc_noscan(t, 100), GCH_ENOMEM);
    expect_error(gch_alloc_noscan(t, 5), GCH_ENOMEM); /* tiny path */
    expect_error(gch_alloc_noscan(t, 200000), GCH_ENOMEM); /* large path */
    assert_true(f.refused >= 4);
    check_heap(h);
    gch_read_stats(h, &after);
    assert_int_equal(after.heap_sys, before.heap_sys);
    assert_int_equal(after.heap_inuse, before.heap_inuse);
    assert_int_equal(after.mallocs, before.mallocs);

    f.fail_reserve_all = false;
    void **p = gch_alloc(t, &small_type);
    assert_non_null(p);
    assert_null(p[0]);
    char *big = gch_alloc_noscan(t, 200000);
    assert_non_null(big);
    big[199999] = 1;
    assert_non_null(gch_alloc_noscan(t, 5));
    check_heap(h);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    check_heap(h);
    heap_free_checked(h);
    assert_int_equal(f.live, 0); /* freeing the heap returned every byte */
}

/* Same with every mapping refused: reservations succeed, so arenas may be
 * registered without a single mapped page, and the heap must still be
 * consistent and usable afterwards. */
static void test_map_failure_loses_nothing(void **state)
{
    (void)state;
    struct fake f = {0};
    fake_arm(&f, 0, 0);
    gch_heap *h = fake_heap(&f, NULL);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);

    f.fail_map_all = true;
    for (int i = 0; i < 3; i++) {
        expect_error(gch_alloc(t, &mid_type), GCH_ENOMEM);
        expect_error(gch_alloc_noscan(t, 70 * MIB), GCH_ENOMEM); /* would span two arenas */
        check_heap(h);
    }
    gch_stats st;
    gch_read_stats(h, &st);
    assert_int_equal(st.heap_sys, 0);

    f.fail_map_all = false;
    char *a = gch_alloc(t, &mid_type);
    assert_non_null(a);
    char *b = gch_alloc_noscan(t, 70 * MIB);
    assert_non_null(b);
    b[0] = b[70 * MIB - 1] = 1;
    assert_ptr_equal(gch_object_base(h, b + 70 * MIB - 1), b);
    check_heap(h);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
    assert_int_equal(f.live, 0);
}

/* Attaching needs a thread record from the metadata allocator: refused
 * memory gives NULL / GCH_ENOMEM and a later attach works. */
static void test_attach_failure(void **state)
{
    (void)state;
    struct fake f = {0};
    fake_arm(&f, 0, 0);
    f.fail_reserve_all = true;
    gch_heap *h = fake_heap(&f, NULL);
    expect_error(gch_thread_attach(h), GCH_ENOMEM);
    assert_int_equal(gchi_heap_verify(h), 0);
    f.fail_reserve_all = false;
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    assert_non_null(gch_alloc_noscan(t, 64));
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
    assert_int_equal(f.live, 0);
}

/* workload: a fixed mix of every allocation path, retrying once after a
 * NULL.  With a one-shot fault the retry must succeed: the failure left
 * nothing behind that blocks the next attempt. */
struct workload_result {
    int nulls;
};

typedef void *(*alloc_fn)(gch_thread *t, size_t arg);

static void *do_scan(gch_thread *t, size_t which) { return gch_alloc(t, which ? &mid_type : &small_type); }
static void *do_noscan(gch_thread *t, size_t n) { return gch_alloc_noscan(t, n); }

static void *alloc_checked(gch_heap *h, gch_thread *t, alloc_fn fn, size_t arg,
                           struct workload_result *r)
{
    gch_clear_error();
    void *p = fn(t, arg);
    if (p == NULL) {
        assert_int_equal(gch_last_error(), GCH_ENOMEM);
        check_heap(h);
        r->nulls++;
        p = fn(t, arg);
        if (p == NULL)
            fail_msg("allocation still fails after a one-shot fault: %s", gch_last_error_message());
    }
    return p;
}

static void run_workload(gch_heap *h, gch_thread *t, struct workload_result *r)
{
    static const size_t noscan_sizes[] = {5, 12, 16, 100, 3000, 32768, 40000, 5 * MIB};
    for (int round = 0; round < 40; round++) {
        for (size_t w = 0; w < 2; w++) {
            char *p = alloc_checked(h, t, do_scan, w, r);
            assert_true(mem_is_zero(p, w ? 1000 : 48));
        }
        size_t n = noscan_sizes[round % 8];
        if (n < MIB || round < 8) {
            char *q = alloc_checked(h, t, do_noscan, n, r);
            q[n - 1] = 1;
        }
    }
    char *huge = alloc_checked(h, t, do_noscan, 70 * MIB, r); /* crosses arenas */
    huge[70 * MIB - 1] = 1;
    check_heap(h);
}

/* Fail each reserve, then each map, of the workload in turn (Lua's
 * fault-injecting allocator does the same with allocation counts), with
 * GOGC = gc_percent (-1: off).  With collection on, the refusals also
 * meet the sweep (a gcBits arena: mspan.h GB1; it was a fatal error),
 * and an allocation a refusal failed runs a cycle and retries
 * (gchi_hook_alloc_failed), so none need reach the caller. */
static void fail_every_point(int gc_percent)
{
    struct fake f = {0};
    struct workload_result r = {0};
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = gc_percent;
    cfg.read_env = 0;
    /* A clean run counts the calls (the count can vary by one or two:
     * an aligned first reservation needs no second try). */
    fake_arm(&f, 0, 0);
    gch_heap *h = fake_heap(&f, &cfg);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    fake_arm(&f, 0, 0);
    run_workload(h, t, &r);
    assert_int_equal(r.nulls, 0);
    int nreserve = f.reserves, nmap = f.maps;
    assert_true(nreserve >= 2 && nmap >= 2);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
    assert_int_equal(f.live, 0);

    int injected = 0, surfaced = 0;
    uint64_t cycles = 0;
    for (int kind = 0; kind < 2; kind++) {
        int count = kind == 0 ? nreserve : nmap;
        for (int n = 1; n <= count + 2; n++) {
            fake_arm(&f, 0, 0);
            h = fake_heap(&f, &cfg);
            t = gch_thread_attach(h);
            assert_non_null(t);
            fake_arm(&f, kind == 0 ? n : 0, kind == 1 ? n : 0);
            memset(&r, 0, sizeof r);
            run_workload(h, t, &r);
            int refused = fake_refused(&f);
            injected += refused;
            surfaced += r.nulls;
            assert_true(r.nulls <= refused);
            assert_int_equal(gch_thread_detach(t), GCH_OK);
            check_heap(h);
            gch_stats st;
            gch_read_stats(h, &st);
            cycles += st.num_gc;
            heap_free_checked(h);
            assert_int_equal(f.live, 0);
        }
    }
    /* The loop really exercised failures, and without collection some
     * reached the caller (others were absorbed: a refused reservation at
     * the preferred address is retried without a hint); with it, cycles
     * ran. */
    if (gc_percent < 0) {
        assert_true(injected >= nreserve + nmap);
        assert_true(surfaced > 0);
        assert_int_equal(cycles, 0);
    } else { /* the background sweeper's reserves make the counts vary */
        assert_true(injected > 0);
        assert_true(cycles > 0);
    }
}

static void test_fail_every_point(void **state)
{
    (void)state;
    fail_every_point(-1);
}

static void test_fail_every_point_collecting(void **state)
{
    (void)state;
    fail_every_point(100);
}

/* ---- the sweep's alloc bits (mspan.h GB1) ------------------------------ */

/* quiet_heap: a heap over the fake that collects only when told. */
static gch_heap *quiet_heap(struct fake *f)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = -1;
    cfg.read_env = 0;
    fake_arm(f, 0, 0);
    return fake_heap(f, &cfg);
}

/* keep_list: allocate n small objects and link every third into a list
 * from *root (slot 0 of each); the rest are garbage.  Returns the count
 * linked.  The kept ones fill many spans, each with survivors, so each
 * sweep of them needs fresh alloc bits. */
static int keep_list(gch_thread *t, void **root, int n)
{
    int kept = 0;
    for (int i = 0; i < n; i++) {
        void **p = gch_alloc(t, &small_type);
        assert_non_null(p);
        if (i % 3 == 0) {
            gch_write(t, &p[0], *root);
            gch_write(t, root, p);
            kept++;
        }
    }
    return kept;
}

static int list_length(void *root)
{
    int n = 0;
    for (void **p = root; p != NULL; p = p[0])
        n++;
    return n;
}

static void *spare_of(gch_heap *h) { return atomic_ptr_load_relaxed(&h->mheap.gcbits.spare); }

/* A sweep that needs a new gcBits arena while the OS refuses one takes
 * the spare arena and finishes (it was a fatal error: "out of memory for
 * alloc bits while sweeping"); survivors keep their objects, the next
 * span allocation takes a spare again, and a second refusal in the next
 * cycle is survived the same way.  The first flip frees no arena and the
 * second only the first epoch's, which the spare's replacement emptied,
 * so both sweeps must ask the OS. */
static void test_sweep_survives_refused_bits_arena(void **state)
{
    (void)state;
    struct fake f = {0};
    gch_heap *h = quiet_heap(&f);
    struct mheap *m = &h->mheap;
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    void *root = NULL;
    assert_int_equal(gch_root_add(h, &root), GCH_OK);
    int kept = keep_list(t, &root, 30000);
    assert_non_null(spare_of(h)); /* GB1: taken with the first span */
    for (int cycle = 0; cycle < 2; cycle++) {
        uint64_t taken = ld(&m->gcbits.spare_taken);
        fake_arm(&f, 0, 0);
        fake_arm_bits(&f, 1, false);
        assert_int_equal(gch_collect(h), GCH_OK); /* sweeps everything before it returns */
        assert_int_equal(fake_refused(&f), 1);
        assert_int_equal(ld(&m->gcbits.spare_taken), taken + 1); /* a sweep took it */
        assert_true(mheap_sweep_done(m));
        assert_int_equal(list_length(root), kept);
        check_heap(h);
        /* Garbage of another class: the new spans take the spare again. */
        for (int i = 0; i < 50; i++)
            assert_non_null(gch_alloc_noscan(t, 3000));
        assert_non_null(spare_of(h));
        check_heap(h);
    }
    assert_int_equal(gch_root_remove(h, &root), GCH_OK);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
    assert_int_equal(f.live, 0);
}

/* With the OS refusing every gcBits arena, the sweep finishes on the
 * spare; then a span allocation, which cannot take the spare back,
 * fails with GCH_ENOMEM and changes nothing, and sweeping that may stop
 * stops; once the OS gives memory again everything works.
 *   gc_percent < 0: collection off, the generation swept.
 *   otherwise: collection on (set after the setup) and a generation left
 *   unswept, so the allocation that finds no span goes to the failure
 *   hook (GOGC=100; with GOGC=0 the heap is past its trigger and the slow
 *   path's start declines first), whose cycle must not start: its sweep
 *   termination would have to finish the sweep the OS refuses memory for
 *   (before, the process died there after a second: review of the sweep
 *   change, F1).  The start declines and no cycle runs. */
static void refused_bits_case(int gc_percent)
{
    struct fake f = {0};
    gch_heap *h = quiet_heap(&f);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    struct mheap *m = &h->mheap;
    void *root = NULL;
    assert_int_equal(gch_root_add(h, &root), GCH_OK);
    int kept = keep_list(t, &root, 30000);
    fake_arm(&f, 0, 0);
    fake_arm_bits(&f, 0, true);
    assert_int_equal(gch_collect(h), GCH_OK); /* finishes on the spare */
    assert_true(fake_refused(&f) >= 1);
    assert_null(spare_of(h));
    assert_int_equal(list_length(root), kept);
    if (gc_percent >= 0) {
        assert_true(gchi_test_gc_start(h)); /* a cycle that leaves its generation unswept */
        gchi_test_gc_wait(h);
        assert_false(mheap_sweep_done(m)); /* the sweepers that may stop stopped */
        gch_set_gc_percent(h, gc_percent);
    }
    gch_stats before, after;
    gch_read_stats(h, &before);
    expect_error(gch_alloc_noscan(t, 3000), GCH_ENOMEM); /* a class with no span yet */
    expect_error(gch_alloc_noscan(t, 200000), GCH_ENOMEM); /* large */
    gch_read_stats(h, &after);
    assert_int_equal(after.num_gc, before.num_gc); /* no cycle ran (declined) */
    assert_int_equal(after.heap_inuse, before.heap_inuse);
    assert_int_equal(after.mallocs, before.mallocs);
    assert_true(mheap_sweep_done(m) == (gc_percent < 0));
    check_heap(h);
    /* The OS gives memory again: the allocation takes a spare first,
     * and the next cycle and its sweep run as usual. */
    fake_arm_bits(&f, 0, false);
    assert_non_null(gch_alloc_noscan(t, 3000));
    assert_non_null(spare_of(h));
    assert_int_equal(gch_collect(h), GCH_OK);
    assert_true(mheap_sweep_done(m));
    assert_int_equal(list_length(root), kept);
    check_heap(h);
    assert_int_equal(gch_root_remove(h, &root), GCH_OK);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
    assert_int_equal(f.live, 0);
}

static void test_refused_bits_spare_is_enomem(void **state)
{
    (void)state;
    refused_bits_case(-1);
}

static void test_refused_bits_collecting_is_enomem(void **state)
{
    (void)state;
    refused_bits_case(100); /* the failure hook's cycle declines */
    refused_bits_case(0);   /* the heap trigger's start declines first */
}

static uint64_t narenas_of(const struct mheap *m)
{
    uint64_t n = 0;
    for (const struct heaparena *a = m->arenas; a != NULL; a = a->next)
        n++;
    return n;
}

/* A refused mapping of a fresh arena must not cost an arena per attempt:
 * mheap_grow keeps growing into the arena it reserved (h->cur) and the
 * next attempt maps it again.  The OS here refuses the first five
 * mappings at a 64 MiB-aligned address inside an arena reservation (an
 * arena's first pages); the first growth into the arena asks twice (the
 * arena's rest, then the step alone: mheap.c arena_os_map, which tries
 * the rest once per arena), later ones once, so four attempts fail with
 * GCH_ENOMEM, the fifth maps the step alone, and the heap holds one
 * arena's worth of address space, not five. */
static void test_map_failure_retries_the_same_arena(void **state)
{
    (void)state;
    struct fake f = {0};
    gch_heap *h = quiet_heap(&f); /* a refused allocation must not run a cycle and retry */
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    struct mheap *m = &h->mheap;
    fake_arm(&f, 0, 0);
    f.fail_arena_maps = 5;
    int attempt = 0;
    void *p = NULL;
    static const size_t sizes[] = {64, 5, 100 * 1024}; /* small, tiny, large */
    for (; attempt < 20 && p == NULL; attempt++) {
        gch_clear_error();
        p = gch_alloc_noscan(t, sizes[attempt % 3]);
        if (p == NULL) {
            assert_int_equal(gch_last_error(), GCH_ENOMEM);
            check_heap(h);
        }
        if (ld(&m->sys.reserved) > 128 * MIB)
            fail_msg("attempt %d: %llu MiB reserved after %d big reservations", attempt,
                     (unsigned long long)(ld(&m->sys.reserved) / MIB), f.big_reserves);
    }
    assert_non_null(p);
    assert_int_equal(f.fail_arena_maps, 0);
    assert_int_equal(f.refused, 5);
    assert_int_equal(attempt, 5); /* two refused mappings, then one per failed attempt */
    /* An arena is one 64 MiB reservation, or two when the first was not
     * aligned (over-reserve and trim). */
    assert_true(f.big_reserves >= 1 && f.big_reserves <= 2);
    assert_int_equal(narenas_of(m), 1);
    assert_true(ld(&m->sys.reserved) <= 128 * MIB);
    check_heap(h);
    /* every path works from the same arena */
    assert_non_null(gch_alloc_noscan(t, 64));
    assert_non_null(gch_alloc_noscan(t, 5));
    char *big = gch_alloc_noscan(t, 100 * 1024);
    assert_non_null(big);
    big[100 * 1024 - 1] = 1;
    assert_true(f.big_reserves <= 2 && narenas_of(m) == 1);
    check_heap(h);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
    assert_int_equal(f.live, 0);
}

/* The first growth step into an arena maps the arena's rest in one OS
 * call, so later steps make none (each mprotect that extends the mapping
 * waits for page faults in flight there, holding the heap lock); the
 * pages stay counted Reserved until a step counts them.  If the OS
 * refuses the rest, the step alone is mapped, and the next step tries
 * the rest again. */
static void test_growth_maps_the_arena_once(void **state)
{
    (void)state;
    struct fake f = {0};
    fake_arm(&f, 0, 0);
    gch_heap *h = fake_heap(&f, NULL);
    struct mheap *m = &h->mheap;
    fake_arm(&f, 0, 0);
    struct mspan *first = mheap_alloc_span(m, 1, 0);
    assert_non_null(first);
    assert_int_equal(f.arena_maps, 1); /* the rest of the arena, at once */
    assert_int_equal(ld(&m->pages_mapped), HEAP_GROW_PAGES); /* one step counted */
    assert_int_equal(ld(&m->sys.reserved), ARENA_SIZE - HEAP_GROW_PAGES * PAGE_SIZE);
    struct mspan *more = mheap_alloc_span(m, 5 * HEAP_GROW_PAGES, 0); /* five more steps */
    assert_non_null(more);
    assert_int_equal(f.arena_maps, 1);
    memset((void *)more->start, 0x5a, more->npages * PAGE_SIZE); /* accessible */
    check_heap(h);
    mheap_free_span(m, more);
    mheap_free_span(m, first);
    heap_free_checked(h);

    fake_arm(&f, 0, 0);
    h = fake_heap(&f, NULL);
    m = &h->mheap;
    fake_arm(&f, 0, 0);
    f.fail_arena_maps = 1; /* the rest of the arena: refused */
    first = mheap_alloc_span(m, 1, 0);
    assert_non_null(first);
    assert_int_equal(f.refused, 1);
    assert_int_equal(f.arena_maps, 2); /* the rest, refused; the step alone */
    f.max_arena_map = 0;
    more = mheap_alloc_span(m, HEAP_GROW_PAGES, 0);
    assert_non_null(more);
    assert_int_equal(f.arena_maps, 3); /* the next step alone: one try per arena */
    assert_int_equal(f.max_arena_map, HEAP_GROW_PAGES * PAGE_SIZE);
    memset((void *)more->start, 0x5a, more->npages * PAGE_SIZE);
    check_heap(h);
    mheap_free_span(m, more);
    mheap_free_span(m, first);
    heap_free_checked(h);
    assert_int_equal(f.live, 0);
}

/* The OS charges memory mapped ahead at once (VmData, RLIMIT_DATA), so
 * nothing past heap_limit is mapped ahead; with harddecommit nothing is
 * (memory the heap does not use must fault).  Growth goes on either way. */
static void test_map_ahead_bounds(void **state)
{
    (void)state;
    struct fake f = {0};
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.heap_limit = 3 * HEAP_GROW_PAGES * PAGE_SIZE;
    fake_arm(&f, 0, 0);
    gch_heap *h = fake_heap(&f, &cfg);
    struct mheap *m = &h->mheap;
    fake_arm(&f, 0, 0);
    struct mspan *a = mheap_alloc_span(m, 1, 0);
    assert_non_null(a);
    assert_int_equal(f.arena_maps, 1);
    assert_true(f.max_arena_map <= cfg.heap_limit);
    assert_true(f.max_arena_map > HEAP_GROW_PAGES * PAGE_SIZE); /* ahead, up to the limit */
    struct mspan *b = mheap_alloc_span(m, 2 * HEAP_GROW_PAGES, 0); /* maps up to the limit */
    assert_non_null(b);
    assert_int_equal(f.arena_maps, 1);
    memset((void *)b->start, 0x5a, b->npages * PAGE_SIZE);
    assert_null(mheap_alloc_span(m, HEAP_GROW_PAGES, 0)); /* H4 */
    check_heap(h);
    mheap_free_span(m, b);
    mheap_free_span(m, a);
    heap_free_checked(h);

    fake_arm(&f, 0, 0);
    h = fake_heap(&f, NULL);
    m = &h->mheap;
    m->sys.hard_decommit = true; /* GODEBUG=harddecommit=1, before the first page */
    fake_arm(&f, 0, 0);
    f.max_arena_map = 0;
    a = mheap_alloc_span(m, 1, 0);
    b = mheap_alloc_span(m, HEAP_GROW_PAGES, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(f.arena_maps, 2); /* one map per step */
    assert_int_equal(f.max_arena_map, HEAP_GROW_PAGES * PAGE_SIZE);
    check_heap(h);
    mheap_free_span(m, b);
    mheap_free_span(m, a);
    heap_free_checked(h);
    assert_int_equal(f.live, 0);
}

/* ---- part 3: heap_limit ---------------------------------------------- */

static void test_heap_limit(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.heap_limit = 8 * MIB;
    cfg.gc_percent = -1; /* the objects are garbage: a cycle would make room */
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    gch_stats st;

    expect_error(gch_alloc_noscan(t, 16 * MIB), GCH_ENOMEM);
    assert_non_null(strstr(gch_last_error_message(), "limit"));
    expect_error(gch_alloc_noscan(t, 8 * MIB + 1), GCH_ENOMEM);
    gch_read_stats(h, &st);
    assert_true(st.heap_sys <= 8 * MIB);

    /* Smaller allocations still succeed until the limit is really used. */
    assert_non_null(gch_alloc(t, &small_type));
    size_t got = 0;
    for (int i = 0; i < 20; i++) {
        gch_clear_error();
        char *p = gch_alloc_noscan(t, MIB);
        gch_read_stats(h, &st);
        assert_true(st.heap_sys <= cfg.heap_limit);
        if (p == NULL) {
            assert_int_equal(gch_last_error(), GCH_ENOMEM);
            break;
        }
        p[MIB - 1] = 1;
        got += MIB;
    }
    /* Only the one small span competes with the 1 MiB objects. */
    assert_int_equal(got, 7 * MIB);
    assert_null(gch_alloc_noscan(t, MIB));
    /* Small objects still fit in the span already held. */
    assert_non_null(gch_alloc(t, &small_type));
    assert_int_equal(gchi_heap_verify(h), 0);
    gch_read_stats(h, &st);
    assert_true(st.heap_sys <= cfg.heap_limit);
    assert_int_equal(st.heap_sys, st.heap_inuse + st.heap_idle);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

/* A limit too small to hold one growth step is a configuration error. */
static void test_heap_limit_too_small(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.heap_limit = 1 * MIB;
    expect_error(gch_heap_new(&cfg), GCH_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_transitions),
        cmocka_unit_test(test_unused_madv_free_counts),
        cmocka_unit_test(test_sys_alloc_ready_zeroed),
        cmocka_unit_test(test_reserved_is_inaccessible),
        cmocka_unit_test(test_map_ahead),
        cmocka_unit_test(test_reserve_failure_loses_nothing),
        cmocka_unit_test(test_map_failure_loses_nothing),
        cmocka_unit_test(test_attach_failure),
        cmocka_unit_test(test_fail_every_point),
        cmocka_unit_test(test_fail_every_point_collecting),
        cmocka_unit_test(test_map_failure_retries_the_same_arena),
        cmocka_unit_test(test_sweep_survives_refused_bits_arena),
        cmocka_unit_test(test_refused_bits_spare_is_enomem),
        cmocka_unit_test(test_refused_bits_collecting_is_enomem),
        cmocka_unit_test(test_growth_maps_the_arena_once),
        cmocka_unit_test(test_map_ahead_bounds),
        cmocka_unit_test(test_heap_limit),
        cmocka_unit_test(test_heap_limit_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
