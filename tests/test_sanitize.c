/*
 * test_sanitize.c - heap objects under AddressSanitizer (alloc/track.h).
 *
 * In an ASan build of the library (GCH_SANITIZE=address, scripts/test.sh
 * asan) it checks invariant Z1: a slot is addressable exactly while its
 * object is allocated.
 *   1. an object handed out is unpoisoned over its whole usable size, and
 *      the free slots of a fresh span around it are poisoned (small and
 *      large objects, typed and noscan);
 *   2. after a collection, an unreachable object is poisoned and a
 *      reachable one is not; a slot handed out again is unpoisoned;
 *   3. a VM reading a freed object is stopped by ASan with a
 *      "use-after-poison" report (in a child process).
 * In other builds the tests report themselves skipped.  The Valgrind side
 * of track.h is tested by tests/valgrind_uaf.c (tests/CMakeLists.txt).
 */
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#include <sanitizer/asan_interface.h>
#else
#define HAVE_ASAN 0
#endif

#if HAVE_ASAN
struct node {
    uint64_t tag;
    void *next;
};

static const uint8_t node_mask[] = {0x02};
static const gch_type node_type = {"node", sizeof(struct node), node_mask, NULL};

static gch_heap *plain_heap(void)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = -1;
    cfg.read_env = 0;
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    return h;
}

static bool poisoned(const void *p, size_t n) { return __asan_region_is_poisoned((void *)p, n) != NULL; }
static bool all_poisoned(const void *p, size_t n)
{
    for (size_t i = 0; i < n; i += 8)
        if (!__asan_address_is_poisoned((const char *)p + i))
            return false;
    return true;
}
#endif

static void test_allocated_unpoisoned_free_poisoned(void **state)
{
    (void)state;
#if HAVE_ASAN
    gch_heap *h = plain_heap();
    gch_thread *t = gch_thread_attach(h);
    static const size_t sizes[] = {8, 16, 24, 48, 512, 4096, 32768, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = gch_alloc_noscan(t, sizes[i]);
        assert_non_null(p);
        size_t u = gch_usable_size(h, p);
        assert_false(poisoned(p, u));
        if (sizes[i] <= 4096) /* the next slot of a fresh span is free */
            assert_true(all_poisoned(p + u, u));
    }
    struct node *n = gch_alloc(t, &node_type);
    assert_false(poisoned(n, sizeof *n));
    assert_true(all_poisoned(n + 1, sizeof *n));
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
#else
    skip();
#endif
}

static void test_swept_objects_poisoned(void **state)
{
    (void)state;
#if HAVE_ASAN
    gch_heap *h = plain_heap();
    gch_thread *t = gch_thread_attach(h);
    GCH_LOCALS(t, keep, 2);
    keep[0] = gch_alloc(t, &node_type);
    struct node *dead = gch_alloc(t, &node_type);
    keep[1] = gch_alloc_noscan(t, 100000);
    char *dead_large = gch_alloc_noscan(t, 100000);
    assert_false(poisoned(dead, sizeof *dead));
    assert_false(poisoned(dead_large, 100000));
    assert_int_equal(gch_collect(h), GCH_OK);
    assert_true(all_poisoned(dead, sizeof *dead));
    assert_true(all_poisoned(dead_large, 100000));
    assert_false(poisoned(keep[0], sizeof(struct node)));
    assert_false(poisoned(keep[1], 100000));
    /* the freed slot comes back unpoisoned (and zeroed) */
    bool reused = false;
    for (int i = 0; i < 10000 && !reused; i++) {
        struct node *m = gch_alloc(t, &node_type);
        assert_false(poisoned(m, sizeof *m));
        assert_int_equal(m->tag, 0);
        reused = m == dead;
    }
    assert_true(reused);
    GCH_LOCALS_END(t, keep);
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
#else
    skip();
#endif
}

/* A freed heap leaves no poison behind: the kernel may hand its arenas'
 * address range to the next mapping, and ASan keeps shadow across munmap
 * (a review found gch_heap_free unmapping arenas without unpoisoning). */
static void test_freed_heap_leaves_no_poison(void **state)
{
    (void)state;
#if HAVE_ASAN
    gch_heap *h = plain_heap();
    gch_thread *t = gch_thread_attach(h);
    char *first = NULL;
    for (int i = 0; i < 20000; i++) {
        struct node *n = gch_alloc(t, &node_type);
        assert_non_null(n);
        if (first == NULL)
            first = (char *)n;
    }
    assert_int_equal(gch_collect(h), GCH_OK);
    assert_true(all_poisoned(first, sizeof(struct node))); /* swept: poisoned */
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
    /* the arena (64 MiB, aligned) is unmapped now; its shadow must be clean */
    const size_t arena = (size_t)64 << 20;
    char *base = (char *)((uintptr_t)first & ~(uintptr_t)(arena - 1));
    for (size_t off = 0; off < arena; off += 8192)
        assert_false(__asan_address_is_poisoned(base + off));
#else
    skip();
#endif
}

#if HAVE_ASAN
/* use_after_free: the VM's bug: a node kept only in a C local across a
 * collection, then read. */
static void use_after_free(void)
{
    gch_heap *h = plain_heap();
    gch_thread *t = gch_thread_attach(h);
    GCH_LOCALS(t, keep, 1);
    keep[0] = gch_alloc(t, &node_type); /* keeps the span in use */
    struct node *n = gch_alloc(t, &node_type);
    n->tag = 5;
    gch_collect(h);
    fprintf(stderr, "read %lu\n", (unsigned long)((volatile struct node *)n)->tag);
    GCH_LOCALS_END(t, keep);
}

static void use_after_free_child(void *arg)
{
    (void)arg;
    use_after_free();
}
#endif

static void test_use_after_free_reported(void **state)
{
    (void)state;
#if HAVE_ASAN
    static char buf[65536];
    int status = child_stderr(use_after_free_child, NULL, buf, sizeof buf);
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (strstr(buf, "use-after-poison") == NULL)
        fail_msg("no ASan report; child stderr:\n%s", buf);
    assert_null(strstr(buf, "read 5"));
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocated_unpoisoned_free_poisoned),
        cmocka_unit_test(test_swept_objects_poisoned),
        cmocka_unit_test(test_freed_heap_leaves_no_poison),
        cmocka_unit_test(test_use_after_free_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
