/*
 * mgclimit.h - the GC CPU limiter's functions (gc/mgclimit.c, LM1-LM2;
 * its state, struct gclimiter, is in gc/gcstate.h).  A leaf: the limiter
 * calls nothing of the collector, so its file includes this header and
 * heap.h only, and its callers include it.
 */
#ifndef GCHEAP_GC_MGCLIMIT_H
#define GCHEAP_GC_MGCLIMIT_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stdint.h>

struct gch_heap;

/* gc_limiter_init / gc_limiter_destroy: heap creation and teardown;
 * gc_limiter_charge: add mutator time lost to the collector that the
 *   threads' own counters do not show;
 * gc_limiter_on: whether assists, heap-triggered cycle starts and
 *   release on allocation over the limit are off now; updates the bucket
 *   at most once per ms;
 * gc_limiter_update: update now, return whether it is on. */
void gc_limiter_init(struct gch_heap *h);
void gc_limiter_destroy(struct gch_heap *h);
void gc_limiter_charge(struct gch_heap *h, int64_t lost_ns);
bool gc_limiter_on(struct gch_heap *h);
bool gc_limiter_update(struct gch_heap *h);

#endif
