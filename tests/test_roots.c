/*
 * test_roots.c - the root registry (gc/roots.h R1, R2): global slots and
 * ranges, heap-wide and per-thread scanners, handle frames, and the
 * visitor that reports every root slot exactly once.  Marking itself is
 * tested with the collector; here a recording visitor stands in for it.
 */
#include "testutil.h"
#include "roots.h"
#include "markroot.h"

#include <pthread.h>

#define MAXREC 4096

struct recorder {
    struct gch_visitor v;
    void *const *seen[MAXREC];
    size_t n;
};

static void record(struct gch_visitor *v, void *const *slot)
{
    struct recorder *r = (struct recorder *)v;
    if (r->n < MAXREC)
        r->seen[r->n++] = slot;
}

static void rec_init(struct recorder *r)
{
    memset(r, 0, sizeof *r);
    r->v.visit = record;
}

static bool saw(const struct recorder *r, void *const *slot)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        k += r->seen[i] == slot;
    return k == 1; /* exactly once */
}

static void *g1, *g2, *garr[10];

static void test_global_slots_and_ranges(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(gch_root_add(f->h, &g1), GCH_OK);
    assert_int_equal(gch_root_add(f->h, &g2), GCH_OK);
    assert_int_equal(gch_root_range_add(f->h, garr, 10), GCH_OK);
    struct recorder r;
    rec_init(&r);
    uint64_t bytes = roots_scan_globals(&f->h->roots, &r.v);
    assert_int_equal(bytes, 12 * sizeof(void *));
    assert_int_equal(r.n, 12);
    assert_true(saw(&r, &g1) && saw(&r, &g2));
    for (int i = 0; i < 10; i++)
        assert_true(saw(&r, &garr[i]));
    assert_int_equal(gch_root_remove(f->h, &g1), GCH_OK);
    assert_int_equal(gch_root_range_remove(f->h, garr), GCH_OK);
    rec_init(&r);
    assert_int_equal(roots_scan_globals(&f->h->roots, &r.v), sizeof(void *));
    assert_true(saw(&r, &g2));
    assert_int_equal(gch_root_remove(f->h, &g2), GCH_OK);
}

static void test_bad_root_calls(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(gch_root_add(f->h, &g1), GCH_OK);
    assert_int_equal(gch_root_add(f->h, &g1), GCH_EINVAL); /* twice */
    assert_int_equal(gch_last_error(), GCH_EINVAL);
    assert_non_null(strstr(gch_last_error_message(), "overlaps"));
    assert_int_equal(gch_root_range_add(f->h, garr, 4), GCH_OK);
    assert_int_equal(gch_root_range_add(f->h, garr + 3, 2), GCH_EINVAL); /* R1 */
    assert_int_equal(gch_root_range_add(f->h, garr + 2, 1), GCH_EINVAL);
    assert_int_equal(gch_root_range_add(f->h, garr + 4, 2), GCH_OK);     /* adjacent is fine */
    assert_int_equal(gch_root_remove(f->h, &g2), GCH_EINVAL);            /* never added */
    assert_int_equal(gch_root_range_remove(f->h, garr + 1), GCH_EINVAL); /* not a start */
    assert_int_equal(gch_root_add(NULL, &g2), GCH_EINVAL);
    assert_int_equal(gch_root_add(f->h, NULL), GCH_EINVAL);
    assert_int_equal(gch_root_range_add(f->h, garr, 0), GCH_EINVAL);
    assert_int_equal(gch_root_remove(f->h, &g1), GCH_OK);
    assert_int_equal(gch_root_range_remove(f->h, garr), GCH_OK);
    assert_int_equal(gch_root_range_remove(f->h, garr + 4), GCH_OK);
    assert_int_equal(f->h->roots.nranges, 0);
}

struct table { void *slots[5]; int calls; };

static void scan_table(gch_visitor *v, void *ctx)
{
    struct table *tb = ctx;
    tb->calls++;
    for (int i = 0; i < 5; i++)
        gch_visit(v, &tb->slots[i]);
}

static void test_heap_scanners(void **state)
{
    struct fixture *f = *state;
    struct table a = {{0}, 0}, b = {{0}, 0};
    assert_int_equal(gch_heap_scanner_add(f->h, scan_table, &a), GCH_OK);
    assert_int_equal(gch_heap_scanner_add(f->h, scan_table, &b), GCH_OK); /* same fn, other ctx */
    assert_int_equal(gch_heap_scanner_add(f->h, scan_table, &a), GCH_EINVAL);
    struct recorder r;
    rec_init(&r);
    roots_scan_globals(&f->h->roots, &r.v);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(r.n, 10);
    assert_true(saw(&r, &a.slots[4]) && saw(&r, &b.slots[0]));
    assert_int_equal(gch_heap_scanner_remove(f->h, scan_table, &a), GCH_OK);
    assert_int_equal(gch_heap_scanner_remove(f->h, scan_table, &a), GCH_EINVAL);
    rec_init(&r);
    roots_scan_globals(&f->h->roots, &r.v);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 2);
    assert_int_equal(gch_heap_scanner_remove(f->h, scan_table, &b), GCH_OK);
}

static void test_thread_roots(void **state)
{
    struct fixture *f = *state;
    struct table vmstack = {{0}, 0};
    assert_int_equal(gch_thread_scanner_add(f->t, scan_table, &vmstack), GCH_OK);
    GCH_LOCALS(f->t, locals, 3);
    GCH_LOCALS(f->t, more, 2);
    struct recorder r;
    rec_init(&r);
    uint64_t bytes = roots_scan_thread(f->t, &r.v);
    assert_int_equal(bytes, (3 + 2 + 5) * sizeof(void *));
    for (int i = 0; i < 3; i++)
        assert_true(saw(&r, &locals[i]));
    assert_true(saw(&r, &more[1]) && saw(&r, &vmstack.slots[2]));
    GCH_LOCALS_END(f->t, more);
    rec_init(&r);
    assert_int_equal(roots_scan_thread(f->t, &r.v), (3 + 5) * sizeof(void *));
    assert_false(saw(&r, &more[0]));
    GCH_LOCALS_END(f->t, locals);
    assert_int_equal(gch_thread_scanner_remove(f->t, scan_table, &vmstack), GCH_OK);
    rec_init(&r);
    assert_int_equal(roots_scan_thread(f->t, &r.v), 0);
    assert_int_equal(gch_thread_scanner_remove(f->t, scan_table, &vmstack), GCH_EINVAL);
    /* A scanner left registered is released at detach (ASan checks the leak). */
    assert_int_equal(gch_thread_scanner_add(f->t, scan_table, &vmstack), GCH_OK);
}

/* R2: scanning under the lock while another thread adds and removes. */
static void *churn_roots(void *arg)
{
    gch_heap *h = arg;
    static void *slots[64];
    for (int round = 0; round < 2000; round++) {
        for (int i = 0; i < 64; i += 2)
            assert_int_equal(gch_root_add(h, &slots[i]), GCH_OK);
        for (int i = 0; i < 64; i += 2)
            assert_int_equal(gch_root_remove(h, &slots[i]), GCH_OK);
    }
    return NULL;
}

static void test_scan_races_with_registration(void **state)
{
    struct fixture *f = *state;
    static void *fixed;
    assert_int_equal(gch_root_add(f->h, &fixed), GCH_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, churn_roots, f->h), 0);
    for (int i = 0; i < 2000; i++) {
        struct recorder r;
        rec_init(&r);
        uint64_t bytes = roots_scan_globals(&f->h->roots, &r.v);
        assert_true(saw(&r, &fixed));
        assert_int_equal(bytes, r.n * sizeof(void *));
        assert_true(r.n % 1 == 0 && r.n <= 33);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(gch_root_remove(f->h, &fixed), GCH_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_global_slots_and_ranges, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_bad_root_calls, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_heap_scanners, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_thread_roots, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_scan_races_with_registration, heap_setup, heap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
