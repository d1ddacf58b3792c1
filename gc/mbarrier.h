/*
 * mbarrier.h - the write barrier's out-of-line half (gc/mbarrier.c):
 * draining a thread's barrier buffer.  The barrier's fast path is
 * gch_write (include/gcheap/barrier.h); B1-B2 are stated in gc/mbarrier.c.
 * Go counterpart: runtime/mwbbuf.go.
 */
#ifndef GCHEAP_GC_MBARRIER_H
#define GCHEAP_GC_MBARRIER_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

struct gch_thread;
struct gcmarker;

/* gc_wbuf_flush: shade t's barrier buffer into m (t is the caller, or is
 *   stopped or blocking);
 * gc_thread_flush: t's buffer into t's own marker, published. */
void gc_wbuf_flush(struct gch_thread *t, struct gcmarker *m);
void gc_thread_flush(struct gch_thread *t);

#endif
