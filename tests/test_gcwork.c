/*
 * test_gcwork.c - the marker's grey queues (gc/mgcwork.h, G1-G7).
 *
 * Each test builds a private sysmem + persistent allocator + workbuf
 * pool, so buffer counts and the allocated total are exact.
 *
 *   - one gcwork on its own is a stack: entries come back newest first,
 *     across buffer swaps and spills to the pool; so it is through a
 *     gcwork_cursor, mixed with plain calls around which it is closed;
 *   - both local buffers full -> the older one spills to pool->full
 *     (G7 flag set), the newest full one is kept as wbuf2;
 *   - a model multiset over millions of random puts/gets/balances/
 *     disposes on three gcworks sharing a pool: nothing lost, nothing
 *     duplicated (G6), tryget returns 0 only when the caller's gcwork and
 *     the pool are empty; G2/G3 (workbuf_pool_is_valid) and G4 at the end;
 *   - dispose hands everything to another gcwork; balance gives away
 *     wbuf2 whole or the older half of wbuf1, and only when the pool
 *     looks empty;
 *   - four threads drain a synthetic tree from seeds in the pool, each
 *     node putting up to K children, with an atomic busy count deciding
 *     termination; every node is processed exactly once (run under TSan);
 *   - buffers are recycled: a second identical round carves nothing;
 *   - out of memory: put fails leaving w unchanged and loses nothing,
 *     tryget needs no memory, and puts work again once the OS gives.
 */
#include "testutil.h"
#include "mgcwork.h"

#include <pthread.h>
#include <sched.h>

/* A sysmem whose reservations can be refused on demand. */
struct faulty {
    bool fail;
    uint64_t refused;
};

static void *faulty_reserve(void *ctx, void *hint, size_t n)
{
    struct faulty *f = ctx;
    if (f->fail) {
        f->refused++;
        return NULL;
    }
    return sys_linux_ops.reserve(NULL, hint, n);
}

struct env {
    struct faulty faulty;
    struct sysmem sys;
    struct persistent pa;
    struct workbuf_pool pool;
};

static int env_setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    if (e == NULL)
        return -1;
    struct sys_ops ops = sys_linux_ops;
    ops.reserve = faulty_reserve;
    ops.ctx = &e->faulty;
    sysmem_init(&e->sys, &ops, false);
    persistent_init(&e->pa, &e->sys);
    workbuf_pool_init(&e->pool, &e->pa);
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    struct env *e = *state;
    assert_valid(workbuf_pool_is_valid(&e->pool));
    workbuf_pool_destroy(&e->pool);
    persistent_release_all(&e->pa);
    assert_int_equal(atomic_u64_load_relaxed(&e->sys.ready), 0);
    free(e);
    return 0;
}

/* G4 when no gcwork holds a buffer: every carved buffer is listed. */
static void expect_all_listed(struct workbuf_pool *p)
{
    assert_valid(workbuf_pool_is_valid(p));
    assert_int_equal(p->nfull + p->nempty, p->allocated / WORKBUF_BYTES);
}

static void put_ok(struct gcwork *w, uintptr_t x) { assert_true(gcwork_put(w, x)); }

/* ---- single gcwork ------------------------------------------------------ */

/* A fresh gcwork holds nothing, takes nothing, allocates nothing. */
static void test_fresh_is_empty(void **state)
{
    struct env *e = *state;
    struct gcwork w;
    gcwork_init(&w, &e->pool);
    assert_true(gcwork_is_empty(&w));
    assert_int_equal(gcwork_tryget(&w), 0);
    gcwork_balance(&w);
    gcwork_dispose(&w);
    assert_int_equal(e->pool.allocated, 0);
    assert_false(w.flushed_since_check);
    assert_false(workbuf_pool_has_work(&e->pool));
}

/* Alone, a gcwork is an exact stack, even across five buffers' worth
 * (swaps, spills to the pool and refills from it). */
static void test_lifo_order(void **state)
{
    struct env *e = *state;
    struct gcwork w;
    gcwork_init(&w, &e->pool);
    const uintptr_t n = 5 * WORKBUF_NOBJ + 17;
    for (uintptr_t i = 1; i <= n; i++)
        put_ok(&w, i);
    assert_true(e->pool.nfull > 0);
    for (uintptr_t i = n; i >= 1; i--)
        assert_int_equal(gcwork_tryget(&w), i);
    assert_int_equal(gcwork_tryget(&w), 0);
    assert_true(gcwork_is_empty(&w));
    w.flushed_since_check = false;
    gcwork_dispose(&w); /* only empty buffers: no work was published (G7) */
    assert_false(w.flushed_since_check);
    expect_all_listed(&e->pool);
    assert_int_equal(e->pool.nfull, 0);
}

/* Through a cursor the gcwork is the same exact stack, across buffer
 * swaps and spills; closing it brings wbuf1's count up to date, so plain
 * puts and gets made while it is closed keep the LIFO order. */
static void test_cursor_lifo(void **state)
{
    struct env *e = *state;
    struct gcwork w;
    gcwork_init(&w, &e->pool);
    struct gcwork_cursor c;
    gcwork_cursor_open(&w, &c); /* no buffer yet: everything goes slow */
    assert_int_equal(gcwork_cursor_tryget(&w, &c), 0);
    const uintptr_t n = 5 * WORKBUF_NOBJ + 17;
    for (uintptr_t i = 1; i <= n; i++) {
        if (i % 100 == 0) {
            gcwork_cursor_close(&w, &c);
            put_ok(&w, i);
            gcwork_cursor_open(&w, &c);
        } else {
            assert_true(gcwork_cursor_put(&w, &c, i));
        }
    }
    assert_true(e->pool.nfull > 0);
    for (uintptr_t i = n; i > n / 2; i--)
        assert_int_equal(gcwork_cursor_tryget(&w, &c), i);
    gcwork_cursor_close(&w, &c);
    assert_valid(gcwork_is_valid(&w, false));
    for (uintptr_t i = n / 2; i >= 1; i--)
        assert_int_equal(gcwork_tryget(&w), i);
    assert_int_equal(gcwork_tryget(&w), 0);
    gcwork_cursor_open(&w, &c);
    assert_int_equal(gcwork_cursor_tryget(&w, &c), 0);
    gcwork_cursor_close(&w, &c);
    assert_true(gcwork_is_empty(&w));
    gcwork_dispose(&w);
    expect_all_listed(&e->pool);
    assert_int_equal(e->pool.nfull, 0);
}

/* Filling wbuf1 moves to a fresh buffer and keeps the full one local;
 * only when both are full does the older spill to pool->full. */
static void test_spill_when_both_full(void **state)
{
    struct env *e = *state;
    struct gcwork w;
    gcwork_init(&w, &e->pool);
    for (uintptr_t i = 1; i <= 2 * WORKBUF_NOBJ; i++)
        put_ok(&w, i);
    assert_int_equal(e->pool.nfull, 0);
    assert_false(w.flushed_since_check);
    assert_int_equal(w.wbuf1->nobj, WORKBUF_NOBJ);
    assert_int_equal(w.wbuf2->nobj, WORKBUF_NOBJ);
    assert_int_equal(w.wbuf2->obj[0], 1); /* the older buffer is wbuf2 */

    put_ok(&w, 2 * WORKBUF_NOBJ + 1);
    assert_int_equal(e->pool.nfull, 1);
    assert_true(workbuf_pool_has_work(&e->pool));
    assert_true(w.flushed_since_check); /* G7 */
    assert_int_equal(e->pool.full->obj[0], 1); /* oldest work went out */
    assert_int_equal(w.wbuf1->nobj, 1);
    assert_int_equal(w.wbuf2->nobj, WORKBUF_NOBJ);
    assert_int_equal(w.wbuf2->obj[0], WORKBUF_NOBJ + 1);
    assert_valid(workbuf_pool_is_valid(&e->pool));
    assert_int_equal(e->pool.allocated, WORKBUF_ALLOC);
    gcwork_dispose(&w);
    assert_int_equal(e->pool.nfull, 3);
    expect_all_listed(&e->pool);
}

/* ---- model-checked random interleaving --------------------------------- */

enum { MODEL_WORKS = 3, MODEL_OPS = 3000000, MODEL_IDS = 1 << 20 };

struct model {
    uint16_t *count;  /* queued copies of each id: the multiset */
    uint64_t queued;  /* entries in the model */
    uint64_t next_id; /* next fresh id; wraps, count[] keeps multiplicity */
    uint64_t used;    /* ids handed out so far, at most MODEL_IDS */
};

/* model_put: mostly fresh ids, one in 16 a random earlier id, so the same
 * entry is sometimes queued more than once (G6 allows it). */
static void model_put(struct model *m, struct gcwork *w, uint64_t *rng)
{
    uint64_t id;
    if (m->used > 0 && rng_next(rng) % 16 == 0) {
        id = rng_next(rng) % m->used;
    } else {
        id = m->next_id;
        m->next_id = (m->next_id + 1) % MODEL_IDS;
        if (m->used < MODEL_IDS)
            m->used++;
    }
    put_ok(w, (uintptr_t)id + 1);
    m->count[id]++;
    m->queued++;
}

static void model_get(struct model *m, struct gcwork *w, struct workbuf_pool *p)
{
    uintptr_t x = gcwork_tryget(w);
    if (x == 0) {
        assert_true(gcwork_is_empty(w));
        assert_false(workbuf_pool_has_work(p));
        return;
    }
    assert_true(x >= 1 && x <= MODEL_IDS);
    if (m->count[x - 1] == 0)
        fail_msg("entry %lu came out more often than it went in", (unsigned long)x);
    m->count[x - 1]--;
    m->queued--;
}

/* One step; phases bias toward puts or gets so the queues grow deep
 * (spills) and shrink to nothing (refills, empty gets). */
static void model_step(struct model *m, struct gcwork *ws, struct workbuf_pool *p, uint64_t *rng,
                       unsigned put_bias)
{
    struct gcwork *w = &ws[rng_next(rng) % MODEL_WORKS];
    unsigned r = (unsigned)(rng_next(rng) % 1000);
    if (r < put_bias)
        model_put(m, w, rng);
    else if (r < 990)
        model_get(m, w, p);
    else if (r < 996)
        gcwork_balance(w);
    else
        gcwork_dispose(w);
}

static void test_random_model(void **state)
{
    struct env *e = *state;
    struct model m = { calloc(MODEL_IDS, sizeof(uint16_t)), 0, 0, 0 };
    assert_non_null(m.count);
    struct gcwork ws[MODEL_WORKS];
    for (int i = 0; i < MODEL_WORKS; i++)
        gcwork_init(&ws[i], &e->pool);
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    unsigned bias = 500;
    for (long op = 0; op < MODEL_OPS; op++) {
        if (op % 20000 == 0) /* new phase: 30%..80% puts */
            bias = 300 + (unsigned)(rng_next(&rng) % 500);
        model_step(&m, ws, &e->pool, &rng, bias);
        if (op % 250000 == 0)
            assert_valid(workbuf_pool_is_valid(&e->pool));
    }
    /* Drain everything through one gcwork after the others dispose. */
    for (int i = 1; i < MODEL_WORKS; i++)
        gcwork_dispose(&ws[i]);
    while (m.queued > 0)
        model_get(&m, &ws[0], &e->pool);
    assert_int_equal(gcwork_tryget(&ws[0]), 0);
    for (size_t i = 0; i < MODEL_IDS; i++)
        assert_int_equal(m.count[i], 0);
    gcwork_dispose(&ws[0]);
    expect_all_listed(&e->pool);
    assert_int_equal(e->pool.nfull, 0);
    free(m.count);
}

/* ---- dispose and balance ------------------------------------------------ */

static void expect_exactly(struct gcwork *w, uintptr_t lo, uintptr_t hi)
{
    size_t n = hi - lo + 1;
    uint8_t *seen = calloc(n, 1);
    assert_non_null(seen);
    for (size_t i = 0; i < n; i++) {
        uintptr_t x = gcwork_tryget(w);
        assert_true(x >= lo && x <= hi);
        assert_int_equal(seen[x - lo], 0);
        seen[x - lo] = 1;
    }
    free(seen);
}

/* After dispose, another gcwork gets every entry once, then nothing. */
static void test_dispose_then_other_gets_all(void **state)
{
    struct env *e = *state;
    struct gcwork a, b;
    gcwork_init(&a, &e->pool);
    gcwork_init(&b, &e->pool);
    const uintptr_t n = 3 * WORKBUF_NOBJ + 100;
    for (uintptr_t i = 1; i <= n; i++)
        put_ok(&a, i);
    a.flushed_since_check = false;
    gcwork_dispose(&a);
    assert_true(a.flushed_since_check); /* G7 */
    assert_null(a.wbuf1);
    assert_null(a.wbuf2);
    assert_int_equal(e->pool.nfull, 4);
    expect_exactly(&b, 1, n);
    assert_int_equal(gcwork_tryget(&b), 0);
    gcwork_dispose(&b);
    expect_all_listed(&e->pool);
}

/* Both buffers hold work and the pool is empty: wbuf2 goes whole. */
static void test_balance_gives_wbuf2(void **state)
{
    struct env *e = *state;
    struct gcwork a, b;
    gcwork_init(&a, &e->pool);
    gcwork_init(&b, &e->pool);
    const uintptr_t n = WORKBUF_NOBJ + 10;
    for (uintptr_t i = 1; i <= n; i++)
        put_ok(&a, i);
    gcwork_balance(&a);
    assert_int_equal(e->pool.nfull, 1);
    assert_true(a.flushed_since_check);
    expect_exactly(&b, 1, WORKBUF_NOBJ); /* the older buffer */
    for (uintptr_t i = n; i > WORKBUF_NOBJ; i--)
        assert_int_equal(gcwork_tryget(&a), i);
    assert_int_equal(gcwork_tryget(&a), 0);
    /* a has no wbuf2 now; filling it again must still work (G5). */
    for (uintptr_t i = 1; i <= 3 * WORKBUF_NOBJ; i++)
        put_ok(&a, i);
    gcwork_dispose(&a);
    expect_exactly(&b, 1, 3 * WORKBUF_NOBJ);
    gcwork_dispose(&b);
    expect_all_listed(&e->pool);
}

/* Only wbuf1 holds work: the older half is published, the newer half
 * stays in LIFO order; tiny queues and a non-empty pool are left alone. */
static void test_balance_splits_wbuf1(void **state)
{
    struct env *e = *state;
    struct gcwork a, b;
    gcwork_init(&a, &e->pool);
    gcwork_init(&b, &e->pool);
    for (uintptr_t i = 1; i <= 3; i++)
        put_ok(&a, i);
    gcwork_balance(&a); /* too little to share */
    assert_int_equal(e->pool.nfull, 0);
    for (uintptr_t i = 4; i <= 100; i++)
        put_ok(&a, i);
    gcwork_balance(&a);
    assert_int_equal(e->pool.nfull, 1);
    assert_int_equal(e->pool.full->nobj, 50);
    gcwork_balance(&a); /* the pool has work now: nothing moves */
    assert_int_equal(e->pool.nfull, 1);
    expect_exactly(&b, 1, 50);
    for (uintptr_t i = 100; i > 50; i--)
        assert_int_equal(gcwork_tryget(&a), i);
    assert_int_equal(gcwork_tryget(&a), 0);
    gcwork_dispose(&a);
    gcwork_dispose(&b);
    expect_all_listed(&e->pool);
}

/* ---- memory reuse --------------------------------------------------------- */

static void fill_and_drain_round(struct workbuf_pool *p, uintptr_t n)
{
    struct gcwork a, b;
    gcwork_init(&a, p);
    gcwork_init(&b, p);
    for (uintptr_t i = 1; i <= n; i++)
        put_ok(&a, i);
    gcwork_dispose(&a);
    expect_exactly(&b, 1, n);
    assert_int_equal(gcwork_tryget(&b), 0);
    gcwork_dispose(&b);
}

/* A drained pool's buffers serve the next round: no new carve. */
static void test_buffers_recycled(void **state)
{
    struct env *e = *state;
    const uintptr_t n = 40 * WORKBUF_NOBJ; /* needs three carves */
    fill_and_drain_round(&e->pool, n);
    uint64_t allocated = e->pool.allocated;
    assert_true(allocated >= 3 * WORKBUF_ALLOC);
    expect_all_listed(&e->pool);
    fill_and_drain_round(&e->pool, n);
    assert_int_equal(e->pool.allocated, allocated);
    expect_all_listed(&e->pool);
}

/* ---- out of memory -------------------------------------------------------- */

static void test_put_out_of_memory(void **state)
{
    struct env *e = *state;
    struct gcwork w, v;
    gcwork_init(&w, &e->pool);
    gcwork_init(&v, &e->pool);
    e->faulty.fail = true;
    assert_false(gcwork_put(&w, 1)); /* first buffer needs a chunk */
    assert_null(w.wbuf1);
    e->faulty.fail = false;

    uintptr_t n = 0;
    put_ok(&w, ++n); /* one persistent chunk now exists */
    e->faulty.fail = true;
    while (gcwork_put(&w, n + 1))
        n++;
    assert_true(e->faulty.refused > 1);
    assert_true(n > WORKBUF_NOBJ * 2);
    assert_valid(workbuf_pool_is_valid(&e->pool));
    /* w is intact after the failure; another gcwork can take work with
     * the OS still refusing (tryget never allocates). */
    gcwork_dispose(&w);
    expect_exactly(&v, 1, n);
    assert_int_equal(gcwork_tryget(&v), 0);
    gcwork_dispose(&v);
    e->faulty.fail = false;
    put_ok(&w, 7);
    assert_int_equal(gcwork_tryget(&w), 7);
    gcwork_dispose(&w);
    expect_all_listed(&e->pool);
}

/* ---- parallel drain ------------------------------------------------------- */

enum { DRAIN_THREADS = 4, DRAIN_SEEDS = 1000, DRAIN_K = 4, DRAIN_NODES = 1 << 20 };

_Static_assert(sizeof(uintptr_t) == 8, "a tree node packs two 32-bit bounds");

/* The synthetic forest has exactly DRAIN_NODES nodes.  A node stands for
 * an interval [lo, hi) of node ids: it is node lo, and its children split
 * [lo + 1, hi) into up to K non-empty intervals (how many depends on a
 * hash of lo, so fan-out and depth vary).  The seeds split [0, NODES).
 * Every id in [0, NODES) is therefore reached exactly once.  An entry
 * packs hi above lo; hi >= 1 keeps it non-zero. */
static uintptr_t node_pack(uint32_t lo, uint32_t hi) { return (uintptr_t)hi << 32 | lo; }

static unsigned node_fanout(uint32_t lo, uint32_t rest)
{
    uint64_t x = ((uint64_t)lo + 1) * 0x9E3779B97F4A7C15ULL;
    unsigned c = 1 + (unsigned)((x >> 40) % DRAIN_K);
    return c < rest ? c : rest;
}

/* split: put the sub-intervals of [lo, hi) (n >= 1 pieces, sizes differ
 * by at most one) through put(ctx, piece).  False if a put failed. */
static bool split(uint32_t lo, uint32_t hi, unsigned n, bool (*put)(void *, uintptr_t), void *ctx)
{
    uint32_t size = hi - lo, at = lo;
    for (unsigned i = 0; i < n; i++) {
        uint32_t len = size / n + (i < size % n ? 1 : 0);
        if (!put(ctx, node_pack(at, at + len)))
            return false;
        at += len;
    }
    return true;
}

static bool put_gcwork(void *w, uintptr_t x) { return gcwork_put(w, x); }

struct drain {
    struct workbuf_pool *pool;
    struct atomic_u8 *seen;      /* per node: processed */
    struct atomic_u32 busy;      /* workers that may hold or be about to take work */
    struct atomic_u64 processed;
    struct atomic_u64 errors;    /* duplicates, bad entries, failed puts */
};

/* The busy count needs acquire/release read-modify-writes; atomic.h
 * offers CAS with acq_rel, so build them from that. */
static void busy_add(struct atomic_u32 *a, int32_t d)
{
    uint32_t old = atomic_u32_load_relaxed(a);
    while (!atomic_u32_cas_acq_rel(a, &old, old + (uint32_t)d))
        ;
}

/* process: one grey node becomes black, its children grey. */
static void process(struct drain *d, struct gcwork *w, uintptr_t x, uint64_t *done)
{
    uint32_t lo = (uint32_t)x, hi = (uint32_t)(x >> 32);
    if (lo >= hi || hi > DRAIN_NODES || atomic_u8_or_relaxed(&d->seen[lo], 1) != 0) {
        atomic_u64_add_relaxed(&d->errors, 1);
        return;
    }
    (*done)++;
    uint32_t rest = hi - lo - 1;
    if (rest > 0 && !split(lo + 1, hi, node_fanout(lo, rest), put_gcwork, w))
        atomic_u64_add_relaxed(&d->errors, 1);
}

/* wait_for_work: called idle (w empty, busy already decremented).  Returns
 * an entry after re-registering as busy, or 0 when every worker is idle
 * and the pool is empty.  The acquire in the busy load pairs with each
 * worker's release when it went idle, so every buffer published before
 * that is visible to the has_work check that follows. */
static uintptr_t wait_for_work(struct drain *d, struct gcwork *w)
{
    for (;;) {
        if (workbuf_pool_has_work(d->pool)) {
            busy_add(&d->busy, 1);
            uintptr_t x = gcwork_tryget(w);
            if (x != 0)
                return x;
            busy_add(&d->busy, -1);
            continue;
        }
        if (atomic_u32_load_acquire(&d->busy) == 0 && !workbuf_pool_has_work(d->pool))
            return 0;
        sched_yield();
    }
}

static void *drain_worker(void *arg)
{
    struct drain *d = arg;
    struct gcwork w;
    gcwork_init(&w, d->pool);
    uint64_t done = 0;
    for (;;) {
        uintptr_t x;
        while ((x = gcwork_tryget(&w)) != 0) {
            process(d, &w, x, &done);
            if (done % 32 == 0)
                gcwork_balance(&w);
        }
        busy_add(&d->busy, -1);
        x = wait_for_work(d, &w);
        if (x == 0)
            break;
        process(d, &w, x, &done);
    }
    if (!gcwork_is_empty(&w))
        atomic_u64_add_relaxed(&d->errors, 1);
    gcwork_dispose(&w);
    atomic_u64_add_relaxed(&d->processed, done);
    return NULL;
}

static void drain_round(struct env *e, struct drain *d)
{
    memset(d->seen, 0, DRAIN_NODES);
    atomic_u64_store_relaxed(&d->processed, 0);
    atomic_u64_store_relaxed(&d->errors, 0);
    atomic_u32_store_relaxed(&d->busy, DRAIN_THREADS);
    struct gcwork seed;
    gcwork_init(&seed, &e->pool);
    assert_true(split(0, DRAIN_NODES, DRAIN_SEEDS, put_gcwork, &seed));
    gcwork_dispose(&seed);
    assert_true(e->pool.nfull >= DRAIN_SEEDS / WORKBUF_NOBJ);
    pthread_t th[DRAIN_THREADS];
    for (int i = 0; i < DRAIN_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, drain_worker, d), 0);
    for (int i = 0; i < DRAIN_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
}

static void test_parallel_drain(void **state)
{
    struct env *e = *state;
    struct drain d = { .pool = &e->pool, .seen = calloc(DRAIN_NODES, 1) };
    assert_non_null(d.seen);
    for (int round = 0; round < 2; round++) {
        drain_round(e, &d);
        assert_int_equal(atomic_u64_load_relaxed(&d.errors), 0);
        assert_int_equal(atomic_u64_load_relaxed(&d.processed), DRAIN_NODES);
        assert_int_equal(e->pool.nfull, 0);
        expect_all_listed(&e->pool);
    }
    free(d.seen);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, env_setup, env_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_fresh_is_empty),
        T(test_lifo_order),
        T(test_cursor_lifo),
        T(test_spill_when_both_full),
        T(test_random_model),
        T(test_dispose_then_other_gets_all),
        T(test_balance_gives_wbuf2),
        T(test_balance_splits_wbuf1),
        T(test_buffers_recycled),
        T(test_put_out_of_memory),
        T(test_parallel_drain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
