/*
 * mgcscavenge.c - the scavenger's policy: the background scavenger's
 * goals and pacing, gch_free_os_memory and the scavtrace records.  (It
 * runs on sysmon, gc/sysmon.c, as does the idle rule; the mechanism,
 * releasing pages without holding the heap lock, is alloc/mscavenge.c.)
 * Go counterpart: runtime/mgcscavenge.go (printScavTrace), mheap.go
 * (scavengeAll) and runtime/debug FreeOSMemory.  Overview: gc/mgc.c.
 *
 * The scavtrace counters: every release is counted by kind in
 * mheap.released_bytes; a line reports what each kind released since the
 * last line (scav_reported, under gc.trace.mu like every trace line).  Go's
 * "bg" column gets the idle and background scavengers, "eager" the
 * releases made on allocation, and the forced line what
 * gch_free_os_memory released.
 *
 * The background scavenger (Go >= 1.19's, in its goals): after each cycle
 * it aims retained memory (pages in use or free and Ready) at the
 * in-use heap the last cycle saw, scaled by how the goal changed, plus
 * 10%; and Ready memory (heap and metadata) at 95% of GOMEMLIMIT.  While
 * either is exceeded it releases free pages, highest first, 64 KiB at a
 * time, in bursts of about 1 ms, sleeping 99 times the burst after each:
 * 1% of one CPU.  Go drives the sleep with a PI controller toward 1% of
 * GOMAXPROCS CPUs; a fixed ratio is enough here, since sysmon's clock
 * never drifts the way goroutine scheduling does, so our scavtrace never
 * says "[controller reset]".  Go's skipping of chunks densely used in
 * the last cycle is not built.
 */
#define GCHI_BUILDING 1
#include "mgcscavenge.h"
#include "heap.h"
#include "stw.h"
#include "trace.h"
#include "error.h"
#include "gcbase.h"

#include <string.h>
#include <time.h>

/* scav_fill: the gauges of a scavtrace record, read now. */
static void scav_fill(struct gch_heap *h, struct scav_record *r)
{
    struct mheap *m = &h->mheap;
    lock_acquire(&m->lock); /* one snapshot of the page counters (H1) */
    r->heap_inuse = atomic_u64_load_relaxed(&m->pages_inuse) * PAGE_SIZE;
    r->heap_free = atomic_u64_load_relaxed(&m->pages_free) * PAGE_SIZE;
    r->heap_released = atomic_u64_load_relaxed(&m->pages_released) * PAGE_SIZE;
    lock_release(&m->lock);
}

/* Go's retainExtraPercent and reduceExtraPercent. */
#define SCAV_RETAIN_EXTRA_PERCENT 10
#define SCAV_LIMIT_PERCENT 95
/* A burst releases this much at a time (Go's 64 KiB quantum) ... */
#define SCAV_QUANTUM ((size_t)64 << 10)
/* ... until it has worked this long (Go's minScavWorkTime) ... */
#define SCAV_BURST_NS ((int64_t)1000000)
/* ... then sleeps this many times as long: 1% of one CPU. */
#define SCAV_SLEEP_RATIO 99
/* Work assumed per 8 KiB page released when the clock did not move. */
#define SCAV_MIN_PAGE_NS 10000
/* Over a goal with nothing free to release while the sweep is still
 * freeing pages: look again after this. */
#define SCAV_UNSWEPT_RETRY_NS ((int64_t)10000000)
/* After a burst that yielded to an allocation waiting for a release (H6). */
#define SCAV_YIELD_RETRY_NS ((int64_t)1000000)

uint64_t gc_released_total(struct gch_heap *h)
{
    uint64_t t = 0;
    for (int k = 0; k < SCAV_NKINDS; k++)
        t += atomic_u64_load_relaxed(&h->mheap.released_bytes[k]);
    return t;
}

void gc_scav_pace(struct gch_heap *h, uint64_t goal)
{
    struct scavpacing *sp = &h->gc.scav;
    lock_assert_held(&h->stw.lock);
    uint64_t gogc = UINT64_MAX;
    if (sp->last_heap_goal != 0 && pacer_gc_percent(h) >= 0) {
        double g = (double)sp->last_heap_inuse * ((double)goal / (double)sp->last_heap_goal);
        g += g * SCAV_RETAIN_EXTRA_PERCENT / 100;
        gogc = g >= 1.8e19 ? UINT64_MAX : (uint64_t)g;
    }
    int64_t limit = pacer_memory_limit(h);
    uint64_t lim = limit == INT64_MAX ? UINT64_MAX : (uint64_t)limit / 100 * SCAV_LIMIT_PERCENT;
    atomic_u64_store_relaxed(&sp->gogc_goal, gogc);
    atomic_u64_store_relaxed(&sp->limit_goal, lim);
}

/* bg_excess: bytes over the larger-overshot goal, 0 when both are met. */
static uint64_t bg_excess(struct gch_heap *h)
{
    struct mheap *m = &h->mheap;
    const struct scavpacing *sp = &h->gc.scav;
    uint64_t retained = (atomic_u64_load_relaxed(&m->pages_inuse) +
                         atomic_u64_load_relaxed(&m->pages_free)) * PAGE_SIZE;
    uint64_t ready = atomic_u64_load_relaxed(&m->sys.ready);
    uint64_t g1 = atomic_u64_load_relaxed(&sp->gogc_goal);
    uint64_t g2 = atomic_u64_load_relaxed(&sp->limit_goal);
    uint64_t e1 = retained > g1 ? retained - g1 : 0;
    uint64_t e2 = ready > g2 ? ready - g2 : 0;
    return e1 > e2 ? e1 : e2;
}

int64_t gc_bgscavenge(struct gch_heap *h, int64_t *paced)
{
    int64_t t0 = sys_nanotime(), worked = 0;
    size_t released = 0;
    uint64_t excess;
    bool yielded = false;
    while (worked < SCAV_BURST_NS && (excess = bg_excess(h)) > 0) {
        size_t want = excess < SCAV_QUANTUM ? (size_t)excess : SCAV_QUANTUM;
        uint32_t next = UINT32_MAX; /* min age 0: 0 only when the pass yielded (H6) */
        size_t got = mheap_scavenge(&h->mheap, want + PAGE_SIZE - 1, 0, SCAV_BG, &next);
        released += got;
        worked = sys_nanotime() - t0;
        if (got == 0) {
            yielded = next == 0;
            break; /* nothing free and Ready (wait for the goals to change), or an allocation waits */
        }
    }
    if (released == 0 && yielded)
        return t0 + SCAV_YIELD_RETRY_NS; /* the waiter is served in one madvise: come back */
    if (released == 0) {
        /* Nothing free yet: the sweep may still free what the goal wants
         * released; once it is done, only a new goal (a kick) helps. */
        bool over = bg_excess(h) > 0 && !mheap_sweep_done(&h->mheap);
        return over ? t0 + SCAV_UNSWEPT_RETRY_NS : INT64_MAX;
    }
    int64_t floor = (int64_t)(released / PAGE_SIZE) * SCAV_MIN_PAGE_NS;
    if (worked < floor)
        worked = floor;
    atomic_u64_add_relaxed(&h->gc.scav.cpu_ns, (uint64_t)worked);
    *paced = t0 + worked + worked * SCAV_SLEEP_RATIO;
    return *paced;
}

void gc_scavtrace_cycle(struct gch_heap *h)
{
    struct scavpacing *sp = &h->gc.scav;
    struct mheap *m = &h->mheap;
    uint64_t gen = atomic_u64_load_relaxed(&m->sweep.nflips);
    if (h->env.debug.scavtrace <= 0 || gen == 0 || !mheap_sweep_done(m))
        return;
    /* The gauges first: h->lock is never taken under gc.trace.mu, which is
     * held only around the sink and its flags (ARCHITECTURE.md). */
    struct scav_record r = {0};
    scav_fill(h, &r);
    pthread_mutex_lock(&h->gc.trace.mu);
    if (sp->line_gen == gen || !mheap_sweep_done(m)) {
        pthread_mutex_unlock(&h->gc.trace.mu);
        return;
    }
    sp->line_gen = gen;
    uint64_t now[SCAV_NKINDS];
    for (int k = 0; k < SCAV_NKINDS; k++)
        now[k] = atomic_u64_load_relaxed(&m->released_bytes[k]);
    /* Go's "bg" column: the idle and the background scavengers; "eager":
     * releases made by allocation.  Forced releases had their own line. */
    r.released_bg = now[SCAV_IDLE] - sp->reported[SCAV_IDLE] + now[SCAV_BG] - sp->reported[SCAV_BG];
    r.released_eager = now[SCAV_EAGER] - sp->reported[SCAV_EAGER];
    memcpy(sp->reported, now, sizeof now);
    char line[GC_TRACE_LINE_MAX];
    size_t n = gc_format_scavtrace(line, sizeof line, &r);
    pthread_mutex_unlock(&h->gc.trace.mu);
    gc_trace_emit(h, line, n < sizeof line ? n : sizeof line - 1);
}

void gc_scavtrace_forced(struct gch_heap *h, uint64_t released)
{
    struct scav_record r = {0};
    scav_fill(h, &r);
    r.released_eager = released;
    r.forced = true;
    pthread_mutex_lock(&h->gc.trace.mu); /* counted here, not in the next cycle's line */
    h->gc.scav.reported[SCAV_FORCED] = atomic_u64_load_relaxed(&h->mheap.released_bytes[SCAV_FORCED]);
    pthread_mutex_unlock(&h->gc.trace.mu);
    char line[GC_TRACE_LINE_MAX];
    size_t n = gc_format_scavtrace(line, sizeof line, &r);
    gc_trace_emit(h, line, n < sizeof line ? n : sizeof line - 1);
}

gch_error gch_free_os_memory(gch_heap *h)
{
    if (h == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_free_os_memory: heap is NULL");
        return GCH_EINVAL;
    }
    gch_error e = gch_collect(h); /* also checks the caller's context */
    if (e != GCH_OK)
        return e;
    /* Releasing everything may take a while (madvise of every free page):
     * an attached caller is in a blocking section meanwhile, so a stop of
     * the world need not wait for it.  It touches no object. */
    struct gch_thread *self = gchi_heap_self(h);
    if (self != NULL)
        gch_blocking_enter(self);
    /* A pass yields while an allocation waits for a release (H6): wait
     * for it and go on, so that everything free is released (min age 0:
     * next is 0 only after a yield).  Bounded: about 1 s of yields. */
    size_t got = 0;
    for (int tries = 0; tries < 1000; tries++) {
        uint32_t next = UINT32_MAX;
        got += mheap_scavenge(&h->mheap, SIZE_MAX, 0, SCAV_FORCED, &next);
        if (next != 0)
            break;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    if (h->env.debug.scavtrace > 0)
        gc_scavtrace_forced(h, got); /* still blocking: the sink may wait on a parked thread */
    if (self != NULL)
        gch_blocking_leave(self);
    return GCH_OK;
}
