/*
 * mgc.c - the collector: overview, the cycle, triggering, gctrace.
 * Go counterpart: runtime/mgc.go (gcStart, gcMarkDone,
 * gcMarkTermination), mgcpacer.go (heap goal).
 *
 * ==== How gcheap collects (read this first) ====
 *
 * Glossary
 *   root        a slot outside the heap the embedder registered (gc/roots.h)
 *   mark bit    one bit per object slot, set when the object is reachable
 *   grey        marked but not yet scanned: on a gcwork queue (gc/mgcwork.h)
 *   sweep       turn mark bits into alloc bits: unmarked objects become free
 *   sweepgen    the heap's sweep generation, +2 per cycle (alloc/mspan.h)
 *   heap goal   heap size at which the next cycle starts (GOGC)
 *
 * A cycle (this first collector marks with the world stopped; the
 * concurrent collector keeps the same steps and shortens the stops):
 *   1. [STW] stop the world (gc/stw.c); sweep termination: sweep the
 *      spans the last generation left (X1); flush every thread's mcache,
 *      so no span is cached and every alloc bit is exact (X2);
 *   2. [STW] mark: scan the global roots, heap scanners, and each thread's
 *      handle frames and thread scanners; drain the grey queue, scanning
 *      each object by its type (heap bits, header type or large type);
 *   3. [STW] flip the sweep generation (sweepgen += 2): every span is now
 *      unswept; set the next heap goal from the marked bytes and GOGC,
 *      pace the sweep against it, record the cycle (stats, gctrace);
 *   4. start the world; spans are swept as the mutators need them, in
 *      proportion to allocation, and by the background sweeper
 *      (gc/mgcsweep.c): mark bits become alloc bits, empty spans go back
 *      to the heap.
 * Cycles start from gch_collect (forced) or from an allocation slow path
 * when the heap in use reaches the goal (gc_maybe_trigger).
 */
#define GCHI_BUILDING 1
#include "mgc.h"
#include "heap.h"
#include "trace.h"
#include "error.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

/* 4 MiB at GOGC=100: Go's minimum heap goal (heapMinimum). */
#define HEAP_MINIMUM ((uint64_t)4 << 20)

int64_t gc_nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t unix_nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t gc_heap_goal(int gc_percent, uint64_t marked, uint64_t roots)
{
    if (gc_percent < 0)
        return UINT64_MAX; /* GOGC=off */
    uint64_t goal = marked + (marked + roots) * (uint64_t)gc_percent / 100;
    uint64_t floor = HEAP_MINIMUM * (uint64_t)gc_percent / 100;
    return goal > floor ? goal : floor;
}

void gc_init(struct gch_heap *h)
{
    struct gcstate *g = &h->gc;
    memset(g, 0, sizeof *g);
    workbuf_pool_init(&g->workbufs, &h->mheap.pa);
    atomic_u64_store_relaxed(&g->next_gc, gc_heap_goal(h->env.gc_percent, 0, 0));
    g->start_ns = gc_nanotime();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    g->stwprocs = ncpu > 0 && ncpu < h->env.gomaxprocs ? (int)ncpu : h->env.gomaxprocs;
    gc_sweep_init(h);
}

/* flush_all: release every attached thread's cache (X2).  World stopped:
 * the other threads are PARKED or BLOCKING and touch nothing (W1, W3). */
static void flush_all(struct gch_heap *h)
{
    lock_acquire(&h->threads_lock);
    for (struct gch_thread *t = h->attached; t != NULL; t = t->next)
        mcache_release_all(&t->mcache);
    lock_release(&h->threads_lock);
}

/* heap_live: the trigger's estimate of the live heap: marked by the last
 * cycle plus handed out since (Go's heapLive). */
static uint64_t heap_live(struct gch_heap *h)
{
    return atomic_u64_load_relaxed(&h->gc.heap_marked_live) +
           atomic_u64_load_relaxed(&h->mheap.counters.alloc_since_gc);
}

/* print_gctrace: the cycle's line (GODEBUG=gctrace=1) to the embedder's
 * trace sink, or stderr in one write(2) so lines never interleave. */
static void print_gctrace(struct gch_heap *h, const struct gccycle_record *r)
{
    char line[GC_TRACE_LINE_MAX];
    size_t n = gc_format_gctrace(line, sizeof line, r);
    if (n >= sizeof line)
        n = sizeof line - 1;
    if (h->trace != NULL) {
        h->trace(line, h->trace_ctx);
        return;
    }
    ssize_t w = write(2, line, n);
    (void)w;
}

/* finish_cycle: goal, stats and the cycle record.  World stopped. */
static void finish_cycle(struct gch_heap *h, struct gccycle_record *r, int64_t t0, int64_t t_end)
{
    struct gcstate *g = &h->gc;
    lock_acquire(&h->stw.lock); /* readers: gch_read_stats, gc_maybe_trigger */
    atomic_u64_store_relaxed(&g->heap_marked_live, r->heap_marked);
    atomic_u64_store_relaxed(&h->mheap.counters.alloc_since_gc, 0);
    r->heap_goal = atomic_u64_load_relaxed(&g->next_gc);
    uint64_t goal = gc_heap_goal(h->env.gc_percent, r->heap_marked, r->stack_scan + r->globals_scan);
    atomic_u64_store_relaxed(&g->next_gc, goal);
    gc_sweep_pace(h, r->heap_marked, goal);
    g->num_gc++;
    if (r->forced)
        g->num_forced_gc++;
    r->num = g->num_gc;
    uint64_t pause = (uint64_t)(t_end - t0);
    g->pause_total_ns += pause;
    g->pause_ns[(g->num_gc + 255) % 256] = pause;
    g->last_gc_unix_ns = unix_nanotime();
    r->cpu_sweepterm_ns = r->clock_sweepterm_ns * g->stwprocs;
    r->cpu_background_ns = r->clock_mark_ns;
    r->cpu_markterm_ns = r->clock_markterm_ns * g->stwprocs;
    g->gc_cpu_ns += r->cpu_sweepterm_ns + r->cpu_background_ns + r->cpu_markterm_ns;
    int64_t elapsed = t_end - g->start_ns;
    r->procs = h->env.gomaxprocs;
    r->gc_cpu_fraction = elapsed > 0 ? (double)g->gc_cpu_ns / ((double)elapsed * h->env.gomaxprocs) : 0;
    lock_release(&h->stw.lock);
}

/* run_cycle: one whole cycle.  trigger_gen: for a triggered (not forced)
 * cycle, the num_gc the trigger saw; if another cycle ran meanwhile the
 * world is started again at once. */
static void run_cycle(struct gch_heap *h, bool forced, uint32_t trigger_gen)
{
    struct gcstate *g = &h->gc;
    struct gch_thread *self = gchi_heap_self(h);
    int64_t t0 = gc_nanotime();
    stop_the_world(h, self);
    /* A triggered cycle is still needed only if no other cycle ran since
     * the trigger fired and the heap is still at its goal. */
    if (!forced && (g->num_gc != trigger_gen ||
                    heap_live(h) < atomic_u64_load_relaxed(&g->next_gc))) {
        start_the_world(h);
        return;
    }
    struct gccycle_record r;
    memset(&r, 0, sizeof r);
    r.forced = forced;
    r.start_ns = t0 - g->start_ns;
    atomic_uptr_store_relaxed(&g->collector, gchi_thread_tag());
    gc_sweep_termination(h);
    flush_all(h);
    r.heap_start = heap_live(h);
    r.heap_end_mark = r.heap_start;
    int64_t t_mark = gc_nanotime();
    atomic_u32_store_relaxed(&g->phase, GCPHASE_MARK);
    r.heap_marked = gc_mark(h, &r);
    int64_t t_markterm = gc_nanotime();
    atomic_u32_store_relaxed(&g->phase, GCPHASE_MARKTERM);
    gc_sweep_flip(h);
    if (h->env.debug.gcstoptheworld >= 2)
        gc_sweep_termination(h); /* sweep at once, world still stopped */
    atomic_u32_store_relaxed(&g->phase, GCPHASE_OFF);
    atomic_uptr_store_relaxed(&g->collector, 0);
    int64_t t_end = gc_nanotime();
    r.clock_sweepterm_ns = t_mark - t0;
    r.clock_mark_ns = t_markterm - t_mark;
    r.clock_markterm_ns = t_end - t_markterm;
    finish_cycle(h, &r, t0, t_end);
    start_the_world(h);
    gc_sweep_wake(h);
    if (h->env.debug.gctrace > 0)
        print_gctrace(h, &r);
}

void gc_check_not_in_cycle(struct gch_heap *h, const char *what)
{
    if (GCH_UNLIKELY(atomic_uptr_load_relaxed(&h->gc.collector) == gchi_thread_tag()))
        gch_fatalf("%s inside a collection: scan and trace callbacks may only call "
                   "gch_visit", what);
}

gch_error gch_collect(gch_heap *h)
{
    if (h == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_collect: heap is NULL");
        return GCH_EINVAL;
    }
    gc_check_not_in_cycle(h, "gch_collect");
    run_cycle(h, true, 0);
    gc_sweep_wait(h, gchi_heap_self(h)); /* like runtime.GC: return swept */
    return GCH_OK;
}

void gc_maybe_trigger(struct gch_heap *h)
{
    if (heap_live(h) < atomic_u64_load_relaxed(&h->gc.next_gc))
        return;
    lock_acquire(&h->stw.lock);
    uint32_t gen = h->gc.num_gc; /* written under stw.lock by finish_cycle */
    lock_release(&h->stw.lock);
    run_cycle(h, false, gen);
}
