/*
 * mgc.h - collector state and the functions the cycle is built from.
 * Overview essay: gc/mgc.c.  Go counterpart: runtime/mgc.go (work,
 * gcphase), mgcmark.go, mgcsweep.go.
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
 *      mheap.sweepgen and all-zero mark bits (sweep termination sweeps
 *      what the previous generation left, and sweeping leaves them so);
 *   X2 when marking begins no span is cached (mark setup flushes every
 *      cache; an object is a whole slot, K2), so the alloc bits are exact for
 *      every object that existed then; every object handed out during
 *      the mark has its mark bit set first (allocate black).  So a slot
 *      with neither bit set is free, which is what invalidptr tests;
 *   X3 a marked object of a scan span is put on the grey queue exactly
 *      once (the mark bit is tested and set atomically before queueing);
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

#include <pthread.h>
#include <stdint.h>
#include "lock.h"
#include "gcmarker.h"
#include "handshake.h"
#include "mgcwork.h"
#include "roots.h"
#include "mstats.h"
#include "mheap.h"
#include "gcstate.h"
#include "mgclimit.h"

struct gch_heap;
struct gch_thread;

enum gcphase { GCPHASE_OFF = 0, GCPHASE_MARK = 1, GCPHASE_MARKTERM = 2 };

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

void gcmarker_init(struct gcmarker *m, struct gch_heap *h);
/* gcmarker_shade: grey the object holding address (or tagged word) p;
 * slot is where it was found, for error messages (may be NULL). */
void gcmarker_shade(struct gcmarker *m, uintptr_t p, const void *slot);
/* gcmarker_shade_raw: as gcmarker_shade for a raw address, never passed
 * to the embedder's decoder (finalizer args, weak targets: gc/mfinal.h). */
void gcmarker_shade_raw(struct gcmarker *m, uintptr_t p);
/* gcmarker_drain: scan grey objects until about budget bytes were
 * scanned (budget < 0: until none is left).  Returns the bytes scanned. */
int64_t gcmarker_drain(struct gcmarker *m, int64_t budget);
/* gcmarker_flush: publish the marker's queued work to the shared lists
 * and fold its marked bytes into the cycle. */
void gcmarker_flush(struct gcmarker *m);
/* gcmarker_scan_thread / _globals: a thread's roots (caller is t, or t
 * is stopped or blocking) or the global roots and heap scanners; return
 * the bytes of slots reported. */
uint64_t gcmarker_scan_thread(struct gcmarker *m, struct gch_thread *t);
/* A large object is scanned in parts of this many bytes (mgcmark.c). */
#define GC_OBLET_BYTES ((size_t)128 << 10)

/* gcmarker_scan_object: report every reference of the allocated object
 * at obj to m's visitor. */
void gcmarker_scan_object(struct gcmarker *m, uintptr_t obj);
uint64_t gcmarker_scan_globals(struct gcmarker *m);

/* A gcpacertrace line: formatted with the world stopped into a buffer of
 * the stopper's, printed after it restarts the world (the sink may take
 * a lock that a stopped thread holds). */
struct pacer_line {
    char text[384];
    size_t len; /* 0: none */
};

void gc_init(struct gch_heap *h);
/* gc_set_phase: move the heap to `phase` and derive everything the table
 * above ties to it (gc/mgc.c says in which order, and why).  World
 * stopped; caller holds no lock. */
void gc_set_phase(struct gch_heap *h, enum gcphase phase);
/* gc_phase_apply_thread: give t the barrier and allocation colour of
 * `phase` (at attach; gc_set_phase for every attached thread).  t is not
 * running (W3), or is the caller attaching itself; threads_lock held. */
void gc_phase_apply_thread(struct gch_thread *t, enum gcphase phase);
/* gc_mark: mark from every root with the world stopped; returns the bytes
 * marked and fills the root byte counts of *rec.  Caller stopped the
 * world and flushed every mcache (X2). */
uint64_t gc_mark(struct gch_heap *h, struct gccycle_record *rec);
/* Sweeping (gc/mgcsweep.c; the mechanism is alloc/msweep.h):
 * gc_sweep_termination: sweep what the last generation left (world
 *   stopped, before marking: X1);
 * gc_sweep_flip: start the next generation (world stopped, after marking);
 * gc_sweep_pace: spread its sweeping over the allocation from heap_live
 *   up to next_goal (world stopped, after the flip);
 * gc_sweep_wake: let the background sweeper run (world running);
 * gc_sweep_wait: sweep until the generation is done, polling safepoints
 *   when self is not NULL (gch_collect);
 * gc_sweep_init / gc_sweep_destroy: the sweeper thread's lifetime. */
void gc_sweep_termination(struct gch_heap *h);
void gc_sweep_flip(struct gch_heap *h);
void gc_sweep_pace(struct gch_heap *h, uint64_t heap_live, uint64_t next_goal);
void gc_sweep_wake(struct gch_heap *h);
void gc_sweep_wait(struct gch_heap *h, struct gch_thread *self);
void gc_sweep_init(struct gch_heap *h);
void gc_sweep_destroy(struct gch_heap *h);
/* Concurrent marking (gc/mgcworker.c, gc/mbarrier.c):
 * gc_wbuf_flush: shade t's barrier buffer into m (t is the caller, or is
 *   stopped or blocking);
 * gc_thread_flush: t's buffer into t's own marker, published;
 * gc_mark_termination: stop the world and end the mark (the terminating
 *   worker, holding no lock), then restart the world; false if, with the
 *   world stopped, it found work the mutators shaded since the flush
 *   handshake: it then published it and restarted the world, still
 *   marking;
 * gc_workers_start: start the mark workers if none runs (stw.lock held);
 *   false if not one could be started;
 * gc_idle_cpu: GOMAXPROCS leaves a CPU to no attached thread or worker:
 *   the fractional worker may mark past its share (holding no lock);
 * gc_workers_stop: stop and join them (heap teardown);
 * gc_assist: allocation of `bytes` while marking pays scan work;
 * gc_shade_begin / gc_shade_end: bracket every root edit (a global range
 *   or heap scanner added or removed) from any thread, attached or not:
 *   begin waits out a stopped world, counts the caller in nshading until
 *   end and says whether to shade (a mark runs); called holding no lock;
 * gc_wait_root_edits: world stopped: wait until nshading is 0.  A stop
 *   that changes the phase or ends the mark calls it first, so an edit's
 *   answer from begin holds for the whole edit (R3). */
void gc_wbuf_flush(struct gch_thread *t, struct gcmarker *m);
void gc_thread_flush(struct gch_thread *t);
bool gc_mark_termination(struct gch_heap *h, struct gcmarker *m);
bool gc_workers_start(struct gch_heap *h);
bool gc_idle_cpu(struct gch_heap *h);
void gc_workers_stop(struct gch_heap *h);
void gc_assist(struct gch_thread *t, size_t bytes);
bool gc_shade_begin(struct gch_heap *h);
void gc_shade_end(struct gch_heap *h);
void gc_wait_root_edits(struct gch_heap *h);
/* GODEBUG=gccheckmark=1 (gc/mcheckmark.c):
 * gc_checkmark: with the world stopped at mark termination, mark again
 *   from every root into a separate bitmap; fatal, naming the object and
 *   a path to it from a root, if a reachable object is not marked;
 * gc_checkmark_shade: gcmarker_shade's step in that pass (object idx of
 *   in-use span s, found at slot);
 * gc_checkmark_release: free the bitmaps (heap teardown). */
struct mspan;
void gc_checkmark(struct gch_heap *h);
void gc_checkmark_shade(struct gcmarker *m, struct mspan *s, uint32_t idx, const void *slot);
void gc_checkmark_release(struct gch_heap *h);
/* The pacer (gc/mgcpacer.c):
 * pacer_init: worker counts from GOMAXPROCS (heap creation);
 * pacer_workers: threads to start (dedicated + fractional);
 * pacer_trigger: heap_live at which the next cycle starts, for a heap of
 *   `marked` live bytes and this goal (world stopped);
 * pacer_start_cycle / pacer_end_cycle: mark setup / termination (world
 *   stopped): reset the counters, learn cons/mark; the gcpacertrace line
 *   goes into *line (len 0 when not tracing), printed by the caller with
 *   pacer_line_emit once the world runs again;
 * pacer_revise: recompute the assist ratio from the work left and the
 *   heap left (any thread, while marking);
 * pacer_assist_ratio: scan bytes owed per byte allocated;
 * pacer_work_done: scan work so far this mark (heap, stacks, globals);
 * pacer_take_credit: up to `want` bytes of banked credit, taken;
 * pacer_bank_credit: a worker's scan work, for assists to take. */
void pacer_init(struct gch_heap *h);
int pacer_workers(const struct gch_heap *h);
uint64_t pacer_trigger(struct gch_heap *h, uint64_t marked, uint64_t goal);
void pacer_start_cycle(struct gch_heap *h, uint64_t live, uint64_t goal, struct pacer_line *line);
void pacer_end_cycle(struct gch_heap *h, uint64_t live, int64_t mark_ns, int64_t assist_ns, int64_t idle_ns,
                     struct pacer_line *line);
void pacer_line_emit(struct gch_heap *h, const struct pacer_line *line);
void pacer_revise(struct gch_heap *h);
double pacer_assist_ratio(const struct gch_heap *h);
uint64_t pacer_work_done(const struct gch_heap *h);
int64_t pacer_take_credit(struct gch_heap *h, int64_t want);
void pacer_bank_credit(struct gch_heap *h, int64_t work);
/* gchi_heap_alloc_bytes: bytes in allocated objects (Go's HeapAlloc)
 * from the flushed counters; any thread (gc/mgcpacer.c). */
uint64_t gchi_heap_alloc_bytes(struct gch_heap *h);
/* gc_heap_live: the live-heap estimate the trigger compares (Go's
 * heapLive): marked by the last cycle plus handed to caches since. */
uint64_t gc_heap_live(struct gch_heap *h);
/* gc_trace_emit: one trace line to the embedder's sink, or to stderr in
 * one write. */
void gc_trace_emit(struct gch_heap *h, const char *line, size_t n);
/* gc_heap_goal: GOGC goal for a live heap of `marked` bytes plus roots;
 * UINT64_MAX when GOGC is off, else at most GC_HEAP_GOAL_MAX (a huge
 * GOGC from a setter saturates there instead of wrapping). */
#define GC_HEAP_GOAL_MAX ((uint64_t)INT64_MAX)
uint64_t gc_heap_goal(int gc_percent, uint64_t marked, uint64_t roots);
/* pacer_goal: the heap goal (Go's heapGoalInternal): the GOGC goal
 * capped by the memory-limit goal, which keeps the memory the heap holds
 * (Ready heap pages and metadata) under GOMEMLIMIT; *limited (may be
 * NULL) tells whether the limit decided.  With GOGC=off and no limit it
 * is the limit goal for INT64_MAX, as in Go.  Any thread. */
uint64_t pacer_goal(struct gch_heap *h, uint64_t marked, uint64_t roots, bool *limited);
/* pacer_commit: recompute goal and trigger from the last cycle's results
 * and the current settings, and the sweep's pace to the new trigger
 * (and, while marking, the mark's goal and the assist ratio, waking the
 * assists waiting at the old goal).  stw.lock held, world running or
 * stopped by the caller. */
void pacer_commit(struct gch_heap *h);
/* pacer_gc_percent / pacer_memory_limit: the current settings. */
int pacer_gc_percent(const struct gch_heap *h);
int64_t pacer_memory_limit(const struct gch_heap *h);
int64_t gc_nanotime(void);
/* gc_maybe_trigger: start a cycle if the live-heap estimate reached the
 * trigger; returns the ns the caller spent starting it (0 when it did
 * not: the clock is read only once the trigger is reached).  Called from
 * allocation slow paths holding no lock. */
int64_t gc_maybe_trigger(struct gch_heap *h);
/* gc_collect_at_limit: an allocation of self's found the heap unable to
 * grow: run a whole cycle and the sweep (waiting out one in progress
 * first), as gch_collect does, and return true so the caller tries
 * again; false, doing nothing, with GOGC=off.  Called from allocation
 * slow paths holding no lock. */
bool gc_collect_at_limit(struct gch_heap *h, struct gch_thread *self);
/* gc_start_periodic: sysmon's periodic cycle (Go's time trigger): start
 * one unless a cycle runs or one ended less than period_ns ago; with
 * gctrace, "GC forced" is printed first.  The cycle is not user-forced.
 * Returns whether it started one.  Holding no lock; not attached. */
bool gc_start_periodic(struct gch_heap *h, int64_t period_ns);
/* gc_wait_idle: wait until no cycle runs.  self is the caller's record
 * when it is attached and running (it waits in a blocking section), else
 * NULL.  Holding no lock. */
void gc_wait_idle(struct gch_heap *h, struct gch_thread *self);
/* The background scavenger (gc/mgcscavenge.c):
 * gc_scav_pace: recompute its goals for the new heap goal (Go's
 *   gcPaceScavenger); stw.lock held;
 * gc_bgscavenge: one burst on sysmon: release 64 KiB at a time for about
 *   1 ms while memory is over a goal; returns when the next burst is due
 *   (monotonic ns) so that it works 1% of one CPU, INT64_MAX when there
 *   is nothing to do until the goals change; when it released anything,
 *   *paced gets the earliest time the next burst may start at 1%, which
 *   a kick (new goals) must not bring forward;
 * gc_scavtrace_cycle: the per-cycle scavtrace line, once per sweep
 *   generation, when sweeping is done (the background sweeper);
 * gc_released_total: bytes released to the OS by every kind, ever. */
void gc_scav_pace(struct gch_heap *h, uint64_t goal);
int64_t gc_bgscavenge(struct gch_heap *h, int64_t *paced);
void gc_scavtrace_cycle(struct gch_heap *h);
uint64_t gc_released_total(struct gch_heap *h);
/* gc_scavtrace_forced: the scavtrace line of gch_free_os_memory, which
 * released `released` bytes (gc/mgcscavenge.c).  World running. */
void gc_scavtrace_forced(struct gch_heap *h, uint64_t released);
/* gc_check_not_in_cycle: fatal if the calling thread is the one running
 * a cycle: it can get here only from a scan or trace callback. */
void gc_check_not_in_cycle(struct gch_heap *h, const char *what);

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
/* gc_start_forced: start a user-forced cycle and return without waiting
 * for it (false if one runs): with concurrent marking, once the mark
 * began and the world restarted.  For tests/testhooks.c. */
bool gc_start_forced(struct gch_heap *h);

#endif
