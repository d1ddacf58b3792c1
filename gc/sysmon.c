/*
 * sysmon.c - the monitor thread of one heap (SM1, SM2 in gc/sysmon.h).
 * Go counterpart: runtime/proc.go sysmon and forcegchelper; the idle
 * rule is the Go <= 1.12 sysmon scavenger's (spans unused for 5 minutes).
 * Overview: gc/mgc.c.
 *
 * The thread starts at the first kick (end of the first cycle, or a
 * setter), like the background sweeper, not in gch_heap_new: every job
 * needs a cycle or a setting first, and a heap without threads lets an
 * embedder fork (a pre-forking server) before its first collection.
 *
 * Three jobs; the first two with a period from the heap's settings (GODEBUG
 * forcegcms / scavengeidlems, or gch_config; 0 turns a job off):
 *   - periodic GC: when no cycle has ended for force_gc_ms (Go's
 *     forcegcperiod, 2 minutes), start one.  As in Go, only once a first
 *     cycle ran, never with GOGC=off, and gctrace prints "GC forced"
 *     before it; the cycle itself is not a "(forced)" one;
 *   - idle release: free Ready pages that stayed free for
 *     scavenge_idle_ms (5 minutes) go back to the OS (mheap_scavenge with
 *     that minimum age).  A pass runs every half period, or sooner when
 *     the pass saw a page that will come of age before then, but never
 *     sooner than an eighth of a period after the last (a pass costs
 *     O(free pages) under the heap lock), so a page is released within
 *     1.5 periods of being freed, usually 1.125.  The same
 *     pass advises huge pages for arenas wholly in use
 *     (alloc/mscavenge.c).
 * and the background scavenger (gc/mgcscavenge.c): bursts of about 1 ms
 * at 1% of one CPU while retained memory is over its goal; after a burst
 * that found nothing it waits for a kick (a cycle ended: new goals).  A
 * kick makes it look again, but no sooner than the 1% pacing of the last
 * burst that released allows (bg_paced): cycles may end 100 times a
 * second under churn.
 * Sleeping: Go's sysmon naps 20 us to 10 ms because it also preempts
 * goroutines and polls the network; ours has only deadlines, so it sleeps
 * exactly until the next one (SM2), at least SYSMON_MIN_NAP_NS.
 */
#define GCHI_BUILDING 1
#include "sysmon.h"
#include "heap.h"
#include "mgc.h"
#include "gcbase.h"
#include "mgcscavenge.h"

#include <signal.h>

#define MS ((int64_t)1000000)
/* The shortest sleep: a deadline already past (a cycle running when the
 * periodic GC was due) is retried after this, never at once. */
#define SYSMON_MIN_NAP_NS (1 * MS)
/* Idle passes are at least scavenge_idle_ms / this apart: a pass scans
 * every free page under the heap lock, and under churn the next page to
 * come of age is always a few ms away.  A page then waits at most this
 * fraction of a period past its age (still within 1.5 periods). */
#define SYSMON_IDLE_MIN_SCAN_DIV 8

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* periodic_gc: start a periodic cycle if one is due; returns when to look
 * again (monotonic ns).  Sysmon thread, holding no lock. */
static int64_t periodic_gc(struct gch_heap *h, int64_t now)
{
    int64_t period = (int64_t)h->env.debug.forcegcms * MS;
    if (period <= 0 || pacer_gc_percent(h) < 0)
        return INT64_MAX;
    lock_acquire(&h->stw.lock);
    int64_t last = h->gc.last_gc_mono_ns;
    lock_release(&h->stw.lock);
    if (last == 0)
        return now + period; /* Go forces nothing before a first cycle */
    if (now - last < period)
        return last + period;
    if (gc_start_periodic(h, period))
        atomic_u64_add_relaxed(&h->sysmon.periodic_gcs, 1);
    return now + period; /* recomputed from the cycle's end next time */
}

/* idle_release: an idle-scavenger pass if one is due; returns when the
 * next is.  Sysmon thread, holding no lock. */
static int64_t idle_release(struct gch_heap *h, int64_t now)
{
    struct sysmon *sm = &h->sysmon;
    int64_t idle = (int64_t)h->env.debug.scavengeidlems;
    if (idle <= 0)
        return INT64_MAX;
    if (now < sm->next_idle_scan)
        return sm->next_idle_scan;
    uint32_t wait_ms = UINT32_MAX;
    mheap_scavenge(&h->mheap, SIZE_MAX, (uint32_t)idle, SCAV_IDLE, &wait_ms);
    atomic_u64_add_relaxed(&h->gc.scav.cpu_ns, (uint64_t)(sys_nanotime() - now));
    if (h->env.debug.disablethp == 0)
        mheap_advise_huge(&h->mheap); /* arenas wholly in use: huge pages */
    atomic_u64_add_relaxed(&sm->idle_passes, 1);
    int64_t half = idle / 2 > 0 ? idle / 2 : 1;
    int64_t floor = idle / SYSMON_IDLE_MIN_SCAN_DIV > 0 ? idle / SYSMON_IDLE_MIN_SCAN_DIV : 1;
    int64_t wait = wait_ms < (uint64_t)half ? (int64_t)wait_ms + 1 : half;
    if (wait < floor)
        wait = floor; /* churn: a page comes of age every few ms */
    sm->next_idle_scan = now + wait * MS;
    return sm->next_idle_scan;
}

/* bg_scavenge: a background scavenger burst if one is due; returns when
 * the next is.  Sysmon thread, holding no lock. */
static int64_t bg_scavenge(struct gch_heap *h, int64_t now)
{
    struct sysmon *sm = &h->sysmon;
    if (now >= sm->next_bg)
        sm->next_bg = gc_bgscavenge(h, &sm->bg_paced);
    return sm->next_bg;
}

static void *sysmon_main(void *arg)
{
    struct gch_heap *h = arg;
    struct sysmon *sm = &h->sysmon;
    lock_acquire(&sm->lock);
    while (!sm->quit) {
        if (sm->kick)
            sm->next_bg = sm->bg_paced; /* goals changed: look again, at 1% still */
        sm->kick = false;
        lock_release(&sm->lock);
        int64_t now = sys_nanotime();
        int64_t next = min64(periodic_gc(h, now), idle_release(h, now));
        next = min64(next, bg_scavenge(h, now));
        atomic_u64_add_relaxed(&sm->wakeups, 1);
        lock_acquire(&sm->lock);
        if (sm->quit || sm->kick)
            continue;
        if (next == INT64_MAX) {
            lock_wait(&sm->lock, &sm->cond);
            continue;
        }
        int64_t soonest = sys_nanotime() + SYSMON_MIN_NAP_NS;
        lock_timedwait(&sm->lock, &sm->cond, next > soonest ? next : soonest);
    }
    lock_release(&sm->lock);
    return NULL;
}

void sysmon_init(struct gch_heap *h)
{
    struct sysmon *sm = &h->sysmon;
    lock_init(&sm->lock, LOCKRANK_SYSMON);
    lock_cond_init_monotonic(&sm->cond);
    sm->main = sysmon_main;
    sm->started = false;
    sm->quit = false;
    sm->kick = false;
    sm->next_idle_scan = 0;
    sm->next_bg = 0;
    sm->bg_paced = 0;
    atomic_u64_store_relaxed(&sm->periodic_gcs, 0);
    atomic_u64_store_relaxed(&sm->idle_passes, 0);
    atomic_u64_store_relaxed(&sm->wakeups, 0);
}

void sysmon_stop(struct gch_heap *h)
{
    struct sysmon *sm = &h->sysmon;
    lock_acquire(&sm->lock);
    sm->quit = true;
    pthread_cond_signal(&sm->cond);
    bool started = sm->started;
    lock_release(&sm->lock);
    if (started)
        pthread_join(sm->thread, NULL);
}

void sysmon_destroy(struct gch_heap *h)
{
    pthread_cond_destroy(&h->sysmon.cond);
    lock_destroy(&h->sysmon.lock);
}
