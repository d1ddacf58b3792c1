/*
 * lock.h - the heap's mutex, with a rank for order checking.
 * Bottom layer.  Ranks: alloc/lockrank.h (generated from
 * scripts/lockrank.txt); the order is also in ARCHITECTURE.md.
 *
 * With GCH_DEBUG >= 2 every acquisition checks that the thread holds no
 * lock of an equal or higher rank (so the order can never deadlock), and
 * lock_assert_held() checks ownership.  Otherwise a lock is a bare
 * pthread mutex.
 */
#ifndef GCHEAP_ALLOC_LOCK_H
#define GCHEAP_ALLOC_LOCK_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "check.h"
#include "lockrank.h"

struct lock {
    pthread_mutex_t mu;
    enum lockrank rank;  /* [immutable] */
#if GCH_DEBUG >= 2
    pthread_t owner;     /* [this lock] valid while held */
    int held;            /* [this lock] */
#endif
};

void lock_init(struct lock *l, enum lockrank rank);
/* lock_init_spinning: lock_init for a lock taken very often and held
 * briefly by threads that run at once (the heap lock: a span per refill):
 * a contended acquire spins a while before sleeping (glibc's adaptive
 * mutex), so a holder that lets go within microseconds costs no futex
 * sleep and wake-up.  Plain lock_init where the C library has none. */
void lock_init_spinning(struct lock *l, enum lockrank rank);
void lock_destroy(struct lock *l);
void lock_acquire(struct lock *l);
void lock_release(struct lock *l);
/* lock_tryacquire: take l if no thread holds it (true), else return false
 * at once.  Rank-checked as lock_acquire. */
bool lock_tryacquire(struct lock *l);
/* lock_wait: wait on cond, releasing l meanwhile (pthread_cond_wait);
 * l counts as held throughout for rank checking. */
void lock_wait(struct lock *l, pthread_cond_t *cond);
/* lock_cond_init_monotonic: a condition variable whose timed waits run on
 * the monotonic clock (for lock_timedwait). */
void lock_cond_init_monotonic(pthread_cond_t *cond);
/* lock_timedwait: lock_wait until deadline_ns at the latest, on cond's
 * clock: the monotonic clock (sys_nanotime) for a cond from
 * lock_cond_init_monotonic, else CLOCK_REALTIME; false on timeout. */
bool lock_timedwait(struct lock *l, pthread_cond_t *cond, int64_t deadline_ns);

#if GCH_DEBUG >= 2
void lock_assert_held(const struct lock *l);
#else
#define lock_assert_held(l) ((void)(l))
#endif

#endif /* GCHEAP_ALLOC_LOCK_H */
