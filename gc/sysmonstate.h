/*
 * sysmonstate.h - struct sysmon, the monitor thread's state.  Types
 * only: its functions and invariants SM1-SM2 are gc/sysmon.h's.  Go
 * counterpart: runtime/proc.go (sysmon's locals and sched.sysmonwait).
 */
#ifndef GCHEAP_GC_SYSMONSTATE_H
#define GCHEAP_GC_SYSMONSTATE_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "atomic.h"
#include "lock.h"

struct sysmon {
    struct lock lock;             /* rank SYSMON */
    pthread_cond_t cond;          /* [lock] monotonic clock: quit or kick changed */
    pthread_t thread;             /* [immutable once started] */
    void *(*main)(void *);        /* [immutable] the thread's body (gc/sysmon.c), which the
                                   * first sysmon_kick (gc/gcbase.c) starts */
    bool started;                 /* [lock] the thread runs (set once, at the first kick) */
    bool quit;                    /* [lock] gch_heap_free is joining the thread */
    bool kick;                    /* [lock] settings changed: recompute deadlines now */
    int64_t next_idle_scan;       /* [sysmon thread] monotonic ns of the next idle pass */
    int64_t next_bg;              /* [sysmon thread] monotonic ns of the next background
                                   * scavenger burst (0: now; INT64_MAX: at the next kick) */
    int64_t bg_paced;             /* [sysmon thread] no burst before this (1% of a CPU since
                                   * the last that released), kick or not */
    struct atomic_u64 periodic_gcs; /* [atomic] periodic cycles started (tests, stats) */
    struct atomic_u64 idle_passes;  /* [atomic] idle-scavenger passes run (tests) */
    struct atomic_u64 wakeups;      /* [atomic] times the thread woke (tests: SM2) */
};

#endif
