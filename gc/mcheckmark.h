/*
 * mcheckmark.h - GODEBUG=gccheckmark=1's functions (gc/mcheckmark.c): re-mark
 * with the world stopped and report what the concurrent mark lost.  The
 * pass drives an ordinary marker (gc/mgcmark.h) with its own shade step
 * (gcmarker.checkmark_shade).  Go counterpart: runtime/mcheckmark.go.
 */
#ifndef GCHEAP_GC_MCHECKMARK_H
#define GCHEAP_GC_MCHECKMARK_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

struct gch_heap;

/* gc_checkmark: with the world stopped at mark termination, mark again
 *   from every root into a separate bitmap; fatal, naming the object and
 *   a path to it from a root, if a reachable object is not marked;
 * gc_checkmark_release: free the bitmaps (heap teardown). */
void gc_checkmark(struct gch_heap *h);
void gc_checkmark_release(struct gch_heap *h);

#endif
