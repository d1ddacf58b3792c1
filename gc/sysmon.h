/*
 * sysmon.h - the heap's monitor thread: the periodic (forced) GC and the
 * idle-span scavenger.  Go counterpart: runtime/proc.go sysmon and
 * forcegchelper, and the Go <= 1.12 sysmon scavenger (mheap.scavenge).
 * Implementation and sleep policy: gc/sysmon.c.  Overview: gc/mgc.c.
 *
 * Invariants:
 *   SM1 the thread exists from gch_heap_new (when the OS gives one) until
 *       gch_heap_free joins it; it is not an attached thread and touches
 *       the heap only through the collector's entry points (a cycle
 *       start) and mheap_scavenge;
 *   SM2 it never polls: every sleep is a timed wait to the next deadline
 *       of a job that is on, or an untimed one when none is, and quit or
 *       kick (set under lock, with a signal) ends any sleep at once.
 * Locking: sysmon.lock (rank SYSMON) is a leaf: held only around quit,
 *   kick and the condition wait; the thread holds nothing while it works.
 */
#ifndef GCHEAP_GC_SYSMON_H
#define GCHEAP_GC_SYSMON_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "atomic.h"
#include "lock.h"

struct gch_heap;

struct sysmon {
    struct lock lock;             /* rank SYSMON */
    pthread_cond_t cond;          /* [lock] monotonic clock: quit or kick changed */
    pthread_t thread;             /* [immutable once started] */
    bool started;                 /* [lock] the thread runs (written once, at start) */
    bool quit;                    /* [lock] gch_heap_free is joining the thread */
    bool kick;                    /* [lock] settings changed: recompute deadlines now */
    int64_t next_idle_scan;       /* [sysmon thread] monotonic ns of the next idle pass */
    struct atomic_u64 periodic_gcs; /* [atomic] periodic cycles started (tests, stats) */
    struct atomic_u64 idle_passes;  /* [atomic] idle-scavenger passes run (tests) */
    struct atomic_u64 wakeups;      /* [atomic] times the thread woke (tests: SM2) */
};

/* sysmon_start: start the thread (gch_heap_new, after the collector is
 * set up).  If the OS refuses a thread the heap works without one: no
 * periodic GC and no idle release (gch_free_os_memory still works). */
void sysmon_start(struct gch_heap *h);
/* sysmon_stop: make the thread quit and join it (gch_heap_free). */
void sysmon_stop(struct gch_heap *h);
/* sysmon_kick: wake the thread to recompute its deadlines (a setting
 * changed).  Any thread, holding no lock of rank >= SYSMON. */
void sysmon_kick(struct gch_heap *h);

#endif
