/*
 * mgcscavenge.h - scavenger policy's functions (gc/mgcscavenge.c): the
 * background scavenger's goals and bursts, scavtrace.  The mechanism,
 * releasing pages, is alloc/mscavenge.c.  Go counterpart:
 * runtime/mgcscavenge.go.
 */
#ifndef GCHEAP_GC_MGCSCAVENGE_H
#define GCHEAP_GC_MGCSCAVENGE_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdint.h>

struct gch_heap;

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

#endif
