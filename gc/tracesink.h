/*
 * tracesink.h - struct tracesink: how trace lines reach the embedder's
 * sink (or stderr) one at a time and in order.  Types only; the code is
 * gc/gcbase.c's (gc_trace_emit) and gc/mgc.c's (the cycle's start and
 * end lines).  Go
 * counterpart: the print lock runtime/print.go takes around a line.
 */
#ifndef GCHEAP_GC_TRACESINK_H
#define GCHEAP_GC_TRACESINK_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include <stdint.h>
#include "atomic.h"

/* struct tracesink: the sink is called by one thread at a time (mu, a
 * leaf: held only around the sink and the fields below), and a mark's
 * gcpacertrace start line comes before the cycle's later lines even when
 * a worker ends a short mark before the starter printed. */
struct tracesink {
    pthread_mutex_t mu;
    pthread_cond_t cv;              /* start_done moved */
    struct atomic_u64 start_pending; /* [written with the world stopped] mark_gen
                                      * whose start line is owed */
    uint64_t start_done;            /* [mu] mark_gen whose start line went out */
};

#endif
