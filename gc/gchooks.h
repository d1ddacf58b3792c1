/*
 * gchooks.h - the collector functions the allocator may call: the one
 * upward edge from alloc/ to gc/ (STYLE.md layout rule, checked by
 * scripts/check_style.py).  Implemented in gc/.
 */
#ifndef GCHEAP_GC_GCHOOKS_H
#define GCHEAP_GC_GCHOOKS_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

struct mcache;

/* gchi_hook_alloc_slow: the allocator entered a slow path (span refill or
 * large object) for cache c, holding no lock: a safepoint. */
void gchi_hook_alloc_slow(struct mcache *c);

#endif
