/*
 * mcheckmark.c - GODEBUG=gccheckmark=1: check a concurrent mark by doing
 * it again with the world stopped.
 * Go counterpart: runtime/mcheckmark.go.  Overview: gc/mgc.c.
 *
 * At mark termination, after the last drain and before the barrier goes
 * off, one marker walks the whole graph again from every root.  It keeps
 * its own bits (one per heap word, marking an object's first word, in a
 * 1 MiB bitmap per 64 MiB arena, made on first use and kept for later
 * passes) so the real mark bits stay untouched.  Every object it reaches
 * must already carry a real mark bit (or have been allocated black); one
 * that does not is an object the concurrent mark lost, and sweeping would
 * free it while it is still reachable.  A reachable slot with neither a
 * mark nor an alloc bit is reported too (with invalidptr on): free by X2,
 * it is an object handed out white during the mark, or a reference the
 * VM kept to a freed object.  The report names the object, the
 * reference that reached it and a path from a root, found by a second,
 * breadth-first walk that remembers each object's parent.
 *
 * Runs single-threaded with the world stopped; nothing here is shared.
 * Allocation is impossible meanwhile (the scan depth makes it fatal).
 */
#define GCHI_BUILDING 1
#include "mcheckmark.h"
#include "heap.h"
#include "error.h"
#include "mgcmark.h"
#include "markroot.h"

#include <stdio.h>
#include <string.h>

#define CHECK_BITMAP_BYTES (ARENA_SIZE / 8 / 8)
/* Hops of the path printed nearest the object (the root is always shown). */
#define PATH_SHOWN 8

struct checkmark_arena {
    uintptr_t base;
    uint64_t *bits;
};

/* struct checkmark: the bitmaps, one per arena met so far.  [world stopped] */
struct checkmark {
    struct checkmark_arena *arenas;
    size_t n, cap;
    size_t hit;                   /* index of the arena found last */
    uintptr_t lost;               /* the first unmarked reachable object, or 0 */
    size_t lost_size;
    const void *lost_span, *lost_slot;
    uintptr_t lost_from;          /* the object holding lost_slot, 0: a root */
    bool lost_free;               /* lost has neither a mark nor an alloc bit */
};

static void *meta_alloc(struct gch_heap *h, size_t n)
{
    void *p = sys_alloc(&h->mheap.sys, n);
    if (p == NULL)
        gch_fatal("gccheckmark: out of memory for its bitmaps", n, 0, 0);
    return p;
}

/* arena_bits: the checkmark bitmap of the arena at base, made if new. */
static uint64_t *arena_bits(struct gch_heap *h, struct checkmark *c, uintptr_t base)
{
    if (c->n > 0 && c->arenas[c->hit].base == base)
        return c->arenas[c->hit].bits;
    for (size_t i = 0; i < c->n; i++) {
        if (c->arenas[i].base == base) {
            c->hit = i;
            return c->arenas[i].bits;
        }
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct checkmark_arena *a = meta_alloc(h, cap * sizeof *a);
        if (c->n > 0) {
            memcpy(a, c->arenas, c->n * sizeof *a);
            sys_free(&h->mheap.sys, c->arenas, c->cap * sizeof *a, SYS_READY);
        }
        c->arenas = a;
        c->cap = cap;
    }
    c->arenas[c->n] = (struct checkmark_arena){base, meta_alloc(h, CHECK_BITMAP_BYTES)};
    c->hit = c->n++;
    return c->arenas[c->hit].bits;
}

/* ---- the path to a lost object ------------------------------------------ */

/* struct pathfind: a breadth-first walk from the roots recording each
 * object's parent, until it reaches `target`.  parent[] values: an
 * object's base, or a root slot's address with bit 0 set. */
struct pathfind {
    struct gcmarker m;            /* first: its visitor reports to path_visit */
    struct gch_heap *h;
    uintptr_t target;
    uintptr_t parent_now;         /* the object being scanned, 0 for roots */
    uintptr_t *keys, *parents;    /* open-addressed map object -> parent */
    size_t cap, count;
    uintptr_t *queue;             /* objects to scan, in the order found */
    size_t qhead, qtail, qcap;
    bool found;
};

static size_t hash_word(uintptr_t p, size_t cap)
{
    return (size_t)((p >> 3) * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

static size_t map_find(const struct pathfind *pf, uintptr_t obj)
{
    size_t i = hash_word(obj, pf->cap);
    while (pf->keys[i] != 0 && pf->keys[i] != obj)
        i = (i + 1) & (pf->cap - 1);
    return i;
}

static void map_grow(struct pathfind *pf)
{
    size_t oldcap = pf->cap;
    uintptr_t *ok = pf->keys, *op = pf->parents;
    pf->cap = oldcap ? oldcap * 2 : 1 << 16;
    pf->keys = meta_alloc(pf->h, pf->cap * sizeof(uintptr_t));
    pf->parents = meta_alloc(pf->h, pf->cap * sizeof(uintptr_t));
    for (size_t i = 0; i < oldcap; i++) {
        if (ok[i] != 0) {
            size_t j = map_find(pf, ok[i]);
            pf->keys[j] = ok[i];
            pf->parents[j] = op[i];
        }
    }
    if (oldcap > 0) {
        sys_free(&pf->h->mheap.sys, ok, oldcap * sizeof(uintptr_t), SYS_READY);
        sys_free(&pf->h->mheap.sys, op, oldcap * sizeof(uintptr_t), SYS_READY);
    }
}

static void queue_push(struct pathfind *pf, uintptr_t obj)
{
    if (pf->qtail == pf->qcap) {
        size_t cap = pf->qcap ? pf->qcap * 2 : 1 << 16;
        uintptr_t *q = meta_alloc(pf->h, cap * sizeof *q);
        if (pf->qcap > 0) {
            memcpy(q, pf->queue, pf->qtail * sizeof *q);
            sys_free(&pf->h->mheap.sys, pf->queue, pf->qcap * sizeof *q, SYS_READY);
        }
        pf->queue = q;
        pf->qcap = cap;
    }
    pf->queue[pf->qtail++] = obj;
}

/* object_at: the base of the allocated (or allocated-black) object
 * holding p, or of the slot `target` whatever its bits, or 0; *sp is its
 * span. */
static uintptr_t object_at(struct gch_heap *h, uintptr_t p, uintptr_t target, const struct mspan **sp)
{
    if (h->decode != NULL && p != 0)
        p = (uintptr_t)h->decode(p);
    struct heaparena *a = p != 0 ? arena_of(&h->mheap.index, p) : NULL;
    if (a == NULL)
        return 0;
    struct mspan *s = atomic_ptr_load_acquire(&a->spans[(p - a->base) >> PAGE_SHIFT]);
    if (s == NULL || atomic_u8_load_acquire(&s->state) != MSPAN_IN_USE || p >= s->limit)
        return 0;
    uint32_t idx = s->divmagic == 0 ? 0 : span_object_index(s, p);
    uintptr_t base = s->start + (uintptr_t)idx * s->elemsize;
    /* A free slot: neither bit, or a mark bit that is only a cached span's
     * colour (mcache.h K5; the world is stopped). */
    if (base != target && !bit_load(s->alloc_bits, idx) &&
        (!mark_load(s->gcmarks, idx) || span_slot_coloured_free(s, idx)))
        return 0;
    *sp = s;
    return base;
}

static void path_visit(struct gch_visitor *v, void *const *slot)
{
    struct pathfind *pf = (struct pathfind *)(void *)v;
    if (pf->found)
        return;
    const struct mspan *s = NULL;
    uintptr_t obj = object_at(pf->h, slot_load_relaxed(slot), pf->target, &s);
    if (obj == 0)
        return;
    if (2 * (pf->count + 1) > pf->cap)
        map_grow(pf);
    size_t i = map_find(pf, obj);
    if (pf->keys[i] != 0)
        return;
    pf->keys[i] = obj;
    pf->parents[i] = pf->parent_now != 0 ? pf->parent_now : (uintptr_t)slot | 1;
    pf->count++;
    if (obj == pf->target)
        pf->found = true;
    else if (!spanclass_noscan(s->spanclass)) /* nothing to scan in a noscan object */
        queue_push(pf, obj);
}

/* describe_path: "root slot S -> A -> ... -> target" into buf, showing
 * the PATH_SHOWN objects nearest the target. */
static void describe_path(struct pathfind *pf, char *buf, size_t len)
{
    uintptr_t chain[PATH_SHOWN];
    size_t n = 0, hops = 0;
    uintptr_t cur = pf->target, par;
    for (;;) { /* from the target up to its root */
        if (n < PATH_SHOWN)
            chain[n++] = cur;
        hops++;
        par = pf->parents[map_find(pf, cur)];
        if (par & 1)
            break;
        cur = par;
    }
    int w = snprintf(buf, len, "root slot %p", (void *)(par & ~(uintptr_t)1));
    if (hops > n && w > 0 && (size_t)w < len)
        w += snprintf(buf + w, len - (size_t)w, " -> (%zu objects)", hops - n);
    for (size_t i = n; i-- > 0 && w > 0 && (size_t)w < len;)
        w += snprintf(buf + w, len - (size_t)w, " -> %#lx", (unsigned long)chain[i]);
}

/* find_path: walk from the roots to target, world stopped. */
static void find_path(struct gch_heap *h, uintptr_t target, char *buf, size_t len)
{
    struct pathfind pf;
    memset(&pf, 0, sizeof pf);
    gcmarker_init(&pf.m, h);
    pf.m.v.visit = path_visit;
    pf.h = h;
    pf.target = target;
    map_grow(&pf);
    roots_scan_globals(&h->roots, &pf.m.v);
    for (struct gch_thread *t = h->attached; t != NULL && !pf.found; t = t->next)
        roots_scan_thread(t, &pf.m.v);
    while (!pf.found && pf.qhead < pf.qtail) {
        pf.parent_now = pf.queue[pf.qhead++];
        gcmarker_scan_object(&pf.m, pf.parent_now);
    }
    if (pf.found)
        describe_path(&pf, buf, len);
    else
        snprintf(buf, len, "(no path found on a second walk)");
}

/* ---- the pass ------------------------------------------------------------ */

/* lost: report the first lost object the pass recorded.  No lock held. */
static GCH_NOINLINE GCH_COLD void lost(struct gch_heap *h, const struct checkmark *c)
{
    char path[400], where[64];
    find_path(h, c->lost, path, sizeof path);
    if (c->lost_from != 0)
        snprintf(where, sizeof where, "of object %#lx", (unsigned long)c->lost_from);
    else
        snprintf(where, sizeof where, "(a root)");
    if (c->lost_free)
        gch_fatalf("gccheckmark: reachable slot %#lx (%zu bytes, span %p) has neither a mark nor an "
                   "alloc bit: an object handed out during the mark without its mark bit, or a "
                   "reference to a freed object; found in slot %p %s; path: %s",
                   (unsigned long)c->lost, c->lost_size, c->lost_span, c->lost_slot, where, path);
    gch_fatalf("gccheckmark: reachable object %#lx (%zu bytes, span %p) was not marked by the "
               "concurrent mark; found in slot %p %s; path: %s",
               (unsigned long)c->lost, c->lost_size, c->lost_span, c->lost_slot, where, path);
}

/* record_lost: remember the first lost object, reported after the pass
 * (a lock of the walk, roots or threads, may be held here). */
static void record_lost(struct gcmarker *m, struct mspan *s, uintptr_t obj, const void *slot, bool free)
{
    struct checkmark *c = m->checkmark;
    if (c->lost != 0)
        return;
    c->lost = obj;
    c->lost_size = s->elemsize;
    c->lost_span = s;
    c->lost_slot = slot;
    c->lost_from = m->scanning;
    c->lost_free = free;
}

/* checkmark_shade: the marker's shade step in this pass (its
 * checkmark_shade): object idx of in-use span s, found at slot. */
static void checkmark_shade(struct gcmarker *m, struct mspan *s, uint32_t idx, const void *slot)
{
    uintptr_t obj = s->start + (uintptr_t)idx * s->elemsize;
    /* The pass runs before the caches are released, so a mark bit in a
     * span a cache took during the mark may be the colour of a free slot
     * (mcache.h K5): that is no object either. */
    bool marked = mark_load(s->gcmarks, idx) && !span_slot_coloured_free(s, idx);
    if (!marked && !bit_load(s->alloc_bits, idx)) {
        /* Neither bit: free by X2, or an object handed out during the
         * mark without its mark bit (allocate black broken), which the
         * sweep would free while reachable.  The real mark never reached
         * it (invalidptr would have stopped it), so report it unless
         * invalidptr is off (the embedder keeps stale words then). */
        if (m->h->env.debug.invalidptr)
            record_lost(m, s, obj, slot, true);
        return; /* nothing to scan in a free slot */
    }
    struct checkmark *c = m->checkmark;
    struct heaparena *a = arena_of(&m->h->mheap.index, obj);
    uint64_t *bits = arena_bits(m->h, c, a->base);
    size_t w = (obj - a->base) >> 3;
    if (bits[w / 64] & ((uint64_t)1 << (w % 64)))
        return;
    if (!marked)
        record_lost(m, s, obj, slot, false);
    bits[w / 64] |= (uint64_t)1 << (w % 64);
    if (!spanclass_noscan(s->spanclass) && !gcwork_put(&m->work, obj))
        gch_fatal("gccheckmark: out of memory for mark work buffers", obj, 0, 0);
}

void gc_checkmark(struct gch_heap *h)
{
    struct checkmark *c = h->gc.checkmark;
    if (c == NULL) {
        c = meta_alloc(h, sizeof *c);
        memset(c, 0, sizeof *c);
        h->gc.checkmark = c;
    }
    for (size_t i = 0; i < c->n; i++)
        memset(c->arenas[i].bits, 0, CHECK_BITMAP_BYTES);
    struct gcmarker m;
    gcmarker_init(&m, h);
    m.checkmark = c;
    m.checkmark_shade = checkmark_shade;
    m.invalidptr = false; /* the real mark already judged every pointer */
    gcmarker_scan_globals(&m);
    lock_acquire(&h->threads_lock);
    for (struct gch_thread *t = h->attached; t != NULL; t = t->next)
        gcmarker_scan_thread(&m, t); /* W1: stopped, blocking or us */
    lock_release(&h->threads_lock);
    gcmarker_drain(&m, -1);
    m.marked = 0; /* nothing new was marked: the count is not the cycle's */
    gcmarker_flush(&m);
    if (c->lost != 0)
        lost(h, c);
    atomic_u64_add_relaxed(&h->gc.checkmark_passes, 1);
}

void gc_checkmark_release(struct gch_heap *h)
{
    struct checkmark *c = h->gc.checkmark;
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        sys_free(&h->mheap.sys, c->arenas[i].bits, CHECK_BITMAP_BYTES, SYS_READY);
    if (c->cap > 0)
        sys_free(&h->mheap.sys, c->arenas, c->cap * sizeof *c->arenas, SYS_READY);
    sys_free(&h->mheap.sys, c, sizeof *c, SYS_READY);
    h->gc.checkmark = NULL;
}
