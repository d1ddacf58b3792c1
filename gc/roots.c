/*
 * roots.c - registered roots: global slot ranges, heap-wide scanners,
 * per-thread scanners and handle frames.  Contract and invariants R1, R2:
 * gc/roots.h.  Go counterpart: the root jobs of runtime/mgcmark.go.
 *
 * The tables are small arrays kept sorted (ranges, by start address) and
 * grown with realloc: registration is rare, scanning walks them once per
 * cycle.  They live in malloc'ed memory so that removing a root returns
 * its entry; a failed growth leaves the table as it was (GCH_ENOMEM).
 */
#define GCHI_BUILDING 1
#include "roots.h"
#include "error.h"
#include "heap.h"
#include "stw.h"
#include "gcbase.h"
#include "mgcmark.h"

#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

void roots_init(struct root_table *r)
{
    memset(r, 0, sizeof *r);
    lock_init(&r->lock, LOCKRANK_ROOTS);
}

void roots_destroy(struct root_table *r)
{
    free(r->ranges);
    free(r->scanners);
    lock_destroy(&r->lock);
}

/* grow: make room for one more element of size elem in *v.  False (and
 * *v unchanged) when memory runs out. */
static bool grow(void **v, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *nv = realloc(*v, ncap * elem);
    if (nv == NULL)
        return false;
    *v = nv;
    *cap = ncap;
    return true;
}

/* range_index: the first range whose start is >= start.  Caller holds
 * the lock. */
static size_t range_index(const struct root_table *r, void **start)
{
    size_t lo = 0, hi = r->nranges;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((uintptr_t)r->ranges[mid].start < (uintptr_t)start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool ranges_overlap(void **a, size_t na, void **b, size_t nb)
{
    return (uintptr_t)a < (uintptr_t)(b + nb) && (uintptr_t)b < (uintptr_t)(a + na);
}

/* shade_range: grey the references in n slots (or reported by fn(ctx)
 * when fn is not NULL) with a marker of our own.  Roots lock held.  self:
 * the caller's attached record on h, or NULL; a scanner's allocation
 * through it leaves the inline path (alloc/mcache.h K4). */
static void shade_range(gch_heap *h, struct gch_thread *self, void **slots, size_t n,
                        const struct root_scanner *fn)
{
    struct gcmarker m;
    gcmarker_init(&m, h);
    bool was = self != NULL && mcache_scan_enter(&self->mcache);
    gchi_scan_enter();
    for (size_t i = 0; i < n; i++)
        gch_visit(&m.v, &slots[i]);
    if (fn != NULL)
        fn->fn(&m.v, fn->ctx);
    gchi_scan_leave();
    if (self != NULL)
        mcache_scan_leave(&self->mcache, was);
    gcmarker_flush(&m);
}

/* edit_begin: the start of an edit of the global roots: not from a
 * callback of the collector (it may hold the world stopped, which the
 * edit would wait out forever), then R3's bracket. */
static bool edit_begin(gch_heap *h, const char *what, struct gch_thread **self)
{
    gc_check_not_in_cycle(h, what);
    bool shade = gc_shade_begin(h, self);
    gc_test_hook(h, &h->gc.test_root_edit_hook);
    return shade;
}

gch_error gch_root_range_add(gch_heap *h, void **start, size_t count)
{
    if (h == NULL || start == NULL || count == 0 || count > SIZE_MAX / sizeof(void *)) {
        gchi_set_error(GCH_EINVAL, "gch_root_range_add: bad heap, slot or count");
        return GCH_EINVAL;
    }
    struct root_table *r = &h->roots;
    struct gch_thread *self;
    bool shade = edit_begin(h, "gch_root_range_add", &self);
    lock_acquire(&r->lock);
    size_t i = range_index(r, start);
    /* R1: neighbours on either side must not overlap the new range. */
    bool overlap = (i < r->nranges && ranges_overlap(start, count, r->ranges[i].start, r->ranges[i].count)) ||
                   (i > 0 && ranges_overlap(start, count, r->ranges[i - 1].start, r->ranges[i - 1].count));
    gch_error e = GCH_OK;
    if (overlap) {
        e = GCH_EINVAL;
        gchi_set_error(e, "gch_root_range_add: %p (+%zu slots) overlaps a registered root",
                       (void *)start, count);
    } else if (!grow((void **)&r->ranges, &r->capranges, r->nranges, sizeof *r->ranges)) {
        e = GCH_ENOMEM;
        gchi_set_error(e, "gch_root_range_add: out of memory");
    } else {
        memmove(&r->ranges[i + 1], &r->ranges[i], (r->nranges - i) * sizeof *r->ranges);
        r->ranges[i] = (struct root_range){start, count};
        r->nranges++;
        if (shade) /* the globals may have been scanned already this mark */
            shade_range(h, self, start, count, NULL);
    }
    lock_release(&r->lock);
    gc_shade_end(h);
    return e;
}

gch_error gch_root_range_remove(gch_heap *h, void **start)
{
    if (h == NULL || start == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_root_range_remove: bad heap or slot");
        return GCH_EINVAL;
    }
    struct root_table *r = &h->roots;
    struct gch_thread *self;
    bool shade = edit_begin(h, "gch_root_range_remove", &self);
    lock_acquire(&r->lock);
    size_t i = range_index(r, start);
    gch_error e = GCH_OK;
    if (i == r->nranges || r->ranges[i].start != start) {
        e = GCH_EINVAL;
        gchi_set_error(e, "gch_root_range_remove: %p is not a registered root", (void *)start);
    } else {
        struct root_range gone = r->ranges[i];
        memmove(&r->ranges[i], &r->ranges[i + 1], (r->nranges - i - 1) * sizeof *r->ranges);
        r->nranges--;
        if (shade) /* deleting a root is a store of NULL: shade what it held */
            shade_range(h, self, gone.start, gone.count, NULL);
    }
    lock_release(&r->lock);
    gc_shade_end(h);
    return e;
}

gch_error gch_root_add(gch_heap *h, void **slot) { return gch_root_range_add(h, slot, 1); }
gch_error gch_root_remove(gch_heap *h, void **slot) { return gch_root_range_remove(h, slot); }

/* ---- scanners ------------------------------------------------------------ */

static ptrdiff_t find_scanner(const struct root_scanner *v, size_t n, gch_scan_fn fn, void *ctx)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].fn == fn && v[i].ctx == ctx)
            return (ptrdiff_t)i;
    return -1;
}

/* scanner_add / scanner_remove: shared by the heap and thread tables. */
static gch_error scanner_add(struct root_scanner **v, size_t *n, size_t *cap, gch_scan_fn fn,
                             void *ctx, const char *who)
{
    if (find_scanner(*v, *n, fn, ctx) >= 0) {
        gchi_set_error(GCH_EINVAL, "%s: scanner already registered", who);
        return GCH_EINVAL;
    }
    if (!grow((void **)v, cap, *n, sizeof **v)) {
        gchi_set_error(GCH_ENOMEM, "%s: out of memory", who);
        return GCH_ENOMEM;
    }
    (*v)[(*n)++] = (struct root_scanner){fn, ctx};
    return GCH_OK;
}

static gch_error scanner_remove(struct root_scanner *v, size_t *n, gch_scan_fn fn, void *ctx,
                                const char *who)
{
    ptrdiff_t i = find_scanner(v, *n, fn, ctx);
    if (i < 0) {
        gchi_set_error(GCH_EINVAL, "%s: scanner not registered", who);
        return GCH_EINVAL;
    }
    memmove(&v[i], &v[i + 1], (*n - (size_t)i - 1) * sizeof *v);
    (*n)--;
    return GCH_OK;
}

gch_error gch_heap_scanner_add(gch_heap *h, gch_scan_fn fn, void *ctx)
{
    if (h == NULL || fn == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_heap_scanner_add: heap or function is NULL");
        return GCH_EINVAL;
    }
    struct root_table *r = &h->roots;
    struct gch_thread *self;
    bool shade = edit_begin(h, "gch_heap_scanner_add", &self);
    lock_acquire(&r->lock);
    gch_error e = scanner_add(&r->scanners, &r->nscanners, &r->capscanners, fn, ctx,
                              "gch_heap_scanner_add");
    struct root_scanner added = {fn, ctx};
    if (e == GCH_OK && shade)
        shade_range(h, self, NULL, 0, &added);
    lock_release(&r->lock);
    gc_shade_end(h);
    return e;
}

gch_error gch_heap_scanner_remove(gch_heap *h, gch_scan_fn fn, void *ctx)
{
    if (h == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_heap_scanner_remove: heap is NULL");
        return GCH_EINVAL;
    }
    struct root_table *r = &h->roots;
    struct gch_thread *self;
    bool shade = edit_begin(h, "gch_heap_scanner_remove", &self);
    lock_acquire(&r->lock);
    struct root_scanner gone = {fn, ctx};
    if (shade && find_scanner(r->scanners, r->nscanners, fn, ctx) >= 0)
        shade_range(h, self, NULL, 0, &gone); /* its table's references, one last time */
    gch_error e = scanner_remove(r->scanners, &r->nscanners, fn, ctx, "gch_heap_scanner_remove");
    lock_release(&r->lock);
    gc_shade_end(h);
    return e;
}

gch_error gch_thread_scanner_add(gch_thread *t, gch_scan_fn fn, void *ctx)
{
    if (t == NULL || fn == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_thread_scanner_add: thread or function is NULL");
        return GCH_EINVAL;
    }
    gch_error e = gchi_check_thread(&t->mcache);
    if (e != GCH_OK)
        return e;
    stw_check_not_blocking(t, "gch_thread_scanner_add");
    struct thread_scanners *s = &t->scanners;
    return scanner_add(&s->v, &s->n, &s->cap, fn, ctx, "gch_thread_scanner_add");
}

gch_error gch_thread_scanner_remove(gch_thread *t, gch_scan_fn fn, void *ctx)
{
    if (t == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_thread_scanner_remove: thread is NULL");
        return GCH_EINVAL;
    }
    gch_error e = gchi_check_thread(&t->mcache);
    if (e != GCH_OK)
        return e;
    stw_check_not_blocking(t, "gch_thread_scanner_remove");
    return scanner_remove(t->scanners.v, &t->scanners.n, fn, ctx, "gch_thread_scanner_remove");
}

void thread_scanners_free(struct thread_scanners *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

/* ---- root edits while marking (R3) ---------------------------------------- */

bool gc_shade_begin(struct gch_heap *h, struct gch_thread **selfp)
{
    struct gcstate *g = &h->gc;
    struct gch_thread *self = gchi_heap_self(h);
    *selfp = self;
    lock_acquire(&h->stw.lock);
    /* R3: no edit begins while the world is stopped (a running attached
     * caller parks here as at a safepoint; others wait), and a stop that
     * changes the phase waits for the edits already counted (gc_start,
     * stopped_has_work).  So the phase read here holds until end. */
    stw_wait_running(h, self != NULL && self->run == RUN_RUNNING ? self : NULL);
    g->nshading++;
    bool shade = atomic_u32_load_relaxed(&g->phase) == GCPHASE_MARK;
    lock_release(&h->stw.lock);
    return shade;
}

void gc_shade_end(struct gch_heap *h)
{
    lock_acquire(&h->stw.lock);
    h->gc.nshading--;
    pthread_cond_broadcast(&h->stw.changed);
    lock_release(&h->stw.lock);
}

void gc_wait_root_edits(struct gch_heap *h)
{
    lock_acquire(&h->stw.lock);
    GCH_ASSERT_INTERNAL(h->stw.active);
    while (h->gc.nshading > 0)
        lock_wait(&h->stw.lock, &h->stw.changed);
    lock_release(&h->stw.lock);
}
