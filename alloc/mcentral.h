/*
 * mcentral.h - central span lists, one per span class.
 * Go counterpart: runtime/mcentral.go.  Overview: alloc/malloc.c.
 *
 * Owns: struct mcentral (partial/full x swept/unswept span lists).
 * Invariants:
 *   C1 a span is on at most one list, and s->list names it;
 *   C2 every span on a partial list has alloc_count < nelems (0 only
 *      while spans are pinned, mheap.h H5, or on the unswept set), every
 *      span on a full list has alloc_count == nelems (a large object's
 *      span is always on a full list);
 *   C3 a span held by an mcache is on no list and has sweepgen == sg + 3
 *      until mcentral_uncache_span() (no cache holds a span at a flip);
 *   C4 a span on a list has sweepgen == sg (swept set) or sg - 2
 *      (unswept set); index (sg / 2) & 1 is the swept set this cycle.
 * Locking: c->lock guards the lists and the allocation state of the
 *   spans on them.  mcentral never holds c->lock while calling into the
 *   heap (mheap_alloc_span / mheap_free_span take the heap lock), so the
 *   two locks never nest here even though the rank order allows it.
 */
#ifndef GCHEAP_ALLOC_MCENTRAL_H
#define GCHEAP_ALLOC_MCENTRAL_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include "mspan.h"

struct mheap;

struct spanlist {
    struct mspan *first;  /* [owner's lock] */
    size_t n;             /* [owner's lock] spans on the list */
};

struct mcentral {
    struct lock lock;
    spanclass_t spanclass;      /* [immutable] */
    struct mheap *heap;         /* [immutable] */
    struct spanlist partial[2]; /* [lock] C2, C4 */
    struct spanlist full[2];    /* [lock] C2, C4 */
};

void mcentral_init(struct mcentral *c, spanclass_t spc, struct mheap *h);
/* mcentral_cache_span: a span with a free slot, prepared for an mcache
 * (C3): a swept partial span, else an unswept one it sweeps, else a new
 * one.  Pays proportional sweep credit first.  NULL when the heap cannot
 * grow.  The time it spends sweeping is added to *sweep_ns (a counter
 * only the caller writes).  Caller holds no lock. */
struct mspan *mcentral_cache_span(struct mcentral *c, struct atomic_u64 *sweep_ns);
/* mcentral_uncache_span: take back a span from an mcache (M4, C1-C4);
 * an empty span goes straight back to the heap unless spans are pinned.  A span cached across a
 * flip (sg + 1) is a fatal error (C3). */
void mcentral_uncache_span(struct mcentral *c, struct mspan *s);
/* mcentral_push_swept: put a swept span that no mcache holds on the swept
 * set's full or partial list, publishing sweepgen sg (C2-C4). */
void mcentral_push_swept(struct mcentral *c, struct mspan *s, uint32_t sg);
/* mcentral_take_unswept: unlink an unswept span (partial lists first)
 * and claim its sweep (SW1, alloc/msweep.h); NULL when none is left.
 * sg: the sweepgen the caller read after sweep_begin. */
struct mspan *mcentral_take_unswept(struct mcentral *c, uint32_t sg);
/* mcentral_add_large: record a new large object's span on the full list. */
void mcentral_add_large(struct mcentral *c, struct mspan *s);
/* mcentral_free_object: free slot idx of s, which must be on one of c's
 * lists (not cached).  Returns true when the span went back to the heap.
 * The collector's sweep frees in bulk instead; the allocator tests free
 * single objects through it (gchi_free, tests/testhooks.c). */
bool mcentral_free_object(struct mcentral *c, struct mspan *s, uint32_t idx);
/* mcentral_is_valid: C1, C2, C4 for every span on c's lists. */
bool mcentral_is_valid(struct mcentral *c, uint32_t sweepgen);

void spanlist_push(struct spanlist *l, struct mspan *s);
void spanlist_remove(struct spanlist *l, struct mspan *s);
struct mspan *spanlist_pop(struct spanlist *l);

#endif
