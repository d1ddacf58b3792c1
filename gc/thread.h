/*
 * thread.h - struct gch_thread: one attached mutator thread (Go's P:
 * DESIGN.md decision 2): its cache, run state, roots, barrier buffer and
 * marker.  Types only.  Go counterpart: runtime/runtime2.go (p).
 * Overview: alloc/malloc.c (allocator) and gc/mgc.c (collector).  The
 * registry of threads (T1-T3) is gc/heap.h's; when others may read a
 * thread's fields is stw.h's W1-W3.
 *
 * Run states (struct gch_thread.run, guarded by stw.lock):
 *   RUN_RUNNING  may touch the heap; must reach a safepoint when asked
 *   RUN_PARKED   waiting at a safepoint (or in attach/detach) for the
 *                world to restart; touches nothing
 *   RUN_BLOCKING between gch_blocking_enter and _leave; touches nothing
 * Transitions: RUNNING -> PARKED (safepoint while stopping), PARKED ->
 * RUNNING (world restarted), RUNNING <-> BLOCKING (enter / leave; leave
 * waits while the world is stopped).
 */
#ifndef GCHEAP_GC_THREAD_H
#define GCHEAP_GC_THREAD_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stddef.h>
#include <stdint.h>
#include "gcheap.h"
#include "atomic.h"
#include "malloc.h"
#include "gcmarker.h"

struct gch_heap;
struct root_scanner;

enum run_state { RUN_RUNNING = 0, RUN_PARKED = 1, RUN_BLOCKING = 2 };

/* Per-thread scanners live in gch_thread as a small growable array. */
struct thread_scanners {
    struct root_scanner *v;         /* [owner thread] */
    size_t n, cap;                  /* [owner thread] */
};

/* Entries of a thread's write-barrier buffer (two per barriered store). */
#define WBUF_ENTRIES 256

struct gch_thread {
    gchi_thread_head head;       /* read by the inline fast paths (gcheap/attrs.h) */
    struct mcache mcache;        /* [owner thread] at THREAD_MCACHE_OFFSET (malloc.h) */
    struct gch_heap *heap;       /* [immutable while attached] */
    struct gch_thread *next;     /* [threads_lock] T1 */
    enum run_state run;          /* [stw.lock] stw.h */
    struct thread_scanners scanners; /* [owner thread] above; roots.c scans them */
    /* The collector's per-thread state (gc/mbarrier.c, gc/stw.c).  The
     * owner uses it; the collector only while the owner is stopped or
     * blocking with hs_busy set (W3). */
    uint32_t hs_ops;             /* [stw.lock] handshake operations pending (HS_*) */
    bool hs_busy;                /* [stw.lock] someone is running t's handshake */
    uint32_t wbuf_n;             /* [owner] entries in wbuf */
    uintptr_t wbuf[WBUF_ENTRIES];/* [owner] old and new values of barriered stores */
    struct gcmarker marker;      /* [owner] barrier shading, assists, own root scan */
    double assist_debt;          /* [owner] scan bytes owed by allocation while marking */
    /* Wall time this thread spent on the collector's behalf (the public
     * gch_thread_read_gc_time; sweeping is in mcache.sweep_ns). */
    struct atomic_u64 stop_ns;   /* [owner writes; any reads] parked for stops, or
                                  * stopping the world to start a cycle */
    struct atomic_u64 scan_ns;   /* [owner writes; any reads] own root-scan handshakes */
    struct atomic_u64 assist_ns; /* [owner writes; any reads] mark assists */
};

#endif
