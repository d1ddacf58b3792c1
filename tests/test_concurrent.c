/*
 * test_concurrent.c - concurrent marking under mutation: threads change a
 * shared object graph through gch_write while cycles run back to back.
 *
 * What it checks:
 *   1. stress: 2, 4 and 8 threads link, unlink and move references between
 *      nodes, global roots and their handle frames (the lost-object
 *      patterns: a reference moved from an unscanned object into a
 *      scanned one and deleted from the first; moved from the heap into
 *      a handle frame during a mark; a node allocated during a mark and
 *      linked only from a black one), while one more thread calls
 *      gch_collect in a loop and allocation triggers cycles too.  Every
 *      node reached is checked (id and checksum; clobberfree fills freed
 *      objects, so a freed node still in the graph fails at once); at the
 *      end, after a full collection, the heap holds exactly the nodes
 *      reachable from the roots; gccheckmark re-marks after every
 *      concurrent mark and would abort on a lost node;
 *   2. a thread that blocks for a whole cycle (the collector scans its
 *      frames) keeps what its frames hold;
 *   3. the gctrace line of a concurrent cycle has the three clock phases.
 *
 * How long: GCH_STRESS_SECONDS (default 1, per configuration) for local
 * soak runs.  Runs under TSan in CI.
 */
#include "testutil.h"

#include <pthread.h>
#include <time.h>

#define NKIDS 4
#define NROOTS 64

struct node {
    uint64_t id;
    uint64_t check;
    struct node *kid[NKIDS];
    uint64_t pad;
};

static const uint8_t node_mask[] = {0x3c}; /* words 2..5 */
static const gch_type node_type = {"node", sizeof(struct node), node_mask, NULL};

static uint64_t mixid(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x | 1;
}

static struct node *load_kid(struct node *n, int i) { return __atomic_load_n(&n->kid[i], __ATOMIC_ACQUIRE); }

static void check_node(const struct node *n)
{
    if (n->check != mixid(n->id))
        fail_msg("node %p damaged: id %#lx check %#lx", (const void *)n, (unsigned long)n->id,
                 (unsigned long)n->check);
}

struct shared {
    gch_heap *h;
    void *roots[NROOTS];  /* registered global root range */
    int stop;             /* __atomic */
    uint64_t next_id;     /* __atomic */
    double seconds;
};

static struct node *new_node(struct shared *sh, gch_thread *t)
{
    struct node *n = gch_alloc(t, &node_type);
    assert_non_null(n);
    n->id = __atomic_fetch_add(&sh->next_id, 1, __ATOMIC_RELAXED);
    n->check = mixid(n->id);
    return n;
}

/* walk: check up to `budget` nodes reachable from n (depth first, bounded). */
static void walk(struct node *n, int depth)
{
    if (n == NULL)
        return;
    check_node(n);
    if (depth == 0)
        return;
    for (int i = 0; i < NKIDS; i++)
        walk(load_kid(n, i), depth - 1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* mutate_once: one random operation on the shared graph; locals[] is the
 * thread's handle frame. */
static void mutate_once(struct shared *sh, gch_thread *t, void **locals, uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    int slot = (int)(r % NROOTS), k = (int)((r >> 8) % NKIDS), k2 = (int)((r >> 12) % NKIDS);
    struct node *root = __atomic_load_n((struct node **)&sh->roots[slot], __ATOMIC_ACQUIRE);
    locals[1] = root; /* held across allocations: must be a root itself */
    switch ((r >> 16) % 8) {
    case 0: case 1: { /* new node under a root or as a root (allocated during a mark: black) */
        struct node *n = new_node(sh, t);
        gch_write(t, (void **)&n->kid[k], root);
        gch_write(t, &sh->roots[slot], n);
        break;
    }
    case 2: /* drop a subtree */
        if (root != NULL)
            gch_write(t, (void **)&root->kid[k], NULL);
        break;
    case 3: { /* move a grandchild up, deleting it from its parent */
        struct node *c = root ? load_kid(root, k) : NULL;
        struct node *g = c ? load_kid(c, k2) : NULL;
        if (g != NULL) {
            gch_write(t, (void **)&root->kid[k2], g);
            gch_write(t, (void **)&c->kid[k2], NULL);
        }
        break;
    }
    case 4: { /* heap -> handle frame, delete from the heap, safepoint, put back */
        struct node *c = root ? load_kid(root, k) : NULL;
        locals[0] = c;
        if (root != NULL)
            gch_write(t, (void **)&root->kid[k], NULL);
        new_node(sh, t); /* garbage: an allocation, so maybe a safepoint */
        gch_safepoint(t);
        struct node *other = __atomic_load_n((struct node **)&sh->roots[(slot + 1) % NROOTS],
                                             __ATOMIC_ACQUIRE);
        if (other != NULL)
            gch_write(t, (void **)&other->kid[k2], locals[0]);
        else
            gch_write(t, &sh->roots[(slot + 1) % NROOTS], locals[0]);
        locals[0] = NULL;
        break;
    }
    case 5: /* a new node linked only from an old (maybe black) one */
        if (root != NULL)
            gch_write(t, (void **)&root->kid[k], new_node(sh, t));
        break;
    case 6: /* bulk copy of the kids between two nodes */
        if (root != NULL) {
            struct node *c = load_kid(root, k);
            if (c != NULL && c != root)
                gch_write_range(t, (void **)c->kid, (void *const *)root->kid, NKIDS);
        }
        break;
    default:
        walk(root, 3);
        gch_safepoint(t);
        break;
    }
    locals[1] = NULL;
}

static void *mutator(void *arg)
{
    struct shared *sh = arg;
    gch_thread *t = gch_thread_attach(sh->h);
    assert_non_null(t);
    GCH_LOCALS(t, locals, 2);
    uint64_t rng = (uint64_t)(uintptr_t)t * 2654435761u + 1;
    while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
        for (int i = 0; i < 256; i++)
            mutate_once(sh, t, locals, &rng);
    }
    GCH_LOCALS_END(t, locals);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

static void *collector(void *arg)
{
    struct shared *sh = arg;
    gch_thread *t = gch_thread_attach(sh->h);
    assert_non_null(t);
    do /* at least one cycle, however late this thread gets a CPU */
        assert_int_equal(gch_collect(sh->h), GCH_OK);
    while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED));
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    return NULL;
}

/* count_reachable: nodes reachable from the roots, each checked; marks
 * visited nodes by flipping pad (single-threaded, at the end). */
static uint64_t count_reachable(struct node *n, uint64_t gen)
{
    uint64_t c = 0;
    struct node *stack[4096];
    size_t sp = 0;
    if (n != NULL && n->pad != gen)
        stack[sp++] = n, n->pad = gen;
    while (sp > 0) {
        struct node *x = stack[--sp];
        check_node(x);
        c++;
        for (int i = 0; i < NKIDS; i++) {
            struct node *y = x->kid[i];
            if (y != NULL && y->pad != gen) {
                y->pad = gen;
                assert_true(sp < 4096);
                stack[sp++] = y;
            }
        }
    }
    return c;
}

static double stress_seconds(void)
{
    const char *s = getenv("GCH_STRESS_SECONDS");
    double v = s != NULL ? atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}

static gch_heap *stress_heap(const char *godebug)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "TCONC_";
    cfg.gc_percent = 10;
    setenv("TCONC_GODEBUG", godebug, 1);
    setenv("TCONC_GOGC", "10", 1);
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("TCONC_GODEBUG");
    unsetenv("TCONC_GOGC");
    assert_non_null(h);
    return h;
}

static void run_stress(int nmut, const char *godebug)
{
    struct shared *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    sh->h = stress_heap(godebug);
    sh->seconds = stress_seconds();
    assert_int_equal(gch_root_range_add(sh->h, sh->roots, NROOTS), GCH_OK);
    pthread_t th[9];
    for (int i = 0; i < nmut; i++)
        assert_int_equal(pthread_create(&th[i], NULL, mutator, sh), 0);
    assert_int_equal(pthread_create(&th[nmut], NULL, collector, sh), 0);
    double end = now_s() + sh->seconds;
    while (now_s() < end) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    __atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i <= nmut; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);

    /* Every node reachable is intact, and nothing else survives. */
    gch_thread *t = gch_thread_attach(sh->h);
    assert_non_null(t);
    assert_int_equal(gch_collect(sh->h), GCH_OK);
    uint64_t reach = 0;
    for (int i = 0; i < NROOTS; i++)
        reach += count_reachable(sh->roots[i], 0x5eed);
    gch_stats st;
    gch_read_stats(sh->h, &st);
    if (st.heap_objects != reach)
        fail_msg("%lu objects in the heap, %lu reachable (%u cycles)", (unsigned long)st.heap_objects,
                 (unsigned long)reach, st.num_gc);
    print_message("%d mutators, %s: %u cycles, %lu nodes made, %lu live\n", nmut, godebug, st.num_gc,
                  (unsigned long)sh->next_id, (unsigned long)reach);
    assert_true(st.num_gc >= 2);
    /* gccheckmark re-marked after every concurrent mark (and found
     * nothing lost, or the process would have stopped). */
    if (strstr(godebug, "gccheckmark=1") != NULL)
        assert_true(atomic_u64_load_relaxed(&sh->h->gc.checkmark_passes) >= 2);
    /* X4: when termination stops the world, the flush handshake before it
     * left nothing grey (the barrier then shades only black objects), so
     * the stopped drain scans nothing and never has to restart. */
    uint64_t drained = atomic_u64_load_relaxed(&sh->h->gc.stw_drained_bytes);
    uint64_t restarts = atomic_u64_load_relaxed(&sh->h->gc.term_restarts_total);
    print_message("  stopped-world drain %lu bytes, %lu termination restarts\n", (unsigned long)drained,
                  (unsigned long)restarts);
    if (strstr(godebug, "gcstoptheworld") == NULL)
        assert_int_equal(drained, 0);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    assert_int_equal(gch_root_range_remove(sh->h, sh->roots), GCH_OK);
    heap_free_checked(sh->h);
    free(sh);
}

static void test_stress_2(void **state) { (void)state; run_stress(2, "clobberfree=1,gccheckmark=1"); }
static void test_stress_4(void **state) { (void)state; run_stress(4, "clobberfree=1,gccheckmark=1"); }
static void test_stress_8(void **state) { (void)state; run_stress(8, "clobberfree=1,gccheckmark=1"); }
static void test_stress_stw(void **state) { (void)state; run_stress(2, "clobberfree=1,gcstoptheworld=1"); }

/* ---- a thread blocked through a whole cycle ----------------------------- */

static void test_blocked_thread_keeps_frames(void **state)
{
    (void)state;
    gch_heap *h = stress_heap("clobberfree=1");
    gch_thread *t = gch_thread_attach(h);
    GCH_LOCALS(t, locals, 1);
    struct shared sh = {.h = h};
    struct node *n = new_node(&sh, t);
    gch_write(t, (void **)&n->kid[0], new_node(&sh, t));
    locals[0] = n;
    n = NULL;
    /* Another thread collects while this one blocks: the collector scans
     * our frame for us. */
    pthread_t th;
    gch_blocking_enter(t);
    __atomic_store_n(&sh.stop, 0, __ATOMIC_RELAXED);
    struct shared *shp = &sh;
    assert_int_equal(pthread_create(&th, NULL, collector, shp), 0);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    __atomic_store_n(&sh.stop, 1, __ATOMIC_RELAXED);
    assert_int_equal(pthread_join(th, NULL), 0);
    gch_blocking_leave(t);
    n = locals[0];
    check_node(n);
    check_node(load_kid(n, 0));
    gch_stats st;
    gch_read_stats(h, &st);
    assert_true(st.num_gc >= 1);
    GCH_LOCALS_END(t, locals);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

/* ---- gctrace of a concurrent cycle -------------------------------------- */

struct lines { int n; char last[512]; };

static void capture(const char *line, void *ctx)
{
    struct lines *l = ctx;
    l->n++;
    snprintf(l->last, sizeof l->last, "%s", line);
}

static void test_gctrace_concurrent(void **state)
{
    (void)state;
    struct lines l = {0, ""};
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "TCONC_";
    setenv("TCONC_GODEBUG", "gctrace=1", 1);
    cfg.trace = capture;
    cfg.trace_ctx = &l;
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("TCONC_GODEBUG");
    assert_non_null(h);
    gch_thread *t = gch_thread_attach(h);
    assert_int_equal(gch_collect(h), GCH_OK);
    assert_int_equal(l.n, 1);
    /* gc 1 @S.SSSs P%: A+B+C ms clock, D+E/F/G+H ms cpu, ... */
    unsigned num;
    double s, a, b, c;
    int pct;
    assert_int_equal(sscanf(l.last, "gc %u @%lfs %d%%: %lf+%lf+%lf ms clock", &num, &s, &pct, &a, &b, &c), 6);
    assert_int_equal(num, 1);
    assert_non_null(strstr(l.last, " (forced)\n"));
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stress_2),
        cmocka_unit_test(test_stress_4),
        cmocka_unit_test(test_stress_8),
        cmocka_unit_test(test_stress_stw),
        cmocka_unit_test(test_blocked_thread_keeps_frames),
        cmocka_unit_test(test_gctrace_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
