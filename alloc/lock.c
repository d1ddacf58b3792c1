/*
 * lock.c - mutexes with debug rank checking (see lock.h).
 *
 * Invariant L1 (GCH_DEBUG >= 2): the ranks a thread holds, in acquisition
 * order, strictly increase.  The held ranks live in a small thread-local
 * stack; like the error slot it is per OS thread, not heap state.
 */
#define GCHI_BUILDING 1
#include "lock.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#if GCH_DEBUG >= 2
#define MAX_HELD 16
struct held_locks {
    int n;
    const struct lock *stack[MAX_HELD];
};
static _Thread_local struct held_locks tls_held;

/* check_order: fatal if taking l would break L1. */
static void check_order(const struct lock *l)
{
    if (tls_held.n == 0)
        return;
    const struct lock *top = tls_held.stack[tls_held.n - 1];
    if (top->rank >= l->rank)
        gch_fatalf("lock order violation: acquiring %s (rank %d) while holding %s (rank %d)",
                   gchi_lockrank_names[l->rank], (int)l->rank,
                   gchi_lockrank_names[top->rank], (int)top->rank);
    if (tls_held.n == MAX_HELD)
        gch_fatal("too many locks held", (uintptr_t)l, 0, 0);
}

static void push_held(const struct lock *l) { tls_held.stack[tls_held.n++] = l; }

/* pop_held: remove l from the held stack; locks may be released out of
 * order, so search from the top. */
static void pop_held(const struct lock *l)
{
    for (int i = tls_held.n - 1; i >= 0; i--) {
        if (tls_held.stack[i] == l) {
            memmove(&tls_held.stack[i], &tls_held.stack[i + 1],
                    (size_t)(tls_held.n - i - 1) * sizeof l);
            tls_held.n--;
            return;
        }
    }
    gch_fatal("releasing a lock this thread does not hold", (uintptr_t)l, 0, 0);
}

void lock_assert_held(const struct lock *l)
{
    for (int i = 0; i < tls_held.n; i++)
        if (tls_held.stack[i] == l)
            return;
    gch_fatalf("lock %s must be held here", gchi_lockrank_names[l->rank]);
}
#endif

void lock_init(struct lock *l, enum lockrank rank)
{
    memset(l, 0, sizeof *l);
    l->rank = rank;
    if (pthread_mutex_init(&l->mu, NULL) != 0)
        gch_fatal("pthread_mutex_init failed", (uintptr_t)l, 0, 0);
}

void lock_init_spinning(struct lock *l, enum lockrank rank)
{
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    memset(l, 0, sizeof *l);
    l->rank = rank;
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a) != 0 || pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP) != 0 ||
        pthread_mutex_init(&l->mu, &a) != 0)
        gch_fatal("pthread_mutex_init (adaptive) failed", (uintptr_t)l, 0, 0);
    pthread_mutexattr_destroy(&a);
#else
    lock_init(l, rank);
#endif
}

void lock_destroy(struct lock *l) { pthread_mutex_destroy(&l->mu); }

void lock_acquire(struct lock *l)
{
#if GCH_DEBUG >= 2
    check_order(l);
#endif
    if (pthread_mutex_lock(&l->mu) != 0)
        gch_fatal("pthread_mutex_lock failed", (uintptr_t)l, 0, 0);
#if GCH_DEBUG >= 2
    push_held(l);
    l->owner = pthread_self();
    l->held = 1;
#endif
}

bool lock_tryacquire(struct lock *l)
{
#if GCH_DEBUG >= 2
    check_order(l);
#endif
    int e = pthread_mutex_trylock(&l->mu);
    if (e == EBUSY)
        return false;
    if (e != 0)
        gch_fatal("pthread_mutex_trylock failed", (uintptr_t)l, (uintptr_t)e, 0);
#if GCH_DEBUG >= 2
    push_held(l);
    l->owner = pthread_self();
    l->held = 1;
#endif
    return true;
}

void lock_wait(struct lock *l, pthread_cond_t *cond)
{
#if GCH_DEBUG >= 2
    l->held = 0;
#endif
    if (pthread_cond_wait(cond, &l->mu) != 0)
        gch_fatal("pthread_cond_wait failed", (uintptr_t)l, 0, 0);
#if GCH_DEBUG >= 2
    l->owner = pthread_self();
    l->held = 1;
#endif
}

void lock_cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) != 0 || pthread_condattr_setclock(&a, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(cond, &a) != 0)
        gch_fatal("pthread_cond_init (monotonic) failed", (uintptr_t)cond, 0, 0);
    pthread_condattr_destroy(&a);
}

bool lock_timedwait(struct lock *l, pthread_cond_t *cond, int64_t deadline_ns)
{
    struct timespec ts = {(time_t)(deadline_ns / 1000000000), (long)(deadline_ns % 1000000000)};
#if GCH_DEBUG >= 2
    l->held = 0;
#endif
    int e = pthread_cond_timedwait(cond, &l->mu, &ts);
    if (e != 0 && e != ETIMEDOUT)
        gch_fatal("pthread_cond_timedwait failed", (uintptr_t)l, (uintptr_t)e, 0);
#if GCH_DEBUG >= 2
    l->owner = pthread_self();
    l->held = 1;
#endif
    return e == 0;
}

void lock_release(struct lock *l)
{
#if GCH_DEBUG >= 2
    pop_held(l);
    l->held = 0;
#endif
    pthread_mutex_unlock(&l->mu);
}
