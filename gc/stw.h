/*
 * stw.h - stopping the world, safepoints and blocking sections.
 * Go counterpart: runtime/proc.go (stopTheWorldWithSema, the P states
 * _Prunning / _Psyscall / _Pgcstop).  Overview: gc/mgc.c;
 * ARCHITECTURE.md "Concurrency".
 *
 * Thread run states (struct gch_thread.run, guarded by stw.lock): the
 * table of enum run_state in gc/thread.h.
 *
 * Invariants:
 *   W1 while stw.active, every attached thread other than stw.stopper is
 *      PARKED or BLOCKING once stop_the_world() has returned, and stays
 *      so until start_the_world();
 *   W2 preempt is set on every attached thread while a stop is pending or
 *      active and cleared when the world restarts (a stale set flag only
 *      costs one trip through the slow path);
 *   W3 a thread's heap-visible state (handle frames, caches) is written
 *      only while it is RUNNING, so the stopper may read it after W1 holds;
 *      the stw.lock hand-off orders those accesses (no atomics needed).
 * Locking: stw.lock (rank WORLD) is the lowest rank: it may be held while
 * taking threads_lock and the allocator's locks, never the other way.
 */
#ifndef GCHEAP_GC_STW_H
#define GCHEAP_GC_STW_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "lock.h"
#include "stwstate.h"

struct gch_heap;
struct gch_thread;

void stw_init(struct stw *w);
void stw_destroy(struct stw *w);

/* stop_the_world: bring every attached thread except self (which may be
 * NULL: the caller is not attached) to PARKED or BLOCKING (W1).  Returns
 * with the world stopped; concurrent stoppers are serialised.  Caller
 * holds no gcheap lock. */
void stop_the_world(struct gch_heap *h, struct gch_thread *self);
/* start_the_world: undo stop_the_world (W2). */
void start_the_world(struct gch_heap *h);

/* stw_wait_running: called by t with stw.lock held: park while the world
 * is stopped by someone else, then mark t RUNNING.  t may be NULL for a
 * caller with no attached record (it just waits for the restart). */
void stw_wait_running(struct gch_heap *h, struct gch_thread *t);
/* gchi_heap_self: the calling OS thread's attached record on h, or NULL
 * (takes threads_lock).  stw_find_attached: the same, threads_lock held
 * by the caller.  Matched by the thread tag the allocation fast path
 * checks. */
struct gch_thread *gchi_heap_self(struct gch_heap *h);
struct gch_thread *stw_find_attached(struct gch_heap *h);

/* stw_check_not_blocking: fatal if t (the caller's own thread) is in a
 * blocking section, where the collector may be scanning or flushing its
 * state: `what` names the offending call. */
void stw_check_not_blocking(struct gch_thread *t, const char *what);

#endif
