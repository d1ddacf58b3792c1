/*
 * stwstate.h - struct stw, the stop-the-world state of a heap.  Types
 * only: the protocol, its functions and invariants W1-W3 are gc/stw.h's.
 * Go counterpart: runtime/proc.go (sched.stopwait, worldsema).
 */
#ifndef GCHEAP_GC_STWSTATE_H
#define GCHEAP_GC_STWSTATE_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "lock.h"

struct gch_thread;

struct stw {
    struct lock lock;             /* rank WORLD */
    pthread_cond_t changed;       /* a thread parked, blocked or detached */
    pthread_cond_t resume;        /* the world restarted */
    bool active;                  /* [lock] a stop is pending or in force */
    struct gch_thread *stopper;   /* [lock] the attached thread stopping it, or NULL */
    uint64_t nstops;              /* [lock] completed stops (tests, stats) */
};

#endif
