/*
 * mark_fixture.h - the fixture test_barrier.c and test_races.c share
 * (issue 14): a heap that collects only when a test starts a cycle, with
 * gccheckmark=1 (a stopped-world re-mark at the end of each mark aborts
 * on a lost object), clobberfree=1 (a freed object fails its magic
 * check) and invalidptr=1 (the default: shading a freed object is
 * fatal); one attached thread and four registered global roots; an
 * object type with a magic word and three pointer fields; and a mark
 * frozen at a known point, then let go.
 *
 *   mark_heap_new()  such a heap alone.
 *   struct env, env_open(e), env_close(e)   the heap, its thread and g[4].
 *   new_obj(t), check_obj(p)   an object with the magic; p still has it.
 *   mark_frozen(e)   hold the mark, start a cycle and run our own root
 *                    scan at a safepoint: our frames are black from here,
 *                    and our barrier is on.
 *   mark_finish(e)   release the hold and wait for the cycle's end, which
 *                    must include a checkmark pass.
 */
#ifndef GCHEAP_TESTS_MARK_FIXTURE_H
#define GCHEAP_TESTS_MARK_FIXTURE_H

#include "testutil.h"
#include "mgc.h"
#include "handshake.h"

#define MAGIC 0x6f626a6563742121ULL

struct obj {
    uint64_t magic;
    void *f[3];
};

static const uint8_t obj_mask[] = {0x0e}; /* words 1..3 */
static const gch_type obj_type = {"obj", sizeof(struct obj), obj_mask, NULL};

struct env {
    gch_heap *h;
    gch_thread *t;
    void *g[4]; /* registered global roots */
};

static inline struct obj *new_obj(gch_thread *t)
{
    struct obj *o = gch_alloc(t, &obj_type);
    assert_non_null(o);
    o->magic = MAGIC;
    return o;
}

static inline void check_obj(const void *p)
{
    assert_non_null(p);
    if (((const struct obj *)p)->magic != MAGIC)
        fail_msg("object %p lost: magic %#lx", p, (unsigned long)((const struct obj *)p)->magic);
}

static inline gch_heap *mark_heap_new(void)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "MARKFX_";
    cfg.gc_percent = -1; /* cycles only when a test starts one */
    setenv("MARKFX_GODEBUG", "clobberfree=1,gccheckmark=1,invalidptr=1", 1);
    gch_heap *h = gch_heap_new(&cfg);
    unsetenv("MARKFX_GODEBUG");
    assert_non_null(h);
    assert_int_equal(h->env.debug.gccheckmark, 1);
    return h;
}

static inline void env_open(struct env *e)
{
    e->h = mark_heap_new();
    e->t = gch_thread_attach(e->h);
    assert_non_null(e->t);
    memset(e->g, 0, sizeof e->g);
    assert_int_equal(gch_root_range_add(e->h, e->g, 4), GCH_OK);
}

static inline void env_close(struct env *e)
{
    assert_int_equal(gch_root_range_remove(e->h, e->g), GCH_OK);
    assert_int_equal(gch_thread_detach(e->t), GCH_OK);
    heap_free_checked(e->h);
}

static inline void mark_frozen(struct env *e)
{
    gchi_test_hold_mark(e->h, true);
    assert_true(gchi_test_gc_start(e->h));
    assert_int_equal(atomic_u32_load_relaxed(&e->h->gc.phase), GCPHASE_MARK);
    gch_safepoint(e->t);
    lock_acquire(&e->h->stw.lock); /* hs_ops [stw.lock]: a held worker may request a flush */
    uint32_t ops = e->t->hs_ops;
    lock_release(&e->h->stw.lock);
    assert_int_equal(ops & HS_SCAN_ROOTS, 0);
}

static inline void mark_finish(struct env *e)
{
    uint64_t passes = atomic_u64_load_relaxed(&e->h->gc.checkmark_passes);
    gchi_test_hold_mark(e->h, false);
    gchi_test_gc_wait(e->h);
    assert_int_equal(atomic_u32_load_relaxed(&e->h->gc.phase), GCPHASE_OFF);
    assert_true(atomic_u64_load_relaxed(&e->h->gc.checkmark_passes) > passes);
}

#endif
