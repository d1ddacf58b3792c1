/* test_smoke.c - the public API end to end: attach, allocate each path,
 * read stats, detach, free.  Detailed tests live in the per-component files. */
#include "testutil.h"

static const uint8_t pair_mask[1] = {0x3};
static const gch_type pair_type = {"pair", 16, pair_mask, NULL};

static void test_alloc_paths(void **state)
{
    struct fixture *f = *state;
    void **p = gch_alloc(f->t, &pair_type);
    assert_non_null(p);
    assert_null(p[0]);
    char *tiny = gch_alloc_noscan(f->t, 5);
    assert_non_null(tiny);
    char *big = gch_alloc_noscan(f->t, 100000);
    assert_non_null(big);
    assert_ptr_equal(gch_object_base(f->h, big + 99999), big);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gch_stats st;
    gch_read_stats(f->h, &st);
    assert_int_equal(st.heap_sys, st.heap_inuse + st.heap_idle);
    assert_true(st.heap_alloc >= 16 + 16 + 100000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alloc_paths, heap_setup, heap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
