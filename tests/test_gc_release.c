/*
 * test_gc_release.c - the release mechanism under contention and
 * failure (alloc/mscavenge.c): an allocation waits for a release in
 * flight instead of failing at the heap limit (H6); the release made on
 * allocation over the memory limit never waits behind another (it runs
 * on a RUNNING mutator); a madvise the OS refuses puts the run back;
 * harddecommit maps fresh pages once.
 *
 * The OS is replaced by forwarding sys_ops (gchi_heap_new_with_ops) that
 * can hold a release at a gate, refuse it, or count mprotect calls over
 * an address.  Waits are polled with generous caps.
 */
#include "testutil.h"
#include "mpagealloc.h"
#include "gcbase.h"
#include "mgcscavenge.h"
#include "stw.h"

#include <pthread.h>
#include <time.h>

#define MIB ((size_t)1 << 20)

/* What the forwarding operations do; every field under mu. */
struct fakeos {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool gate;           /* hold each release until `open` */
    bool open;
    bool gate_expired;   /* a release left the gate unopened (after 60 s) */
    int inside;          /* releases that reached the gate */
    bool refuse;         /* unused fails */
    uintptr_t refuse_lo, refuse_hi; /* unused fails on ranges touching these */
    long sleep_us;       /* each release takes at least this long */
    int unused_calls;
    int64_t last_call_ns; /* when the latest unused call began (0: none yet) */
    int64_t min_gap_ns;   /* least time between the starts of two unused calls */
    uintptr_t watch;     /* count map calls covering this address */
    int watch_maps;
};

static void fake_init(struct fakeos *f)
{
    memset(f, 0, sizeof *f);
    f->min_gap_ns = INT64_MAX;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
}

static bool fake_map(void *ctx, void *v, size_t n)
{
    struct fakeos *f = ctx;
    pthread_mutex_lock(&f->mu);
    if (f->watch >= (uintptr_t)v && f->watch < (uintptr_t)v + n)
        f->watch_maps++;
    pthread_mutex_unlock(&f->mu);
    return sys_linux_ops.map(NULL, v, n);
}

static bool fake_unused(void *ctx, void *v, size_t n, bool madv_free)
{
    struct fakeos *f = ctx;
    pthread_mutex_lock(&f->mu);
    bool refuse = f->refuse || ((uintptr_t)v < f->refuse_hi && (uintptr_t)v + n > f->refuse_lo);
    long us = f->sleep_us;
    f->unused_calls++;
    int64_t now = sys_nanotime();
    if (f->last_call_ns != 0 && now - f->last_call_ns < f->min_gap_ns)
        f->min_gap_ns = now - f->last_call_ns;
    f->last_call_ns = now;
    if (f->gate) {
        f->inside++;
        pthread_cond_broadcast(&f->cv);
        for (int i = 0; i < 6000 && !f->open; i++) { /* 60 s at most */
            pthread_mutex_unlock(&f->mu);
            sleep_ms(10);
            pthread_mutex_lock(&f->mu);
        }
        f->gate_expired = f->gate_expired || !f->open;
    }
    pthread_mutex_unlock(&f->mu);
    if (us > 0) {
        struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
    return !refuse && sys_linux_ops.unused(NULL, v, n, madv_free);
}

/* fake_heap: a heap over the fake OS; GODEBUG from RELTEST_GODEBUG when
 * godebug is not NULL, else no environment. */
static gch_heap *fake_heap(struct fakeos *f, int gc_percent, size_t heap_limit, const char *godebug)
{
    struct sys_ops ops = sys_linux_ops;
    ops.map = fake_map;
    ops.unused = fake_unused;
    ops.ctx = f;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = gc_percent;
    cfg.heap_limit = heap_limit;
    cfg.scavenge_idle_ms = 0;
    cfg.force_gc_ms = 0;
    cfg.read_env = godebug != NULL;
    cfg.env_prefix = "RELTEST_";
    if (godebug != NULL)
        setenv("RELTEST_GODEBUG", godebug, 1);
    gch_heap *h = gchi_heap_new_with_ops(&cfg, &ops);
    unsetenv("RELTEST_GODEBUG");
    assert_non_null(h);
    return h;
}

/* free_run: a run of npages pages, written with `fill` (so its pages are
 * resident) and freed, below a one-page fence span that keeps it from
 * coalescing upward; the fence in *fence, the run's base returned. */
static uintptr_t free_run(struct mheap *m, size_t npages, int fill, struct mspan **fence)
{
    struct mspan *a = mheap_alloc_span(m, npages, 0);
    assert_non_null(a);
    *fence = mheap_alloc_span(m, 1, 0);
    assert_non_null(*fence);
    uintptr_t base = a->start;
    memset((void *)base, fill, npages * PAGE_SIZE);
    mheap_free_span(m, a);
    return base;
}

static bool page_released(struct mheap *m, uintptr_t p)
{
    struct heaparena *a = arena_of(&m->index, p);
    size_t i = (p - a->base) / PAGE_SIZE;
    return (a->scav_bits[i / 64] >> (i % 64)) & 1;
}

/* ---- H6: an allocation waits for the release in flight ---------------- */

struct job {
    struct mheap *m;
    struct mspan *span; /* the allocation's result */
    struct atomic_u32 returned; /* set after span */
};

/* wait_for_waiter: poll until an allocation waits for a busy run (H6,
 * scav_waiters) or *returned is set (60 s cap); true if one waits. */
static bool wait_for_waiter(struct mheap *m, struct atomic_u32 *returned)
{
    for (int i = 0; i < 6000; i++) {
        lock_acquire(&m->lock);
        unsigned waiting = m->scav_waiters;
        lock_release(&m->lock);
        if (waiting != 0)
            return true;
        if (returned != NULL && atomic_u32_load_acquire(returned) != 0)
            return false;
        sleep_ms(10);
    }
    return false;
}

static void *scavenge_all(void *arg)
{
    struct job *j = arg;
    mheap_scavenge(j->m, SIZE_MAX, 0, SCAV_BG, NULL);
    return NULL;
}

static void *alloc_256(void *arg)
{
    struct job *j = arg;
    j->span = mheap_alloc_span(j->m, 256, 0);
    atomic_u32_store_release(&j->returned, 1);
    return NULL;
}

/* At a 4 MiB heap limit, one 2 MiB span in use and the other 2 MiB free
 * but out of the free set for a release (held at the gate): a 2 MiB
 * allocation must wait for the release and get those pages, not fail
 * with ENOMEM (review finding 2). */
static void test_alloc_waits_for_release(void **state)
{
    (void)state;
    struct fakeos f;
    fake_init(&f);
    gch_heap *h = fake_heap(&f, -1, 4 * MIB, NULL);
    struct mheap *m = &h->mheap;
    struct mspan *a = mheap_alloc_span(m, 256, 0), *b = mheap_alloc_span(m, 256, 0);
    assert_non_null(a);
    assert_non_null(b);
    uintptr_t abase = a->start;
    memset((void *)abase, 1, 256 * PAGE_SIZE);
    mheap_free_span(m, a);
    pthread_mutex_lock(&f.mu);
    f.gate = true;
    pthread_mutex_unlock(&f.mu);
    struct job rel = {m, NULL, {0}}, al = {m, NULL, {0}};
    pthread_t tr, ta;
    assert_int_equal(pthread_create(&tr, NULL, scavenge_all, &rel), 0);
    pthread_mutex_lock(&f.mu);
    while (f.inside == 0)
        pthread_cond_wait(&f.cv, &f.mu); /* the release is in flight */
    pthread_mutex_unlock(&f.mu);
    assert_int_equal(pthread_create(&ta, NULL, alloc_256, &al), 0);
    /* Open the gate once the allocation waits for the release, or has
     * returned (unfixed: it fails at once).  A fixed 30 ms let a late
     * allocation find the pages back and pass without testing the wait. */
    assert_true(wait_for_waiter(m, &al.returned));
    pthread_mutex_lock(&f.mu);
    f.open = true;
    pthread_mutex_unlock(&f.mu);
    pthread_join(ta, NULL);
    pthread_join(tr, NULL);
    assert_non_null(al.span);
    assert_int_equal(al.span->start, abase);
    assert_false(al.span->needzero); /* released (MADV_DONTNEED) before reuse */
    mheap_free_span(m, al.span);
    mheap_free_span(m, b);
    heap_free_checked(h);
}

/* ---- the eager release never waits behind another -------------------- */

struct eagerjob {
    struct mheap *m;
    struct fakeos *f;
    bool gate_closed; /* the pass's release was still held when it returned */
    struct atomic_u32 done;
};

static void *release_eagerly(void *arg)
{
    struct eagerjob *j = arg;
    mheap_limit_scavenge(j->m);
    pthread_mutex_lock(&j->f->mu);
    j->gate_closed = !j->f->open && !j->f->gate_expired;
    pthread_mutex_unlock(&j->f->mu);
    atomic_u32_store_release(&j->done, 1);
    return NULL;
}

/* The release an allocation makes over the memory limit runs on a
 * RUNNING mutator, which every stop of the world waits for: while
 * another release is in flight (held at the gate) it must return at once
 * rather than wait for scav_lock (review finding 3; unfixed, it waited
 * for the whole gch_free_os_memory pass, and a collection's pause with
 * it: 180 ms to a second with 200 ms madvises). */
static void test_eager_release_does_not_wait(void **state)
{
    (void)state;
    struct fakeos f;
    fake_init(&f);
    gch_heap *h = fake_heap(&f, -1, 0, NULL);
    struct mheap *m = &h->mheap;
    struct mspan *fence;
    (void)free_run(m, 64, 1, &fence);
    pthread_mutex_lock(&f.mu);
    f.gate = true;
    pthread_mutex_unlock(&f.mu);
    struct job rel = {m, NULL, {0}};
    pthread_t tr, te;
    assert_int_equal(pthread_create(&tr, NULL, scavenge_all, &rel), 0);
    pthread_mutex_lock(&f.mu);
    while (f.inside == 0)
        pthread_cond_wait(&f.cv, &f.mu);
    pthread_mutex_unlock(&f.mu);
    atomic_u64_store_relaxed(&m->memory_limit, 0); /* everything Ready is over it */
    struct eagerjob e = {m, &f, false, {0}};
    assert_int_equal(pthread_create(&te, NULL, release_eagerly, &e), 0);
    /* It needs microseconds; it used to get 2 s to return, a bound on its
     * thread's start.  What is checked is that it returned while the
     * other release was still held, as it saw it itself; unfixed, it
     * waits for that release, so for the gate to open or expire. */
    bool returned = false;
    for (int i = 0; i < 6000 && !returned; i++) { /* 60 s cap */
        returned = atomic_u32_load_acquire(&e.done) != 0;
        if (!returned)
            sleep_ms(10);
    }
    pthread_mutex_lock(&f.mu);
    f.open = true;
    pthread_mutex_unlock(&f.mu);
    pthread_join(te, NULL);
    pthread_join(tr, NULL);
    assert_true(returned);
    assert_true(e.gate_closed);
    assert_int_equal(ld(&m->released_bytes[SCAV_EAGER]), 0); /* it left the work */
    assert_int_equal(ld(&m->released_bytes[SCAV_BG]), 64 * PAGE_SIZE);
    atomic_u64_store_relaxed(&m->memory_limit, UINT64_MAX);
    mheap_free_span(m, fence);
    heap_free_checked(h);
}

/* ---- the OS refuses ----------------------------------------------------- */

/* A madvise the OS refuses (mlock'd memory) is not fatal: the run goes
 * back free and Ready, the refusal is counted, nothing is counted as
 * released, and a later pass releases it (review finding 9). */
static void test_release_refused(void **state)
{
    (void)state;
    struct fakeos f;
    fake_init(&f);
    gch_heap *h = fake_heap(&f, -1, 0, NULL);
    struct mheap *m = &h->mheap;
    struct mspan *fence;
    uintptr_t base = free_run(m, 8, 0x33, &fence);
    uint64_t free0 = ld(&m->pages_free), rel0 = ld(&m->pages_released);
    f.refuse = true;
    assert_int_equal(mheap_scavenge(m, SIZE_MAX, 0, SCAV_BG, NULL), 0);
    assert_int_equal(ld(&m->scav_failed), 1);
    assert_int_equal(ld(&m->pages_free), free0);
    assert_int_equal(ld(&m->pages_released), rel0);
    assert_int_equal(ld(&m->released_bytes[SCAV_BG]), 0);
    for (int i = 0; i < 8; i++)
        assert_false(page_released(m, base + i * PAGE_SIZE));
    assert_int_equal(gchi_heap_verify(h), 0);
    assert_int_equal(*(unsigned char *)base, 0x33); /* untouched */
    f.refuse = false;
    assert_int_equal(mheap_scavenge(m, SIZE_MAX, 0, SCAV_BG, NULL), 8 * PAGE_SIZE);
    assert_true(page_released(m, base));
    mheap_free_span(m, fence);
    heap_free_checked(h);
}

/* fake_calls: releases the fake OS saw. */
static int fake_calls(struct fakeos *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->unused_calls;
    pthread_mutex_unlock(&f->mu);
    return n;
}

struct h6job {
    struct mheap *m;
    struct fakeos *f;
    struct mspan *span;
    int calls;      /* releases made when the allocation returned */
    int64_t ns;
};

static void *alloc_512_counting(void *arg)
{
    struct h6job *j = arg;
    int64_t t0 = sys_nanotime();
    j->span = mheap_alloc_span(j->m, 512, 0);
    j->ns = sys_nanotime() - t0;
    j->calls = fake_calls(j->f);
    return NULL;
}

/* At the heap limit an allocation that no free run can satisfy waits for
 * the release in flight (H6), and only for it: the pass must start no
 * new run while the allocation waits.  Four free 128-page runs between
 * fences, each release 20 ms after a gate; the allocation arrives during
 * the first (review scav2 finding 1, E1; unfixed, the pass's lock
 * handoff beat the woken allocation every time and it waited for all
 * four releases). */
static void test_h6_wait_is_one_run(void **state)
{
    (void)state;
    struct fakeos f;
    fake_init(&f);
    gch_heap *h = fake_heap(&f, -1, 8 * MIB, NULL);
    struct mheap *m = &h->mheap;
    struct mspan *runs[4], *fences[4];
    for (int i = 0; i < 4; i++) {
        runs[i] = mheap_alloc_span(m, 128, 0);
        fences[i] = mheap_alloc_span(m, 128, 0);
        assert_non_null(runs[i]);
        assert_non_null(fences[i]);
    }
    for (int i = 0; i < 4; i++) {
        memset((void *)runs[i]->start, 1, 128 * PAGE_SIZE);
        mheap_free_span(m, runs[i]);
    }
    pthread_mutex_lock(&f.mu);
    f.gate = true;
    f.sleep_us = 20000;
    pthread_mutex_unlock(&f.mu);
    struct job rel = {m, NULL, {0}};
    struct h6job al = {m, &f, NULL, 0, 0};
    pthread_t tr, ta;
    assert_int_equal(pthread_create(&tr, NULL, scavenge_all, &rel), 0);
    pthread_mutex_lock(&f.mu);
    while (f.inside == 0)
        pthread_cond_wait(&f.cv, &f.mu); /* the first release is in flight */
    pthread_mutex_unlock(&f.mu);
    assert_int_equal(pthread_create(&ta, NULL, alloc_512_counting, &al), 0);
    /* Open the gate only once the allocation waits (it used to get 30 ms
     * to arrive: under load it came later, the pass had no waiter to
     * stop for, rightly went on to the next run and the count was 2). */
    assert_true(wait_for_waiter(m, NULL));
    pthread_mutex_lock(&f.mu);
    f.open = true;
    pthread_mutex_unlock(&f.mu);
    pthread_join(ta, NULL);
    pthread_join(tr, NULL);
    print_message("512-page allocation at the limit: %s after %.1f ms, %d release(s) by then\n",
                  al.span != NULL ? "span" : "NULL", (double)al.ns / 1e6, al.calls);
    assert_null(al.span); /* no 512-page run anywhere */
    assert_int_equal(al.calls, 1);
    for (int i = 0; i < 4; i++)
        mheap_free_span(m, fences[i]);
    heap_free_checked(h);
}

/* A run the OS refuses (mlock'd) must not stop every later pass at it:
 * it is made young again and the pass goes on below it; and the eager
 * release backs off after a refusal instead of retrying it on every
 * span allocation (review scav2 finding 3, E2; unfixed, five passes
 * released nothing and 20 allocations over the limit made 20 madvise
 * attempts). */
static void test_refused_run_does_not_block_the_rest(void **state)
{
    (void)state;
    struct fakeos f;
    fake_init(&f);
    gch_heap *h = fake_heap(&f, -1, 0, NULL);
    struct mheap *m = &h->mheap;
    struct mspan *lo = mheap_alloc_span(m, 8, 0), *f1 = mheap_alloc_span(m, 1, 0);
    struct mspan *hi = mheap_alloc_span(m, 8, 0), *f2 = mheap_alloc_span(m, 1, 0);
    uintptr_t lobase = lo->start, hibase = hi->start;
    memset((void *)lobase, 1, 8 * PAGE_SIZE);
    memset((void *)hibase, 1, 8 * PAGE_SIZE);
    pthread_mutex_lock(&f.mu);
    f.refuse_lo = hibase;
    f.refuse_hi = hibase + 8 * PAGE_SIZE;
    pthread_mutex_unlock(&f.mu);
    mheap_free_span(m, lo);
    mheap_free_span(m, hi);
    assert_int_equal(mheap_scavenge(m, SIZE_MAX, 0, SCAV_BG, NULL), 8 * PAGE_SIZE);
    assert_int_equal(ld(&m->scav_failed), 1);
    assert_true(page_released(m, lobase));
    assert_false(page_released(m, hibase));
    assert_int_equal(gchi_heap_verify(h), 0);
    atomic_u64_store_relaxed(&m->memory_limit, 0); /* everything Ready is over it */
    int c0 = fake_calls(&f);
    for (int i = 0; i < 20; i++) {
        struct mspan *s = mheap_alloc_span(m, 1, 0);
        assert_non_null(s);
        mheap_free_span(m, s);
    }
    int attempts = fake_calls(&f) - c0;
    print_message("20 allocations over the limit: %d madvise attempts\n", attempts);
    assert_true(attempts <= 1);
    atomic_u64_store_relaxed(&m->memory_limit, UINT64_MAX);
    atomic_u32_store_relaxed(&m->eager_refused, 0);
    mheap_free_span(m, f1);
    mheap_free_span(m, f2);
    heap_free_checked(h);
}

/* The eager release runs on a RUNNING allocator: after the limit drops
 * far below what is Ready it releases a few runs (4 of at most 4 MiB)
 * and leaves the rest to sysmon, rather than the whole excess in one
 * go (review scav2 finding 4; unfixed, all 48 MiB: 12 madvise calls). */
static void test_eager_release_capped(void **state)
{
    (void)state;
    struct fakeos f;
    fake_init(&f);
    gch_heap *h = fake_heap(&f, -1, 0, NULL);
    struct mheap *m = &h->mheap;
    struct mspan *fence;
    (void)free_run(m, 48 * MIB / PAGE_SIZE, 1, &fence);
    atomic_u64_store_relaxed(&m->memory_limit, 0);
    mheap_limit_scavenge(m);
    uint64_t eager = ld(&m->released_bytes[SCAV_EAGER]);
    print_message("one eager release with 48 MiB over the limit: %llu KiB\n",
                  (unsigned long long)(eager >> 10));
    assert_true(eager > 0);
    assert_true(eager <= 4 * 4 * MIB);
    atomic_u64_store_relaxed(&m->memory_limit, UINT64_MAX);
    mheap_free_span(m, fence);
    heap_free_checked(h);
}

/* ---- harddecommit maps fresh pages once --------------------------------- */

/* With harddecommit, released pages are PROT_NONE and reusing them
 * mprotects them back; pages fresh from growth were made accessible by
 * the growth itself and get no second mprotect (review finding 9). */
static void test_harddecommit_fresh_pages(void **state)
{
    (void)state;
    struct fakeos f;
    fake_init(&f);
    gch_heap *h = fake_heap(&f, -1, 0, "harddecommit=1");
    struct mheap *m = &h->mheap;
    assert_true(m->sys.hard_decommit);
    struct mspan *grow = mheap_alloc_span(m, 1, 0); /* the first growth */
    uintptr_t next = grow->start + PAGE_SIZE;       /* fresh, mapped by that growth */
    pthread_mutex_lock(&f.mu);
    f.watch = next;
    pthread_mutex_unlock(&f.mu);
    struct mspan *a = mheap_alloc_span(m, 4, 0);
    assert_int_equal(a->start, next);
    assert_int_equal(f.watch_maps, 0); /* no mprotect: it is accessible already */
    memset((void *)next, 0x44, 4 * PAGE_SIZE);
    struct mspan *fence = mheap_alloc_span(m, 1, 0);
    mheap_free_span(m, a);
    assert_int_equal(mheap_scavenge(m, SIZE_MAX, 0, SCAV_BG, NULL), 4 * PAGE_SIZE);
    a = mheap_alloc_span(m, 4, 0);
    assert_int_equal(a->start, next);
    assert_int_equal(f.watch_maps, 1); /* released: PROT_NONE, mapped back once */
    assert_true(addr_is_zero(next, 4 * PAGE_SIZE));
    mheap_free_span(m, a);
    mheap_free_span(m, fence);
    mheap_free_span(m, grow);
    heap_free_checked(h);
}

/* ---- sysmon's pacing --------------------------------------------------- */

/* no_goals: the background scavenger's goals at 0 (release everything
 * free) or UINT64_MAX (release nothing), as a cycle's end would set. */
static void set_bg_goals(gch_heap *h, uint64_t goal)
{
    atomic_u64_store_relaxed(&h->gc.scav.gogc_goal, goal);
    atomic_u64_store_relaxed(&h->gc.scav.limit_goal, goal);
}

/* Cycles ending every 2 ms (kicks) must not make the background
 * scavenger work more than its 1% of a CPU (review finding 4; unfixed,
 * every kick started a burst).  Each 64 KiB release takes 1 ms here, so
 * a burst is one release and the next burst may begin 99 burst-lengths
 * later: any two releases start 99 ms apart or more, while unfixed they
 * followed the kicks, 2 ms apart.  The test checks that least gap (over
 * 250 kicks and three releases at least) rather than a count of
 * releases in "500 ms": 250 sleeps of 2 ms last far longer on a loaded
 * machine, which allowed more bursts than the count assumed, while a
 * loaded machine can only widen the gaps. */
static void test_kicks_keep_bg_pacing(void **state)
{
    (void)state;
    struct fakeos f;
    fake_init(&f);
    f.sleep_us = 1000;
    gch_heap *h = fake_heap(&f, -1, 0, NULL);
    struct mheap *m = &h->mheap;
    struct mspan *fence;
    (void)free_run(m, 32 * MIB / PAGE_SIZE, 1, &fence);
    set_bg_goals(h, 0);
    int64_t t0 = sys_nanotime();
    for (int i = 0; i < 250 || fake_calls(&f) < 3; i++) {
        if (sys_nanotime() - t0 > 60 * 1000000000LL)
            fail_msg("%d background releases in 60 s of kicks (3 expected in 300 ms)", fake_calls(&f));
        sysmon_kick(h);
        sleep_ms(2);
    }
    int64_t window = sys_nanotime() - t0;
    int calls = fake_calls(&f);
    pthread_mutex_lock(&f.mu);
    int64_t gap = f.min_gap_ns;
    pthread_mutex_unlock(&f.mu);
    uint64_t bg = ld(&m->released_bytes[SCAV_BG]);
    print_message("kicks for %lld ms: %d releases, %llu KiB, least gap %lld ms\n", (long long)(window / 1000000),
                  calls, (unsigned long long)(bg >> 10), (long long)(gap / 1000000));
    if (gap < 50 * 1000000LL)
        fail_msg("background releases of 1 ms each %lld us apart: over 1%% of a CPU", (long long)(gap / 1000));
    set_bg_goals(h, UINT64_MAX);
    mheap_free_span(m, fence);
    heap_free_checked(h);
}

/* Under churn a free page comes of age every few ms; the idle pass, which
 * scans every free page under the heap lock, must still run at most
 * every eighth of the idle period: 200 single free pages coming of age
 * 2 ms apart, idle period 1 s, 400 ms: ~4 passes (review finding 8;
 * unfixed, a pass every ~3 ms: ~130).  The window is measured, not
 * taken to be the 400 ms slept (a loaded machine sleeps longer, and
 * the floor allows a pass per 125 ms of it), and the first pass and its
 * release are waited for, not expected within the sleep. */
static void test_idle_pass_floor(void **state)
{
    (void)state;
    struct fakeos f;
    fake_init(&f);
    gch_heap *h = fake_heap(&f, -1, 0, "scavengeidlems=1000");
    struct mheap *m = &h->mheap;
    enum { N = 200 };
    struct mspan *spans[2 * N];
    for (int i = 0; i < 2 * N; i++)
        spans[i] = mheap_alloc_span(m, 1, 0);
    for (int k = 0; k < N; k++)
        mheap_free_span(m, spans[2 * k]); /* isolated single free pages */
    lock_acquire(&m->lock);
    uint32_t now = mheap_now_ms(m);
    for (int k = 0; k < N; k++) {
        struct heaparena *ar = arena_of(&m->index, spans[2 * k]->start);
        ar->free_since[(spans[2 * k]->start - ar->base) / PAGE_SIZE] = now - (1000 - 2 * (uint32_t)k);
    }
    lock_release(&m->lock);
    set_bg_goals(h, UINT64_MAX);
    int64_t t0 = sys_nanotime();
    sysmon_kick(h);
    sleep_ms(400);
    for (int i = 0; i < 3000 && ld(&m->released_bytes[SCAV_IDLE]) < PAGE_SIZE; i++)
        sleep_ms(10); /* 30 s cap; the first pass runs at the kick */
    uint64_t passes = ld(&h->sysmon.idle_passes);
    int64_t window_ms = (sys_nanotime() - t0) / 1000000;
    print_message("idle passes in %lld ms: %llu, %llu KiB released\n", (long long)window_ms,
                  (unsigned long long)passes, (unsigned long long)(ld(&m->released_bytes[SCAV_IDLE]) >> 10));
    assert_true(passes >= 1);
    assert_true(ld(&m->released_bytes[SCAV_IDLE]) >= PAGE_SIZE);
    /* one at the kick, then one per 125 ms at most; twice that allowed */
    if (passes > (uint64_t)(2 + window_ms / 62))
        fail_msg("%llu idle passes in %lld ms with a 1 s idle period", (unsigned long long)passes,
                 (long long)window_ms);
    for (int k = 0; k < N; k++)
        mheap_free_span(m, spans[2 * k + 1]);
    heap_free_checked(h);
}

/* ---- the scavtrace line and stops ------------------------------------- */

/* A trace sink that, on thread `who`, holds the first scav line until a
 * stop of the world has completed (the sink waits on something a stopped
 * thread would give it: the embedder's lock, say). */
struct held_sink {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t who;
    bool armed, inside, released, timed_out;
};

static void hold_scav_line(const char *line, void *ctx)
{
    struct held_sink *k = ctx;
    pthread_mutex_lock(&k->mu);
    if (k->armed && strncmp(line, "scav ", 5) == 0 && pthread_equal(k->who, pthread_self())) {
        k->armed = false;
        k->inside = true;
        pthread_cond_broadcast(&k->cv);
        int i = 0;
        for (; i < 300 && !k->released; i++) { /* 3 s at most */
            pthread_mutex_unlock(&k->mu);
            sleep_ms(10);
            pthread_mutex_lock(&k->mu);
        }
        k->timed_out = !k->released;
    }
    pthread_mutex_unlock(&k->mu);
}

struct collects {
    gch_heap *h;
    struct held_sink *k;
    struct atomic_u32 done;
};

/* collect_until_held: gch_collect until this thread printed a scav line
 * (the background sweeper often prints it first), 50 times at most. */
static void *collect_until_held(void *arg)
{
    struct collects *c = arg;
    gch_thread *t = gch_thread_attach(c->h);
    assert_non_null(t);
    for (int i = 0; i < 50; i++) {
        for (int j = 0; j < 64; j++)
            assert_non_null(gch_alloc_noscan(t, 4096)); /* something to sweep */
        assert_int_equal(gch_collect(c->h), GCH_OK);
        pthread_mutex_lock(&c->k->mu);
        bool held = c->k->inside;
        pthread_mutex_unlock(&c->k->mu);
        if (held)
            break;
    }
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    atomic_u32_store_release(&c->done, 1);
    return NULL;
}

/* gch_collect's sweep wait prints the cycle's scav line when it is the
 * first to see the sweep done; it must do so still in its blocking
 * section, so that a stop of the world does not wait for a thread that
 * sits in the sink holding gc.trace.mu (review finding 7; unfixed, the stop
 * waited until the sink gave up). */
static void test_scavtrace_sink_does_not_hold_stops(void **state)
{
    (void)state;
    struct held_sink k = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, pthread_self(),
                          false, false, false, false};
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = -1;
    cfg.force_gc_ms = 0;
    cfg.scavenge_idle_ms = 0;
    cfg.env_prefix = "RELTEST_";
    cfg.trace = hold_scav_line;
    cfg.trace_ctx = &k;
    setenv("RELTEST_GODEBUG", "scavtrace=1", 1);
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("RELTEST_GODEBUG");
    assert_non_null(h);
    struct collects c = {h, &k, {0}};
    pthread_t th;
    pthread_mutex_lock(&k.mu);
    assert_int_equal(pthread_create(&th, NULL, collect_until_held, &c), 0);
    k.who = th;
    k.armed = true;
    while (!k.inside && atomic_u32_load_acquire(&c.done) == 0) {
        pthread_mutex_unlock(&k.mu);
        sleep_ms(1);
        pthread_mutex_lock(&k.mu);
    }
    bool inside = k.inside;
    pthread_mutex_unlock(&k.mu);
    if (inside) {
        stop_the_world(h, NULL); /* unfixed: waits for the thread in the sink */
        start_the_world(h);
        pthread_mutex_lock(&k.mu);
        k.released = true;
        pthread_mutex_unlock(&k.mu);
    }
    pthread_join(th, NULL);
    print_message("scav line held in the sink of the collecting thread: %s\n", inside ? "yes" : "no");
    if (!inside) {
        heap_free_checked(h);
        skip(); /* the background sweeper printed every line */
    }
    assert_false(k.timed_out);
    heap_free_checked(h);
}

/* The embedder's side of the forced-line test: a lock M that a parked
 * thread holds, and a sink that waits for it (3 s at most). */
struct forced_sink {
    pthread_mutex_t m;
    gch_heap *h;
    struct atomic_u32 m_held, in_sink, collected, go; /* collected: the stop completed */
    bool timed_out; /* [m or after the joins] */
};

static void wait_for_m(const char *line, void *ctx)
{
    struct forced_sink *k = ctx;
    if (strstr(line, "(forced)") == NULL)
        return;
    atomic_u32_store_release(&k->in_sink, 1);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 3;
    if (pthread_mutex_timedlock(&k->m, &until) != 0) {
        k->timed_out = true; /* only this thread writes it */
        return;
    }
    pthread_mutex_unlock(&k->m);
}

static void *hold_m_at_safepoints(void *arg)
{
    struct forced_sink *k = arg;
    gch_thread *t = gch_thread_attach(k->h);
    pthread_mutex_lock(&k->m);
    atomic_u32_store_release(&k->m_held, 1);
    while (atomic_u32_load_acquire(&k->go) == 0) {
        gch_safepoint(t); /* parks here while the world is stopped, holding M */
        sleep_ms(1);
    }
    pthread_mutex_unlock(&k->m);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

static void *free_os_memory(void *arg)
{
    struct forced_sink *k = arg;
    gch_thread *t = gch_thread_attach(k->h);
    assert_int_equal(gch_free_os_memory(k->h), GCH_OK);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

static void *stop_once_in_sink(void *arg)
{
    struct forced_sink *k = arg;
    while (atomic_u32_load_acquire(&k->in_sink) == 0)
        sleep_ms(1);
    stop_the_world(k->h, NULL); /* unfixed: waits for the printer, RUNNING in the sink */
    start_the_world(k->h);
    atomic_u32_store_release(&k->collected, 1);
    return NULL;
}

/* gch_free_os_memory prints its "(forced)" scavtrace line still in its
 * blocking section: a sink waiting on a lock held by a thread parked at
 * a safepoint must not make a stop of the world wait for the printing
 * thread (review scav2 finding 2, E3; unfixed, the stop waited for the
 * printer, the printer for the parked thread: stuck until the sink's 3 s
 * timeout). */
static void test_forced_scavtrace_line_blocking(void **state)
{
    (void)state;
    struct forced_sink k = {PTHREAD_MUTEX_INITIALIZER, NULL, {0}, {0}, {0}, {0}, false};
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.force_gc_ms = 0;
    cfg.scavenge_idle_ms = 0;
    cfg.env_prefix = "RELTEST_";
    cfg.trace = wait_for_m;
    cfg.trace_ctx = &k;
    setenv("RELTEST_GODEBUG", "scavtrace=1", 1);
    k.h = gch_heap_new(&cfg);
    unsetenv("RELTEST_GODEBUG");
    assert_non_null(k.h);
    pthread_t tc, ta, ts;
    assert_int_equal(pthread_create(&tc, NULL, hold_m_at_safepoints, &k), 0);
    while (atomic_u32_load_acquire(&k.m_held) == 0)
        sleep_ms(1);
    assert_int_equal(pthread_create(&ts, NULL, stop_once_in_sink, &k), 0);
    assert_int_equal(pthread_create(&ta, NULL, free_os_memory, &k), 0);
    pthread_join(ts, NULL); /* returns after the sink's timeout at worst */
    assert_int_equal(atomic_u32_load_acquire(&k.collected), 1);
    atomic_u32_store_release(&k.go, 1);
    pthread_join(tc, NULL);
    pthread_join(ta, NULL);
    assert_false(k.timed_out);
    heap_free_checked(k.h);
}

/* ---- passes that yield to an H6 waiter come back -------------------- */

struct waiter_job {
    struct mheap *m;
    int delay_ms;
};

/* fake_waiter: stand in for an allocation waiting on scav_done (H6) for
 * delay_ms, then leave as a served waiter does. */
static void *fake_waiter_leaves(void *arg)
{
    struct waiter_job *w = arg;
    sleep_ms(w->delay_ms);
    lock_acquire(&w->m->lock);
    w->m->scav_waiters--;
    lock_release(&w->m->lock);
    return NULL;
}

static void fake_waiter_arrives(struct mheap *m)
{
    lock_acquire(&m->lock);
    m->scav_waiters++;
    lock_release(&m->lock);
}

/* gch_free_os_memory releases everything free even when its pass meets
 * a waiting allocation: it yields, waits, and goes on (review followups
 * finding 2; unfixed it returned with every page still held). */
static void test_forced_release_outlasts_a_waiter(void **state)
{
    (void)state;
    struct fakeos f;
    fake_init(&f);
    gch_heap *h = fake_heap(&f, -1, 0, NULL);
    struct mheap *m = &h->mheap;
    struct mspan *fence;
    uintptr_t base = free_run(m, 64, 1, &fence);
    assert_true(ld(&m->pages_free) >= 64);
    fake_waiter_arrives(m);
    struct waiter_job w = {m, 50};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fake_waiter_leaves, &w), 0);
    assert_int_equal(gch_free_os_memory(h), GCH_OK);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(ld(&m->pages_free), 0); /* every free page released */
    assert_true(page_released(m, base));
    mheap_free_span(m, fence);
    heap_free_checked(h);
}

/* A background burst that yields to a waiting allocation comes back
 * within milliseconds, not at the next cycle's kick (review followups
 * finding 1; unfixed gc_bgscavenge returned INT64_MAX). */
static void test_bg_burst_yield_comes_back(void **state)
{
    (void)state;
    struct fakeos f;
    fake_init(&f);
    gch_heap *h = fake_heap(&f, 100, 0, NULL);
    struct mheap *m = &h->mheap;
    struct mspan *fence;
    (void)free_run(m, 64, 1, &fence);
    assert_int_equal(gch_collect(h), GCH_OK); /* goals committed, sweep done */
    fake_waiter_arrives(m);                   /* sysmon's passes yield too */
    gch_set_memory_limit(h, 1);               /* everything Ready is excess */
    int64_t paced = 0, t0 = sys_nanotime();
    int64_t next = gc_bgscavenge(h, &paced);
    assert_true(next != INT64_MAX);
    assert_true(next - t0 <= 100 * 1000000LL);
    lock_acquire(&m->lock);
    m->scav_waiters--;
    lock_release(&m->lock);
    /* Served: sysmon's own burst, which yielded too, comes back by
     * itself (no kick, no cycle) and releases the excess. */
    for (int i = 0; i < 200 && ld(&m->pages_released) < 64; i++)
        sleep_ms(10);
    assert_true(ld(&m->pages_released) >= 64);
    gch_set_memory_limit(h, INT64_MAX);
    mheap_free_span(m, fence);
    heap_free_checked(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_waits_for_release),
        cmocka_unit_test(test_eager_release_does_not_wait),
        cmocka_unit_test(test_release_refused),
        cmocka_unit_test(test_h6_wait_is_one_run),
        cmocka_unit_test(test_refused_run_does_not_block_the_rest),
        cmocka_unit_test(test_eager_release_capped),
        cmocka_unit_test(test_harddecommit_fresh_pages),
        cmocka_unit_test(test_kicks_keep_bg_pacing),
        cmocka_unit_test(test_idle_pass_floor),
        cmocka_unit_test(test_scavtrace_sink_does_not_hold_stops),
        cmocka_unit_test(test_forced_scavtrace_line_blocking),
        cmocka_unit_test(test_forced_release_outlasts_a_waiter),
        cmocka_unit_test(test_bg_burst_yield_comes_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
