/*
 * markroot.h - marking from the roots (gc/markroot.c): walking the
 * registered roots (R2, gc/roots.h) and a thread's roots, for the marker
 * (gc/mgcmark.h) or any visitor.  Depends on no stop of the world: a
 * handshake runs it at a safepoint.  Go counterpart: markroot in
 * runtime/mgcmark.go.
 */
#ifndef GCHEAP_GC_MARKROOT_H
#define GCHEAP_GC_MARKROOT_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdint.h>
#include "gcheap.h"

struct gch_visitor;     /* gc/gcmarker.h */
struct gcmarker;        /* gc/gcmarker.h */
struct root_table;      /* gc/roottable.h */

/* roots_scan_globals: report every global slot and run every heap-wide
 * scanner into v.  Returns the bytes of global slots reported. */
uint64_t roots_scan_globals(struct root_table *r, struct gch_visitor *v);
/* roots_scan_thread: report t's handle frames and run its scanners.
 * Caller is t, or t is stopped or blocking (stw.h W1/W3).  Returns bytes. */
uint64_t roots_scan_thread(gch_thread *t, struct gch_visitor *v);
/* Marking from the roots (the marker is gc/mgcmark.h):
 * gcmarker_scan_thread / _globals: a thread's roots (caller is t, or t
 *   is stopped or blocking) or the global roots, heap scanners and the
 *   finalizers' roots (FQ1, gc/mfinal.h); return the bytes of slots
 *   reported. */
uint64_t gcmarker_scan_thread(struct gcmarker *m, gch_thread *t);
uint64_t gcmarker_scan_globals(struct gcmarker *m);

#endif
