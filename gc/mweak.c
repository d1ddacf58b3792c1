/*
 * mweak.c - weak handles and ephemerons: creation, reads, and their
 * processing at mark termination; the debug check of cleanup args.
 * Go counterpart: runtime/mheap.go (getOrAddWeakHandle,
 * internal_weak_runtime_makeStrongFromWeak).  Ephemerons: whippet's
 * design, our own code.  Overview and invariants FW1-FW2, EP1-EP2:
 * gc/mfinal.h.
 *
 * Go clears a weak handle when the sweep frees (or finalizes) its
 * target, and a get first sweeps the target's span.  Here the handles
 * are cleared at mark termination instead, with the world stopped, by a
 * walk of the spans that have specials: a get is then one load (and a
 * shade while marking), at the price of a stopped pass over the weak
 * records once per cycle when there are any.
 */
#define GCHI_BUILDING 1
#include "mweak.h"
#include "heap.h"
#include "error.h"
#include "gcbase.h"
#include "mgcmark.h"

#include <stdlib.h>

/* A handle object: the target's address, 0 once cleared. */
struct gch_weak {
    struct atomic_uptr target; /* [release store at creation / clearing; acquire load] */
};

/* An ephemeron object (noscan: the collector never traces it as such). */
struct gch_ephemeron {
    struct atomic_uptr key;    /* [as gch_weak.target] */
    struct atomic_uptr value;  /* [as gch_weak.target] */
};

bool gc_is_marked(struct gch_heap *h, uintptr_t p)
{
    struct mspan *s = arena_span_of(&h->mheap.index, p);
    if (s == NULL || atomic_u8_load_acquire(&s->state) != MSPAN_IN_USE || p >= s->limit)
        return false;
    return mark_load(s->gcmarks, s->divmagic == 0 ? 0 : span_object_index(s, p));
}

/* check_thread: t is usable by its caller (error set otherwise). */
static bool check_thread(gch_thread *t, const char *what)
{
    if (t == NULL) {
        gchi_set_error(GCH_EINVAL, "%s: thread is NULL", what);
        return false;
    }
    if (gchi_check_thread(&t->mcache) != GCH_OK)
        return false;
    stw_check_not_blocking(t, what);
    return true;
}

/* shade_if_marking: FW1.  t is running, so the phase is stable. */
static void shade_if_marking(gch_thread *t, uintptr_t p)
{
    if (p != 0 && atomic_u32_load_relaxed(&t->heap->gc.phase) == GCPHASE_MARK)
        gcmarker_shade_raw(&t->marker, p);
}

/* ---- weak handles ---------------------------------------------------------- */

/* weak_lookup: the handle of the object at offset of s, or 0. */
static uintptr_t weak_lookup(struct mheap *mh, struct mspan *s, uintptr_t offset)
{
    struct lock *l = span_specials_lock(mh, s);
    lock_acquire(l);
    struct special_weak *w = (struct special_weak *)special_find_locked(s, offset, SPECIAL_WEAK);
    uintptr_t handle = w != NULL ? w->handle : 0;
    lock_release(l);
    return handle;
}

/* weak_install: link r (handle set) unless another thread linked one
 * first; returns the handle that won. */
static uintptr_t weak_install(struct gch_heap *h, struct mspan *s, struct special_weak *r)
{
    struct mheap *mh = &h->mheap;
    struct lock *l = span_specials_lock(mh, s);
    lock_acquire(l);
    struct special_weak *w = (struct special_weak *)special_find_locked(s, r->sp.offset, SPECIAL_WEAK);
    if (w == NULL) {
        special_add_locked(mh, s, &r->sp);
        atomic_u64_add_relaxed(&h->fin.nweak, 1);
    }
    uintptr_t handle = w != NULL ? w->handle : r->handle;
    lock_release(l);
    if (w != NULL)
        special_free(mh, &r->sp);
    return handle;
}

gch_weak *gch_weak_new(gch_thread *t, void *obj)
{
    if (!check_thread(t, "gch_weak_new"))
        return NULL;
    gc_check_not_in_cycle(t->heap, "gch_weak_new");
    struct mheap *mh = &t->heap->mheap;
    struct mspan *s = NULL;
    uintptr_t base = obj != NULL ? mheap_object_base(mh, (uintptr_t)obj, &s) : 0;
    if (base == 0 || base != (uintptr_t)obj)
        return gchi_set_error(GCH_EINVAL, "gch_weak_new: %p is not the start of an object of this "
                              "heap", obj);
    uintptr_t offset = base - s->start;
    uintptr_t handle = weak_lookup(mh, s, offset);
    if (handle != 0)
        return (gch_weak *)handle;
    GCH_LOCALS(t, keep, 1);
    keep[0] = obj; /* across the allocation, a safepoint */
    gch_weak *w = gch_alloc_noscan(t, sizeof(gch_weak));
    struct special_weak *r = w != NULL ? (struct special_weak *)special_alloc(mh, SPECIAL_WEAK) : NULL;
    GCH_LOCALS_END(t, keep);
    if (r == NULL)
        return NULL; /* GCH_ENOMEM set */
    atomic_uptr_store_release(&w->target, (uintptr_t)obj);
    r->sp.offset = offset;
    r->handle = (uintptr_t)w;
    return (gch_weak *)weak_install(t->heap, s, r); /* w is black if marking (allocated) */
}

void *gch_weak_get(gch_thread *t, gch_weak *w)
{
    if (!check_thread(t, "gch_weak_get"))
        return NULL;
    if (w == NULL)
        return gchi_set_error(GCH_EINVAL, "gch_weak_get: handle is NULL");
    uintptr_t p = atomic_uptr_load_acquire(&w->target);
    shade_if_marking(t, p);
    return (void *)p;
}

/* ---- ephemerons -------------------------------------------------------------- */

/* eph_register: add e to the table (EP2); false if out of memory. */
static bool eph_register(struct ephtable *x, uintptr_t e)
{
    lock_acquire(&x->lock);
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 256;
        uintptr_t *v = realloc(x->v, cap * sizeof *v);
        if (v == NULL) {
            lock_release(&x->lock);
            return false;
        }
        x->v = v;
        x->cap = cap;
    }
    x->v[x->n++] = e;
    atomic_u64_store_relaxed(&x->count, x->n);
    lock_release(&x->lock);
    return true;
}

gch_ephemeron *gch_ephemeron_new(gch_thread *t, void *key, void *value)
{
    if (!check_thread(t, "gch_ephemeron_new"))
        return NULL;
    gc_check_not_in_cycle(t->heap, "gch_ephemeron_new");
    if (key == NULL || !gch_is_heap_pointer(t->heap, key))
        return gchi_set_error(GCH_EINVAL, "gch_ephemeron_new: key %p is not in the heap", key);
    GCH_LOCALS(t, keep, 2);
    keep[0] = key;
    keep[1] = value;
    gch_ephemeron *e = gch_alloc_noscan(t, sizeof(gch_ephemeron));
    GCH_LOCALS_END(t, keep);
    if (e == NULL)
        return NULL;
    atomic_uptr_store_relaxed(&e->key, (uintptr_t)key);
    atomic_uptr_store_release(&e->value, (uintptr_t)value);
    if (!eph_register(&t->heap->eph, (uintptr_t)e))
        return gchi_set_error(GCH_ENOMEM, "gch_ephemeron_new: out of memory for the table");
    return e;
}

/* eph_read: one field of e; FW1 shades both halves while marking. */
static void *eph_read(gch_thread *t, gch_ephemeron *e, bool want_key, const char *what)
{
    if (!check_thread(t, what))
        return NULL;
    if (e == NULL)
        return gchi_set_error(GCH_EINVAL, "%s: ephemeron is NULL", what);
    uintptr_t k = atomic_uptr_load_acquire(&e->key);
    uintptr_t v = atomic_uptr_load_acquire(&e->value);
    if (k == 0)
        return NULL; /* cleared (both halves together, world stopped) */
    shade_if_marking(t, k);
    shade_if_marking(t, v);
    return (void *)(want_key ? k : v);
}

void *gch_ephemeron_key(gch_thread *t, gch_ephemeron *e) { return eph_read(t, e, true, "gch_ephemeron_key"); }
void *gch_ephemeron_value(gch_thread *t, gch_ephemeron *e)
{
    return eph_read(t, e, false, "gch_ephemeron_value");
}

bool gc_ephemerons_pass(struct gch_heap *h, struct gcmarker *m)
{
    struct ephtable *x = &h->eph;
    if (atomic_u64_load_relaxed(&x->count) == 0)
        return false;
    uint64_t before = m->marked;
    lock_acquire(&x->lock);
    for (size_t i = 0; i < x->n; i++) {
        struct gch_ephemeron *e = (struct gch_ephemeron *)x->v[i];
        if (!gc_is_marked(h, x->v[i]))
            continue; /* not reached (yet) */
        uintptr_t k = atomic_uptr_load_relaxed(&e->key);
        uintptr_t v = atomic_uptr_load_relaxed(&e->value);
        if (k != 0 && v != 0 && gc_is_marked(h, k))
            gcmarker_shade_raw(m, v);
    }
    lock_release(&x->lock);
    return m->marked != before;
}

/* eph_clear: EP2, world stopped after the last drain. */
static void eph_clear(struct gch_heap *h)
{
    struct ephtable *x = &h->eph;
    lock_acquire(&x->lock);
    size_t j = 0;
    for (size_t i = 0; i < x->n; i++) {
        struct gch_ephemeron *e = (struct gch_ephemeron *)x->v[i];
        uintptr_t k = atomic_uptr_load_relaxed(&e->key);
        /* An unmarked e is still allocated until the sweep, which may
         * revive it (a finalizer, SP5): cleared too, so that it never
         * shows a key or value this cycle frees. */
        if (!gc_is_marked(h, x->v[i]) || k == 0 || !gc_is_marked(h, k)) {
            atomic_uptr_store_release(&e->key, 0);
            atomic_uptr_store_release(&e->value, 0);
            continue; /* dropped from the table */
        }
        x->v[j++] = x->v[i];
    }
    x->n = j;
    atomic_u64_store_relaxed(&x->count, j);
    lock_release(&x->lock);
}

/* ---- clearing at mark termination (FW2) ---------------------------------- */

struct weak_clear_ctx {
    struct gch_heap *h;
    struct special *dead;  /* unlinked records, freed after the walk */
};

/* clear_span_weak: unlink s's weak records whose target is unmarked,
 * clearing their handles. */
static void clear_span_weak(void *ctx, struct mspan *s)
{
    struct weak_clear_ctx *c = ctx;
    struct mheap *mh = &c->h->mheap;
    struct lock *l = span_specials_lock(mh, s);
    lock_acquire(l);
    struct special *prev = NULL, *sp = atomic_ptr_load_relaxed(&s->specials);
    while (sp != NULL) {
        struct special *next = sp->next;
        uintptr_t obj = s->start + sp->offset;
        if (sp->kind == SPECIAL_WEAK &&
            !mark_load(s->gcmarks, s->divmagic == 0 ? 0 : span_object_index(s, obj))) {
            atomic_uptr_store_release((struct atomic_uptr *)((struct special_weak *)sp)->handle, 0);
            special_unlink_next_locked(mh, s, prev);
            sp->next = c->dead;
            c->dead = sp;
        } else {
            prev = sp;
        }
        sp = next;
    }
    lock_release(l);
}

void gc_weak_clear(struct gch_heap *h)
{
    if (atomic_u64_load_relaxed(&h->fin.nweak) != 0) {
        struct weak_clear_ctx c = {h, NULL};
        specials_for_each_span(&h->mheap, clear_span_weak, &c);
        while (c.dead != NULL) {
            struct special *sp = c.dead;
            c.dead = sp->next;
            special_free(&h->mheap, sp);
            atomic_u64_sub_relaxed(&h->fin.nweak, 1);
        }
    }
    eph_clear(h);
}

/* ---- the debug check of cleanup args ------------------------------------- */

#define REACH_MAX_OBJECTS 65536u

/* struct reach: a bounded walk of the graph from a cleanup's arg. */
struct reach {
    struct gcmarker m;         /* its visitor reports slots to reach_visit */
    uintptr_t target;
    uintptr_t *seen;           /* open addressing, REACH_MAX_OBJECTS * 2 entries */
    uintptr_t *stack;
    size_t nstack, nseen;
    bool found;
};

static bool reach_add(struct reach *r, uintptr_t p)
{
    if (p == 0 || r->found)
        return false;
    struct mspan *s = NULL;
    uintptr_t base = mheap_object_base(&r->m.h->mheap, p, &s);
    if (base == 0)
        return false;
    if (base == r->target) {
        r->found = true;
        return false;
    }
    /* A slot whose alloc bit is clear is free (M2, M4), or allocated by
     * another thread since its last flush: not followed either way, so
     * a free slot's old contents are never scanned.  A sweep may swap
     * the bitmap meanwhile (span_sweep publishes it with release); either
     * one is still allocated memory (mspan.h: two epochs). */
    if (!bit_load(GCHI_SEQ_LOAD(&s->alloc_bits), s->divmagic == 0 ? 0 : span_object_index(s, base)))
        return false;
    size_t mask = 2 * REACH_MAX_OBJECTS - 1, i = (base >> 3) * 0x9E3779B97F4A7C15ULL & mask;
    while (r->seen[i] != 0 && r->seen[i] != base)
        i = (i + 1) & mask;
    if (r->seen[i] == base || r->nseen == REACH_MAX_OBJECTS)
        return false;
    r->seen[i] = base;
    r->nseen++;
    if (!spanclass_noscan(s->spanclass))
        r->stack[r->nstack++] = base;
    return true;
}

static void reach_visit(struct gch_visitor *v, void *const *slot)
{
    struct reach *r = (struct reach *)v; /* m is first, v first in m */
    uintptr_t p = slot_load_acquire(slot);
    if (r->m.decode != NULL && p != 0)
        p = (uintptr_t)r->m.decode(p);
    reach_add(r, p);
}

bool gc_cleanup_arg_reaches(struct gch_thread *t, void *arg, uintptr_t obj)
{
    if ((uintptr_t)arg == obj)
        return true;
    if (GCH_DEBUG < 2 || arg == NULL)
        return false;
    struct gch_heap *h = t->heap;
    if (gch_thread_flush(t) != GCH_OK) /* t's own objects: exact alloc bits (M4) */
        return false;
    struct reach r = {.target = obj};
    gcmarker_init(&r.m, h);
    r.m.v.visit = reach_visit;
    r.seen = calloc(2 * REACH_MAX_OBJECTS, sizeof *r.seen);
    r.stack = calloc(REACH_MAX_OBJECTS, sizeof *r.stack);
    if (r.seen != NULL && r.stack != NULL) {
        reach_add(&r, (uintptr_t)arg);
        gchi_scan_enter();
        while (r.nstack > 0 && !r.found)
            gcmarker_scan_object(&r.m, r.stack[--r.nstack]);
        gchi_scan_leave();
    }
    free(r.seen);
    free(r.stack);
    return r.found;
}
