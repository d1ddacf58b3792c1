/*
 * test_barrier.c - the write barrier's contract at its edges (issue 13,
 * issue 16 item 6).
 *
 * Every heap here is tests/mark_fixture.h's (shared with test_races.c):
 * clobberfree=1 and gccheckmark=1, and invalidptr=1 (the default):
 * shading a freed object is a fatal error.
 *
 * What it checks:
 *   1. gch_write_cas with a stale comparand (an object freed a cycle ago)
 *      fails, and its barrier shades what the slot holds, not the
 *      comparand: the mark finishes instead of aborting on a free slot;
 *   2. a failed gch_write_cas records only the slot's value in the barrier
 *      buffer, a successful one the replaced and the desired value;
 *   3. the stale-comparand pattern from two threads while a third replaces
 *      the slot's object now and then and a fourth runs cycle after
 *      cycle: nothing aborts and every object read is intact;
 *   4. (GCH_DEBUG >= 1) gch_write with a detached handle, or from an OS
 *      thread that does not own the handle, is a fatal error even with
 *      the barrier off;
 *   5. a barrier buffer whose values fall in many spans of several
 *      classes, interleaved (more spans than gcmarker_shade_buf's cache
 *      has ways, hits and misses mixed), marks every one of them: with
 *      the mark held, objects move from an unscanned array into one
 *      allocated black, so only the buffer can mark them, and gccheckmark
 *      fails the cycle on any it missed.
 */
#include "mark_fixture.h"
#include "error.h"
#include "mgc.h"

#include <pthread.h>

static bool wbuf_holds(const gch_thread *t, uint32_t from, const void *p)
{
    for (uint32_t i = from; i < t->wbuf_n; i++)
        if (t->wbuf[i] == (uintptr_t)p)
            return true;
    return false;
}

/* ---- 1, 2. stale comparand ----------------------------------------------- */

static void test_cas_stale_comparand(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    uintptr_t stale = (uintptr_t)new_obj(e.t); /* a CAS loop's remembered value */
    gch_write(e.t, &e.g[0], (void *)stale);
    gch_write(e.t, &e.g[0], new_obj(e.t)); /* someone else replaced it */
    gch_write(e.t, &e.g[1], new_obj(e.t)); /* our desired value, kept alive */
    assert_int_equal(gch_collect(e.h), GCH_OK); /* the stale object is freed */
    uint64_t magic = 0;
    if (gch_is_heap_pointer(e.h, (void *)stale))
        peek_freed(&magic, &((struct obj *)stale)->magic, sizeof magic);
    assert_int_not_equal(magic, MAGIC); /* clobbered or unmapped */
    mark_frozen(&e);
    void *held = e.g[0], *desired = e.g[1];
    uint32_t n0 = e.t->wbuf_n;
    assert_false(gch_write_cas(e.t, &e.g[0], (void *)stale, desired));
    assert_ptr_equal(e.g[0], held);
    assert_true(wbuf_holds(e.t, n0, held));          /* the slot's value */
    assert_false(wbuf_holds(e.t, n0, (void *)stale)); /* never the comparand */
    assert_false(wbuf_holds(e.t, n0, desired));      /* nor what was not stored */
    mark_finish(&e); /* before the fix: "bad pointer in heap" at the flush */
    check_obj(e.g[0]);
    check_obj(e.g[1]);
    env_close(&e);
}

static void test_cas_success_shades_both(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    gch_write(e.t, &e.g[0], new_obj(e.t));
    gch_write(e.t, &e.g[1], new_obj(e.t));
    mark_frozen(&e);
    void *held = e.g[0], *desired = e.g[1];
    uint32_t n0 = e.t->wbuf_n;
    assert_true(gch_write_cas(e.t, &e.g[0], held, desired));
    assert_ptr_equal(e.g[0], desired);
    assert_true(wbuf_holds(e.t, n0, held));
    assert_true(wbuf_holds(e.t, n0, desired));
    gch_write(e.t, &e.g[1], NULL);
    mark_finish(&e);
    check_obj(e.g[0]);
    env_close(&e);
}

/* ---- 3. the pattern under concurrent cycles ------------------------------ */

#define CAS_THREADS 2
#define CAS_ROUNDS 40
#define CAS_HOLD 200000 /* at most this many safepoints per comparand */

struct cas_shared {
    gch_heap *h;
    void *slot[1]; /* a registered global root */
    int stop;      /* __atomic */
    int failures;  /* __atomic: CASes that failed on a stale comparand */
};

static uint32_t num_gc(gch_heap *h)
{
    gch_stats st;
    gch_read_stats(h, &st);
    return st.num_gc;
}

/* hold_across_cycles: pass safepoints until three more cycles have ended
 * (a comparand read before, since replaced, is now freed) and the next
 * one marks, or give up after a while. */
static void hold_across_cycles(struct cas_shared *s, gch_thread *t)
{
    uint32_t n0 = num_gc(s->h);
    for (long i = 0; i < CAS_HOLD; i++) {
        assert_non_null(gch_alloc_noscan(t, 64));
        gch_safepoint(t);
        if (num_gc(s->h) - n0 >= 3 &&
            atomic_u32_load_relaxed(&s->h->gc.phase) == GCPHASE_MARK)
            return;
    }
}

static void *cas_mutator(void *arg)
{
    struct cas_shared *s = arg;
    gch_thread *t = gch_thread_attach(s->h);
    assert_non_null(t);
    for (int r = 0; r < CAS_ROUNDS; r++) {
        uintptr_t old = (uintptr_t)__atomic_load_n(&s->slot[0], __ATOMIC_ACQUIRE);
        hold_across_cycles(s, t);
        struct obj *mine = new_obj(t);
        if (!gch_write_cas(t, &s->slot[0], (void *)old, mine))
            __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
        check_obj(__atomic_load_n(&s->slot[0], __ATOMIC_ACQUIRE));
    }
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

/* cas_replacer: replace the slot's object now and then with a bigger
 * one, so that the CAS threads' comparands go stale, and the freed slots
 * are reused only slowly (nothing else allocates in their size class). */
static void *cas_replacer(void *arg)
{
    static const uint8_t big_mask[] = {0x0e};
    static const gch_type big_type = {"big", 48, big_mask, NULL};
    struct cas_shared *s = arg;
    gch_thread *t = gch_thread_attach(s->h);
    assert_non_null(t);
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < 50; i++) {
            assert_non_null(gch_alloc_noscan(t, 64));
            gch_safepoint(t);
        }
        struct obj *o = gch_alloc(t, &big_type);
        assert_non_null(o);
        o->magic = MAGIC;
        gch_write(t, &s->slot[0], o);
    }
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

static void *cas_collector(void *arg)
{
    struct cas_shared *s = arg;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
        assert_int_equal(gch_collect(s->h), GCH_OK);
    return NULL;
}

static void test_cas_stale_concurrent(void **state)
{
    (void)state;
    struct cas_shared s = {.h = mark_heap_new()};
    assert_int_equal(gch_root_add(s.h, &s.slot[0]), GCH_OK);
    pthread_t coll, repl, mut[CAS_THREADS];
    assert_int_equal(pthread_create(&coll, NULL, cas_collector, &s), 0);
    assert_int_equal(pthread_create(&repl, NULL, cas_replacer, &s), 0);
    for (int i = 0; i < CAS_THREADS; i++)
        assert_int_equal(pthread_create(&mut[i], NULL, cas_mutator, &s), 0);
    for (int i = 0; i < CAS_THREADS; i++)
        pthread_join(mut[i], NULL);
    __atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
    pthread_join(coll, NULL);
    pthread_join(repl, NULL);
    /* Each thread's first CAS sees NULL or the other's object; from then on
     * a comparand kept across cycles is often stale. */
    assert_true(__atomic_load_n(&s.failures, __ATOMIC_RELAXED) > 0);
    check_obj(s.slot[0]);
    assert_int_equal(gch_root_remove(s.h, &s.slot[0]), GCH_OK);
    heap_free_checked(s.h);
}

/* ---- 4. gch_write's thread argument (debug builds) ------------------------ */

#if GCH_DEBUG >= 1
static void write_detached(void *arg)
{
    (void)arg;
    gch_heap *h = test_heap_new_nogc();
    gch_thread *t = gch_thread_attach(h);
    void **o = gch_alloc_noscan(t, 16); /* any writable word */
    gch_thread_detach(t);
    gch_write(t, o, NULL);
}

struct foreign {
    gch_thread *t;
    void *slot;
};

static void *write_foreign_thread(void *arg)
{
    struct foreign *f = arg;
    gch_write(f->t, &f->slot, NULL);
    return NULL;
}

static void write_foreign(void *arg)
{
    (void)arg;
    gch_heap *h = test_heap_new_nogc();
    struct foreign f = {gch_thread_attach(h), NULL};
    pthread_t th;
    pthread_create(&th, NULL, write_foreign_thread, &f);
    pthread_join(th, NULL);
}

static void test_write_checks_thread(void **state)
{
    (void)state;
    expect_fatal(write_detached, NULL, "gch_write: thread");
    expect_fatal(write_foreign, NULL, "gch_write: thread");
}
#endif

/* ---- 5. a buffer over many spans ----------------------------------------- */

#define MOVE_OBJS 3000

static const uint8_t ref_mask[1] = {0x01};
static const gch_type ref_type = {"ref", sizeof(void *), ref_mask, NULL};

static void test_buffer_many_spans(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    void **a = gch_alloc_array(e.t, &ref_type, MOVE_OBJS);
    assert_non_null(a);
    gch_write(e.t, &e.g[0], a);
    for (size_t i = 0; i < MOVE_OBJS; i++) { /* classes of 32, 8, 16, 24 ... 64 bytes in turn */
        void *o = i % 3 == 0 ? (void *)new_obj(e.t) : gch_alloc_array(e.t, &ref_type, 1 + i % 8);
        assert_non_null(o);
        gch_write(e.t, &a[i], o);
    }
    mark_frozen(&e); /* nothing marks but our buffer: a is not scanned yet */
    void **b = gch_alloc_array(e.t, &ref_type, MOVE_OBJS); /* allocated black: never scanned */
    assert_non_null(b);
    gch_write(e.t, &e.g[1], b);
    for (size_t k = 0; k < MOVE_OBJS; k++) {
        size_t i = k * 7919 % MOVE_OBJS; /* scattered over the spans */
        gch_write(e.t, &b[i], a[i]);
        gch_write(e.t, &a[i], NULL);
    }
    gch_write(e.t, &e.g[0], NULL);
    mark_finish(&e); /* gccheckmark: every object reachable from b is marked */
    for (size_t i = 0; i < MOVE_OBJS; i++) {
        assert_non_null(b[i]);
        if (i % 3 == 0)
            check_obj(b[i]);
    }
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cas_stale_comparand),
        cmocka_unit_test(test_cas_success_shades_both),
        cmocka_unit_test(test_cas_stale_concurrent),
        cmocka_unit_test(test_buffer_many_spans),
#if GCH_DEBUG >= 1
        cmocka_unit_test(test_write_checks_thread),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
