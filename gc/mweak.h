/*
 * mweak.h - weak handles' and ephemerons' functions (gc/mweak.c): their
 * clearing at mark termination, the ephemeron fixpoint, and the checks
 * the finalizers' API uses.  Overview and invariants (FW1-FW2, EP1-EP2):
 * gc/mfinal.h; their state is gc/finstate.h.  Go counterpart:
 * runtime/mheap.go (weak handles).
 */
#ifndef GCHEAP_GC_MWEAK_H
#define GCHEAP_GC_MWEAK_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stdint.h>

struct gch_heap;
struct gch_thread;
struct gcmarker;

/* gc_ephemerons_pass: world stopped at mark termination (or the whole
 * mark stopped): shade the value of every marked ephemeron whose key is
 * marked into m; true if that marked anything. */
bool gc_ephemerons_pass(struct gch_heap *h, struct gcmarker *m);
/* gc_weak_clear: FW2 and EP2 after the last drain, world stopped. */
void gc_weak_clear(struct gch_heap *h);
/* gc_is_marked: the object holding p is marked (p in an in-use span;
 * spans pinned or world stopped). */
bool gc_is_marked(struct gch_heap *h, uintptr_t p);
/* gc_cleanup_arg_reaches: arg == obj, or (GCH_DEBUG >= 2) a walk of up
 * to 65536 allocated objects from arg reaches the object at obj (t's
 * cache is flushed first, so t's own objects count as allocated; slots
 * with a clear alloc bit are not followed).  t is attached and running
 * (no cycle can free what it walks). */
bool gc_cleanup_arg_reaches(struct gch_thread *t, void *arg, uintptr_t obj);

#endif
