/*
 * mgcsweep.c - when sweeping happens: the flip at the end of marking,
 * sweep termination before the next cycle marks, the background sweeper
 * thread, and the full sweep gch_collect waits for.
 * Go counterpart: runtime/mgcsweep.go (bgsweep, finishsweep_m, gcSweep),
 * mgcpacer.go (gcPaceSweeper).  The mechanism (claiming and sweeping a
 * span, proportional credit): alloc/msweep.h.  Overview: gc/mgc.c.
 *
 * Who sweeps a generation, in the order it usually happens:
 *   1. a thread refilling its cache sweeps spans of the class it needs
 *      (mcentral_cache_span), and pays proportional credit: before
 *      taking B bytes it sweeps until the pages swept keep pace with the
 *      allocation budget left before the next goal;
 *   2. the background sweeper sweeps the rest, yielding the CPU every few
 *      spans.  It runs at normal priority, as Go's does: sweep termination
 *      may have to wait for the span it is sweeping, and at idle priority
 *      a busy machine could starve it for as long as it likes;
 *   3. sweep termination: the next cycle, with the world stopped, sweeps
 *      whatever is left before it marks (X1).
 * gch_collect sweeps everything before it returns, like runtime.GC.
 */
#define GCHI_BUILDING 1
#include "mgcsweep.h"
#include "heap.h"
#include "mgcscavenge.h"

#include <sched.h>
#include <signal.h>

/* The background sweeper checks for shutdown and yields the CPU every
 * this many spans. */
#define BGSWEEP_BATCH 16

void gc_sweep_termination(struct gch_heap *h) { mheap_sweep_finish(&h->mheap); }

void gc_sweep_flip(struct gch_heap *h)
{
    mheap_sweep_flip(&h->mheap);
}

void gc_sweep_pace(struct gch_heap *h, uint64_t heap_live, uint64_t next_goal)
{
    /* Finish 1 MiB before the goal, as Go does, so that a cycle rarely
     * begins with spans left to sweep in its stop-the-world phase. */
    const uint64_t margin = (uint64_t)1 << 20;
    uint64_t distance = next_goal > heap_live + margin ? next_goal - heap_live - margin : 0;
    if (distance < PAGE_SIZE)
        distance = PAGE_SIZE;
    mheap_sweep_pace(&h->mheap, distance);
}

static void *bgsweep_main(void *arg)
{
    struct gch_heap *h = arg;
    struct bgsweeper *b = &h->gc.sweeper;
    lock_acquire(&b->lock);
    for (;;) {
        while (!b->wake && atomic_u32_load_relaxed(&b->quit) == 0)
            lock_wait(&b->lock, &b->cond);
        if (atomic_u32_load_relaxed(&b->quit) != 0)
            break;
        b->wake = false;
        lock_release(&b->lock);
        /* GB1: while the OS refuses the spare arena, leave the rest to
         * allocation and sweep termination. */
        for (unsigned n = 1; mheap_sweep_one_reserved(&h->mheap, NULL) != 0; n++) {
            if (n % BGSWEEP_BATCH == 0) {
                if (atomic_u32_load_relaxed(&b->quit) != 0)
                    break;
                sched_yield();
            }
        }
        atomic_u64_add_relaxed(&b->rounds, 1);
        gc_scavtrace_cycle(h); /* once per generation, when it is swept */
        lock_acquire(&b->lock);
    }
    lock_release(&b->lock);
    return NULL;
}

/* start_thread: a heap thread with every signal blocked, so that the
 * embedder's process-directed signals never run on it. */
static bool start_thread(pthread_t *th, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    bool ok = pthread_create(th, NULL, fn, arg) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

void gc_sweep_init(struct gch_heap *h)
{
    struct bgsweeper *b = &h->gc.sweeper;
    lock_init(&b->lock, LOCKRANK_BGSWEEP);
    pthread_cond_init(&b->cond, NULL);
    b->started = false;
    b->wake = false;
    atomic_u32_store_relaxed(&b->quit, 0);
    atomic_u64_store_relaxed(&b->rounds, 0);
}

void gc_sweep_wake(struct gch_heap *h)
{
    struct bgsweeper *b = &h->gc.sweeper;
    if (h->env.debug.gcstoptheworld >= 2)
        return; /* the cycle swept everything itself */
    lock_acquire(&b->lock);
    if (!b->started) {
        /* Started with the first cycle, so a heap that never collects
         * has no thread.  If the OS refuses one, allocation and sweep
         * termination still sweep everything. */
        b->started = start_thread(&b->thread, bgsweep_main, h);
    }
    b->wake = true;
    pthread_cond_signal(&b->cond);
    lock_release(&b->lock);
}

void gc_sweep_destroy(struct gch_heap *h)
{
    struct bgsweeper *b = &h->gc.sweeper;
    lock_acquire(&b->lock);
    atomic_u32_store_relaxed(&b->quit, 1);
    pthread_cond_signal(&b->cond);
    bool started = b->started;
    lock_release(&b->lock);
    if (started)
        pthread_join(b->thread, NULL);
    pthread_cond_destroy(&b->cond);
    lock_destroy(&b->lock);
}

bool gc_sweep_wait(struct gch_heap *h, struct gch_thread *self, bool may_stop)
{
    struct mheap *mh = &h->mheap;
    uint64_t gen = atomic_u64_load_relaxed(&mh->sweep.nflips);
    /* Sweep alongside the other sweepers, staying a safepoint between
     * spans so that a cycle another thread starts is not held up; that
     * cycle's sweep termination finishes this generation (Go's runtime.GC
     * compares cycle numbers the same way). */
    for (;;) {
        if (may_stop && !mheap_sweep_done(mh) && !gcbits_reserve(&mh->gcbits))
            return false; /* GB1: the caller's allocation fails instead */
        if (mheap_sweep_one(mh, NULL) == 0)
            break;
        if (self != NULL)
            gch_safepoint(self);
        if (atomic_u64_load_relaxed(&mh->sweep.nflips) != gen)
            return true;
    }
    /* Only sweepers inside their last span are left: sleep, in a blocking
     * section so that a stop of the world need not wait for this thread. */
    if (self != NULL)
        gch_blocking_enter(self);
    mheap_sweep_wait(mh, gen);
    /* Still blocking: a stop need not wait for this thread while it is
     * in the trace sink (holding gc.trace.mu; ARCHITECTURE.md). */
    gc_scavtrace_cycle(h);
    if (self != NULL)
        gch_blocking_leave(self);
    return true;
}
