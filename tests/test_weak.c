/*
 * test_weak.c - weak handles and ephemerons.  Subject: gc/mweak.c
 * (FW1-FW2, EP1-EP2 in gc/mfinal.h), the termination passes in gc/mgc.c
 * and gc/mgcmark.c, and the contract of gch_weak_* / gch_ephemeron_* in
 * gcheap.h.  Go counterpart: internal/weak tests (weak.Pointer); Go has
 * no ephemerons.
 *
 * What it proves:
 *   1. handles: one per object (equal), get returns the object while it
 *      is reachable and NULL from the cycle that frees it; a handle is
 *      kept alive by its target;
 *   2. a weak handle to a finalizable object is cleared at the cycle that
 *      finds it unreachable, although the finalizer resurrects it;
 *   3. a get during the mark marks the target (FW1), which then survives
 *      the cycle; the same for an ephemeron's key and value;
 *   4. 4 mutator threads churn objects and weak handles through many
 *      concurrent cycles with gccheckmark and clobberfree: a strongly held
 *      target is always returned, a dropped one is returned intact or
 *      NULL, and never again after a NULL; after two collections every
 *      dropped target reads NULL;
 *   5. ephemerons: the value lives while key and ephemeron do; an
 *      unreachable key (or ephemeron) frees the value and clears both
 *      fields; a value referencing its own key keeps neither alive;
 *   6. a chain of 100 ephemerons (each value holding the next key) is
 *      followed to the end by the concurrent mark (more links than mark
 *      termination's restarts) and by the stop-the-world mark, with
 *      gccheckmark; cutting the first key clears them all.
 *
 * How: GC-off heaps driven by gch_collect (tests 1-3, 5), a GC-on heap
 * under its own environment prefix (test 4) and GODEBUG settings read
 * under a prefix (test 6).
 */
#define SPX_MAGIC 0xfeedf00dULL
#include "specials_fixture.h"
#include "mgc.h"
#include "mweak.h"

#include <pthread.h>



static gch_heap *heap_env(const char *prefix, const char *godebug, int gc_percent)
{
    char name[64];
    snprintf(name, sizeof name, "%sGODEBUG", prefix);
    setenv(name, godebug, 1);
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = gc_percent;
    cfg.env_prefix = prefix;
    cfg.manual_finalizers = 1;
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    return h;
}

static int setup_prefix(void **state, const char *prefix, const char *godebug)
{
    *state = spx_attach(calloc(1, sizeof(struct fx)), heap_env(prefix, godebug, -1));
    return 0;
}

static int setup(void **state) { return setup_prefix(state, "WEAKT_", ""); }
static int setup_checkmark(void **state) { return setup_prefix(state, "WEAKC_", "gccheckmark=1"); }
static int setup_stw(void **state) { return setup_prefix(state, "WEAKS_", "gcstoptheworld=1"); }




static void test_weak_basic(void **state)
{
    struct fx *f = *state;
    struct node *a = spx_new_node(f->t, NULL), *b = spx_new_node(f->t, NULL);
    f->slots[0] = a;
    f->slots[1] = b;
    gch_weak *wa = gch_weak_new(f->t, a);
    assert_non_null(wa);
    f->slots[2] = wa;
    assert_ptr_equal(gch_weak_new(f->t, a), wa);
    gch_weak *wb = gch_weak_new(f->t, b); /* not rooted: kept by b */
    assert_non_null(wb);
    assert_ptr_not_equal(wa, wb);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_ptr_equal(gch_weak_get(f->t, wa), a);
    assert_ptr_equal(gch_weak_get(f->t, wb), b);
    assert_true(spx_allocated(f->h, wb));
    f->slots[3] = wb;
    f->slots[0] = NULL;
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_null(gch_weak_get(f->t, wa));
    assert_false(spx_allocated(f->h, a));
    assert_ptr_equal(gch_weak_get(f->t, wb), b);
    assert_int_equal(atomic_u64_load_relaxed(&f->h->fin.nweak), 1);
}

static void resurrect(void *obj, void *arg) { *(void **)arg = obj; }

static void test_weak_and_finalizer(void **state)
{
    struct fx *f = *state;
    struct node *a = spx_new_node(f->t, NULL);
    gch_weak *w = gch_weak_new(f->t, a);
    f->slots[0] = w;
    assert_int_equal(gch_set_finalizer(f->t, a, resurrect, &f->slots[1]), GCH_OK);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_null(gch_weak_get(f->t, w)); /* cleared before the finalizer */
    assert_int_equal(gch_run_finalizers(f->t, -1), 1);
    assert_ptr_equal(f->slots[1], a);
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_true(spx_allocated(f->h, a));
    assert_null(gch_weak_get(f->t, w));
    gch_weak *w2 = gch_weak_new(f->t, a); /* a fresh handle for the resurrected object */
    assert_ptr_not_equal(w2, w);
    assert_ptr_equal(gch_weak_get(f->t, w2), a);
}

static void test_get_during_mark(void **state)
{
    struct fx *f = *state;
    GCH_LOCALS(f->t, keep, 3);
    keep[0] = spx_new_node(f->t, NULL);
    struct node *a = keep[0];
    gch_weak *w = gch_weak_new(f->t, a);
    f->slots[0] = w;
    keep[1] = spx_new_node(f->t, NULL); /* key */
    keep[2] = spx_new_node(f->t, NULL); /* value */
    struct node *k = keep[1], *v = keep[2];
    gch_ephemeron *e = gch_ephemeron_new(f->t, k, v);
    assert_non_null(e);
    f->slots[1] = e;
    spx_start_held_mark(f);
    keep[0] = keep[1] = keep[2] = NULL; /* before our root scan: a, k, v unreachable */
    assert_false(gc_is_marked(f->h, (uintptr_t)a));
    assert_ptr_equal(gch_weak_get(f->t, w), a);
    assert_true(gc_is_marked(f->h, (uintptr_t)a)); /* FW1 */
    assert_false(gc_is_marked(f->h, (uintptr_t)k));
    assert_ptr_equal(gch_ephemeron_value(f->t, e), v);
    assert_true(gc_is_marked(f->h, (uintptr_t)k) && gc_is_marked(f->h, (uintptr_t)v));
    GCH_LOCALS_END(f->t, keep);
    spx_end_held_mark(f);
    assert_ptr_equal(gch_weak_get(f->t, w), a); /* survived: marked by the get */
    assert_ptr_equal(gch_ephemeron_key(f->t, e), k);
    assert_true(spx_allocated(f->h, a) && spx_allocated(f->h, v));
    assert_int_equal(gch_collect(f->h), GCH_OK); /* now nothing holds them */
    assert_null(gch_weak_get(f->t, w));
    assert_null(gch_ephemeron_key(f->t, e));
    assert_null(gch_ephemeron_value(f->t, e));
    assert_false(spx_allocated(f->h, a) || spx_allocated(f->h, k) || spx_allocated(f->h, v));
}

static void test_ephemeron_basic(void **state)
{
    struct fx *f = *state;
    struct node *k = spx_new_node(f->t, NULL), *v = spx_new_node(f->t, spx_new_node(f->t, NULL));
    f->slots[0] = k;
    gch_ephemeron *e = gch_ephemeron_new(f->t, k, v);
    f->slots[1] = e;
    /* A value that references its own key. */
    struct node *k2 = spx_new_node(f->t, NULL), *v2 = spx_new_node(f->t, k2);
    gch_ephemeron *e2 = gch_ephemeron_new(f->t, k2, v2);
    f->slots[2] = e2;
    /* An ephemeron nobody holds: its value dies with it. */
    struct node *v3 = spx_new_node(f->t, NULL);
    assert_non_null(gch_ephemeron_new(f->t, k, v3));
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_ptr_equal(gch_ephemeron_key(f->t, e), k);
    assert_ptr_equal(gch_ephemeron_value(f->t, e), v);
    assert_true(spx_allocated(f->h, v) && spx_allocated(f->h, v->next));
    assert_int_equal(v->next->magic, SPX_MAGIC);
    assert_null(gch_ephemeron_key(f->t, e2));
    assert_null(gch_ephemeron_value(f->t, e2));
    assert_false(spx_allocated(f->h, k2) || spx_allocated(f->h, v2));
    assert_false(spx_allocated(f->h, v3));
    f->slots[0] = NULL;
    assert_int_equal(gch_collect(f->h), GCH_OK);
    assert_null(gch_ephemeron_key(f->t, e));
    assert_null(gch_ephemeron_value(f->t, e));
    assert_false(spx_allocated(f->h, v) || spx_allocated(f->h, k));
    assert_int_equal(atomic_u64_load_relaxed(&f->h->eph.count), 0);
    assert_null(gch_ephemeron_new(f->t, &v, v)); /* not a heap key */
    assert_int_equal(gch_last_error(), GCH_EINVAL);
}

#define CHAIN 100

static void chain_test(struct fx *f)
{
    void **es = calloc(CHAIN, sizeof *es);
    assert_int_equal(gch_root_range_add(f->h, es, CHAIN), GCH_OK);
    GCH_LOCALS(f->t, keep, 1);
    /* Build from the end: e_i = (k_i, v_i), v_i -> k_{i+1}. */
    struct node *next_key = NULL;
    for (int i = CHAIN - 1; i >= 0; i--) {
        keep[0] = next_key;
        struct node *v = spx_new_node(f->t, next_key);
        struct node *k = spx_new_node(f->t, NULL);
        GCH_LOCALS(f->t, kv, 2);
        kv[0] = k;
        kv[1] = v;
        gch_write(f->t, &es[i], gch_ephemeron_new(f->t, k, v));
        GCH_LOCALS_END(f->t, kv);
        next_key = k;
    }
    keep[0] = NULL;
    GCH_LOCALS_END(f->t, keep);
    f->slots[0] = next_key; /* k_0 */
    assert_int_equal(gch_collect(f->h), GCH_OK);
    for (int i = 0; i < CHAIN; i++) {
        struct node *v = gch_ephemeron_value(f->t, es[i]);
        assert_non_null(v);
        assert_int_equal(v->magic, SPX_MAGIC);
        if (i + 1 < CHAIN)
            assert_ptr_equal(v->next, gch_ephemeron_key(f->t, es[i + 1]));
    }
    f->slots[0] = NULL;
    assert_int_equal(gch_collect(f->h), GCH_OK);
    for (int i = 0; i < CHAIN; i++)
        assert_null(gch_ephemeron_value(f->t, es[i]));
    assert_int_equal(gch_root_range_remove(f->h, es), GCH_OK);
    free(es);
}

static void test_ephemeron_chain_concurrent(void **state)
{
    struct fx *f = *state;
    chain_test(f);
    /* Each link needs a pass: more than the restarts mark termination
     * allows, so the rest was marked with the world stopped. */
    assert_true(atomic_u64_load_relaxed(&f->h->gc.term_restarts_total) >= 32);
    assert_true(f->h->env.debug.gccheckmark);
    assert_true(atomic_u64_load_relaxed(&f->h->gc.checkmark_passes) >= 2);
}

static void test_ephemeron_chain_stw(void **state) { chain_test(*state); }

/* ---- 4 mutators ------------------------------------------------------- */

#define NMUT 4
#define KSLOTS 64
#define ITERS 20000

struct obj {
    uint64_t id;
    uint64_t pad[3];
};

struct mut {
    gch_heap *h;
    uint64_t seed;
    int id;
    int errors;
    int final_errors;
    uint64_t nulls;
};

/* check_slot: the weak invariants for slot i. */
static void check_slot(struct mut *m, gch_thread *t, void **strong, void **handles, uint64_t *ids,
                       bool *nulled, int i)
{
    if (handles[i] == NULL)
        return;
    struct obj *p = gch_weak_get(t, handles[i]);
    if (strong[i] != NULL) {
        m->errors += p != strong[i];
    } else if (p == NULL) {
        nulled[i] = true;
        m->nulls++;
    } else {
        m->errors += nulled[i] || p->id != ids[i]; /* back after NULL, or stale */
    }
}

static void *mut_main(void *arg)
{
    struct mut *m = arg;
    gch_thread *t = gch_thread_attach(m->h);
    uint64_t ids[KSLOTS] = {0};
    bool nulled[KSLOTS] = {0};
    GCH_LOCALS(t, strong, KSLOTS);
    GCH_LOCALS(t, handles, KSLOTS);
    for (int it = 0; it < ITERS; it++) {
        int i = (int)(rng_next(&m->seed) % KSLOTS);
        check_slot(m, t, strong, handles, ids, nulled, i);
        uint64_t r = rng_next(&m->seed) % 4;
        if (r == 0) {
            struct obj *o = gch_alloc_noscan(t, sizeof *o);
            o->id = ((uint64_t)m->id << 32) | (uint64_t)it;
            strong[i] = (rng_next(&m->seed) & 1) ? o : NULL;
            handles[i] = gch_weak_new(t, o);
            ids[i] = o->id;
            nulled[i] = false;
        } else if (r == 1) {
            strong[i] = NULL;
        }
        gch_alloc_noscan(t, 256); /* garbage: drives the cycles */
        if (it % 4000 == 3999)
            gch_collect(m->h); /* at least 5 cycles per thread, however the pacer runs */
    }
    for (int i = 0; i < KSLOTS; i++)
        check_slot(m, t, strong, handles, ids, nulled, i);
    gch_collect(m->h);
    gch_collect(m->h);
    for (int i = 0; i < KSLOTS; i++)
        if (handles[i] != NULL)
            m->final_errors += gch_weak_get(t, handles[i]) != strong[i];
    GCH_LOCALS_END(t, handles);
    GCH_LOCALS_END(t, strong);
    gch_thread_detach(t);
    return NULL;
}

static void test_weak_four_mutators(void **state)
{
    (void)state;
    gch_heap *h = heap_env("WEAKM_", "gccheckmark=1,clobberfree=1", 5);
    struct mut m[NMUT];
    pthread_t th[NMUT];
    for (int i = 0; i < NMUT; i++) {
        m[i] = (struct mut){h, 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1), i, 0, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, mut_main, &m[i]), 0);
    }
    uint64_t nulls = 0;
    for (int i = 0; i < NMUT; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(m[i].errors, 0);
        assert_int_equal(m[i].final_errors, 0);
        nulls += m[i].nulls;
    }
    gch_stats st;
    gch_read_stats(h, &st);
    assert_true(st.num_gc >= 10);
    assert_true(nulls > 0); /* the test saw targets die */
    assert_true(atomic_u64_load_relaxed(&h->gc.checkmark_passes) >= 10);
    heap_free_checked(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_weak_basic, setup, spx_teardown),
        cmocka_unit_test_setup_teardown(test_weak_and_finalizer, setup, spx_teardown),
        cmocka_unit_test_setup_teardown(test_get_during_mark, setup, spx_teardown),
        cmocka_unit_test_setup_teardown(test_ephemeron_basic, setup, spx_teardown),
        cmocka_unit_test_setup_teardown(test_ephemeron_chain_concurrent, setup_checkmark, spx_teardown),
        cmocka_unit_test_setup_teardown(test_ephemeron_chain_stw, setup_stw, spx_teardown),
        cmocka_unit_test(test_weak_four_mutators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
