/*
 * mgclimit.c - the GC CPU limiter: when the collector has been taking
 * more than half of the mutators' time for a while, assists stop (no
 * scanning, no waiting at the goal) and the release of memory on
 * allocation over GOMEMLIMIT stops, so a heap whose live data exceeds
 * the memory limit runs over the limit instead of collecting without
 * end (the "death spiral").
 * Go counterpart: runtime/mgclimit.go (gcCPULimiterState).  Overview:
 * gc/mgc.c.
 *
 * While it is on and the memory limit set the goal, heap-triggered
 * cycles do not start either.  Go keeps collecting back to back; its
 * marks take long enough that the pauses between them cost little.  Here
 * a mark over little scan work (a live heap of pointer-free data over
 * the limit) ends in well under a millisecond, so back-to-back cycles
 * would spend the mutators' time in stop-the-world pauses, which the
 * bucket is charged with (as Go charges GC transitions): deferring the
 * next start is what lets it drain.  Under a GOGC goal there is no
 * spiral (the goal grows with the live heap) and cycles go on as in Go:
 * deferring them let a low GOGC overshoot its goal several times over
 * (bench_gogc, GOGC=25, 32 MiB live: peak RSS 223 MiB deferring, 78
 * not; GOGC=100 peaks at 102).
 *
 * A leaky bucket of mutator time: each update adds, for the window since
 * the last, the mutator time lost to the collector (what
 * gch_thread_read_gc_time reports for each attached thread: stops, root
 * scans, assists and their waits at the goal, sweeping to allocate; plus
 * gc_limiter_charge) minus the time the mutators kept; it never goes
 * below 0.  Full (capacity_ns: 1 s per attached thread, Go's 1 s per P)
 * means on; it goes off once half of it has drained (Go: as soon as any
 * has).  The hysteresis makes up for what the counters show late (a
 * stop or a sweep is added when it ends) and for costs the limiter
 * cannot stop (sweeping, stops of a cycle already started): without it
 * the mutators kept only 35-45% of their time in test_death_spiral.  So
 * the collector's share of the mutators' time stays under about 50% over
 * a capacity's window.  Differences from Go: the time base is the attached
 * threads' wall time rather than GOMAXPROCS x wall minus idle, since
 * mutators here are the embedder's threads, not Ps; background workers
 * are not charged (they run on their own threads at 25%), while the
 * mutators' sweeping is (Go leaves it out).
 *
 * Invariants:
 *   LM1 0 <= bucket_ns <= capacity_ns;
 *   LM2 on is set only in an update that filled the bucket and cleared
 *       only in one that left it at most half full (under mu).
 * Locking: limiter.mu is a leaf; updates are throttled to one per
 * LIMITER_MIN_WINDOW_NS so assists rarely take it.
 */
#define GCHI_BUILDING 1
#include "heap.h"
#include "mgclimit.h"

/* The shortest window an update looks at. */
#define LIMITER_MIN_WINDOW_NS ((int64_t)1000000)
/* Bucket capacity per attached thread (Go: 1 s of CPU per P). */
#define LIMITER_CAPACITY_PER_THREAD_NS ((int64_t)1000000000)

void gc_limiter_init(struct gch_heap *h)
{
    struct gclimiter *l = &h->gc.limiter;
    if (pthread_mutex_init(&l->mu, NULL) != 0)
        gch_fatal("pthread_mutex_init failed", (uintptr_t)l, 0, 0);
    l->last_ns = sys_nanotime();
    l->bucket_ns = 0;
    l->last_lost = 0;
    l->capacity_per_thread_ns = LIMITER_CAPACITY_PER_THREAD_NS;
    atomic_u64_store_relaxed(&l->lost_ns, 0);
    atomic_u32_store_relaxed(&l->on, 0);
    atomic_u64_store_relaxed(&l->enabled_count, 0);
    atomic_u64_store_relaxed(&l->next_update_ns, 0);
}

void gc_limiter_destroy(struct gch_heap *h) { pthread_mutex_destroy(&h->gc.limiter.mu); }

void gc_limiter_charge(struct gch_heap *h, int64_t lost_ns)
{
    if (lost_ns > 0)
        atomic_u64_add_relaxed(&h->gc.limiter.lost_ns, (uint64_t)lost_ns);
}

/* threads_lost: the attached threads' time on the collector's behalf
 * (gch_thread_read_gc_time's four counters: stops, own root scans,
 * assists with their waits, sweeping to allocate), summed; *n gets how
 * many threads there are (at least 1). */
static uint64_t threads_lost(struct gch_heap *h, int64_t *n)
{
    uint64_t sum = 0;
    lock_acquire(&h->threads_lock);
    for (struct gch_thread *t = h->attached; t != NULL; t = t->next)
        sum += atomic_u64_load_relaxed(&t->stop_ns) + atomic_u64_load_relaxed(&t->scan_ns) +
               atomic_u64_load_relaxed(&t->assist_ns) + atomic_u64_load_relaxed(&t->mcache.sweep_ns);
    *n = h->nattached > 0 ? (int64_t)h->nattached : 1;
    lock_release(&h->threads_lock);
    return sum;
}

bool gc_limiter_update(struct gch_heap *h)
{
    struct gclimiter *l = &h->gc.limiter;
    int64_t now = sys_nanotime(), n;
    uint64_t lost_total = threads_lost(h, &n) + atomic_u64_load_relaxed(&l->lost_ns);
    pthread_mutex_lock(&l->mu); /* a leaf: after threads_lock */
    int64_t elapsed = now - l->last_ns;
    if (elapsed >= LIMITER_MIN_WINDOW_NS) {
        /* A thread that detached takes its counters along: never less
         * than nothing lost. */
        int64_t lost = lost_total > l->last_lost ? (int64_t)(lost_total - l->last_lost) : 0;
        int64_t total = elapsed * n;
        if (lost > total)
            lost = total; /* charged late: at most the whole window */
        int64_t cap = l->capacity_per_thread_ns * n;
        int64_t bucket = l->bucket_ns + lost - (total - lost);
        bucket = bucket < 0 ? 0 : bucket > cap ? cap : bucket; /* LM1 */
        bool was_on = atomic_u32_load_relaxed(&l->on) != 0;
        bool on = bucket >= cap || (was_on && bucket > cap / 2);
        if (on && !was_on)
            atomic_u64_add_relaxed(&l->enabled_count, 1);
        atomic_u32_store_relaxed(&l->on, on ? 1 : 0); /* LM2 */
        atomic_u32_store_relaxed(&h->mheap.eager_off, on ? 1 : 0);
        l->bucket_ns = bucket;
        l->last_ns = now;
        l->last_lost = lost_total;
    }
    bool on = atomic_u32_load_relaxed(&l->on) != 0;
    pthread_mutex_unlock(&l->mu);
    return on;
}

bool gc_limiter_on(struct gch_heap *h)
{
    struct gclimiter *l = &h->gc.limiter;
    /* Throttle: inside a window the flag stands (an atomic read). */
    if (sys_nanotime() < (int64_t)atomic_u64_load_relaxed(&l->next_update_ns))
        return atomic_u32_load_relaxed(&l->on) != 0;
    atomic_u64_store_relaxed(&l->next_update_ns, (uint64_t)(sys_nanotime() + LIMITER_MIN_WINDOW_NS));
    return gc_limiter_update(h);
}
