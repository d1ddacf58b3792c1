/*
 * mspecial.c - specials: per-object records on span lists, their
 * allocator, and the sweep's pass over the records of dead objects.
 * Go counterpart: runtime/mheap.go (addspecial, removespecial,
 * freeSpecial, pageSpecials), mgcsweep.go (sweepLocked.sweep's specials
 * passes).  Contract and invariants SP1-SP5: alloc/mspecial.h.
 *
 * Unlike Go, whose mspan carries its own speciallock, the lists are
 * guarded by 64 stripe locks keyed by the span's start page: span records
 * are reused without reinitialisation (the seqlock in mspan.h), and a
 * stripe needs no setup per span.  The walk for the mark (Go's
 * markrootSpans) reads a per-arena bitmap of spans with records (SP3)
 * through the lock-free arena index, so it takes no heap lock.
 */
#define GCHI_BUILDING 1
#include "mspecial.h"
#include "error.h"
#include "mheap.h"

/* ---- allocator and registration ---------------------------------------- */

/* profile_dead: the PROFILE kind's hook: tell mprof, free the record. */
static bool profile_dead(void *ctx, struct mheap *h, struct special *sp, uintptr_t obj, size_t size)
{
    (void)ctx;
    gchi_mprof_free(h, (struct special_profile *)sp, obj, size);
    return false;
}

__attribute__((weak)) void gchi_mprof_free(struct mheap *h, struct special_profile *rec,
                                           uintptr_t obj, size_t size)
{
    (void)h, (void)rec, (void)obj, (void)size;
}

void specials_init(struct mheap *h)
{
    struct specials *x = &h->specials;
    for (size_t i = 0; i < SPECIAL_STRIPES; i++)
        lock_init(&x->locks[i], LOCKRANK_SPECIAL);
    lock_init(&x->alloc_lock, LOCKRANK_SPECIALALLOC);
    atomic_u64_store_relaxed(&x->nrecords, 0);
    specials_register(h, SPECIAL_PROFILE, sizeof(struct special_profile), SPECIAL_UNIQUE,
                      profile_dead, NULL);
}

void specials_destroy(struct mheap *h)
{
    struct specials *x = &h->specials;
    for (size_t i = 0; i < SPECIAL_STRIPES; i++)
        lock_destroy(&x->locks[i]);
    lock_destroy(&x->alloc_lock);
}

void specials_register(struct mheap *h, enum special_kind kind, size_t size, unsigned flags,
                       special_dead_fn dead, void *ctx)
{
    struct specials *x = &h->specials;
    GCH_ASSERT(kind > SPECIAL_NONE && kind < SPECIAL_NKINDS && size >= sizeof(struct special));
    struct special_kind_ops *o = &x->ops[kind];
    if (o->size != size) {
        if (o->size != 0 && x->fa[kind].inuse != 0)
            gch_fatal("specials_register: a kind's record size changed while records exist",
                      kind, o->size, size);
        fixalloc_init(&x->fa[kind], size, &h->pa, true);
    }
    o->size = size;
    o->flags = flags;
    o->dead = dead;
    o->ctx = ctx;
}

struct special *special_alloc(struct mheap *h, enum special_kind kind)
{
    struct specials *x = &h->specials;
    GCH_ASSERT(kind > SPECIAL_NONE && kind < SPECIAL_NKINDS && x->ops[kind].size != 0);
    lock_acquire(&x->alloc_lock);
    struct special *sp = fixalloc_alloc(&x->fa[kind]); /* zeroed */
    lock_release(&x->alloc_lock);
    if (sp == NULL)
        return gchi_set_error(GCH_ENOMEM, "out of memory for a special record");
    sp->kind = (uint8_t)kind;
    atomic_u64_add_relaxed(&x->nrecords, 1);
    return sp;
}

void special_free(struct mheap *h, struct special *sp)
{
    struct specials *x = &h->specials;
    lock_acquire(&x->alloc_lock);
    fixalloc_free(&x->fa[sp->kind], sp);
    lock_release(&x->alloc_lock);
    atomic_u64_sub_relaxed(&x->nrecords, 1);
}

/* ---- lists (SP1-SP3) ----------------------------------------------------- */

struct lock *span_specials_lock(struct mheap *h, const struct mspan *s)
{
    return &h->specials.locks[(s->start >> PAGE_SHIFT) % SPECIAL_STRIPES];
}

bool span_has_specials(const struct mspan *s)
{
    return atomic_ptr_load_acquire(&s->specials) != NULL;
}

static struct special *list_head(const struct mspan *s) { return atomic_ptr_load_relaxed(&s->specials); }

/* set_head: the list's first record becomes sp, and SP3's bit follows
 * whether the list is empty.  Caller holds the stripe lock. */
static void set_head(struct mheap *h, struct mspan *s, struct special *sp)
{
    bool was = list_head(s) != NULL;
    atomic_ptr_store_release(&s->specials, sp);
    if (was == (sp != NULL))
        return;
    struct heaparena *a = arena_of(&h->index, s->start);
    size_t page = (s->start - a->base) >> PAGE_SHIFT;
    uint64_t bit = (uint64_t)1 << (page % 64);
    if (sp != NULL)
        atomic_u64_or_relaxed(&a->special_bits[page / 64], bit);
    else
        atomic_u64_and_relaxed(&a->special_bits[page / 64], ~bit);
}

/* link_after: put sp after prev (NULL: first). */
static void link_after(struct mheap *h, struct mspan *s, struct special *prev, struct special *sp)
{
    if (prev == NULL) {
        sp->next = list_head(s);
        set_head(h, s, sp);
    } else {
        sp->next = prev->next;
        prev->next = sp;
    }
    if (sp->next == NULL)
        s->specials_tail = sp;
}

/* unlink_after: take out the record after prev (NULL: the first). */
static struct special *unlink_after(struct mheap *h, struct mspan *s, struct special *prev)
{
    struct special *sp = prev == NULL ? list_head(s) : prev->next;
    if (prev == NULL)
        set_head(h, s, sp->next);
    else
        prev->next = sp->next;
    if (sp->next == NULL)
        s->specials_tail = prev;
    sp->next = NULL;
    return sp;
}

/* after_tail: sp belongs after the last record (the common case). */
static bool after_tail(const struct special *tail, const struct special *sp, bool unique)
{
    return tail != NULL &&
           (tail->offset < sp->offset ||
            (tail->offset == sp->offset && (tail->kind < sp->kind || (tail->kind == sp->kind && !unique))));
}

bool special_add_locked(struct mheap *h, struct mspan *s, struct special *sp)
{
    bool unique = (h->specials.ops[sp->kind].flags & SPECIAL_UNIQUE) != 0;
    if (after_tail(s->specials_tail, sp, unique)) {
        link_after(h, s, s->specials_tail, sp);
        return true;
    }
    struct special *prev = NULL;
    for (struct special *c = list_head(s); c != NULL; prev = c, c = c->next) {
        if (c->offset > sp->offset || (c->offset == sp->offset && c->kind > sp->kind))
            break;
        if (unique && c->offset == sp->offset && c->kind == sp->kind)
            return false;
    }
    /* After records equal in (offset, kind): several cleanups keep the
     * order they were added in. */
    link_after(h, s, prev, sp);
    return true;
}

struct special *special_find_locked(const struct mspan *s, uintptr_t offset, enum special_kind kind)
{
    if (s->specials_tail == NULL || s->specials_tail->offset < offset)
        return NULL; /* past the end */
    for (struct special *c = list_head(s); c != NULL; c = c->next) {
        if (c->offset > offset)
            break;
        if (c->offset == offset && c->kind == kind)
            return c;
    }
    return NULL;
}

void special_unlink_locked(struct mheap *h, struct mspan *s, struct special *sp)
{
    struct special *prev = NULL;
    for (struct special *c = list_head(s); c != NULL; prev = c, c = c->next) {
        if (c == sp) {
            unlink_after(h, s, prev);
            return;
        }
    }
    gch_fatal("special_unlink_locked: record is not on the span's list", (uintptr_t)sp,
              (uintptr_t)s, sp->offset);
}

struct special *special_unlink_next_locked(struct mheap *h, struct mspan *s, struct special *prev)
{
    return unlink_after(h, s, prev);
}

bool special_add(struct mheap *h, struct mspan *s, struct special *sp)
{
    struct lock *l = span_specials_lock(h, s);
    lock_acquire(l);
    bool ok = special_add_locked(h, s, sp);
    lock_release(l);
    return ok;
}

struct special *special_remove(struct mheap *h, struct mspan *s, uintptr_t offset,
                               enum special_kind kind)
{
    struct lock *l = span_specials_lock(h, s);
    lock_acquire(l);
    struct special *sp = special_find_locked(s, offset, kind);
    if (sp != NULL)
        special_unlink_locked(h, s, sp);
    lock_release(l);
    return sp;
}

/* ---- dead objects (SP4, SP5) --------------------------------------------- */

/* run_dead: hand each record of the chain to its kind's hook, then free
 * the ones the hooks did not keep.  No specials lock held. */
static void run_dead(struct mheap *h, const struct mspan *s, struct special *chain)
{
    while (chain != NULL) {
        struct special *sp = chain;
        chain = sp->next;
        sp->next = NULL;
        const struct special_kind_ops *o = &h->specials.ops[sp->kind];
        bool kept = o->dead != NULL && o->dead(o->ctx, h, sp, s->start + sp->offset, s->elemsize);
        if (!kept)
            special_free(h, sp);
    }
}

/* object_index: the slot of the object at offset. */
static uint32_t object_index(const struct mspan *s, uintptr_t offset)
{
    return s->divmagic == 0 ? 0 : span_object_index(s, s->start + offset);
}

/* group_revives: some record of the object starting at sp revives it. */
static bool group_revives(const struct mheap *h, const struct special *sp)
{
    for (uintptr_t off = sp->offset; sp != NULL && sp->offset == off; sp = sp->next)
        if ((h->specials.ops[sp->kind].flags & SPECIAL_REVIVES) != 0)
            return true;
    return false;
}

/* struct deadlist: records unlinked for run_dead, in list order. */
struct deadlist {
    struct special *head, **tail;
};

static void deadlist_push(struct deadlist *d, struct special *sp)
{
    *d->tail = sp;
    d->tail = &sp->next;
}

/* sweep_group: the records of one unmarked object, starting after prev:
 * all of them move to d, or, if the object is revived (SP5), only the
 * SPECIAL_ON_UNREACHABLE ones.  Returns the last record left before the
 * next object's (the new prev).  Caller holds the stripe lock. */
static struct special *sweep_group(struct mheap *h, struct mspan *s, struct special *prev,
                                   bool revive, struct deadlist *d)
{
    struct special *c = prev == NULL ? list_head(s) : prev->next;
    uintptr_t off = c->offset;
    while (c != NULL && c->offset == off) {
        struct special *next = c->next;
        if (!revive || (h->specials.ops[c->kind].flags & SPECIAL_ON_UNREACHABLE) != 0)
            deadlist_push(d, unlink_after(h, s, prev));
        else
            prev = c;
        c = next;
    }
    return prev;
}

void specials_sweep(struct mheap *h, struct mspan *s)
{
    struct deadlist d = {NULL, &d.head};
    struct lock *l = span_specials_lock(h, s);
    lock_acquire(l);
    struct special *prev = NULL;
    struct special *c = list_head(s);
    while (c != NULL) {
        uint32_t idx = object_index(s, c->offset);
        if (mark_load(s->gcmarks, idx)) { /* live: skip its records */
            uintptr_t off = c->offset;
            while (c != NULL && c->offset == off)
                prev = c, c = c->next;
            continue;
        }
        bool revive = group_revives(h, c);
        if (revive)
            mark_store(s->gcmarks, idx); /* SP5: survives this sweep */
        prev = sweep_group(h, s, prev, revive, &d);
        c = prev == NULL ? list_head(s) : prev->next;
    }
    lock_release(l);
    *d.tail = NULL;
    run_dead(h, s, d.head);
}

/* unlink_matching: move the records of the object at offset (every
 * object's when all) from s's list to a chain, under the stripe lock. */
static struct special *unlink_matching(struct mheap *h, struct mspan *s, uintptr_t offset, bool all)
{
    struct deadlist d = {NULL, &d.head};
    struct lock *l = span_specials_lock(h, s);
    lock_acquire(l);
    struct special *prev = NULL;
    for (struct special *c = list_head(s); c != NULL;) {
        struct special *next = c->next;
        if (all || c->offset == offset)
            deadlist_push(&d, unlink_after(h, s, prev));
        else
            prev = c;
        c = next;
    }
    lock_release(l);
    *d.tail = NULL;
    return d.head;
}

/* drop_revivers: free the SPECIAL_REVIVES records of chain (an object
 * freed explicitly has nothing left to finalize); returns the rest. */
static struct special *drop_revivers(struct mheap *h, struct special *chain)
{
    struct special **pp = &chain;
    while (*pp != NULL) {
        struct special *sp = *pp;
        if ((h->specials.ops[sp->kind].flags & SPECIAL_REVIVES) != 0) {
            *pp = sp->next;
            special_free(h, sp);
        } else {
            pp = &sp->next;
        }
    }
    return chain;
}

void specials_free_object(struct mheap *h, struct mspan *s, uintptr_t offset)
{
    if (span_has_specials(s))
        run_dead(h, s, drop_revivers(h, unlink_matching(h, s, offset, false)));
}

void specials_free_span(struct mheap *h, struct mspan *s)
{
    if (span_has_specials(s))
        run_dead(h, s, unlink_matching(h, s, 0, true));
}

/* ---- the walk for the mark ------------------------------------------------ */

/* arena_for_each_span: fn for every span of arena a whose SP3 bit is set. */
static void arena_for_each_span(struct heaparena *a, void (*fn)(void *ctx, struct mspan *s),
                                void *ctx)
{
    for (size_t w = 0; w < ARENA_WORDS; w++) {
        uint64_t bits = atomic_u64_load_relaxed(&a->special_bits[w]);
        while (bits != 0) {
            size_t page = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            struct mspan *s = atomic_ptr_load_acquire(&a->spans[page]);
            if (s != NULL)
                fn(ctx, s);
        }
    }
}

void specials_for_each_span(struct mheap *h, void (*fn)(void *ctx, struct mspan *s), void *ctx)
{
    for (size_t i = 0; i < ARENA_L1_ENTRIES; i++) {
        const struct arena_l2 *l2 = atomic_ptr_load_acquire(&h->index.l1[i]);
        if (l2 == NULL)
            continue;
        for (size_t j = 0; j < ARENA_L2_ENTRIES; j++) {
            struct heaparena *a = atomic_ptr_load_acquire(&l2->arena[j]);
            if (a != NULL)
                arena_for_each_span(a, fn, ctx);
        }
    }
}
