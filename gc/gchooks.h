/*
 * gchooks.h - the collector functions the allocator may call: the one
 * upward edge from alloc/ to gc/ (STYLE.md layout rule, checked by
 * scripts/check_style.py).  Implemented in gc/mgc.c (the slow path and
 * the failed allocation) and gc/mgcstress.c (gcstress).
 */
#ifndef GCHEAP_GC_GCHOOKS_H
#define GCHEAP_GC_GCHOOKS_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stddef.h>

struct mcache;

/* gchi_hook_alloc_slow: the allocator entered a slow path (span refill or
 * large object) for cache c, about to take `bytes`, holding no lock: a
 * safepoint, a trigger point, and while marking an assist. */
void gchi_hook_alloc_slow(struct mcache *c, size_t bytes);
/* gchi_hook_alloc_failed: the heap could not grow for an allocation of
 * `bytes` by cache c, for the attempt'th time in a row (gch_last_error()
 * is GCH_ENOMEM, no lock held): collect and sweep (gc_collect_at_limit)
 * and return true if the caller should try again, false when no cycle
 * can make room (GOGC=off, live data fills the limit, or enough cycles
 * were tried). */
bool gchi_hook_alloc_failed(struct mcache *c, size_t bytes, int attempt);

/* gchi_hook_gcstress: GODEBUG=gcstress=N is on for cache c: count one
 * allocation, and every Nth run a whole collection first (gc/mgcstress.c).
 * Called at the start of every allocation call, before the owner check:
 * it returns at once for a handle the caller does not own. */
void gchi_hook_gcstress(struct mcache *c);

#endif
