/*
 * test_align.c - every object a VM can point to is 8-byte aligned, and a
 * VM that tags the low bits of its values keeps its objects (issue 13,
 * bug 2; issue 16 item 1).
 *
 * What it checks:
 *   1. gch_alloc (noscan and scan types), gch_alloc_noscan and
 *      gch_alloc_array give 8-byte aligned objects for every size up to
 *      64 bytes, and 16-byte aligned ones from 9 to 16 bytes, whether or
 *      not the collector is marking (allocate black);
 *   2. the program: a VM whose decoder reads a word with its low
 *      bit set as a small integer keeps 5-byte strings held only in a
 *      handle frame, across collections with clobberfree=1 (before the
 *      fix, the strings at odd addresses were freed and clobbered);
 *   3. gch_usable_size of a small noscan object never reaches the next
 *      object (the usable_tiny.c reproducer), and is never 0 for an
 *      object the heap handed out.
 */
#include "testutil.h"

#define NSTR 96

/* decode_smallint: the most common VM tagging: low bit 1 = a 63-bit
 * integer, low bit 0 = a pointer. */
static void *decode_smallint(uintptr_t w) { return (w & 1) ? NULL : (void *)w; }

static gch_heap *heap_with_decoder(void)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "TALIGN_";
    cfg.gc_percent = -1;
    cfg.decode = decode_smallint;
    setenv("TALIGN_GODEBUG", "clobberfree=1,invalidptr=1", 1);
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("TALIGN_GODEBUG");
    assert_non_null(h);
    return h;
}

static void check_align(const void *p, size_t size)
{
    assert_non_null(p);
    bool want16 = size > 8 && (size <= 16 || size > 24);
    if ((uintptr_t)p % 8 != 0 || (want16 && (uintptr_t)p % 16 != 0))
        fail_msg("a %zu-byte object at %p is not aligned", size, p);
}

static void noop_trace(gch_visitor *v, void *obj, size_t size)
{
    (void)v;
    (void)obj;
    (void)size;
}

static void alloc_every_kind(gch_thread *t)
{
    static const uint8_t one[1] = {1};
    static gch_type plain[65], masked[65], traced[65];
    static const gch_type traced8 = {"traced8", 8, NULL, noop_trace};
    static const gch_type byte = {"byte", 1, NULL, NULL};
    static const gch_type three = {"three", 3, NULL, NULL};
    for (size_t size = 1; size <= 64; size++) {
        plain[size] = (gch_type){"plain", size, NULL, NULL};
        masked[size] = (gch_type){"masked", size, one, NULL};
        traced[size] = (gch_type){"traced", size, NULL, noop_trace};
        for (int i = 0; i < 40; i++) {
            check_align(gch_alloc(t, &plain[size]), size);
            check_align(gch_alloc_noscan(t, size), size);
            check_align(gch_alloc_array(t, &byte, size), size);
            if (size >= 8)
                check_align(gch_alloc(t, &masked[size]), size);
            /* trace types carry a header word: 9..16 bytes must still be 16-aligned */
            check_align(gch_alloc(t, &traced[size]), size);
            if (size <= 8)
                check_align(gch_alloc_array(t, &traced8, size), 8 * size);
            if (size <= 21)
                check_align(gch_alloc_array(t, &three, size), 3 * size);
        }
    }
}

static void test_every_object_is_8_aligned(void **state)
{
    (void)state;
    gch_heap *h = heap_with_decoder();
    gch_thread *t = gch_thread_attach(h);
    alloc_every_kind(t);
    /* and while marking: the objects are allocated black */
    gchi_test_hold_mark(h, true);
    assert_true(gchi_test_gc_start(h));
    gch_safepoint(t);
    alloc_every_kind(t);
    gchi_test_hold_mark(h, false);
    gchi_test_gc_wait(h);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

/* The program: a string type of 5 bytes, strings interleaved so
 * that (with Go's tiny packing) every other one lands at an odd offset of
 * a shared block; only those are kept, in a handle frame. */
static void test_tagged_decoder_keeps_small_strings(void **state)
{
    (void)state;
    static const gch_type str5 = {"str5", 5, NULL, NULL};
    gch_heap *h = heap_with_decoder();
    gch_thread *t = gch_thread_attach(h);
    GCH_LOCALS(t, kept, NSTR);
    for (int i = 0; i < NSTR; i++) {
        char *a = gch_alloc(t, &str5); /* dropped */
        char *b = gch_alloc(t, &str5); /* kept: offset 5 in a packed block */
        assert_non_null(a);
        assert_non_null(b);
        snprintf(a, 5, "a%03d", i);
        snprintf(b, 5, "k%03d", i);
        kept[i] = b;
    }
    for (int round = 0; round < 3; round++) {
        assert_int_equal(gch_collect(h), GCH_OK);
        for (int i = 0; i < 4 * NSTR; i++) /* reuse what was freed */
            memset(gch_alloc(t, &str5), 'x', 5);
        for (int i = 0; i < NSTR; i++) {
            char want[5];
            snprintf(want, sizeof want, "k%03d", i);
            if (memcmp(kept[i], want, 5) != 0)
                fail_msg("string %d at %p freed while in a handle frame: \"%.5s\"", i, kept[i],
                         (const char *)kept[i]);
        }
    }
    for (int i = 0; i < NSTR; i++)
        check_align(kept[i], 5);
    GCH_LOCALS_END(t, kept);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

/* usable_tiny.c: writing up to gch_usable_size(a) must not touch b. */
static void test_usable_size_stops_at_the_next_object(void **state)
{
    (void)state;
    gch_heap *h = test_heap_new_nogc();
    gch_thread *t = gch_thread_attach(h);
    for (size_t size = 1; size < 16; size++) {
        for (int i = 0; i < 64; i++) {
            char *a = gch_alloc_noscan(t, size);
            char *b = gch_alloc_noscan(t, size);
            size_t ua = gch_usable_size(h, a), ub = gch_usable_size(h, b);
            assert_true(ua >= size);
            assert_true(ub >= size); /* never 0 for an object handed out */
            memset(b, 'b', size);
            memset(a, 'A', ua);
            if (!mem_all(b, 'b', size))
                fail_msg("%zu-byte objects: writing usable size %zu at %p overwrote %p", size, ua,
                         (void *)a, (void *)b);
        }
    }
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_object_is_8_aligned),
        cmocka_unit_test(test_tagged_decoder_keeps_small_strings),
        cmocka_unit_test(test_usable_size_stops_at_the_next_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
