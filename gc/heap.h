/*
 * heap.h - struct gch_heap: the per-heap root of all state (DESIGN.md
 * decision 1: no globals), with the registry of its threads (struct
 * gch_thread: gc/thread.h).  Types only: the heap is built and torn down
 * by gc/proc.c.  Of gc/ it includes only types headers (ARCHITECTURE.md
 * "Headers") and debugvars.h, whose module includes nothing of gc/; so a
 * file that includes it gets every struct but no collector function.
 * Overview: alloc/malloc.c (allocator) and gc/mgc.c (collector).
 *
 * Invariants:
 *   T1 a gch_thread is on exactly one of h->attached and h->detached;
 *      mcache.attached == 1 iff it is on h->attached;
 *   T2 at most one attached gch_thread per (heap, OS thread);
 *   T3 a record on h->detached satisfies K3 (all caches empty), so a stale
 *      handle reaches the slow path and gets GCH_EDETACHED.
 * Locking: threads_lock (rank THREADS) guards both lists and threadalloc.
 */
#ifndef GCHEAP_GC_HEAP_H
#define GCHEAP_GC_HEAP_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include "gcheap.h"
#include "malloc.h"
#include "thread.h"
#include "stwstate.h"
#include "roottable.h"
#include "debugvars.h"
#include "gcstate.h"
#include "sysmonstate.h"
#include "finstate.h"

struct gch_heap {
    struct mheap mheap;          /* the allocator */
    struct stw stw;              /* stop-the-world state */
    struct root_table roots;     /* global roots and heap-wide scanners */
    struct gcenv env;            /* [immutable after gch_heap_new] GOGC, GODEBUG, ... */
    void *(*decode)(uintptr_t);  /* [immutable] tagged-word decoder, or NULL */
    void (*trace)(const char *, void *); /* [immutable] trace sink, NULL = stderr */
    void *trace_ctx;             /* [immutable] */
    struct gcstate gc;           /* the collector (gc/mgc.h) */
    struct sysmon sysmon;        /* the monitor thread (gc/sysmon.h) */
    struct lock threads_lock;
    struct fixalloc threadalloc; /* [threads_lock] gch_thread records */
    struct gch_thread *attached; /* [threads_lock] T1 */
    struct gch_thread *detached; /* [threads_lock] T1, T3: reused by attach */
    size_t nattached;            /* [threads_lock] */
    char env_prefix[32];         /* [immutable] */
    struct finstate fin;         /* finalizer queue and thread, weak count (gc/mfinal.h) */
    struct ephtable eph;         /* ephemeron objects (gc/mfinal.h) */
};

#endif
