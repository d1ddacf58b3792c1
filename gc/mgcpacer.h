/*
 * mgcpacer.h - the pacer's functions (gc/mgcpacer.c): trigger, cons/mark,
 * assist ratio and credit, worker counts, the memory-limit goal.  Its
 * state is gcstate.pacer (gc/gcstate.h); the settings' getters and the
 * GOGC goal are gc/gcbase.h's.  Go counterpart: runtime/mgcpacer.go.
 */
#ifndef GCHEAP_GC_MGCPACER_H
#define GCHEAP_GC_MGCPACER_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gch_heap;

/* A gcpacertrace line: formatted with the world stopped into a buffer of
 * the stopper's, printed after it restarts the world (the sink may take
 * a lock that a stopped thread holds). */
struct pacer_line {
    char text[384];
    size_t len; /* 0: none */
};

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
void pacer_end_cycle(struct gch_heap *h, uint64_t live, int64_t mark_ns, int64_t assist_ns,
                     int64_t idle_ns, struct pacer_line *line);
void pacer_line_emit(struct gch_heap *h, const struct pacer_line *line);
void pacer_revise(struct gch_heap *h);
double pacer_assist_ratio(const struct gch_heap *h);
uint64_t pacer_work_done(const struct gch_heap *h);
int64_t pacer_take_credit(struct gch_heap *h, int64_t want);
void pacer_bank_credit(struct gch_heap *h, int64_t work);
/* gchi_heap_alloc_bytes: bytes in allocated objects (Go's HeapAlloc)
 * from the flushed counters; any thread (gc/mgcpacer.c). */
uint64_t gchi_heap_alloc_bytes(struct gch_heap *h);
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

#endif
