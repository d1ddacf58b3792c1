/*
 * mgcsweep.h - sweep policy's functions (gc/mgcsweep.c): when and by whom
 * spans are swept.  The mechanism, sweeping one span, is alloc/msweep.h;
 * the sweeper's state is gcstate.sweep (gc/gcstate.h).  Go counterpart:
 * runtime/mgcsweep.go.
 */
#ifndef GCHEAP_GC_MGCSWEEP_H
#define GCHEAP_GC_MGCSWEEP_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stdint.h>

struct gch_heap;
struct gch_thread;

/* Sweeping (gc/mgcsweep.c; the mechanism is alloc/msweep.h):
 * gc_sweep_termination: sweep what the last generation left (world
 *   stopped, before marking: X1);
 * gc_sweep_flip: start the next generation (world stopped, after marking);
 * gc_sweep_pace: spread its sweeping over the allocation from heap_live
 *   up to next_goal (world stopped, after the flip);
 * gc_sweep_wake: let the background sweeper run (world running);
 * gc_sweep_wait: sweep until the generation is done, polling safepoints
 *   when self is not NULL (gch_collect); with may_stop (an allocation at
 *   the heap limit), false as soon as the spare gcBits arena cannot be
 *   had (alloc/mspan.h GB1), with spans left and nothing waited for;
 * gc_sweep_init / gc_sweep_destroy: the sweeper thread's lifetime. */
void gc_sweep_termination(struct gch_heap *h);
void gc_sweep_flip(struct gch_heap *h);
void gc_sweep_pace(struct gch_heap *h, uint64_t heap_live, uint64_t next_goal);
void gc_sweep_wake(struct gch_heap *h);
bool gc_sweep_wait(struct gch_heap *h, struct gch_thread *self, bool may_stop);
void gc_sweep_init(struct gch_heap *h);
void gc_sweep_destroy(struct gch_heap *h);

#endif
