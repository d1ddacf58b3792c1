/*
 * finstate.h - the records and per-heap state of finalizers, cleanups,
 * weak handles and ephemerons: struct special_fin, special_weak,
 * finstate (the queue and its thread), ephtable.  Types only: the
 * functions, the overview and invariants FQ1-FQ2, FW1-FW2, EP1-EP2 are
 * gc/mfinal.h's.  Go counterpart: runtime/mfinal.go (finq, fing).
 */
#ifndef GCHEAP_GC_FINSTATE_H
#define GCHEAP_GC_FINSTATE_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "atomic.h"
#include "lock.h"
#include "mspecial.h"

struct gch_thread;

/* special_fin: a finalizer's or cleanup's record. */
struct special_fin {
    struct special sp;
    void (*fn)(void);      /* [stripe lock while listed; then the queue's] gch_finalizer_fn
                            * or gch_cleanup_fn by sp.kind */
    void *arg;             /* [as fn] */
    uintptr_t obj;         /* [set when queued] the object (finalizer), 0 (cleanup) */
};

/* special_weak: a weak handle's record. */
struct special_weak {
    struct special sp;
    uintptr_t handle;      /* [immutable once linked] the handle object */
};

struct finstate {
    struct lock lock;              /* rank FINQ */
    pthread_cond_t cond;           /* work queued, or quit */
    struct special *head, *tail;   /* [lock] queued records, FIFO, linked by sp.next */
    struct special *running;       /* [lock] records whose function runs now */
    bool manual;                   /* [immutable] gch_config.manual_finalizers */
    bool started;                  /* [lock] the finalizer thread was started */
    bool quit;                     /* [lock] heap teardown */
    struct gch_thread *fthread;    /* [lock] the finalizer thread's record, once attached */
    pthread_t thread;              /* [lock] valid when started */
    struct atomic_u64 nqueued;     /* [atomic] records queued, ever (tests, stats) */
    struct atomic_u64 nrun;        /* [atomic] functions run, ever */
    struct atomic_u64 nweak;       /* [atomic] weak records linked now */
};

struct ephtable {
    struct lock lock;              /* rank EPHEMERONS */
    uintptr_t *v;                  /* [lock] ephemeron objects (EP2) */
    size_t n, cap;                 /* [lock] */
    struct atomic_u64 count;       /* [written under lock, read atomic] n, for the fast test */
};

#endif
