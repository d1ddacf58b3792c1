/*
 * mgc.h - the phases and the driver's functions (gc/mgc.c): the cycle,
 * the phase table, triggering.  Each other file of the collector has its
 * own header (mgcmark.h, mgcworker.h, mgcpacer.h, mgcsweep.h, ...), and
 * what all of them use is gc/gcbase.h.  Overview essay: gc/mgc.c.  Go
 * counterpart: runtime/mgc.go (work, gcphase).
 *
 * Phases (gcstate.phase; the table gcphase_flags() below says what each
 * turns on, and gc_set_phase in gc/mgc.c is the only writer of the phase
 * and of the flags derived from it, with the world stopped):
 *   GCPHASE_OFF       mutators run; allocation is white; barrier off;
 *                     spans are swept lazily and in the background
 *   GCPHASE_MARK      roots and heap are marked concurrently with the
 *                     mutators: barrier on, allocation black, spans
 *                     pinned (gc/mgcworker.c)
 *   GCPHASE_MARKTERM  (world stopped) marking done: barrier off,
 *                     allocation white, caches flushed, spans unpinned;
 *                     the sweep generation flips
 * Transitions: OFF -> MARK (mark setup, or the stopped mark of
 * gcstoptheworld) -> MARKTERM -> OFF, each with the world stopped.
 *
 * Invariants:
 *   X1 when marking begins every in-use span has sweepgen ==
 *      mheap.sweepgen and all-zero mark bytes (sweep termination sweeps
 *      what the previous generation left, and sweeping leaves them so);
 *   X2 when marking begins no span is cached (mark setup flushes every
 *      cache; an object is a whole slot, K2), so the alloc bits are exact for
 *      every object that existed then; every object handed out during
 *      the mark has its mark bit set first (allocate black: a span a
 *      cache takes during the mark has all its free slots marked then,
 *      alloc/mcache.h K5; a large object is marked as it is handed out).
 *      So a slot with neither bit set is free, which is what invalidptr
 *      tests.  Not the converse: until a cache gives such a span back,
 *      its free slots are marked too, so a stale reference into one is
 *      taken for an object allocated black (by invalidptr and
 *      gccheckmark alike); the release clears them before any sweep;
 *   X3 a marked object of a scan span is put on the grey queue by the
 *      marker that found its mark byte clear and set it: once, or once
 *      per marker that raced for it (alloc/mspan.h MB3);
 *   X4 mark termination begins only when no grey work is queued or held,
 *      no thread owes its root scan, no root edit is shading, and a flush
 *      handshake of every thread published no work (MW1-MW3 in
 *      gc/mgcworker.c); with the world stopped it waits for root edits
 *      still shading before the last drain.
 * Locking: cycles are serialised by cycle_running under stw.lock; the
 * mark's shared state is under stw.lock or atomic, as marked below.
 */
#ifndef GCHEAP_GC_MGC_H
#define GCHEAP_GC_MGC_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stdint.h>
#include "gcstate.h" /* enum gcphase */

struct gch_heap;
struct gch_thread;
struct gcmarker;

/* The phase table (Go's setGCPhase derives writeBarrier.enabled the same
 * way): the state each phase puts every thread and the heap in. */
struct gcphase_flags {
    bool barrier;      /* gch_write shades: every attached thread's head.wb_enabled (B1) */
    bool alloc_black;  /* objects are handed out marked: mcache.alloc_black (X2) */
    bool spans_pinned; /* no span is freed: mheap.spans_pinned (H5) */
};

static inline struct gcphase_flags gcphase_flags(enum gcphase p)
{
    static const struct gcphase_flags table[] = {
        [GCPHASE_OFF] = {.barrier = false, .alloc_black = false, .spans_pinned = false},
        [GCPHASE_MARK] = {.barrier = true, .alloc_black = true, .spans_pinned = true},
        [GCPHASE_MARKTERM] = {.barrier = false, .alloc_black = false, .spans_pinned = false},
    };
    return table[p];
}

/* gc_init: the collector's state of a new heap (gch_heap_new). */
void gc_init(struct gch_heap *h);
/* gc_set_phase: move the heap to `phase` and derive everything the table
 * above ties to it (gc/mgc.c says in which order, and why).  World
 * stopped; caller holds no lock. */
void gc_set_phase(struct gch_heap *h, enum gcphase phase);
/* gc_phase_apply_thread: give t the barrier and allocation colour of
 * `phase` (at attach; gc_set_phase for every attached thread).  t is not
 * running (W3), or is the caller attaching itself; threads_lock held. */
void gc_phase_apply_thread(struct gch_thread *t, enum gcphase phase);
/* gc_mark_termination: stop the world and end the mark (the terminating
 * worker of gc/mgcworker.c, holding no lock), then restart the world;
 * false if, with the world stopped, it found work the mutators shaded
 * since the flush handshake: it then published it and restarted the
 * world, still marking. */
bool gc_mark_termination(struct gch_heap *h, struct gcmarker *m);
/* gc_maybe_trigger: start a cycle if the live-heap estimate reached the
 * trigger; returns the ns the caller spent starting it (0 when it did
 * not: the clock is read only once the trigger is reached, and when the
 * start declined because the OS refuses the memory the last sweep needs,
 * alloc/mspan.h GB1).  Called from allocation slow paths holding no
 * lock. */
int64_t gc_maybe_trigger(struct gch_heap *h);
/* gc_collect_at_limit: an allocation of self's found the heap unable to
 * grow: run a whole cycle and the sweep (waiting out one in progress
 * first), as gch_collect does, and return true so the caller tries
 * again; false, doing nothing, with GOGC=off; false too when the OS
 * refuses the memory a sweep needs (the cycle declined, or the sweep
 * stopped: alloc/mspan.h GB1), so the allocation fails with ENOMEM.
 * Called from allocation slow paths holding no lock. */
bool gc_collect_at_limit(struct gch_heap *h, struct gch_thread *self);
/* gc_start_periodic: sysmon's periodic cycle (Go's time trigger): start
 * one unless a cycle runs or one ended less than period_ns ago; with
 * gctrace, "GC forced" is printed first.  The cycle is not user-forced.
 * Returns whether it started one (not while the OS refuses the memory
 * the last sweep needs: GB1; sysmon tries again a period later).
 * Holding no lock; not attached. */
bool gc_start_periodic(struct gch_heap *h, int64_t period_ns);

/* gc_start_forced: start a user-forced cycle and return without waiting
 * for it (false if one runs): with concurrent marking, once the mark
 * began and the world restarted.  For tests/testhooks.c. */
bool gc_start_forced(struct gch_heap *h);

#endif
