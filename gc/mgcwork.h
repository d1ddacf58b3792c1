/*
 * mgcwork.h - grey-object queues for the marker: per-marker gcwork with
 * two buffers, and the heap's shared lists of full and empty workbufs.
 * Go counterpart: runtime/mgcwork.go (gcWork, workbuf, getempty,
 * putfull, trygetfull, handoff).  Overview: gc/mgc.c.
 *
 * A grey object is one whose mark bit is set and which waits in a queue
 * to be scanned.  Each marker (a mutator thread doing marking work or a
 * background worker) owns a struct gcwork and pushes and pops addresses
 * there without locks.  A gcwork caches up to two workbufs; only when
 * both are full (or both empty) does it trade a buffer with the shared
 * struct workbuf_pool, so the pool's lock is taken at most once per
 * buffer's worth of work (one buffer of hysteresis).
 *
 * Invariants:
 *   G1 a carved workbuf is in exactly one place: on pool->full, on
 *      pool->empty, or held as wbuf1/wbuf2 by exactly one gcwork.  It is
 *      never given back to the persistent allocator; it dies with it.
 *   G2 a buffer on pool->full has 0 < nobj <= WORKBUF_NOBJ; a buffer on
 *      pool->empty has nobj == 0; a held buffer has nobj <= WORKBUF_NOBJ.
 *   G3 pool->nfull and pool->nempty are the lengths of the two lists;
 *      nfull_atomic equals nfull whenever the pool lock is free.
 *   G4 pool->allocated == WORKBUF_ALLOC x chunks carved, and
 *      nfull + nempty + (buffers held by gcworks)
 *        == allocated / WORKBUF_BYTES.
 *   G5 in a gcwork, wbuf1 == NULL implies wbuf2 == NULL, and wbuf1 !=
 *      wbuf2 when both are set (wbuf2 may be NULL on its own: a gcwork
 *      that started by taking work holds no spare buffer yet).
 *   G6 the queues neither lose nor duplicate entries: what the gcworks
 *      and the pool hold together is exactly the multiset of puts minus
 *      the gets.  An address is queued twice only if it was put twice;
 *      a marker puts an object only when it found the object's mark byte
 *      clear and set it, so while marking each object is queued at most
 *      once per marker that raced for it (alloc/mspan.h MB3), nearly
 *      always once.  Entries are never 0 (0 means "no work").  While
 *      a gcwork_cursor is open, wbuf1's nobj is stale and the entries
 *      are counted by the cursor (struct gcwork_cursor).  Inside one
 *      fast drain call, objects in its prefetch ring and references in
 *      its shade queue are held by no queue; both are put back or
 *      greyed before the call returns (gc/mgcmark.c drain_fast).
 *   G7 w->flushed_since_check is set whenever w has published a
 *      non-empty buffer to pool->full since the flag was last cleared
 *      (by the mark-termination check, which clears it).
 *   G8 while no cycle runs, no grey work is left anywhere: pool->full
 *      is empty and every thread's gcwork holds only empty buffers (a
 *      finished mark drained them all, MW3).
 *
 * Locking: pool->lock (rank WORKBUFS) guards both lists and the counts;
 * it is taken while the caller holds no allocator lock, and it calls
 * persistent_alloc (rank PERSISTENT) while held.  Buffer contents pass
 * between threads only through the locked lists, so the mutex orders
 * them.  A gcwork belongs to one thread at a time [owner]; the owner may
 * not be stopped in the middle of a call (mark termination inspects
 * gcworks only with the world stopped, when no call is in progress).
 */
#ifndef GCHEAP_GC_MGCWORK_H
#define GCHEAP_GC_MGCWORK_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "atomic.h"
#include "check.h"
#include "lock.h"
#include "mfixalloc.h"

/* Bytes per workbuf, header included.  Larger buffers mean fewer trips
 * to the shared lists (less contention) but more grey work stranded in
 * one marker's cache, out of reach of idle markers. */
#define WORKBUF_BYTES 2048
/* Bytes carved from the persistent allocator at a time (16 buffers):
 * one lock round trip and one bump allocation per 16 buffers. */
#define WORKBUF_ALLOC (32u << 10)

/* Go counterpart: workbuf.  Header is two words: list link and count. */
struct workbuf {
    struct workbuf *next;  /* [pool lock] while on a pool list; unused when held */
    size_t nobj;           /* [holder] entries in obj[0..nobj) (G2) */
    uintptr_t obj[(WORKBUF_BYTES - 2 * sizeof(void *)) / sizeof(uintptr_t)];
};

#define WORKBUF_NOBJ (sizeof(((struct workbuf *)0)->obj) / sizeof(uintptr_t))

_Static_assert(sizeof(struct workbuf) == WORKBUF_BYTES, "workbuf must be WORKBUF_BYTES");
_Static_assert(WORKBUF_ALLOC % WORKBUF_BYTES == 0, "whole workbufs per carve");

/* Go counterpart: work.full / work.empty / work.wbufSpans.  One per heap. */
struct workbuf_pool {
    struct lock lock;              /* rank WORKBUFS */
    struct workbuf *full;          /* [lock] LIFO of buffers with work (G2) */
    struct workbuf *empty;         /* [lock] LIFO of buffers with nobj == 0 */
    size_t nfull;                  /* [lock] length of full (G3) */
    size_t nempty;                 /* [lock] length of empty (G3) */
    struct persistent *pa;         /* [immutable] where buffers are carved from */
    struct atomic_u64 nfull_atomic;/* [write under lock, read relaxed] copy of nfull */
    uint64_t allocated;            /* [lock] bytes carved from pa (G4) */
};

void workbuf_pool_init(struct workbuf_pool *p, struct persistent *pa);
/* workbuf_pool_destroy: the buffers' memory stays with pa (freed when
 * the heap frees pa); only the lock is torn down. */
void workbuf_pool_destroy(struct workbuf_pool *p);

/* workbuf_pool_has_work: a relaxed look at nfull_atomic.  A hint: a
 * buffer published by another thread may not be seen yet, and one seen
 * may be gone by the time the caller asks for it.  A caller that needs a
 * definite answer must order it with its own synchronisation (the
 * termination check reads it after an acquire that pairs with every
 * marker's release when it went idle). */
static inline bool workbuf_pool_has_work(const struct workbuf_pool *p)
{
    return atomic_u64_load_relaxed(&p->nfull_atomic) != 0;
}

/* workbuf_pool_is_valid: G2 and G3 by walking both lists under the lock
 * (bounded, so a cycle fails instead of hanging), and the part of G4 the
 * pool alone can see: allocated is whole carves and the listed buffers
 * are no more than the buffers carved.  Buffers held by gcworks are not
 * visited; their owners may be using them concurrently. */
bool workbuf_pool_is_valid(struct workbuf_pool *p);
/* workbuf_pool_is_idle: G8's half for the pool (pool->full is empty);
 * only meaningful while no cycle runs. */
bool workbuf_pool_is_idle(struct workbuf_pool *p);

/* Go counterpart: gcWork.  One per marker, owned by its thread. */
struct gcwork {
    struct workbuf *wbuf1;        /* [owner] pushed to and popped from (G5) */
    struct workbuf *wbuf2;        /* [owner] the other buffer, or NULL (G5) */
    struct workbuf_pool *pool;    /* [immutable] */
    uint64_t bytes_marked;        /* [owner] blackened bytes, folded in by the mark driver */
    uint64_t scan_work;           /* [owner] scan work, folded in by the mark driver */
    bool flushed_since_check;     /* [owner; read and cleared at termination check] G7 */
};

void gcwork_init(struct gcwork *w, struct workbuf_pool *p);
/* gcwork_is_valid: G5 and G2 for the buffers w holds and, when idle (no
 * cycle runs), G8: they hold no entry.  The owner must not be using w. */
bool gcwork_is_valid(const struct gcwork *w, bool idle);

/* The fast halves below touch only wbuf1; the slow halves trade buffers
 * with the pool.  Both must be called by w's owner. */
GCH_NOINLINE bool gcwork_put_slow(struct gcwork *w, uintptr_t obj);
GCH_NOINLINE uintptr_t gcwork_tryget_slow(struct gcwork *w);

/* gcwork_put: queue obj (non-zero) as grey.  False only when no workbuf
 * memory can be had; w is then unchanged and the caller must fail
 * loudly (a grey object that is dropped would be freed while live). */
static inline bool gcwork_put(struct gcwork *w, uintptr_t obj)
{
    GCH_ASSERT_INTERNAL(/*G6*/ obj != 0);
    struct workbuf *b = w->wbuf1;
    if (GCH_LIKELY(b != NULL && b->nobj < WORKBUF_NOBJ)) {
        b->obj[b->nobj++] = obj;
        return true;
    }
    return gcwork_put_slow(w, obj);
}

/* gcwork_tryget: the most recently queued local entry, else an entry of
 * a buffer taken from pool->full, else 0.  0 does not mean all marking
 * is done: other gcworks may still hold work. */
static inline uintptr_t gcwork_tryget(struct gcwork *w)
{
    struct workbuf *b = w->wbuf1;
    if (GCH_LIKELY(b != NULL && b->nobj > 0))
        return b->obj[--b->nobj];
    return gcwork_tryget_slow(w);
}

/* struct gcwork_cursor: a drain loop's copy of where wbuf1's entries end,
 * held in locals so that a push or pop is a compare and a pointer step
 * (the buffer's own nobj would be reloaded after every entry store, which
 * may alias it).  While a cursor is open, wbuf1->nobj is stale: the owner
 * must close it before any other call on w (the slow halves below do so)
 * and reopen it after; G2 and G6 hold again once it is closed.  A gcwork
 * without wbuf1 gets an empty cursor (every push and pop goes slow). */
struct gcwork_cursor {
    uintptr_t *base;  /* wbuf1->obj, or NULL */
    uintptr_t *top;   /* one past the newest entry */
    uintptr_t *end;   /* wbuf1->obj + WORKBUF_NOBJ, or NULL */
};

static inline void gcwork_cursor_open(const struct gcwork *w, struct gcwork_cursor *c)
{
    struct workbuf *b = w->wbuf1;
    if (b == NULL) {
        c->base = c->top = c->end = NULL;
        return;
    }
    c->base = b->obj;
    c->top = b->obj + b->nobj;
    c->end = b->obj + WORKBUF_NOBJ;
}

static inline void gcwork_cursor_close(struct gcwork *w, const struct gcwork_cursor *c)
{
    if (c->base != NULL)
        w->wbuf1->nobj = (size_t)(c->top - c->base);
}

/* gcwork_cursor_put: gcwork_put through an open cursor. */
static inline bool gcwork_cursor_put(struct gcwork *w, struct gcwork_cursor *c, uintptr_t obj)
{
    GCH_ASSERT_INTERNAL(/*G6*/ obj != 0);
    if (GCH_LIKELY(c->top < c->end)) {
        *c->top++ = obj;
        return true;
    }
    gcwork_cursor_close(w, c);
    bool ok = gcwork_put_slow(w, obj);
    gcwork_cursor_open(w, c);
    return ok;
}

/* gcwork_cursor_tryget: gcwork_tryget through an open cursor. */
static inline uintptr_t gcwork_cursor_tryget(struct gcwork *w, struct gcwork_cursor *c)
{
    if (GCH_LIKELY(c->top > c->base))
        return *--c->top;
    gcwork_cursor_close(w, c);
    uintptr_t obj = gcwork_tryget_slow(w);
    gcwork_cursor_open(w, c);
    return obj;
}

/* gcwork_is_empty: w holds no queued entry (it may still hold buffers). */
static inline bool gcwork_is_empty(const struct gcwork *w)
{
    return (w->wbuf1 == NULL || w->wbuf1->nobj == 0) && (w->wbuf2 == NULL || w->wbuf2->nobj == 0);
}

/* gcwork_dispose: give every held buffer back, non-empty ones to
 * pool->full (setting flushed_since_check), empty ones to pool->empty.
 * w then holds nothing.  bytes_marked and scan_work are left for the
 * caller to fold into the heap's totals. */
void gcwork_dispose(struct gcwork *w);

/* gcwork_balance: when pool->full looks empty and w holds more work than
 * it needs right now, publish some of it so idle markers find work: the
 * whole of wbuf2 when both buffers hold entries, otherwise half of wbuf1
 * when it holds more than a few.  Never fails: without a spare buffer it
 * does nothing. */
void gcwork_balance(struct gcwork *w);

#endif /* GCHEAP_GC_MGCWORK_H */
