/*
 * dlsym_exports.c - the allocation functions are inline in gcheap.h, and
 * the shared library still exports them under their public names for
 * embedders that cannot compile the header's inline code (FFI bindings
 * reached by dlsym, binaries built against an older header): dlopen the
 * library, look each one up, and call it through the pointer; the
 * contract is gcheap.h's (8-byte alignment, zeroed memory, errors).
 * Usage: dlsym_exports LIBGCHEAP_SO
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gcheap.h"

static const char *lib_path;

typedef gch_heap *(*heap_new_fn)(const gch_config *);
typedef gch_error (*heap_free_fn)(gch_heap *);
typedef void (*config_init_fn)(gch_config *, size_t);
typedef gch_thread *(*attach_fn)(gch_heap *);
typedef gch_error (*detach_fn)(gch_thread *);
typedef void *(*alloc_fn)(gch_thread *, const gch_type *);
typedef void *(*noscan_fn)(gch_thread *, size_t);
typedef void *(*array_fn)(gch_thread *, const gch_type *, size_t);
typedef gch_error (*last_error_fn)(void);

static void *sym(void *lib, const char *name)
{
    void *p = dlsym(lib, name);
    if (p == NULL)
        fail_msg("%s is not exported by %s", name, lib_path);
    return p;
}

static bool zeroed(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

static void test_public_alloc_names_exported(void **state)
{
    (void)state;
    void *lib = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        fail_msg("dlopen %s: %s", lib_path, dlerror());
    config_init_fn config_init = (config_init_fn)sym(lib, "gch_config_init_size");
    heap_new_fn heap_new = (heap_new_fn)sym(lib, "gch_heap_new");
    heap_free_fn heap_free = (heap_free_fn)sym(lib, "gch_heap_free");
    attach_fn attach = (attach_fn)sym(lib, "gch_thread_attach");
    detach_fn detach = (detach_fn)sym(lib, "gch_thread_detach");
    alloc_fn alloc = (alloc_fn)sym(lib, "gch_alloc");
    noscan_fn alloc_noscan = (noscan_fn)sym(lib, "gch_alloc_noscan");
    array_fn alloc_array = (array_fn)sym(lib, "gch_alloc_array");
    last_error_fn last_error = (last_error_fn)sym(lib, "gch_last_error");

    gch_config cfg;
    config_init(&cfg, sizeof cfg);
    cfg.read_env = 0;
    gch_heap *h = heap_new(&cfg);
    assert_non_null(h);
    gch_thread *t = attach(h);
    assert_non_null(t);
    static const uint8_t mask[] = {0x1};
    gch_type pair = {"pair", 16, mask, NULL};
    for (int i = 0; i < 1000; i++) { /* through refills, not only the first slot */
        void *p = alloc(t, &pair);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 8, 0);
        assert_true(zeroed(p, 16));
        void *q = alloc_noscan(t, 24);
        assert_non_null(q);
        assert_int_equal((uintptr_t)q % 8, 0);
        assert_true(zeroed(q, 24));
        void *a = alloc_array(t, &pair, 3);
        assert_non_null(a);
        assert_true(zeroed(a, 48));
    }
    assert_null(alloc_noscan(t, 0));
    assert_int_equal(last_error(), GCH_EINVAL);
    assert_null(alloc_array(t, &pair, SIZE_MAX / 8));
    assert_int_equal(last_error(), GCH_EOVERFLOW);
    assert_int_equal(detach(t), GCH_OK);
    assert_int_equal(heap_free(h), GCH_OK);
    /* Not dlclose'd: unloading would unload libunwind under a TSan
     * suppression that names it (tests/tsan.supp), which TSan reports. */
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: dlsym_exports LIBGCHEAP_SO\n");
        return 2;
    }
    lib_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_alloc_names_exported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
