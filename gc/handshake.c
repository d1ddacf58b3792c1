/*
 * handshake.c - handshakes: operations every attached thread runs once,
 * at its next safepoint, without stopping the world (Go's forEachP; the
 * root scan and the flush that looks for mark termination).
 * Go counterpart: runtime/proc.go (forEachP), mgc.go (gcMarkDone's
 * flush), mgcmark.go (markroot's stack scans).  Overview: gc/mgc.c;
 * ARCHITECTURE.md "Concurrency".
 *
 * The collector sets the operations (HS_*) in each thread's hs_ops and
 * its preempt flag; the thread runs them at its next safepoint
 * (gc_handshake_self), or, while it is in a blocking section, a mark
 * worker runs them for it (gc_handshake_help), holding hs_busy so that
 * the thread cannot leave its section (or detach) meanwhile.
 *
 * Invariants:
 *   HS1 hs_ops and hs_busy change only under stw.lock; hs_busy is set
 *       exactly while one thread (the owner or one worker) runs t's
 *       operations, which it took out of hs_ops only once they are done;
 *   HS2 a thread with hs_ops set keeps its preempt flag set (stw.c's
 *       restart leaves it), so it reaches the slow path at its next
 *       safepoint.
 * Locking: stw.lock (rank WORLD), then threads_lock for the walks; the
 * operations themselves run with neither held.
 */
#define GCHI_BUILDING 1
#include "handshake.h"
#include "heap.h"
#include "gcbase.h"
#include "mgcmark.h"
#include "mbarrier.h"
#include "markroot.h"

static void set_preempt(struct gch_thread *t, uint32_t v)
{
    mem_u32_store_relaxed(&t->head.preempt, v);
}

/* handshake_run: the operations themselves, for t, by its own thread
 * (m = &t->marker) or by a worker (its marker m) while t blocks. */
static void handshake_run(struct gch_heap *h, struct gch_thread *t, uint32_t ops, struct gcmarker *m)
{
    if (ops & HS_SCAN_ROOTS) {
        /* t's scanners on its own thread: their allocations leave the
         * inline path (K4).  A worker's are caught by the owner check. */
        bool own = m == &t->marker, was = own && mcache_scan_enter(&t->mcache);
        atomic_u64_add_relaxed(&h->gc.stack_scan_bytes, gcmarker_scan_thread(m, t));
        if (own)
            mcache_scan_leave(&t->mcache, was);
    }
    gc_wbuf_flush(t, m);
    if (m != &t->marker)
        gcmarker_flush(&t->marker);
    gcmarker_flush(m);
    if (ops & HS_FLUSH) {
        /* G7: anything published since the last check, by the thread's
         * assists, barrier or this flush, sends termination round again:
         * another marker may have taken it and still hold it. */
        if (t->marker.work.flushed_since_check || m->work.flushed_since_check)
            atomic_u32_store_relaxed(&h->gc.hs_flushed, 1);
        t->marker.work.flushed_since_check = false;
        m->work.flushed_since_check = false;
    }
}

void gc_handshake_request(struct gch_heap *h, uint32_t ops)
{
    lock_assert_held(&h->stw.lock);
    lock_acquire(&h->threads_lock);
    for (struct gch_thread *t = h->attached; t != NULL; t = t->next) {
        t->hs_ops |= ops;
        set_preempt(t, 1);
    }
    lock_release(&h->threads_lock);
}

bool gc_handshake_pending(struct gch_heap *h, uint32_t ops)
{
    lock_assert_held(&h->stw.lock);
    bool any = false;
    lock_acquire(&h->threads_lock);
    for (struct gch_thread *t = h->attached; t != NULL && !any; t = t->next)
        any = (t->hs_ops & ops) != 0;
    lock_release(&h->threads_lock);
    return any;
}

/* blocked_with_ops: an attached thread in a blocking section whose
 * handshake nobody runs yet, or NULL.  Caller holds stw.lock. */
static struct gch_thread *blocked_with_ops(struct gch_heap *h)
{
    struct gch_thread *found = NULL;
    lock_acquire(&h->threads_lock);
    for (struct gch_thread *t = h->attached; t != NULL && found == NULL; t = t->next)
        if (t->hs_ops != 0 && !t->hs_busy && t->run == RUN_BLOCKING)
            found = t;
    lock_release(&h->threads_lock);
    return found;
}

bool gc_handshake_helpable(struct gch_heap *h)
{
    lock_assert_held(&h->stw.lock);
    return blocked_with_ops(h) != NULL;
}

bool gc_handshake_help(struct gch_heap *h, struct gcmarker *m)
{
    struct stw *w = &h->stw;
    lock_assert_held(&w->lock);
    bool ran = false;
    struct gch_thread *t;
    while ((t = blocked_with_ops(h)) != NULL) {
        /* t stays in its blocking section until hs_busy clears
         * (gch_blocking_leave waits), so its state is ours meanwhile. */
        uint32_t ops = t->hs_ops;
        t->hs_busy = true;
        lock_release(&w->lock);
        handshake_run(h, t, ops, m);
        lock_acquire(&w->lock);
        t->hs_ops &= ~ops;
        t->hs_busy = false;
        pthread_cond_broadcast(&w->changed);
        ran = true;
    }
    return ran;
}

bool gc_handshake_self(struct gch_heap *h, struct gch_thread *t)
{
    struct stw *w = &h->stw;
    lock_assert_held(&w->lock);
    if (t->hs_ops == 0)
        return false;
    uint32_t ops = t->hs_ops;
    t->hs_busy = true; /* HS1 */
    lock_release(&w->lock);
    int64_t t0 = gc_nanotime();
    handshake_run(h, t, ops, &t->marker);
    sys_time_add(&t->scan_ns, t0);
    lock_acquire(&w->lock);
    t->hs_ops &= ~ops;
    t->hs_busy = false;
    pthread_cond_broadcast(&w->changed);
    return true;
}

void gc_handshake_all(struct gch_heap *h, uint32_t ops, struct gcmarker *m)
{
    struct stw *w = &h->stw;
    gc_handshake_request(h, ops);
    while (gc_handshake_pending(h, ops)) {
        if (!gc_handshake_help(h, m))
            lock_wait(&w->lock, &w->changed);
    }
}

void gc_handshake_wait_done(struct gch_thread *t)
{
    struct stw *w = &t->heap->stw;
    lock_assert_held(&w->lock);
    while (t->hs_busy)
        lock_wait(&w->lock, &w->changed);
}
