/*
 * gcmarker.h - struct gcmarker, one marker's state, and struct
 * gch_visitor, what scan callbacks report to.  Types only: the marker's
 * functions are in gc/mgcmark.h (gcmarker_*, gc/mgcmark.c).  Overview:
 * gc/mgc.c.  Go counterpart: runtime/mgcwork.go (gcWork as a marker's
 * handle), mgcmark.go.
 *
 * The span cache keeps MK1 (gc/mgcmark.c).
 */
#ifndef GCHEAP_GC_GCMARKER_H
#define GCHEAP_GC_GCMARKER_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stdint.h>
#include "mgcwork.h"

struct gch_heap;
struct checkmark;
struct mspan;

/* struct gch_visitor: what scan callbacks report to.  The marker embeds
 * one; visit is called once per reported slot. */
struct gch_visitor {
    void (*visit)(struct gch_visitor *v, void *const *slot);
    uint64_t slots;  /* slots reported so far (root bytes = slots * 8) */
};

/* struct gcmarker: one marker's state: its grey queue and what it has
 * blackened.  Each background worker has one, and each attached thread
 * one for its barrier buffer, assists and root scan.  [owner thread; the
 * collector while the owner is stopped or blocking] */
struct gcmarker {
    struct gch_visitor v;         /* first: gch_visit hands it back */
    struct gcwork work;
    struct gch_heap *h;
    void *(*decode)(uintptr_t);
    bool invalidptr;
    uintptr_t scanning;           /* the object being scanned (0: a root), for errors */
    uint64_t marked;              /* bytes blackened, not yet folded into the cycle */
    struct checkmark *checkmark;  /* non-NULL: a gccheckmark pass (gc/mcheckmark.c) */
    /* With checkmark set: what shading object idx of in-use span s, found
     * at slot, does instead of greying it (the pass's own bits, gc/
     * mcheckmark.c).  A pointer, so that the marker does not depend on
     * the pass that drives it. */
    void (*checkmark_shade)(struct gcmarker *m, struct mspan *s, uint32_t idx, const void *slot);
    /* One-entry span cache (MK1, gc/mgcmark.c): valid only inside one
     * gcmarker_drain call. */
    bool draining;                /* [owner] inside gcmarker_drain: the cache may fill */
    uintptr_t cached_start;       /* [owner] the cached span's first byte */
    uintptr_t cached_len;         /* [owner] its limit - start (0: no entry) */
    struct mspan *cached_span;    /* [owner] in use and pinned (mheap.h H5) */
};

#endif
