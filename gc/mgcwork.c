/*
 * mgcwork.c - per-marker grey queues (gcwork) and the heap's shared
 * full/empty workbuf lists.  Contract and invariants G1-G7: gc/mgcwork.h.
 * Go counterpart: runtime/mgcwork.go.
 *
 * Differences from Go, and why:
 *   - the shared lists are plain LIFOs under one mutex (rank WORKBUFS)
 *     rather than lock-free stacks: a gcwork reaches them once per 254
 *     entries, and every trade (give a full buffer, take an empty one)
 *     is one lock round trip, so the lock is not where marking spends
 *     its time, and a mutex needs no ABA tagging of pointers;
 *   - buffers are carved from the persistent allocator and recycled for
 *     the heap's life instead of being returned to the page heap after
 *     each cycle: the peak grey-set size is a property of the program's
 *     object graph, so the next cycle wants the same buffers again;
 *   - a gcwork may hold wbuf1 without wbuf2 (G5), so taking work and
 *     balancing never need fresh memory; only gcwork_put can run out;
 *   - the mark driver, not dispose, folds bytes_marked and scan_work.
 */
#define GCHI_BUILDING 1
#include "mgcwork.h"
#include "error.h"

#include <string.h>

/* Splitting wbuf1 in gcwork_balance costs a lock round trip and a copy;
 * below this many entries the work handed over is not worth it. */
#define BALANCE_MIN_SPLIT 4

void workbuf_pool_init(struct workbuf_pool *p, struct persistent *pa)
{
    lock_init(&p->lock, LOCKRANK_WORKBUFS);
    p->full = p->empty = NULL;
    p->nfull = p->nempty = 0;
    p->pa = pa;
    atomic_u64_store_relaxed(&p->nfull_atomic, 0);
    p->allocated = 0;
}

void workbuf_pool_destroy(struct workbuf_pool *p)
{
    lock_destroy(&p->lock);
}

/* ---- the shared lists (every helper here: caller holds p->lock) ------ */

static void push_full_locked(struct workbuf_pool *p, struct workbuf *b)
{
    lock_assert_held(&p->lock);
    GCH_ASSERT_INTERNAL(/*G2*/ b->nobj > 0 && b->nobj <= WORKBUF_NOBJ);
    b->next = p->full;
    p->full = b;
    p->nfull++;
    atomic_u64_store_relaxed(&p->nfull_atomic, p->nfull); /* G3 */
}

static struct workbuf *pop_full_locked(struct workbuf_pool *p)
{
    lock_assert_held(&p->lock);
    struct workbuf *b = p->full;
    if (b == NULL)
        return NULL;
    GCH_ASSERT_INTERNAL(/*G2*/ b->nobj > 0 && b->nobj <= WORKBUF_NOBJ);
    p->full = b->next;
    p->nfull--;
    atomic_u64_store_relaxed(&p->nfull_atomic, p->nfull); /* G3 */
    b->next = NULL;
    return b;
}

static void push_empty_locked(struct workbuf_pool *p, struct workbuf *b)
{
    lock_assert_held(&p->lock);
    GCH_ASSERT_INTERNAL(/*G2*/ b->nobj == 0);
    b->next = p->empty;
    p->empty = b;
    p->nempty++;
}

/* carve_locked: take WORKBUF_ALLOC bytes from the persistent allocator
 * (rank PERSISTENT, above ours), keep the first buffer for the caller and
 * list the rest as empty.  NULL when the OS refuses memory.  The memory
 * is zeroed, so every buffer starts with nobj == 0. */
static struct workbuf *carve_locked(struct workbuf_pool *p)
{
    lock_assert_held(&p->lock);
    struct workbuf *bufs = persistent_alloc(p->pa, WORKBUF_ALLOC, 64);
    if (bufs == NULL)
        return NULL;
    p->allocated += WORKBUF_ALLOC; /* G4 */
    for (size_t i = 1; i < WORKBUF_ALLOC / WORKBUF_BYTES; i++)
        push_empty_locked(p, &bufs[i]);
    return &bufs[0];
}

static struct workbuf *pop_empty_locked(struct workbuf_pool *p)
{
    lock_assert_held(&p->lock);
    struct workbuf *b = p->empty;
    if (b == NULL)
        return carve_locked(p);
    GCH_ASSERT_INTERNAL(/*G2*/ b->nobj == 0);
    p->empty = b->next;
    p->nempty--;
    b->next = NULL;
    return b;
}

/* ---- trades: one lock round trip each ---------------------------------- */

/* trade_for_empty: an empty buffer, and, if give is not NULL, publish give
 * to the full list in the same critical section.  When no empty buffer
 * can be had nothing changes (give is not published) and NULL returns. */
static struct workbuf *trade_for_empty(struct gcwork *w, struct workbuf *give)
{
    struct workbuf_pool *p = w->pool;
    lock_acquire(&p->lock);
    struct workbuf *e = pop_empty_locked(p);
    if (e != NULL && give != NULL)
        push_full_locked(p, give);
    lock_release(&p->lock);
    if (e != NULL && give != NULL)
        w->flushed_since_check = true; /* G7 */
    return e;
}

/* trade_for_full: a buffer from the full list, and, only if one is had,
 * give (an empty buffer, or NULL) goes to the empty list.  The relaxed
 * look first keeps idle markers from hammering the lock. */
static struct workbuf *trade_for_full(struct workbuf_pool *p, struct workbuf *give)
{
    if (!workbuf_pool_has_work(p))
        return NULL;
    lock_acquire(&p->lock);
    struct workbuf *f = pop_full_locked(p);
    if (f != NULL && give != NULL)
        push_empty_locked(p, give);
    lock_release(&p->lock);
    return f;
}

static void publish(struct gcwork *w, struct workbuf *b)
{
    struct workbuf_pool *p = w->pool;
    lock_acquire(&p->lock);
    push_full_locked(p, b);
    lock_release(&p->lock);
    w->flushed_since_check = true; /* G7 */
}

/* ---- gcwork -------------------------------------------------------------- */

void gcwork_init(struct gcwork *w, struct workbuf_pool *p)
{
    w->wbuf1 = w->wbuf2 = NULL;
    w->pool = p;
    w->bytes_marked = 0;
    w->scan_work = 0;
    w->flushed_since_check = false;
}

/* gcwork_put_slow: wbuf1 is missing or full.  Prefer the other buffer if
 * it has room; otherwise keep the newest full buffer as wbuf2, publish
 * the older one and push into a fresh empty buffer.  False (w unchanged)
 * when no empty buffer can be had. */
bool gcwork_put_slow(struct gcwork *w, uintptr_t obj)
{
    struct workbuf *b1 = w->wbuf1, *b2 = w->wbuf2;
    if (b1 == NULL) {
        GCH_ASSERT_INTERNAL(/*G5*/ b2 == NULL);
        b1 = trade_for_empty(w, NULL);
        if (b1 == NULL)
            return false;
        w->wbuf1 = b1;
    } else if (b2 != NULL && b2->nobj < WORKBUF_NOBJ) {
        w->wbuf1 = b2;
        w->wbuf2 = b1;
        b1 = b2;
    } else {
        struct workbuf *e = trade_for_empty(w, b2);
        if (e == NULL)
            return false;
        w->wbuf2 = b1;
        w->wbuf1 = e;
        b1 = e;
    }
    GCH_ASSERT_INTERNAL(b1->nobj < WORKBUF_NOBJ);
    b1->obj[b1->nobj++] = obj;
    return true;
}

/* gcwork_tryget_slow: wbuf1 is missing or empty.  Switch to wbuf2 if it
 * holds work; otherwise trade an empty buffer for a full one from the
 * pool, keeping one empty buffer as the spare wbuf2 when there is none. */
uintptr_t gcwork_tryget_slow(struct gcwork *w)
{
    struct workbuf *b1 = w->wbuf1, *b2 = w->wbuf2;
    if (b2 != NULL && b2->nobj > 0) {
        w->wbuf1 = b2;
        w->wbuf2 = b1;
        b1 = b2;
    } else {
        GCH_ASSERT_INTERNAL(/*G5*/ b1 != NULL || b2 == NULL);
        bool keep_spare = b1 != NULL && b2 == NULL;
        struct workbuf *f = trade_for_full(w->pool, keep_spare ? NULL : b1);
        if (f == NULL)
            return 0;
        if (keep_spare)
            w->wbuf2 = b1;
        w->wbuf1 = f;
        b1 = f;
    }
    GCH_ASSERT_INTERNAL(b1->nobj > 0);
    return b1->obj[--b1->nobj];
}

void gcwork_dispose(struct gcwork *w)
{
    struct workbuf *held[2] = { w->wbuf1, w->wbuf2 };
    if (held[0] == NULL)
        return; /* G5: nothing held */
    struct workbuf_pool *p = w->pool;
    bool flushed = false;
    lock_acquire(&p->lock);
    for (int i = 0; i < 2; i++) {
        struct workbuf *b = held[i];
        if (b == NULL)
            continue;
        if (b->nobj > 0) {
            push_full_locked(p, b);
            flushed = true;
        } else {
            push_empty_locked(p, b);
        }
    }
    lock_release(&p->lock);
    w->wbuf1 = w->wbuf2 = NULL;
    if (flushed)
        w->flushed_since_check = true; /* G7 */
}

/* split_wbuf1: publish the older half of wbuf1's entries and keep the
 * newer half in a fresh buffer.  Does nothing without an empty buffer. */
static void split_wbuf1(struct gcwork *w)
{
    struct workbuf *b1 = w->wbuf1;
    struct workbuf *e = trade_for_empty(w, NULL);
    if (e == NULL)
        return;
    size_t keep = b1->nobj / 2;
    size_t give = b1->nobj - keep;
    memcpy(e->obj, &b1->obj[give], keep * sizeof(uintptr_t));
    e->nobj = keep;
    b1->nobj = give;
    w->wbuf1 = e;
    publish(w, b1);
}

void gcwork_balance(struct gcwork *w)
{
    struct workbuf *b1 = w->wbuf1, *b2 = w->wbuf2;
    if (b1 == NULL || workbuf_pool_has_work(w->pool))
        return;
    if (b1->nobj > 0 && b2 != NULL && b2->nobj > 0) {
        /* G5 allows a missing wbuf2: the next put that fills wbuf1 fetches one. */
        w->wbuf2 = NULL;
        publish(w, b2);
    } else if (b1->nobj > BALANCE_MIN_SPLIT) {
        split_wbuf1(w);
    }
}

/* ---- validation ---------------------------------------------------------- */

/* list_is_valid: walk at most limit buffers of list; each must satisfy
 * the G2 bound for its list; the length must equal n (G3). */
static bool list_is_valid(const struct workbuf *list, size_t n, uint64_t limit, bool full)
{
    uint64_t count = 0;
    for (const struct workbuf *b = list; b != NULL; b = b->next) {
        count++;
        GCH_CHECK_CMP("G1", count, <=, limit); /* more buffers than carved: a cycle */
        if (full)
            GCH_CHECK("G2", b->nobj > 0 && b->nobj <= WORKBUF_NOBJ);
        else
            GCH_CHECK_CMP("G2", b->nobj, ==, 0);
    }
    GCH_CHECK_CMP("G3", count, ==, n);
    return true;
}

/* pool_is_valid: workbuf_pool_is_valid's checks.  Caller holds p->lock. */
static bool pool_is_valid(struct workbuf_pool *p)
{
    uint64_t carved = p->allocated / WORKBUF_BYTES;
    GCH_CHECK_CMP("G4", p->allocated % WORKBUF_ALLOC, ==, 0);
    if (!list_is_valid(p->full, p->nfull, carved, true) ||
        !list_is_valid(p->empty, p->nempty, carved, false))
        return false;
    GCH_CHECK_CMP("G4", p->nfull + p->nempty, <=, carved); /* G1: no buffer on both */
    GCH_CHECK_CMP("G3", atomic_u64_load_relaxed(&p->nfull_atomic), ==, p->nfull);
    return true;
}

bool workbuf_pool_is_valid(struct workbuf_pool *p)
{
    lock_acquire(&p->lock);
    bool ok = pool_is_valid(p);
    lock_release(&p->lock);
    return ok;
}

bool workbuf_pool_is_idle(struct workbuf_pool *p)
{
    lock_acquire(&p->lock);
    size_t nfull = p->nfull;
    lock_release(&p->lock);
    GCH_CHECK_CMP("G8", nfull, ==, 0);
    return true;
}

bool gcwork_is_valid(const struct gcwork *w, bool idle)
{
    GCH_CHECK("G5", w->wbuf1 != NULL || w->wbuf2 == NULL);
    GCH_CHECK("G5", w->wbuf1 == NULL || w->wbuf1 != w->wbuf2);
    const struct workbuf *held[2] = {w->wbuf1, w->wbuf2};
    for (int i = 0; i < 2; i++) {
        if (held[i] == NULL)
            continue;
        GCH_CHECK_CMP("G2", held[i]->nobj, <=, WORKBUF_NOBJ);
        if (idle)
            GCH_CHECK_CMP("G8", held[i]->nobj, ==, 0);
    }
    return true;
}
