/*
 * mgcmark.h - the marker's functions (gc/mgcmark.c): shade, drain, scan an
 * object, publish.  Its state, struct gcmarker, is gc/gcmarker.h; what
 * marks from the roots is gc/markroot.h (gcmarker_scan_*).  A leaf of the
 * collector: the marker calls only the grey set (gc/mgcwork.h) and,
 * through gcmarker.checkmark_shade, the gccheckmark pass that drives it.
 * Invariants X3 (gc/mgc.h), MK1 (gc/mgcmark.c).  Go counterpart:
 * runtime/mgcmark.go (greyobject, scanobject, gcDrain).
 */
#ifndef GCHEAP_GC_MGCMARK_H
#define GCHEAP_GC_MGCMARK_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stddef.h>
#include <stdint.h>
#include "gcmarker.h"

struct gch_heap;

/* gcmarker_init: an empty marker of h. */
void gcmarker_init(struct gcmarker *m, struct gch_heap *h);
/* gcmarker_shade: grey the object holding address (or tagged word) p;
 * slot is where it was found, for error messages (may be NULL). */
void gcmarker_shade(struct gcmarker *m, uintptr_t p, const void *slot);
/* gcmarker_shade_buf: gcmarker_shade of each of the n words of v (a
 * barrier buffer: no slot to name), through a small cache of the spans
 * they fell in.  Only while spans are pinned (marking: mheap.h H5). */
void gcmarker_shade_buf(struct gcmarker *m, const uintptr_t *v, size_t n);
/* gcmarker_shade_raw: as gcmarker_shade for a raw address, never passed
 * to the embedder's decoder (finalizer args, weak targets: gc/mfinal.h). */
void gcmarker_shade_raw(struct gcmarker *m, uintptr_t p);
/* gcmarker_drain: scan grey objects until about budget bytes were
 * scanned (budget < 0: until none is left).  Returns the bytes scanned. */
int64_t gcmarker_drain(struct gcmarker *m, int64_t budget);
/* gcmarker_flush: publish the marker's queued work to the shared lists
 * and fold its marked bytes into the cycle. */
void gcmarker_flush(struct gcmarker *m);
/* A large object is scanned in parts of this many bytes (mgcmark.c). */
#define GC_OBLET_BYTES ((size_t)128 << 10)

/* gcmarker_scan_object: report every reference of the allocated object
 * at obj to m's visitor. */
void gcmarker_scan_object(struct gcmarker *m, uintptr_t obj);

#endif
