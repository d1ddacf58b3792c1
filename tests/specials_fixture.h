/*
 * specials_fixture.h - the fixture test_finalizer.c and test_weak.c share:
 * a heap with one attached thread and an 8-slot root range, a linked node
 * type whose magic word shows it was not freed or clobbered, and a probe
 * of an object's alloc bit.  The including file defines SPX_MAGIC first.
 *
 *   spx_attach(f, h)    attach f->t to h and register f->slots as roots.
 *   spx_teardown        cmocka teardown: roots off, detach, verify, free.
 *   spx_new_node(t, n)  a node with next n and the magic.
 *   spx_allocated(h, p) p's slot is allocated now (after a gch_collect).
 *   spx_start_held_mark(f) / spx_end_held_mark(f)  a cycle whose mark does
 *                       nothing until released; the end waits for the
 *                       cycle and its sweep (alloc bits exact).
 */
#ifndef GCHEAP_TESTS_SPECIALS_FIXTURE_H
#define GCHEAP_TESTS_SPECIALS_FIXTURE_H

#include "testutil.h"

struct node {
    struct node *next;
    uint64_t magic;
};
static const uint8_t node_mask[] = {0x1};
static const gch_type node_type = {"node", sizeof(struct node), node_mask, NULL};

struct fx {
    gch_heap *h;
    gch_thread *t;
    void *slots[8]; /* a root range */
};

static inline struct fx *spx_attach(struct fx *f, gch_heap *h)
{
    assert_non_null(f);
    f->h = h;
    f->t = gch_thread_attach(h);
    assert_non_null(f->t);
    assert_int_equal(gch_root_range_add(h, f->slots, 8), GCH_OK);
    return f;
}

static inline int spx_teardown(void **state)
{
    struct fx *f = *state;
    assert_int_equal(gch_root_range_remove(f->h, f->slots), GCH_OK);
    assert_int_equal(gch_thread_detach(f->t), GCH_OK);
    heap_free_checked(f->h); /* verifies first */
    free(f);
    return 0;
}

static inline struct node *spx_new_node(gch_thread *t, struct node *next)
{
    struct node *n = gch_alloc(t, &node_type);
    assert_non_null(n);
    n->next = next;
    n->magic = SPX_MAGIC;
    return n;
}

/* Our own root scan is owed at the next safepoint after the start. */
static inline void spx_start_held_mark(struct fx *f)
{
    gchi_test_hold_mark(f->h, true);
    assert_true(gchi_test_gc_start(f->h));
    assert_int_equal(atomic_u32_load_relaxed(&f->h->gc.phase), GCPHASE_MARK);
}

static inline void spx_end_held_mark(struct fx *f)
{
    gch_safepoint(f->t);
    gchi_test_hold_mark(f->h, false);
    gchi_test_gc_wait(f->h);
    mheap_sweep_finish(&f->h->mheap); /* the background sweeper's too */
}

static inline bool spx_allocated(gch_heap *h, const void *p)
{
    struct mspan *s = mheap_span_of_heap(&h->mheap, (uintptr_t)p);
    return s != NULL &&
           bit_is_set(s->alloc_bits, s->divmagic ? span_object_index(s, (uintptr_t)p) : 0);
}

#endif
