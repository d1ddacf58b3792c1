/*
 * test_mark_bytes.c - the mark-byte representation (alloc/mspan.h
 * MB1-MB4) under the races it allows: several markers setting the same
 * objects' mark bytes with plain stores, and a cache colouring a span's
 * free slots (K5) while markers mark its objects.  Runs under TSan (the
 * byte stores and loads are relaxed atomics) as well as the normal build;
 * not a benchmark.
 *
 * Every heap is tests/mark_fixture.h's: gccheckmark=1 re-marks with the
 * world stopped at the end of each mark and aborts on a lost object,
 * clobberfree=1 makes a freed object fail its magic check.
 *
 * What it checks:
 *   1. four markers shading and draining the same graph at once mark
 *      every object; each counts each object at most once and together
 *      they count every object at least once and at most four times
 *      (MB3: a duplicate mark costs a scan and an overcount, nothing
 *      else); the cycle then loses nothing;
 *   2. a thread allocating during a mark, whose cache colours the free
 *      slots of half-full spans (K5), while another marker marks the
 *      live objects between those slots: no mark of either is lost (MB2;
 *      with mark bits a plain OR of a word would lose one or the other);
 *   3. a marker that read a free slot's mark byte as 0, stalled (the grey
 *      hook, as a preemption) while the slot's span is coloured, the slot
 *      handed out black and its alloc bit committed, then reads the alloc
 *      bit as 1: it must see the object black and neither count nor queue
 *      it (the object may be under construction).  Needs GCH_DEBUG >= 2
 *      (skipped below it).
 */
#include "mark_fixture.h"
#include "mgcmark.h"

#include <pthread.h>
#include "mcache.h"
#include "testhooks.h"

/* marked_now: the mark byte of the object at p. */
static bool marked_now(gch_heap *h, const void *p)
{
    struct mspan *s = mheap_span_of_heap(&h->mheap, (uintptr_t)p);
    assert_non_null(s);
    return mark_load(s->gcmarks, span_object_index(s, (uintptr_t)p));
}

/* ---- 1. markers racing for the same objects ------------------------------ */

enum { RACE_N = 20000, RACERS = 4 };

struct racer {
    gch_heap *h;
    struct obj **objs;
    size_t start, step; /* shades objs[(start + k * step) % RACE_N] */
    uint64_t marked;    /* bytes this marker counted */
};

static void *race_mark(void *arg)
{
    struct racer *r = arg;
    struct gcmarker m;
    gcmarker_init(&m, r->h);
    for (size_t k = 0; k < RACE_N; k++)
        gcmarker_shade(&m, (uintptr_t)r->objs[(r->start + k * r->step) % RACE_N], NULL);
    gcmarker_drain(&m, -1);
    r->marked = m.marked;
    gcmarker_flush(&m);
    return NULL;
}

static void test_racing_markers(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    struct obj **objs = calloc(RACE_N, sizeof *objs); /* not roots: the chain below keeps them */
    assert_non_null(objs);
    uint64_t seed = 15;
    for (size_t i = 0; i < RACE_N; i++)
        objs[i] = new_obj(e.t);
    for (size_t i = 0; i < RACE_N; i++) { /* a chain, plus two random edges each */
        gch_write(e.t, &objs[i]->f[0], i + 1 < RACE_N ? objs[i + 1] : NULL);
        gch_write(e.t, &objs[i]->f[1], objs[rng_next(&seed) % RACE_N]);
        gch_write(e.t, &objs[i]->f[2], objs[rng_next(&seed) % RACE_N]);
    }
    gch_write(e.t, &e.g[0], objs[0]);
    size_t elem = mheap_span_of_heap(&e.h->mheap, (uintptr_t)objs[0])->elemsize;
    mark_frozen(&e); /* held: only the racers below mark */
    struct racer r[RACERS];
    pthread_t tid[RACERS];
    static const size_t steps[RACERS] = {1, 7, 13, 19}; /* prime to RACE_N: every object */
    for (int i = 0; i < RACERS; i++) {
        r[i] = (struct racer){e.h, objs, (size_t)i * (RACE_N / RACERS), steps[i], 0};
        assert_int_equal(pthread_create(&tid[i], NULL, race_mark, &r[i]), 0);
    }
    uint64_t sum = 0;
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(pthread_join(tid[i], NULL), 0);
        assert_true(r[i].marked <= (uint64_t)RACE_N * elem); /* a marker counts an object once */
        sum += r[i].marked;
    }
    assert_true(sum >= (uint64_t)RACE_N * elem && sum <= (uint64_t)RACERS * RACE_N * elem);
    for (size_t i = 0; i < RACE_N; i++)
        assert_true(marked_now(e.h, objs[i]));
    mark_finish(&e); /* gccheckmark: nothing lost */
    assert_int_equal(gch_collect(e.h), GCH_OK);
    for (size_t i = 0; i < RACE_N; i++)
        check_obj(objs[i]);
    gch_write(e.t, &e.g[0], NULL);
    free(objs);
    env_close(&e);
}

/* ---- 2. colouring beside marking ----------------------------------------- */

enum { COLOUR_OLD = 4096, COLOUR_ROUNDS = 4 };

struct colour_marker {
    gch_heap *h;
    struct obj **live;
};

static void *colour_mark(void *arg)
{
    struct colour_marker *c = arg;
    struct gcmarker m;
    gcmarker_init(&m, c->h);
    for (size_t i = 0; i < COLOUR_OLD / 2; i++) {
        gcmarker_shade(&m, (uintptr_t)c->live[i], NULL);
        if (i % 64 == 63)
            gcmarker_drain(&m, -1); /* interleave with the allocating thread */
    }
    gcmarker_drain(&m, -1);
    gcmarker_flush(&m);
    return NULL;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* shares_spans: how many of the fresh objects lie in a span holding one
 * of the live ones (slots of the colouring between marked objects). */
static size_t shares_spans(gch_heap *h, struct obj **live, struct obj **fresh)
{
    uintptr_t spans[COLOUR_OLD / 2];
    for (size_t i = 0; i < COLOUR_OLD / 2; i++)
        spans[i] = (uintptr_t)mheap_span_of_heap(&h->mheap, (uintptr_t)live[i]);
    qsort(spans, COLOUR_OLD / 2, sizeof spans[0], cmp_ptr);
    size_t n = 0;
    for (size_t i = 0; i < COLOUR_OLD; i++) {
        uintptr_t s = (uintptr_t)mheap_span_of_heap(&h->mheap, (uintptr_t)fresh[i]);
        n += bsearch(&s, spans, COLOUR_OLD / 2, sizeof spans[0], cmp_ptr) != NULL;
    }
    return n;
}

static void colour_round(struct env *e)
{
    /* Every other object of a run of spans is garbage: after a cycle
     * those spans are half full, their free slots between live objects. */
    struct obj **live = calloc(COLOUR_OLD / 2, sizeof *live);
    struct obj **fresh = calloc(COLOUR_OLD, sizeof *fresh);
    assert_true(live != NULL && fresh != NULL);
    struct obj *prev = NULL;
    for (size_t i = 0; i < COLOUR_OLD; i++) {
        struct obj *o = new_obj(e->t);
        if (i % 2 == 0)
            continue;
        gch_write(e->t, &o->f[0], prev);
        gch_write(e->t, &e->g[1], o); /* the chain's head */
        prev = live[i / 2] = o;
    }
    assert_int_equal(gch_collect(e->h), GCH_OK); /* the even ones are freed */
    mark_frozen(e);
    struct colour_marker c = {e->h, live};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, colour_mark, &c), 0);
    for (size_t i = 0; i < COLOUR_OLD; i++) /* refills take the half-full spans: coloured */
        fresh[i] = new_obj(e->t);
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_true(shares_spans(e->h, live, fresh) >= COLOUR_OLD / 4); /* the race was set up */
    for (size_t i = 0; i < COLOUR_OLD / 2; i++)
        if (!marked_now(e->h, live[i]))
            fail_msg("live object %zu lost its mark", i);
    for (size_t i = 0; i < COLOUR_OLD; i++)
        if (!marked_now(e->h, fresh[i]))
            fail_msg("object %zu allocated during the mark is not black", i);
    mark_finish(e);
    for (size_t i = 0; i < COLOUR_OLD / 2; i++)
        check_obj(live[i]);
    gch_write(e->t, &e->g[1], NULL);
    free(live);
    free(fresh);
}

static void test_colouring_beside_marking(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    for (int round = 0; round < COLOUR_ROUNDS; round++)
        colour_round(&e);
    env_close(&e);
}

/* ---- 3. a marker racing an allocation black -------------------------------- */

static pthread_mutex_t stall_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stall_cv = PTHREAD_COND_INITIALIZER;
static int stall_stage; /* 1: the marker loaded the mark byte; 2: released */

static void stall_marker(struct gch_heap *h)
{
    (void)h;
    pthread_mutex_lock(&stall_mu);
    stall_stage = 1;
    pthread_cond_broadcast(&stall_cv);
    while (stall_stage != 2)
        pthread_cond_wait(&stall_cv, &stall_mu);
    pthread_mutex_unlock(&stall_mu);
}

struct stale_marker {
    gch_heap *h;
    uintptr_t p;
    uint64_t marked;
    bool queued;
};

static void *shade_stale(void *arg)
{
    struct stale_marker *k = arg;
    struct gcmarker m;
    gcmarker_init(&m, k->h);
    gcmarker_shade_raw(&m, k->p);
    k->marked = m.marked;
    k->queued = !gcwork_is_empty(&m.work);
    gcmarker_drain(&m, -1);
    gcmarker_flush(&m);
    return NULL;
}

static void test_marker_meets_black_allocation(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    enum { N = 4096 };
    struct obj *prev = NULL;
    uintptr_t stale = 0;
    for (size_t i = 0; i < N; i++) { /* every other object dies */
        struct obj *o = new_obj(e.t);
        if (i % 2 == 0) {
            if (i == N / 2)
                stale = (uintptr_t)o;
            continue;
        }
        gch_write(e.t, &o->f[0], prev);
        gch_write(e.t, &e.g[1], o);
        prev = o;
    }
    assert_int_equal(gch_collect(e.h), GCH_OK); /* stale is a free slot now */
    struct mspan *s = mheap_span_of_heap(&e.h->mheap, stale);
    assert_non_null(s);
    uint32_t idx = span_object_index(s, stale);
    assert_false(bit_is_set(s->alloc_bits, idx));
    mark_frozen(&e);
    if (!gchi_test_set_grey_hook(e.h, stale, stall_marker)) {
        gchi_test_set_grey_hook(e.h, 0, NULL);
        mark_finish(&e);
        env_close(&e);
        skip();
    }
    struct stale_marker k = {e.h, stale, 0, false};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, shade_stale, &k), 0);
    pthread_mutex_lock(&stall_mu);
    while (stall_stage != 1)
        pthread_cond_wait(&stall_cv, &stall_mu);
    pthread_mutex_unlock(&stall_mu);
    /* The marker read the slot's mark byte as 0.  Allocate (black: a
     * refill colours the span) until the slot is handed out and the cache
     * gives the span back (its alloc bits committed, M4). */
    spanclass_t spc = s->spanclass;
    bool got = false;
    for (size_t i = 0; i < N; i++) {
        struct obj *o = new_obj(e.t);
        gch_write(e.t, &e.g[2 + (i & 1)], o);
        if ((uintptr_t)o == stale)
            got = true;
        if (got && e.t->mcache.alloc[spc] != s)
            break;
    }
    assert_true(got);
    assert_true(e.t->mcache.alloc[spc] != s);
    assert_true(bit_is_set(s->alloc_bits, idx)); /* committed */
    assert_true(mark_load(s->gcmarks, idx));     /* black */
    pthread_mutex_lock(&stall_mu);
    stall_stage = 2;
    pthread_cond_broadcast(&stall_cv);
    pthread_mutex_unlock(&stall_mu);
    assert_int_equal(pthread_join(tid, NULL), 0);
    gchi_test_set_grey_hook(e.h, 0, NULL);
    assert_int_equal(k.marked, 0); /* black already: not counted */
    assert_false(k.queued);        /* nor queued for a scan */
    mark_finish(&e);
    for (int i = 1; i < 4; i++)
        gch_write(e.t, &e.g[i], NULL);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_racing_markers),
        cmocka_unit_test(test_colouring_beside_marking),
        cmocka_unit_test(test_marker_meets_black_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
