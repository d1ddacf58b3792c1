/*
 * mfinal.h - finalizers, cleanups, weak handles and ephemerons: the
 * collector's side of the specials of alloc/mspecial.h.
 * Go counterpart: runtime/mfinal.go (SetFinalizer, the finalizer queue
 * and goroutine), mcleanup.go (AddCleanup), mheap.go (weak handles,
 * specialfinalizer / specialCleanup / specialWeakHandle), mgcmark.go
 * (markrootSpans).  Ephemerons have no Go counterpart; the idea (values
 * traced only once their key is marked, iterated to a fixpoint, the rest
 * cleared at the end of the mark) is the one whippet uses.
 *
 * Overview:
 *   - A finalizer or cleanup is a special record (struct special_fin) on
 *     the object's span.  The mark treats the records as roots (Go's
 *     markrootSpans): a finalizer's arg and everything its object
 *     references are marked, not the object; a cleanup's arg is marked.
 *     gc_final_scan_roots does this inside the global-roots job.
 *   - The sweep finds an unmarked object with a finalizer, revives it
 *     (SP5: its mark bit is set, so it and what it references, marked by
 *     the mark above, survive) and moves the record to the finalizer
 *     queue; a freed object's cleanups go there too.  Queued and running
 *     records are roots (their object and arg) until the function
 *     returns; then the record is freed and the object dies at the next
 *     cycle that finds it unreachable.
 *   - The queue is run by a heap-owned attached thread (started at the
 *     first gch_set_finalizer / gch_add_cleanup) or, with
 *     gch_config.manual_finalizers, by gch_run_finalizers.
 *   - A weak handle is an 8-byte noscan heap object holding its target's
 *     address; the target's WEAK record names it (so one object has one
 *     handle) and the mark keeps it alive while the record exists.  At
 *     mark termination, world stopped, every handle whose target is
 *     unmarked is cleared and its record freed (FW2); a get during the
 *     mark shades the target (FW1).
 *   - An ephemeron is a 16-byte noscan heap object {key, value} listed in
 *     the heap's ephemeron table.  Mark termination, world stopped, shades
 *     the value of every marked ephemeron whose key is marked, and marks
 *     again, until a pass shades nothing (EP1); then it clears every
 *     ephemeron whose key is unmarked, and every unmarked one (a
 *     finalizer may revive it at the sweep), dropping both from the
 *     table (EP2).
 *
 * Invariants:
 *   FQ1 a finalizer or cleanup record is on its object's span list, on
 *       the queue, or running (on `running`), or being freed; the objects
 *       and args of the last two are marked by every mark (roots);
 *   FQ2 while marking, every record added or changed has its arg (and a
 *       finalizer its object) shaded by the adding thread before the call
 *       returns, so the single root job per mark misses nothing;
 *   FW1 a weak or ephemeron get while the phase is MARK shades what it
 *       returns (and an ephemeron's other half) before returning;
 *   FW2 at mark termination, after the last drain, world stopped: a
 *       handle is cleared iff its target is unmarked; so every thread sees
 *       a target either until it is freed or never again;
 *   EP1 after the last drain, no marked ephemeron with a marked key has
 *       an unmarked value (the termination loops pass + drain);
 *   EP2 the table lists every ephemeron object not yet found unreachable
 *       or cleared; one found unreachable is cleared too (both fields 0,
 *       world stopped) before it is dropped from the table.
 * Locking: fin.lock (rank FINQ) guards the queue, `running` and the
 *   thread's state; eph.lock (rank EPHEMERONS) the table.  Both leaves
 *   but for shading (WORKBUFS, PERSISTENT) and, for FINQ, pthread cond
 *   waits.  Functions run with no heap lock held, and so do the
 *   embedder's trace/decode callbacks of the specials' roots walk (it
 *   copies finalizable objects out under the stripe lock, then scans).
 */
#ifndef GCHEAP_GC_MFINAL_H
#define GCHEAP_GC_MFINAL_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include "mspecial.h"
#include "finstate.h"

struct gch_heap;
struct gch_thread;
struct gcmarker;

/* The functions of weak handles and ephemerons (gc/mweak.c) are in
 * gc/mweak.h. */

/* gc_final_init: the queue, the ephemeron table, and the kinds' hooks
 * (heap creation, before any thread).  gc_final_stop: stop and join the
 * finalizer thread (heap teardown); gc_final_destroy: release. */
void gc_final_init(struct gch_heap *h, bool manual);
void gc_final_stop(struct gch_heap *h);
void gc_final_destroy(struct gch_heap *h);
/* gc_final_nthreads: attached threads the heap owns (0 or 1). */
size_t gc_final_nthreads(struct gch_heap *h);
/* gc_final_scan_roots: FQ1 and the specials' roots: finalizer args and
 * the referents of their objects, cleanup args, weak handles, queued and
 * running records.  Part of the global-roots job (any marker; spans
 * pinned or the world stopped).  Returns bytes of roots reported. */
uint64_t gc_final_scan_roots(struct gcmarker *m);

#endif
