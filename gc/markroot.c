/*
 * markroot.c - marking from the roots: gch_visit, the walks of the
 * registered roots (R2, gc/roots.h) and of a thread's handle frames and
 * scanners, and the marker's root scans, which add the finalizers' roots
 * (FQ1, gc/mfinal.h).  Apart from gc/roots.c, which edits the tables and
 * waits for a stopped world to do so, so that a handshake (gc/
 * handshake.c, run from a safepoint of gc/stw.c) can scan a thread's
 * roots without depending on the stop.  Go counterpart: markroot in
 * runtime/mgcmark.go.
 */
#define GCHI_BUILDING 1
#include "markroot.h"
#include "error.h"
#include "heap.h"
#include "mfinal.h"

/* ---- scanning ------------------------------------------------------------ */

void gch_visit(gch_visitor *v, void *const *slot)
{
    v->slots++;
    v->visit(v, slot);
}

uint64_t roots_scan_globals(struct root_table *r, struct gch_visitor *v)
{
    uint64_t before = v->slots;
    lock_acquire(&r->lock); /* R2 */
    for (size_t i = 0; i < r->nranges; i++)
        for (size_t j = 0; j < r->ranges[i].count; j++)
            gch_visit(v, &r->ranges[i].start[j]);
    for (size_t i = 0; i < r->nscanners; i++)
        r->scanners[i].fn(v, r->scanners[i].ctx);
    lock_release(&r->lock);
    return (v->slots - before) * sizeof(void *);
}

uint64_t roots_scan_thread(gch_thread *t, struct gch_visitor *v)
{
    uint64_t before = v->slots;
    for (gch_frame *f = t->head.frames; f != NULL; f = f->prev)
        for (size_t j = 0; j < f->n; j++)
            gch_visit(v, &f->slots[j]);
    for (size_t i = 0; i < t->scanners.n; i++)
        t->scanners.v[i].fn(v, t->scanners.v[i].ctx);
    return (v->slots - before) * sizeof(void *);
}

/* ---- marking from the roots ---------------------------------------------- */

uint64_t gcmarker_scan_thread(struct gcmarker *m, struct gch_thread *t)
{
    gchi_scan_enter();
    uint64_t n = roots_scan_thread(t, &m->v);
    gchi_scan_leave();
    return n;
}

uint64_t gcmarker_scan_globals(struct gcmarker *m)
{
    gchi_scan_enter();
    uint64_t n = roots_scan_globals(&m->h->roots, &m->v);
    n += gc_final_scan_roots(m); /* specials and the finalizer queue (FQ1) */
    gchi_scan_leave();
    return n;
}
