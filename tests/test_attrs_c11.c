/*
 * test_attrs_c11.c - the inline fast paths on include/gcheap/attrs.h's
 * C11 <stdatomic.h> path (the one a non-GNU C11 compiler takes), forced
 * here with GCHI_NO_GNU_ATOMICS: it compiles as strict C11 with the
 * tests' warnings, gch_write stores with the barrier off, and with the
 * barrier on (a held mark) its slow path still shades the overwritten
 * value, so an object moved from the heap into a black frame survives
 * (checked by gccheckmark and by reading the object afterwards);
 * gch_safepoint answers the mark's handshake through the C11 load.
 */
#define GCHI_NO_GNU_ATOMICS 1
#include "testutil.h"

#ifndef GCHI_ATOMICS_C11
#error "gcheap/attrs.h did not take its C11 path under GCHI_NO_GNU_ATOMICS"
#endif

#define MAGIC 0x6331316174747273ULL

struct obj {
    uint64_t magic;
    void *f[2];
};

static const uint8_t obj_mask[] = {0x06}; /* words 1..2 */
static const gch_type obj_type = {"c11obj", sizeof(struct obj), obj_mask, NULL};

static struct obj *new_obj(gch_thread *t)
{
    struct obj *o = gch_alloc(t, &obj_type);
    assert_non_null(o);
    o->magic = MAGIC;
    return o;
}

static gch_heap *heap_checked(void)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "ATTRSC11_";
    cfg.gc_percent = -1;
    setenv("ATTRSC11_GODEBUG", "clobberfree=1,gccheckmark=1", 1);
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("ATTRSC11_GODEBUG");
    assert_non_null(h);
    return h;
}

static void test_write_barrier_off(void **state)
{
    (void)state;
    gch_heap *h = heap_checked();
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    struct obj *a = new_obj(t), *b = new_obj(t);
    assert_int_equal(gchi_head(t)->wb_enabled, 0);
    gch_write(t, &a->f[1], b);
    assert_ptr_equal(a->f[1], b);
    gch_write(t, &a->f[1], NULL);
    assert_null(a->f[1]);
    gch_safepoint(t);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

static void test_write_barrier_on_keeps_moved_object(void **state)
{
    (void)state;
    gch_heap *h = heap_checked();
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    void *g[1] = {NULL};
    assert_int_equal(gch_root_range_add(h, g, 1), GCH_OK);
    GCH_LOCALS(t, locals, 1);
    struct obj *a = new_obj(t);
    gch_write(t, &a->f[0], new_obj(t));
    gch_write(t, &g[0], a);
    a = NULL;
    uint64_t passes = atomic_u64_load_relaxed(&h->gc.checkmark_passes);
    gchi_test_hold_mark(h, true);
    assert_true(gchi_test_gc_start(h));
    gch_safepoint(t); /* our frames are scanned now: black */
    assert_int_equal(gchi_head(t)->wb_enabled, 1);
    struct obj *ga = g[0];
    locals[0] = ga->f[0];
    gch_write(t, &ga->f[0], NULL); /* the barrier shades the old value */
    assert_null(ga->f[0]);
    gchi_test_hold_mark(h, false);
    gchi_test_gc_wait(h);
    assert_true(atomic_u64_load_relaxed(&h->gc.checkmark_passes) > passes);
    assert_int_equal(gch_collect(h), GCH_OK);
    assert_non_null(locals[0]);
    assert_true(((struct obj *)locals[0])->magic == MAGIC);
    GCH_LOCALS_END(t, locals);
    assert_int_equal(gch_root_range_remove(h, g), GCH_OK);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_barrier_off),
        cmocka_unit_test(test_write_barrier_on_keeps_moved_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
