/*
 * testhooks.c - the test-only entry points of tests/testhooks.h, built as
 * the static library gcheap_testhooks and linked only into the tests and
 * fuzzers (CMakeLists.txt), so the installed libgcheap carries no test
 * symbol and no mutable global.
 *
 * Why per-heap fields rather than a second, instrumented build of the
 * library: the tests then run the very object code that ships, the
 * library is compiled once per build, and two heaps in one test process
 * stay independent (DESIGN.md decision 1).  The price is a handful of
 * zero fields in struct gcstate and one load where each hook may fire,
 * all off the allocation and barrier fast paths.
 */
#define GCHI_BUILDING 1
#include "testhooks.h"
#include "heap.h"
#include "mgc.h"
#include "stw.h"
#include "error.h"
#include "mspecial.h"
#include "gcbase.h"

static void test_mode_on(struct gch_heap *h)
{
    atomic_u32_store_relaxed(&h->gc.test_mode, 1);
}

bool gchi_test_gc_start(struct gch_heap *h)
{
    test_mode_on(h);
    return gc_start_forced(h);
}

void gchi_test_gc_wait(struct gch_heap *h)
{
    gc_wait_idle(h, gchi_heap_self(h));
}

void gchi_test_hold_mark(struct gch_heap *h, bool hold)
{
    test_mode_on(h);
    atomic_u32_store_relaxed(&h->gc.test_hold, hold ? 1 : 0);
}

void gchi_test_no_workers(struct gch_heap *h, bool fail)
{
    test_mode_on(h);
    atomic_u32_store_relaxed(&h->gc.workers.test_no_workers, fail ? 1 : 0);
}

static void set_hook(struct gch_heap *h, struct atomic_uptr *slot, gchi_test_hook_fn fn)
{
    test_mode_on(h);
    atomic_uptr_store_release(slot, (uintptr_t)fn);
}

void gchi_test_set_root_edit_hook(struct gch_heap *h, gchi_test_hook_fn fn)
{
    set_hook(h, &h->gc.test_root_edit_hook, fn);
}

void gchi_test_set_term_hook(struct gch_heap *h, gchi_test_hook_fn fn)
{
    set_hook(h, &h->gc.test_term_hook, fn);
}

bool gchi_test_set_grey_hook(struct gch_heap *h, uintptr_t target, gchi_test_hook_fn fn)
{
    set_hook(h, &h->gc.test_grey_hook, fn);
    atomic_uptr_store_release(&h->gc.test_grey_target, fn != NULL ? target : 0);
    return GCH_DEBUG >= 2; /* compiled in only there */
}

void gchi_test_set_idle_hook(struct gch_heap *h, gchi_test_hook_fn fn)
{
    set_hook(h, &h->gc.workers.test_idle_hook, fn);
}

void gchi_free(gch_thread *t, void *p)
{
    struct mcache *c = gchi_thread_cache(t);
    if (gchi_check_thread(c) != GCH_OK)
        gch_fatal("gchi_free: thread not attached to this OS thread", (uintptr_t)t, 0, 0);
    struct mheap *h = c->heap;
    /* Freeing needs exact alloc bits: no unswept span. */
    mheap_sweep_finish(h);
    struct mspan *s = NULL;
    uintptr_t base = mheap_object_base(h, (uintptr_t)p, &s);
    if (base == 0 || base != (uintptr_t)p)
        gch_fatal("gchi_free: not the start of a heap object", (uintptr_t)p, (uintptr_t)s, 0);
    uint32_t idx = s->divmagic == 0 ? 0 : span_object_index(s, base);
    spanclass_t spc = s->spanclass;
    size_t elemsize = s->elemsize;
    specials_free_object(h, s, base - s->start); /* SP4 */
    mcentral_free_object(&h->central[spc], s, idx);
    unsigned sc = spanclass_sizeclass(spc);
    if (sc == 0) {
        atomic_u64_add_relaxed(&h->counters.large_frees, 1);
        atomic_u64_add_relaxed(&h->counters.large_free_bytes, elemsize);
    } else {
        atomic_u64_add_relaxed(&h->counters.small_frees[sc], 1);
    }
}
