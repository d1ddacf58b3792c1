/*
 * test_gcstress.c - GODEBUG=gcstress=N (gc/mgcstress.c): a whole
 * collection every N allocations, with clobberfree, so that an
 * embedder's missing root fails at once, with a message naming the slot
 * and the object that hold the freed reference.
 *
 * What it checks:
 *   1. gcstress=N runs exactly one collection per N allocations of a
 *      thread (every allocation call: typed, noscan, arrays), sets
 *      clobberfree, and loses nothing held in roots;
 *   2. a deliberately missing root (a reference kept only in a C local
 *      across an allocation, then stored into a rooted object) is a fatal
 *      "bad pointer in heap" at the next allocation, naming the slot and
 *      the object; the same program without gcstress runs to its end
 *      with the bug unnoticed;
 *   3. the freed object is clobbered at once: a read through the stale
 *      local sees 0xdeadbeef, not the VM's data;
 *   4. an allocation from a blocking section under gcstress is still the
 *      named fatal error (the stress collection does not deadlock first);
 *   5. a count-prefixed trace type whose count shrinks without the dropped
 *      slots being cleared, then grows back over them, is caught at the
 *      next allocation (the stale slot names a freed object); cleared
 *      with gch_write_clear first, as gcheap.h requires, it runs clean.
 */
#include "testutil.h"

#include <sys/wait.h>

struct node {
    uint64_t tag;
    void *next;
};

static const uint8_t node_mask[] = {0x02}; /* word 1 */
static const gch_type node_type = {"node", sizeof(struct node), node_mask, NULL};
static const gch_type blob_type = {"blob", 48, NULL, NULL};

static gch_heap *stress_heap(const char *godebug)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "TSTRESS_";
    cfg.gc_percent = -1; /* only gcstress collects */
    setenv("TSTRESS_GODEBUG", godebug, 1);
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("TSTRESS_GODEBUG");
    assert_non_null(h);
    return h;
}

static uint32_t num_gc(gch_heap *h)
{
    gch_stats st;
    gch_read_stats(h, &st);
    return st.num_gc;
}

static void test_gcstress_collects_every_n(void **state)
{
    (void)state;
    static const gch_type byte = {"byte", 1, NULL, NULL};
    gch_heap *h = stress_heap("gcstress=7");
    assert_int_equal(h->env.debug.gcstress, 7);
    assert_int_equal(h->env.debug.clobberfree, 1);
    gch_thread *t = gch_thread_attach(h);
    GCH_LOCALS(t, keep, 1);
    keep[0] = gch_alloc(t, &node_type); /* allocation 1 */
    ((struct node *)keep[0])->tag = 42;
    for (int i = 1; i < 70; i++) { /* allocations 2..70 */
        void *p = i % 3 == 0 ? gch_alloc(t, &node_type)
                  : i % 3 == 1 ? gch_alloc_noscan(t, 24) : gch_alloc_array(t, &byte, 40);
        assert_non_null(p);
    }
    assert_int_equal(num_gc(h), 10);
    assert_int_equal(((struct node *)keep[0])->tag, 42);
    GCH_LOCALS_END(t, keep);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

/* missing_root: the embedder's bug.  b is kept only in a C local across
 * an allocation (a safepoint), then linked from a rooted node. */
static void missing_root(void *arg)
{
    gch_heap *h = stress_heap((const char *)arg);
    gch_thread *t = gch_thread_attach(h);
    GCH_LOCALS(t, roots, 1);
    struct node *a = gch_alloc(t, &node_type);
    roots[0] = a;
    struct node *b = gch_alloc(t, &node_type); /* not a root: the bug */
    b->tag = 7;
    void *other = gch_alloc(t, &blob_type); /* a safepoint: b is garbage */
    (void)other;
    a = roots[0];
    gch_write(t, &a->next, b); /* the freed b linked from a live node */
    for (int i = 0; i < 4; i++)
        gch_alloc(t, &blob_type); /* the next collection marks a->next */
    GCH_LOCALS_END(t, roots);
    gch_thread_detach(t);
    gch_heap_free(h);
}

/* run_child: fn(arg) in a child; its exit status (0: ran to the end). */
static int run_child(void (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* A trace sink that allocates (gcheap.h allows it on a VM thread) under
 * gcstress: the sink may run before its cycle is published as ended, so
 * a collection from there would wait for itself (a review found the
 * hang with gcstoptheworld=1, and with gcpacertrace=1 on gc.trace.mu).  The
 * collection is put off to the next allocation. */
static _Thread_local gch_thread *sink_thread;
static int sink_lines;

static void allocating_sink(const char *line, void *ctx)
{
    (void)line;
    (void)ctx;
    sink_lines++;
    if (sink_thread != NULL)
        assert_non_null(gch_alloc_noscan(sink_thread, 32));
}

static void sink_allocates(void *arg)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "TSTRESS_";
    cfg.gc_percent = -1;
    cfg.trace = allocating_sink;
    setenv("TSTRESS_GODEBUG", (const char *)arg, 1);
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("TSTRESS_GODEBUG");
    assert_non_null(h);
    gch_thread *t = gch_thread_attach(h);
    sink_thread = t;
    for (int i = 0; i < 50; i++)
        assert_non_null(gch_alloc_noscan(t, 16));
    sink_thread = NULL;
    assert_true(sink_lines >= 10);
    assert_true(num_gc(h) >= 20);
    gch_thread_detach(t);
    gch_heap_free(h);
}

static void alarm_then(void *arg)
{
    alarm(60); /* a hang ends the child with SIGALRM */
    sink_allocates(arg);
}

static void test_gcstress_sink_may_allocate(void **state)
{
    (void)state;
    static const char *modes[] = {"gctrace=1,gcstress=1,gcstoptheworld=1",
                                  "gctrace=1,gcpacertrace=1,gcstress=1", "gctrace=1,gcstress=2"};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        int status = run_child(alarm_then, (void *)modes[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("%s: child status %#x", modes[i], (unsigned)status);
    }
}

static void test_gcstress_catches_missing_root(void **state)
{
    (void)state;
    expect_fatal(missing_root, "gcstress=1", "bad pointer in heap: points to a free");
    expect_fatal(missing_root, "gcstress=1", "in slot 0x");
    expect_fatal(missing_root, "gcstress=1", "of object 0x");
    /* Without gcstress the bug goes unnoticed (no cycle ever runs). */
    int status = run_child(missing_root, (void *)"gcstress=0");
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_gcstress_clobbers_at_once(void **state)
{
    (void)state;
    gch_heap *h = stress_heap("gcstress=1");
    gch_thread *t = gch_thread_attach(h);
    GCH_LOCALS(t, keep, 1);
    keep[0] = gch_alloc(t, &node_type); /* keeps the span in use */
    struct node *b = gch_alloc(t, &node_type); /* not a root */
    b->tag = 7;
    assert_non_null(gch_alloc(t, &blob_type)); /* b is freed and clobbered */
    uint64_t tag;
    peek_freed(&tag, &b->tag, sizeof tag);
    assert_int_equal(tag, 0xdeadbeefdeadbeefULL);
    GCH_LOCALS_END(t, keep);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

static void alloc_blocking(void *arg)
{
    (void)arg;
    gch_heap *h = stress_heap("gcstress=1");
    gch_thread *t = gch_thread_attach(h);
    gch_blocking_enter(t);
    gch_alloc(t, &node_type);
}

static void test_gcstress_blocking_is_fatal(void **state)
{
    (void)state;
    expect_fatal(alloc_blocking, NULL, "allocation inside a blocking section");
}

/* ---- 5. count-prefixed objects ------------------------------------------ */

struct cvec {
    size_t n; /* slots in use */
    void *slot[4];
};

static void trace_cvec(gch_visitor *v, void *obj, size_t size)
{
    (void)size;
    struct cvec *c = obj;
    for (size_t i = 0; i < c->n; i++)
        gch_visit(v, &c->slot[i]);
}

static const gch_type cvec_type = {"cvec", sizeof(struct cvec), NULL, trace_cvec};

/* shrink_grow: a VM's vector pops an element and later pushes again; the
 * push writes the count first (a reused slot is "filled in later").  With
 * clear != 0 the pop clears the dropped slot, as the rule says. */
static void shrink_grow(void *arg)
{
    bool clear = arg != NULL;
    gch_heap *h = stress_heap("gcstress=1");
    gch_thread *t = gch_thread_attach(h);
    GCH_LOCALS(t, roots, 1);
    struct cvec *c = gch_alloc(t, &cvec_type);
    roots[0] = c;
    gch_write(t, &c->slot[0], gch_alloc(t, &node_type));
    c = roots[0];
    c->n = 1;
    gch_write(t, &c->slot[1], gch_alloc(t, &node_type));
    c = roots[0];
    c->n = 2;
    /* pop */
    if (clear)
        gch_write_clear(t, &c->slot[1], 1);
    c->n = 1;
    gch_alloc(t, &blob_type); /* the popped node is freed here */
    /* push: the count first */
    c = roots[0];
    c->n = 2;
    gch_alloc(t, &blob_type); /* a stale slot is marked here */
    c = roots[0];
    gch_write(t, &c->slot[1], NULL);
    GCH_LOCALS_END(t, roots);
    gch_thread_detach(t);
    gch_heap_free(h);
}

static void test_gcstress_count_shrunk_without_clearing(void **state)
{
    (void)state;
    expect_fatal(shrink_grow, NULL, "bad pointer in heap: points to a free");
    int status = run_child(shrink_grow, (void *)"clear");
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcstress_collects_every_n),
        cmocka_unit_test(test_gcstress_catches_missing_root),
        cmocka_unit_test(test_gcstress_sink_may_allocate),
        cmocka_unit_test(test_gcstress_clobbers_at_once),
        cmocka_unit_test(test_gcstress_blocking_is_fatal),
        cmocka_unit_test(test_gcstress_count_shrunk_without_clearing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
