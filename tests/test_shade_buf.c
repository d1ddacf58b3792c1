/*
 * test_shade_buf.c - a full write-barrier buffer is shaded in one call
 * through gcmarker_shade_buf's span cache (gc/mgcmark.c), and every entry
 * must be greyed and checked exactly as shade() would grey it one by one.
 *
 *   free slot hit     invalidptr on a stale pointer to a free slot of a
 *                     span the cache already holds (the check that moved);
 *   free page         a pointer into a freed large object's pages;
 *   past limit        a pointer into a span's tail after a hit in it;
 *   kinds             interior, large, noscan and outside-heap values moved
 *                     into a black array so that only the buffer marks them:
 *                     gccheckmark passes, and their children survive a
 *                     second cycle (clobberfree would break them);
 *   top of the space  values in the last ARENA_SIZE bytes of the address
 *                     space ((void *)-1 and below) are outside the heap
 *                     when they open a fresh arena window: in a pointer
 *                     table (scan_refs and its lookahead, each oblet) and
 *                     first in a barrier buffer (review of gccpu, F1);
 *   stress            three mutators storing with the barrier and entering
 *                     blocking sections (workers flush their buffers), with
 *                     cycles back to back under gccheckmark.
 */
#include "mark_fixture.h"
#include "error.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#define N 600

static const uint8_t ref_mask[1] = {0x01};
static const gch_type ref_type = {"ref", sizeof(void *), ref_mask, NULL};

static void full_cycle(struct env *e)
{
    assert_true(gchi_test_gc_start(e->h));
    gchi_test_gc_wait(e->h);
}

/* fill the buffer with harmless entries until it flushes (256 entries) */
static void force_flush(struct env *e, void *live)
{
    for (int i = 0; i < 300; i++)
        gch_write(e->t, &e->g[3], live);
}

/* ---- A ---- */
static void child_free_slot_hit(void *arg)
{
    (void)arg;
    struct env e;
    env_open(&e);
    void **keep = gch_alloc_array(e.t, &ref_type, N);
    gch_write(e.t, &e.g[0], keep);
    static void *stale[N];
    for (int i = 0; i < N; i++) {
        struct obj *o = new_obj(e.t);
        gch_write(e.t, &keep[i], o);
        stale[i] = o;
    }
    for (int i = 1; i < N; i += 2)
        gch_write(e.t, &keep[i], NULL);
    full_cycle(&e); /* odd ones freed */
    full_cycle(&e); /* and swept before the next mark (X1) */
    mark_frozen(&e);
    /* Same span, adjacent: the first is a miss (enters a way), the stale
     * one hits the way and must still be reported by grey. */
    gch_write(e.t, &e.g[1], stale[100]);
    gch_write(e.t, &e.g[2], stale[101]);
    force_flush(&e, stale[100]);
    mark_finish(&e);
    env_close(&e);
}

static void test_free_slot_hit(void **state)
{
    (void)state;
    expect_fatal(child_free_slot_hit, NULL, "points to a free object");
}

/* ---- B ---- */
static void child_free_page(void *arg)
{
    (void)arg;
    struct env e;
    env_open(&e);
    void *big = gch_alloc_noscan(e.t, 100 * 1024);
    assert_non_null(big);
    struct obj *live = new_obj(e.t);
    gch_write(e.t, &e.g[0], live);
    full_cycle(&e);
    full_cycle(&e);
    mark_frozen(&e);
    gch_write(e.t, &e.g[1], live);
    gch_write(e.t, &e.g[2], (char *)big + 4096);
    force_flush(&e, live);
    mark_finish(&e);
    env_close(&e);
}

static void test_free_page(void **state)
{
    (void)state;
    expect_fatal(child_free_page, NULL, "points to a free page");
}

/* ---- C ---- */
static void child_past_limit(void *arg)
{
    (void)arg;
    struct env e;
    env_open(&e);
    /* 48-byte class: 8192 / 48 leaves a 32-byte tail */
    void *o = gch_alloc_noscan(e.t, 48);
    assert_non_null(o);
    gch_write(e.t, &e.g[0], o);
    struct mspan *s = arena_span_of(&e.h->mheap.index, (uintptr_t)o);
    uintptr_t end = s->start + s->npages * PAGE_SIZE;
    assert_true(s->limit < end);
    mark_frozen(&e);
    gch_write(e.t, &e.g[1], o);                      /* miss: enters s */
    gch_write(e.t, &e.g[2], (void *)(s->limit + 8)); /* not a hit: past limit */
    force_flush(&e, o);
    mark_finish(&e);
    env_close(&e);
}

static void test_past_limit(void **state)
{
    (void)state;
    expect_fatal(child_past_limit, NULL, "points past the last object");
}

/* ---- E ---- */
#define TOP_SLOTS 40000 /* several oblets; each starts at a multiple of 16 */

/* top_value: the i-th value in the last ARENA_SIZE bytes: (void *)-1 first */
static void *top_value(int i)
{
    return (void *)(UINTPTR_MAX - 8 * (uintptr_t)(i % 4096));
}

static void test_top_of_address_space(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    /* Every 16th slot (the slot 0, 8 and 16 a scan call looks at first,
     * in every oblet) holds a value at the top of the address space. */
    void **a = gch_alloc_array(e.t, &ref_type, TOP_SLOTS);
    gch_write(e.t, &e.g[0], a);
    for (int i = 0; i < TOP_SLOTS; i++)
        gch_write(e.t, &a[i], i % 8 == 0 ? top_value(i / 8) : (void *)new_obj(e.t));
    full_cycle(&e);
    full_cycle(&e);
    /* A buffer whose first entries are such values. */
    struct obj *live = new_obj(e.t);
    gch_write(e.t, &e.g[2], live);
    mark_frozen(&e);
    gch_write(e.t, &e.g[1], top_value(0));
    gch_write(e.t, &e.g[1], top_value(1));
    force_flush(&e, live);
    gch_write(e.t, &e.g[1], NULL);
    mark_finish(&e);
    for (int i = 0; i < TOP_SLOTS; i++) {
        if (i % 8 == 0)
            assert_ptr_equal(a[i], top_value(i / 8));
        else
            check_obj(a[i]);
    }
    check_obj(live);
    env_close(&e);
}

/* ---- D ---- */
#define MOVE 2000
static void test_kinds_through_buffer(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    void **a = gch_alloc_array(e.t, &ref_type, MOVE);
    gch_write(e.t, &e.g[0], a);
    static uintptr_t off[MOVE];
    static int outside[4];
    for (size_t i = 0; i < MOVE; i++) {
        void *o;
        switch (i % 5) {
        case 0: { /* large scan object with a child only it holds */
            void **big = gch_alloc_array(e.t, &ref_type, 5000);
            assert_non_null(big);
            gch_write(e.t, &big[4000], new_obj(e.t));
            o = big;
            off[i] = 8 * 4321; /* interior, in a later page */
            break;
        }
        case 1:
            o = gch_alloc_noscan(e.t, 8 * (1 + i % 7));
            off[i] = i % 7;
            break;
        case 2: { /* interior pointer to an obj with a child */
            struct obj *x = new_obj(e.t);
            gch_write(e.t, &x->f[1], new_obj(e.t));
            o = x;
            off[i] = 16;
            break;
        }
        case 3:
            o = new_obj(e.t);
            off[i] = 0;
            break;
        default:
            o = NULL;
            break;
        }
        if (o != NULL)
            gch_write(e.t, &a[i], (char *)o + off[i]);
    }
    mark_frozen(&e);
    void **b = gch_alloc_array(e.t, &ref_type, MOVE); /* black */
    gch_write(e.t, &e.g[1], b);
    for (size_t k = 0; k < MOVE; k++) {
        size_t i = k * 7919 % MOVE;
        if (i % 5 == 4) { /* values outside the heap go through the cache too */
            gch_write(e.t, &e.g[2], &outside[k % 4]);
            gch_write(e.t, &e.g[2], NULL);
            continue;
        }
        gch_write(e.t, &b[i], a[i]);
        gch_write(e.t, &a[i], NULL);
    }
    gch_write(e.t, &e.g[0], NULL);
    mark_finish(&e);
    full_cycle(&e); /* a second cycle: anything wrongly left white is freed and clobbered */
    for (size_t i = 0; i < MOVE; i++) {
        char *p = b[i];
        switch (i % 5) {
        case 0:
            check_obj(((void **)(p - off[i]))[4000]);
            break;
        case 2:
            check_obj(p - off[i]);
            check_obj(((struct obj *)(p - off[i]))->f[1]);
            break;
        case 3:
            check_obj(p);
            break;
        default:
            break;
        }
    }
    env_close(&e);
}

/* ---- E ---- */
#define SLOTS 512
struct stress {
    gch_heap *h;
    void *shared[SLOTS];
    atomic_int stop;
};

static void *mutator(void *arg)
{
    struct stress *st = arg;
    gch_thread *t = gch_thread_attach(st->h);
    assert_non_null(t);
    uint64_t rng = (uint64_t)(uintptr_t)t * 0x9e3779b97f4a7c15u;
    unsigned long n = 0;
    while (!atomic_load(&st->stop)) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        size_t i = (rng >> 33) % SLOTS, j = (rng >> 13) % SLOTS;
        struct obj *o = new_obj(t);
        void *old = (void *)slot_load_acquire(&st->shared[j]);
        gch_write(t, &o->f[0], old); /* links to something in another span */
        gch_write(t, &st->shared[i], o);
        if (old != NULL)
            check_obj(old);
        if ((++n & 255) == 0) {
            gch_blocking_enter(t); /* a worker may flush our buffer now */
            sched_yield();
            gch_blocking_leave(t);
        }
        gch_safepoint(t);
    }
    gch_thread_detach(t);
    return NULL;
}

static void test_stress(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "MARKFX_";
    cfg.gc_percent = 5;
    setenv("MARKFX_GODEBUG", "clobberfree=1,gccheckmark=1,invalidptr=1", 1);
    static struct stress st;
    st.h = gch_heap_new(&cfg);
    unsetenv("MARKFX_GODEBUG");
    assert_non_null(st.h);
    assert_int_equal(gch_root_range_add(st.h, st.shared, SLOTS), GCH_OK);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, mutator, &st);
    sleep(3);
    atomic_store(&st.stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    gch_stats stats;
    gch_read_stats(st.h, &stats);
    assert_true(stats.num_gc >= 2); /* the buffers were shaded during marks */
    assert_int_equal(gch_root_range_remove(st.h, st.shared), GCH_OK);
    gch_heap_free(st.h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_slot_hit),
        cmocka_unit_test(test_free_page),
        cmocka_unit_test(test_past_limit),
        cmocka_unit_test(test_kinds_through_buffer),
        cmocka_unit_test(test_top_of_address_space),
        cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
