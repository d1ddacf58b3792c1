/*
 * mgcworker.h - concurrent marking's functions (gc/mgcworker.c): the
 * background mark workers and assists.  Their state is gc/gcworkers.h;
 * termination's conditions MW1-MW3 are stated in gc/mgcworker.c.  The
 * workers end the mark through gc_mark_termination (gc/mgc.h), and the
 * driver starts them: the one deliberate pair of gc/'s include graph
 * (ARCHITECTURE.md, "Layers").  Go counterpart: runtime/mgc.go
 * (gcBgMarkWorker), mgcmark.go (gcAssistAlloc).
 */
#ifndef GCHEAP_GC_MGCWORKER_H
#define GCHEAP_GC_MGCWORKER_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stddef.h>

struct gch_heap;
struct gch_thread;

/* gc_workers_start: start the mark workers if none runs (stw.lock held);
 *   false if not one could be started;
 * gc_idle_cpu: GOMAXPROCS leaves a CPU that no running attached thread
 *   (one in a blocking section, a parked assist too, claims none) and no
 *   worker claims: the fractional worker may mark past its share
 *   (holding no lock);
 * gc_workers_stop: stop and join them (heap teardown);
 * gc_assist: allocation of `bytes` while marking pays scan work. */
bool gc_workers_start(struct gch_heap *h);
bool gc_idle_cpu(struct gch_heap *h);
void gc_workers_stop(struct gch_heap *h);
void gc_assist(struct gch_thread *t, size_t bytes);

#endif
