/*
 * gcworkers.h - struct gcworkers: the heap's background mark workers
 * (their threads and the counts mark termination relies on).  Types
 * only; the code and invariants MW1-MW4 are gc/mgcworker.c's.  Go
 * counterpart: runtime/mgc.go (gcBgMarkWorker's pool, work.nwait).
 */
#ifndef GCHEAP_GC_GCWORKERS_H
#define GCHEAP_GC_GCWORKERS_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include <stdbool.h>
#include "atomic.h"

/* Background mark workers a heap may run at most. */
#define GC_MAX_WORKERS 64

/* struct gcworkers: in struct gcstate, under stw.lock unless marked
 * otherwise. */
struct gcworkers {
    bool terminating;               /* [stw.lock] a worker runs mark termination (MW2) */
    int nworkers, nidle;            /* [stw.lock] MW1 */
    int nnumbered;                  /* [stw.lock] workers that took their number */
    struct atomic_u32 test_no_workers; /* [atomic] tests: worker threads cannot start */
    struct atomic_u32 test_work_in_term; /* [atomic] tests: workers that began mark work
                                     * while a termination was in progress (MW4) */
    struct atomic_uptr test_idle_hook; /* [atomic acq/rel] called by an idle worker before
                                     * each nap, holding no lock */
    bool workers_quit;              /* [stw.lock] */
    pthread_t threads[GC_MAX_WORKERS]; /* [stw.lock] the last is fractional if the
                                     * pacer wants one */
};

#endif
