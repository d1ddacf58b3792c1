/*
 * roots.h - the registered roots of a heap and the visitor that reports
 * references to the collector.  Go counterpart: the root jobs of
 * runtime/mgcmark.go (markroot: data/BSS, stacks, finalizers) — here the
 * embedder registers what Go finds in its binary and goroutine stacks.
 * DESIGN.md decision 3.
 *
 * Three kinds of roots:
 *   global ranges    (slots outside the heap)       struct roots.ranges
 *   heap scanners    (callbacks for embedder tables) struct roots.scanners
 *   thread roots     (handle frames + per-thread scanners, in gch_thread)
 *
 * Invariants:
 *   R1 registered ranges never overlap;
 *   R2 a root is scanned by roots_scan_* only while the roots lock is
 *      held, so removal never races a scan of the same root;
 *   R3 every global root edit is counted in gc.nshading from
 *      gc_shade_begin to gc_shade_end; none begins while the world is
 *      stopped, and a stop that changes the phase or ends the mark waits
 *      for the count to reach 0 (gc_wait_root_edits), so the phase an edit
 *      saw at its start holds until it ends.  One made while marking has
 *      its references shaded before the call returns, so the mark never
 *      ends with that shading unpublished.  Not from scan callbacks.
 * Locking: roots.lock (rank ROOTS) guards the global tables.  Thread
 * roots belong to their thread (W3 in stw.h decides when others read).
 */
#ifndef GCHEAP_GC_ROOTS_H
#define GCHEAP_GC_ROOTS_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gcheap.h"
#include "lock.h"
#include "roottable.h"

struct gch_heap;
struct gch_visitor;     /* gc/gcmarker.h */
struct gcmarker;        /* gc/gcmarker.h */
struct thread_scanners; /* gc/thread.h */

void roots_init(struct root_table *r);
void roots_destroy(struct root_table *r);
void thread_scanners_free(struct thread_scanners *s);
/* Scanning the roots, and marking from them, is gc/markroot.h's. */

/* Root edits while marking (R3):
 * gc_shade_begin / gc_shade_end: bracket every root edit (a global range
 *   or heap scanner added or removed) from any thread, attached or not:
 *   begin waits out a stopped world, counts the caller in nshading until
 *   end and says whether to shade (a mark runs), and gives the caller's
 *   attached record on h (or NULL) in *self; called holding no lock;
 * gc_wait_root_edits: world stopped: wait until nshading is 0.  A stop
 *   that changes the phase or ends the mark calls it first, so an edit's
 *   answer from begin holds for the whole edit. */
bool gc_shade_begin(struct gch_heap *h, struct gch_thread **self);
void gc_shade_end(struct gch_heap *h);
void gc_wait_root_edits(struct gch_heap *h);

#endif
