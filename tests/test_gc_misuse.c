/*
 * test_gc_misuse.c - what the collector refuses, and reading its
 * statistics while it runs (regression tests for the review of the first
 * collector, gc/mgc.c and gc/stw.c):
 *   - a scan or trace callback that allocates or collects is a named fatal
 *     error (it would otherwise deadlock: the caller is the collector);
 *   - a thread inside gch_blocking_enter/leave that flushes its cache,
 *     allocates or edits its scanners is a named fatal error (the
 *     collector may be using that state);
 *   - gch_read_stats from an unattached thread during cycles sees NumGC
 *     never decrease and a recorded pause for the latest cycle (TSan).
 */
#include "testutil.h"

#include <pthread.h>

static void alloc_in_scanner(gch_visitor *v, void *ctx)
{
    (void)v;
    gch_alloc_noscan(ctx, 8);
}

static void collect_in_scanner(gch_visitor *v, void *ctx)
{
    (void)v;
    gch_collect(ctx);
}

static void child_heap_scanner_allocates(void *arg)
{
    struct fixture *f = arg;
    gch_heap_scanner_add(f->h, alloc_in_scanner, f->t);
    gch_collect(f->h);
}

static void child_thread_scanner_collects(void *arg)
{
    struct fixture *f = arg;
    gch_thread_scanner_add(f->t, collect_in_scanner, f->h);
    gch_collect(f->h);
}

struct tnode { void *ctx; };
static void trace_allocates(gch_visitor *v, void *obj, size_t size)
{
    (void)v;
    (void)size;
    gch_alloc_noscan(((struct tnode *)obj)->ctx, 100000); /* large: always the slow path */
}
static const gch_type tnode_type = {"tnode", sizeof(struct tnode), NULL, trace_allocates};

static void child_trace_allocates(void *arg)
{
    struct fixture *f = arg;
    GCH_LOCALS(f->t, r, 1);
    struct tnode *n = gch_alloc(f->t, &tnode_type);
    n->ctx = f->t;
    r[0] = n;
    gch_collect(f->h);
}

static void test_callbacks_may_not_allocate_or_collect(void **state)
{
    struct fixture *f = *state;
    expect_fatal(child_heap_scanner_allocates, f, "allocation inside a collection");
    expect_fatal(child_thread_scanner_collects, f, "gch_collect inside a collection");
    expect_fatal(child_trace_allocates, f, "allocation inside a collection");
}

static void scan_nothing(gch_visitor *v, void *ctx)
{
    (void)v;
    (void)ctx;
}

static void child_flush_while_blocking(void *arg)
{
    struct fixture *f = arg;
    gch_blocking_enter(f->t);
    gch_thread_flush(f->t);
}

static void child_alloc_while_blocking(void *arg)
{
    struct fixture *f = arg;
    gch_blocking_enter(f->t);
    gch_alloc_noscan(f->t, 100000);
}

static void child_scanner_while_blocking(void *arg)
{
    struct fixture *f = arg;
    gch_blocking_enter(f->t);
    gch_thread_scanner_add(f->t, scan_nothing, NULL);
}

static void test_blocking_thread_may_not_touch_its_state(void **state)
{
    struct fixture *f = *state;
    expect_fatal(child_flush_while_blocking, f, "gch_thread_flush inside a blocking section");
    expect_fatal(child_alloc_while_blocking, f, "allocation inside a blocking section");
    expect_fatal(child_scanner_while_blocking, f, "gch_thread_scanner_add inside a blocking section");
    /* the parent's thread is untouched and still usable */
    assert_non_null(gch_alloc_noscan(f->t, 100000));
}

struct reader { gch_heap *h; _Atomic int stop; int bad; };

static void *stats_reader(void *arg)
{
    struct reader *r = arg;
    uint32_t last = 0;
    while (!r->stop) {
        gch_stats st;
        gch_read_stats(r->h, &st);
        if (st.num_gc < last)
            r->bad++;
        if (st.num_gc > 0 && st.pause_ns[(st.num_gc + 255) % 256] == 0)
            r->bad++;
        if (st.pause_total_ns < st.pause_ns[(st.num_gc + 255) % 256])
            r->bad++;
        last = st.num_gc;
    }
    return NULL;
}

static void test_stats_read_during_cycles(void **state)
{
    struct fixture *f = *state;
    struct reader r = {f->h, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stats_reader, &r), 0);
    GCH_LOCALS(f->t, keep, 1);
    for (int i = 0; i < 200; i++) {
        keep[0] = gch_alloc_noscan(f->t, 4096);
        assert_int_equal(gch_collect(f->h), GCH_OK);
    }
    GCH_LOCALS_END(f->t, keep);
    r.stop = 1;
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(r.bad, 0);
    gch_stats st;
    gch_read_stats(f->h, &st);
    assert_int_equal(st.num_gc, 200);
    assert_int_equal(st.num_forced_gc, 200);
}

struct lines { int n; char last[512]; };

static void capture(const char *line, void *ctx)
{
    struct lines *l = ctx;
    l->n++;
    snprintf(l->last, sizeof l->last, "%s", line);
}

/* gctrace goes to the configured sink in Go's format, one line a cycle. */
static void test_gctrace_sink(void **state)
{
    (void)state;
    struct lines l = {0, ""};
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "GCMISUSE_";
    setenv("GCMISUSE_GODEBUG", "gctrace=1", 1);
    cfg.trace = capture;
    cfg.trace_ctx = &l;
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    unsetenv("GCMISUSE_GODEBUG");
    gch_thread *t = gch_thread_attach(h);
    for (int i = 0; i < 3; i++)
        assert_int_equal(gch_collect(h), GCH_OK);
    assert_int_equal(l.n, 3);
    assert_true(strncmp(l.last, "gc 3 @", 6) == 0);
    assert_non_null(strstr(l.last, " ms clock, "));
    assert_non_null(strstr(l.last, " MB goal, 0 MB stacks, 0 MB globals, "));
    size_t len = strlen(l.last);
    assert_true(len > 10 && strcmp(l.last + len - 10, " (forced)\n") == 0);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_callbacks_may_not_allocate_or_collect, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_blocking_thread_may_not_touch_its_state, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_stats_read_during_cycles, heap_setup, heap_teardown),
        cmocka_unit_test(test_gctrace_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
