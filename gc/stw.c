/*
 * stw.c - stop the world, safepoints, blocking sections, frame checks.
 * Handshakes (run at a safepoint without stopping the world): gc/handshake.c.
 * Go counterpart: runtime/proc.go (stopTheWorldWithSema, startTheWorld,
 * entersyscall/exitsyscall).  States and invariants W1-W3: gc/stw.h.
 *
 * Everything runs under one mutex, stw.lock, with two condition
 * variables: `changed` wakes the stopper when a thread parks, blocks or
 * detaches; `resume` wakes parked threads when the world restarts.  The
 * preempt flag in each thread's head is the only thing read without the
 * lock (gch_safepoint's inline poll).  Stops are rare and short; a mutex
 * keeps the protocol simple to reason about and clean under TSan.
 */
#define GCHI_BUILDING 1
#include "stw.h"
#include "handshake.h"
#include "heap.h"
#include "error.h"
#include "gcbase.h"

void stw_init(struct stw *w)
{
    lock_init(&w->lock, LOCKRANK_WORLD);
    if (pthread_cond_init(&w->changed, NULL) != 0 || pthread_cond_init(&w->resume, NULL) != 0)
        gch_fatal("pthread_cond_init failed", (uintptr_t)w, 0, 0);
    w->active = false;
    w->stopper = NULL;
    w->nstops = 0;
}

void stw_destroy(struct stw *w)
{
    pthread_cond_destroy(&w->changed);
    pthread_cond_destroy(&w->resume);
    lock_destroy(&w->lock);
}

static void set_preempt(struct gch_thread *t, uint32_t v)
{
    mem_u32_store_relaxed(&t->head.preempt, v);
}

void stw_wait_running(struct gch_heap *h, struct gch_thread *t)
{
    struct stw *w = &h->stw;
    lock_assert_held(&w->lock);
    while (w->active && (t == NULL || w->stopper != t)) {
        if (t != NULL) {
            t->run = RUN_PARKED;
            pthread_cond_broadcast(&w->changed);
        }
        lock_wait(&w->lock, &w->resume);
    }
    if (t != NULL)
        t->run = RUN_RUNNING;
}

/* others_running: some attached thread other than self is RUNNING.
 * Caller holds stw.lock. */
static bool others_running(struct gch_heap *h, struct gch_thread *self)
{
    bool any = false;
    lock_acquire(&h->threads_lock);
    for (struct gch_thread *t = h->attached; t != NULL && !any; t = t->next)
        any = t != self && t->run == RUN_RUNNING;
    lock_release(&h->threads_lock);
    return any;
}

/* preempt_all: set (stopping) or clear (restarting) every thread's
 * preempt flag; a thread with a handshake pending keeps it set. */
static void preempt_all(struct gch_heap *h, uint32_t v)
{
    lock_acquire(&h->threads_lock);
    for (struct gch_thread *t = h->attached; t != NULL; t = t->next)
        set_preempt(t, v != 0 || t->hs_ops != 0);
    lock_release(&h->threads_lock);
}

void stop_the_world(struct gch_heap *h, struct gch_thread *self)
{
    struct stw *w = &h->stw;
    lock_acquire(&w->lock);
    stw_wait_running(h, self); /* another stopper first: wait, parked */
    w->active = true;
    w->stopper = self;
    preempt_all(h, 1);
    while (others_running(h, self))
        lock_wait(&w->lock, &w->changed);
    w->nstops++;
    lock_release(&w->lock); /* W1 holds: others wait for `resume` */
}

void start_the_world(struct gch_heap *h)
{
    struct stw *w = &h->stw;
    lock_acquire(&w->lock);
    GCH_ASSERT(w->active);
    preempt_all(h, 0);
    w->active = false;
    w->stopper = NULL;
    pthread_cond_broadcast(&w->resume);
    lock_release(&w->lock);
}

/* safepoint_misuse: t may not poll here: fatal, naming why.  Cold. */
static GCH_NOINLINE GCH_COLD void safepoint_misuse(gch_thread *t)
{
    if (gchi_in_scan()) /* a callback: its own handshake would recurse */
        gch_fatal("gch_safepoint inside a collection: scan and trace callbacks may only call "
                  "gch_visit", (uintptr_t)t, 0, 0);
    gch_fatalf("gch_safepoint: gch_thread %p is %s", (void *)t,
               t == NULL ? "NULL" : "not attached to this OS thread (detached, or another thread's)");
}

/* safepoint_ok: t is the caller's own attached thread and the caller is
 * not inside a scan or trace callback. */
static inline bool safepoint_ok(gch_thread *t)
{
    return t != NULL && !gchi_in_scan() && gchi_check_thread(&t->mcache) == GCH_OK;
}

void gch_safepoint_check(gch_thread *t)
{
    if (GCH_UNLIKELY(!safepoint_ok(t)))
        safepoint_misuse(t);
}

void gch_safepoint_slow(gch_thread *t)
{
    gch_safepoint_check(t);
    /* A blocking section is one long safepoint: the thread touches no
     * heap object, the world may stop and a worker may run its handshake
     * meanwhile (hs_busy).  Polling there changes nothing: neither
     * parking (which would make it RUNNING, W1) nor running a handshake
     * (possibly at the same time as the worker).  t->run is written only
     * by t itself, so its owner reads it without the lock. */
    if (t->run == RUN_BLOCKING)
        return;
    struct gch_heap *h = t->heap;
    struct stw *w = &h->stw;
    lock_acquire(&w->lock);
    for (;;) {
        if (gc_handshake_self(h, t))
            continue;
        if (w->active && w->stopper != t) {
            int64_t t0 = gc_nanotime();
            stw_wait_running(h, t);
            sys_time_add(&t->stop_ns, t0);
            continue;
        }
        break;
    }
    if (!w->active)
        set_preempt(t, 0);
    lock_release(&w->lock);
}

void gch_blocking_enter(gch_thread *t)
{
    if (t == NULL || gchi_check_thread(&t->mcache) != GCH_OK)
        gch_fatal("gch_blocking_enter: thread not attached to this OS thread", (uintptr_t)t, 0, 0);
    struct stw *w = &t->heap->stw;
    lock_acquire(&w->lock);
    t->run = RUN_BLOCKING;
    pthread_cond_broadcast(&w->changed);
    lock_release(&w->lock);
}

void gch_blocking_leave(gch_thread *t)
{
    if (t == NULL || gchi_check_thread(&t->mcache) != GCH_OK)
        gch_fatal("gch_blocking_leave: thread not attached to this OS thread", (uintptr_t)t, 0, 0);
    struct stw *w = &t->heap->stw;
    lock_acquire(&w->lock);
    if (t->run != RUN_BLOCKING) {
        lock_release(&w->lock);
        gch_fatal("gch_blocking_leave without gch_blocking_enter", (uintptr_t)t, 0, 0);
    }
    int64_t t0 = gc_nanotime();
    gc_handshake_wait_done(t); /* the collector may be running t's handshake */
    stw_wait_running(t->heap, t);
    lock_release(&w->lock);
    sys_time_add(&t->stop_ns, t0);
}

void gch_frame_pop_fatal(gch_thread *t, gch_frame *f)
{
    gch_fatal("gch_frame_pop: frame is not the top of the thread's handle stack "
              "(popped out of order or twice)", (uintptr_t)f, (uintptr_t)t->head.frames,
              (uintptr_t)t);
}

/* stw_find_attached: the calling OS thread's record on h, or NULL, matched by
 * the same thread tag the allocation fast path checks.  Caller holds
 * threads_lock. */
struct gch_thread *stw_find_attached(struct gch_heap *h)
{
    uintptr_t tag = gchi_thread_tag();
    for (struct gch_thread *t = h->attached; t != NULL; t = t->next)
        if (atomic_uptr_load_relaxed(&t->mcache.owner_tag) == tag)
            return t;
    return NULL;
}

struct gch_thread *gchi_heap_self(struct gch_heap *h)
{
    lock_acquire(&h->threads_lock);
    struct gch_thread *t = stw_find_attached(h);
    lock_release(&h->threads_lock);
    return t;
}
