/*
 * heap.h - struct gch_heap: the per-heap root of all state (DESIGN.md
 * decision 1: no globals), with the registry of its threads (struct
 * gch_thread: gc/thread.h), and heap.c's internal entry points.  Of gc/
 * it includes only types headers (ARCHITECTURE.md "Headers") and
 * debugvars.h, whose module includes nothing of gc/; so a file that
 * includes it gets every struct but no collector function.
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

/* gchi_heap_new_with_ops: gch_heap_new over replacement OS operations
 * (fault-injection tests). */
gch_heap *gchi_heap_new_with_ops(const gch_config *cfg, const struct sys_ops *ops);
/* gchi_heap_self: the calling OS thread's attached record on h, or NULL. */
struct gch_thread *gchi_heap_self(gch_heap *h);
/* gchi_heap_alloc_bytes: bytes in allocated objects (Go's HeapAlloc)
 * from the flushed counters; any thread. */
uint64_t gchi_heap_alloc_bytes(gch_heap *h);
/* gchi_heap_verify: 0 when every checked invariant holds, else a small
 * positive number naming the part that failed (1 = pages, spans and
 * span lists; 2 = thread records and their grey queues and barrier
 * buffers; 3 = the workbuf pool), with gch_last_error_message() naming
 * the invariant, the expression, where, and the values (GCH_CHECK).
 * While no cycle runs it also checks that no grey work is left (G8, B2).
 * No thread may allocate concurrently. */
int gchi_heap_verify(gch_heap *h);

#endif
