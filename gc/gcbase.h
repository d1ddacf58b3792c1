/*
 * gcbase.h - what every part of the collector calls, below all of them
 * (gc/gcbase.c): the clock, the trace sink, the live-heap estimate and
 * the GOGC goal, the current settings, the checks that an API call is
 * not made from a callback or a blocking section, waiting for a cycle to
 * end, and the monitor's kick.  It calls no other file of gc/ (only the
 * public gch_blocking_enter/leave), so the driver, the pacer, the
 * workers, the scavenger and sysmon can all use these without depending
 * on each other.  Overview: gc/mgc.c.
 */
#ifndef GCHEAP_GC_GCBASE_H
#define GCHEAP_GC_GCBASE_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "atomic.h"
#include "check.h"
#include "error.h"
#include "heap.h"

struct gch_heap;
struct gch_thread;

/* gc_nanotime: the monotonic clock every collector timing uses. */
int64_t gc_nanotime(void);

/* gc_heap_live: the live-heap estimate the trigger compares (Go's
 * heapLive): marked by the last cycle plus handed to caches since.
 * Inline, as it was in gc/mgc.c, for the trigger's check on every refill. */
static inline uint64_t gc_heap_live(struct gch_heap *h)
{
    return atomic_u64_load_relaxed(&h->gc.heap_marked_live) +
           atomic_u64_load_relaxed(&h->mheap.counters.alloc_since_gc);
}
/* gc_heap_goal: GOGC goal for a live heap of `marked` bytes plus roots;
 * UINT64_MAX when GOGC is off, else at most GC_HEAP_GOAL_MAX (a huge
 * GOGC from a setter saturates there instead of wrapping). */
#define GC_HEAP_GOAL_MAX ((uint64_t)INT64_MAX)
uint64_t gc_heap_goal(int gc_percent, uint64_t marked, uint64_t roots);
/* pacer_gc_percent / pacer_memory_limit: the current settings (atomics
 * the setters of gc/mgcpacer.c write); any thread. */
int pacer_gc_percent(const struct gch_heap *h);
int64_t pacer_memory_limit(const struct gch_heap *h);

/* gc_trace_emit: one trace line to the embedder's sink, or to stderr in
 * one write; gc_trace_emit_locked: the same with gc.trace.mu held. */
void gc_trace_emit(struct gch_heap *h, const char *line, size_t n);
void gc_trace_emit_locked(struct gch_heap *h, const char *line, size_t n);

/* gc_check_not_in_cycle: fatal (gc_in_cycle_fatal) if the calling thread
 * is the one running a cycle: it can get here only from a scan or trace
 * callback.  Inline: every allocation slow path checks it. */
GCH_NORETURN GCH_COLD void gc_in_cycle_fatal(const char *what);
static inline void gc_check_not_in_cycle(struct gch_heap *h, const char *what)
{
    if (GCH_UNLIKELY(gchi_in_scan() || atomic_uptr_load_relaxed(&h->gc.collector) == gchi_thread_tag()))
        gc_in_cycle_fatal(what);
}
/* stw_check_not_blocking: fatal if t (the caller's own thread) is in a
 * blocking section, where the collector may be scanning or flushing its
 * state: `what` names the offending call. */
void stw_check_not_blocking(struct gch_thread *t, const char *what);

/* gc_wait_cycle: sleep on mark_cond until a cycle starts or ends, in a
 * blocking section when self (the caller's record, attached and running)
 * is not NULL, so that the collector need not wait for this thread.
 * stw.lock held; it may be dropped and retaken.
 * gc_wait_idle: wait until no cycle runs (self as above).  Holding no
 * lock. */
void gc_wait_cycle(struct gch_heap *h, struct gch_thread *self);
void gc_wait_idle(struct gch_heap *h, struct gch_thread *self);

/* sysmon_kick: wake the monitor thread to recompute its deadlines (a
 * cycle ended, a setting changed), starting it at the first kick through
 * sysmon.main (gc/sysmon.c sets it).  Any thread, holding no lock of
 * rank >= SYSMON. */
void sysmon_kick(struct gch_heap *h);

/* gc_test_held: a test froze the mark (tests/testhooks.c,
 * gchi_test_hold_mark); false in every heap no test touched. */
#define gc_test_held(h) (atomic_u32_load_relaxed(&(h)->gc.test_hold) != 0)
/* gc_test_hook: call the hook a test planted in *slot (one of gcstate's
 * test_*_hook fields), if any: one acquire load in production. */
static inline void gc_test_hook(struct gch_heap *h, const struct atomic_uptr *slot)
{
    uintptr_t fn = atomic_uptr_load_acquire(slot);
    if (GCH_UNLIKELY(fn != 0))
        ((void (*)(struct gch_heap *))fn)(h);
}

#endif
