/*
 * test_config_size.c - gch_config's size field (gcheap.h): the ABI rule
 * that lets fields be added to gch_config without breaking programs
 * built against an older header.
 *
 * A program built against an older header has a smaller struct: here a
 * heap buffer of exactly offsetof(gch_config, decode) bytes (as if
 * decode, trace and trace_ctx did not exist yet), so that ASan catches
 * any byte the library writes or reads past it.  gch_config_init_size
 * writes only those bytes; gch_heap_new reads only those and gives the
 * missing fields their defaults.  A larger config (a newer header) is
 * accepted with a zero tail and refused with GCH_EINVAL otherwise; a
 * config whose size is 0 (not made by gch_config_init) is GCH_EINVAL.
 */
#include "testutil.h"

static void test_init_sets_size(void **state)
{
    (void)state;
    gch_config cfg;
    memset(&cfg, 0xa5, sizeof cfg);
    gch_config_init(&cfg);
    assert_int_equal(cfg.size, sizeof(gch_config));
    assert_int_equal(cfg.gc_percent, GCH_UNSET);
    assert_int_equal(cfg.read_env, 1);
    assert_null(cfg.decode);
    assert_null(cfg.trace_ctx);
}

static void *never_decode(uintptr_t w) { (void)w; return NULL; }

static void test_old_size_config(void **state)
{
    (void)state;
    /* volatile: the compiler must not see that cfg-> points into a
     * smaller block (only fields inside the old size are touched). */
    volatile size_t old_size = offsetof(gch_config, decode);
    size_t old = old_size;
    gch_config *cfg = malloc(old); /* exactly the old struct: ASan bounds */
    assert_non_null(cfg);
    gch_config_init_size(cfg, old);
    assert_int_equal(cfg->size, old);
    assert_int_equal(cfg->gc_percent, GCH_UNSET);
    cfg->gc_percent = -1;
    cfg->read_env = 0;
    gch_heap *h = gch_heap_new(cfg);
    assert_non_null(h);
    assert_int_equal(h->env.gc_percent, -1); /* the old fields are read */
    assert_null(h->decode);                  /* the new ones take defaults */
    assert_null(h->trace);
    gch_thread *t = gch_thread_attach(h);
    assert_non_null(t);
    assert_non_null(gch_alloc_noscan(t, 64));
    assert_int_equal(gch_thread_detach(t), GCH_OK);
    heap_free_checked(h);
    free(cfg);
}

static void test_full_size_config_reads_new_fields(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = -1;
    cfg.read_env = 0;
    cfg.decode = never_decode;
    gch_heap *h = gch_heap_new(&cfg);
    assert_non_null(h);
    assert_ptr_equal(h->decode, never_decode);
    heap_free_checked(h);
}

/* A program built against a newer header: 16 more bytes. */
static void test_newer_size_config(void **state)
{
    (void)state;
    size_t big = sizeof(gch_config) + 16;
    unsigned char *buf = malloc(big);
    assert_non_null(buf);
    memset(buf, 0xa5, big);
    gch_config *cfg = (gch_config *)(void *)buf;
    gch_config_init_size(cfg, big);
    assert_int_equal(cfg->size, big);
    assert_true(mem_all(buf + sizeof(gch_config), 0, 16)); /* unknown tail zeroed */
    cfg->gc_percent = -1;
    cfg->read_env = 0;
    gch_heap *h = gch_heap_new(cfg);
    assert_non_null(h);
    heap_free_checked(h);
    buf[sizeof(gch_config) + 3] = 1; /* a field this library does not know */
    assert_null(gch_heap_new(cfg));
    assert_int_equal(gch_last_error(), GCH_EINVAL);
    assert_non_null(strstr(gch_last_error_message(), "does not know"));
    free(buf);
}

static void test_zero_size_config(void **state)
{
    (void)state;
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.size = 0;
    assert_null(gch_heap_new(&cfg));
    assert_int_equal(gch_last_error(), GCH_EINVAL);
    assert_non_null(strstr(gch_last_error_message(), "gch_config_init"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_sets_size),
        cmocka_unit_test(test_old_size_config),
        cmocka_unit_test(test_full_size_config_reads_new_fields),
        cmocka_unit_test(test_newer_size_config),
        cmocka_unit_test(test_zero_size_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
