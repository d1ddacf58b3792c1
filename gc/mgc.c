/*
 * mgc.c - the collector: overview, the cycle, triggering (and the
 * allocator's hooks into it, gc/gchooks.h), gctrace.
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
 * A cycle (Go's, step for step; GODEBUG=gcstoptheworld=1 runs 2-4 with
 * the world stopped, =2 sweeps with it stopped too):
 *   1. [STW] stop the world (gc/stw.c); sweep termination: sweep the
 *      spans the last generation left (X1); flush every thread's mcache,
 *      so every alloc bit is exact for the objects that
 *      exist at mark start;
 *   2. [STW] mark setup: pin spans (H5), phase MARK, the write barrier
 *      and allocate-black on in every thread, ask every thread for its
 *      root scan (a handshake), wake the mark workers; start the world;
 *   3. concurrent mark (gc/mgcworker.c): each VM thread scans its own
 *      handle frames and thread scanners at its next safepoint (the
 *      collector does it for a thread in a blocking section); a worker
 *      scans the global roots and heap scanners; workers drain the grey
 *      set; allocating threads assist in proportion; gch_write shades the
 *      old and the new value of every store (gc/mbarrier.c) and new
 *      objects are born marked; a global root added or removed now is
 *      shaded by the editing thread (R3: an edit never begins while the
 *      world is stopped, and a stop that changes the phase first waits
 *      for the edits in flight, so an edit's view of the phase holds);
 *   4. mark termination, found by the last worker to go idle: no grey
 *      work, no root scan owed, then a handshake that flushes every
 *      barrier buffer finds nothing more; [STW] drain what the mutators
 *      shaded since, barrier and allocate-black off, flush the caches,
 *      unpin, flip the sweep generation (sweepgen += 2: every span is
 *      unswept), set the next goal and trigger, record the cycle;
 *   5. start the world; spans are swept as the mutators need them, in
 *      proportion to allocation, and by the background sweeper
 *      (gc/mgcsweep.c): mark bits become alloc bits, empty spans go back
 *      to the heap.
 * Why nothing reachable is lost: an object reachable at mark start is
 * reachable from a root or from the heap.  Heap paths are cut only by
 * stores, and the barrier shades what a store overwrites; a reference
 * copied into a place already scanned is shaded as the new value; a
 * thread's handle frames are scanned once, at a handshake, and whatever
 * it later loads from the heap it loads from a path the barrier keeps
 * marked.  Objects allocated during the mark are marked at birth.
 * Cycles start from gch_collect (forced) or from an allocation slow path
 * when the heap in use reaches the trigger (gc_maybe_trigger), set below
 * the goal so that the mark ends before the goal is reached.
 */
#define GCHI_BUILDING 1
#include "mgc.h"
#include "gchooks.h"
#include "heap.h"
#include "stw.h"
#include "trace.h"
#include "error.h"
#include "mweak.h"
#include "gcbase.h"
#include "mgcmark.h"
#include "roots.h"
#include "mbarrier.h"
#include "mgcsweep.h"
#include "mgcworker.h"
#include "mcheckmark.h"
#include "mgcpacer.h"
#include "mgcscavenge.h"
#include "mgclimit.h"
#include "handshake.h"
#include "markroot.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t unix_nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void set_trigger(struct gch_heap *h, uint64_t marked, uint64_t goal);

void gc_init(struct gch_heap *h)
{
    struct gcstate *g = &h->gc;
    memset(g, 0, sizeof *g);
    workbuf_pool_init(&g->workbufs, &h->mheap.pa);
    pacer_init(h);
    bool limited;
    atomic_u64_store_relaxed(&g->next_gc, pacer_goal(h, 0, 0, &limited));
    atomic_u32_store_relaxed(&g->pacer.goal_limited, limited ? 1 : 0);
    set_trigger(h, 0, atomic_u64_load_relaxed(&g->next_gc));
    if (pthread_cond_init(&g->mark_cond, NULL) != 0 || pthread_cond_init(&g->trace.cv, NULL) != 0 ||
        pthread_mutex_init(&g->trace.mu, NULL) != 0)
        gch_fatal("pthread_cond_init failed", (uintptr_t)g, 0, 0);
    g->start_ns = gc_nanotime();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    g->stwprocs = ncpu > 0 && ncpu < h->env.gomaxprocs ? (int)ncpu : h->env.gomaxprocs;
    gc_sweep_init(h);
    gc_limiter_init(h);
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

void gc_phase_apply_thread(struct gch_thread *t, enum gcphase phase)
{
    lock_assert_held(&t->heap->threads_lock);
    struct gcphase_flags f = gcphase_flags(phase);
    mem_u32_store_relaxed(&t->head.wb_enabled, f.barrier ? 1 : 0);
    t->mcache.alloc_black = f.alloc_black;
}

/* gc_set_phase: the one place the phase changes (Go's setGCPhase), with
 * the world stopped: every other attached thread is PARKED or BLOCKING
 * (W1) and reads its flags again only once it runs.  The steps, in the
 * order their invariants need:
 *   1. entering a phase that pins spans (MARK): pin first (H5), so that
 *      no thread ever sees the phase MARK while a span may still be
 *      freed under a marker;
 *   2. store the phase (read by allocation slow paths, attach, root
 *      edits and weak gets; all of them wait out the stopped world, so
 *      they see the phase and the flags below together);
 *   3. every attached thread's barrier and allocation colour from the
 *      table (B1, X2), under stw.lock and threads_lock: plain stores are
 *      enough because each thread is stopped or blocking (W3) and the
 *      world's restart under stw.lock publishes them.  Entering MARK
 *      also clears its assist debt (a mark starts owing nothing);
 *      leaving MARK drops a flush handshake still owed (nothing is
 *      buffered once the barrier is off: on the concurrent path B2 was
 *      kept by the caller's stopped flush; in the stopped cycle no
 *      mutator ran, so nothing was buffered);
 *   4. leaving MARK: release every cache (X2 for the next cycle, C3: no
 *      span is cached at the flip that follows), with allocate-black
 *      already off (step 3) and the spans still pinned, so an empty
 *      span a cache gives back waits on its partial list for the next
 *      sweep instead of being freed here;
 *   5. only then unpin (H5 ends), before the caller flips the sweep
 *      generation or sweeps (gcstoptheworld=2 sweeps right away).
 * The stopped cycle (gcstoptheworld, or no worker thread) goes through
 * the same steps since issue 14: its mark now runs with spans pinned and
 * every thread's barrier and allocate-black on, which nothing can see
 * (no mutator runs) but which makes freeing a span during a stopped mark
 * fatal there too (H5), as it is in a concurrent one. */
void gc_set_phase(struct gch_heap *h, enum gcphase phase)
{
    struct gcphase_flags f = gcphase_flags(phase);
    enum gcphase old = (enum gcphase)atomic_u32_load_relaxed(&h->gc.phase);
    bool was_pinned = mheap_spans_pinned(&h->mheap);
    if (f.spans_pinned)
        atomic_u32_store_relaxed(&h->mheap.spans_pinned, 1); /* 1: H5 before MARK */
    atomic_u32_store_relaxed(&h->gc.phase, phase);         /* 2 */
    /* 3: only entering and leaving MARK change a thread's flags (the
     * table's other rows agree). */
    if (phase == GCPHASE_MARK || old == GCPHASE_MARK) {
        lock_acquire(&h->stw.lock);
        GCH_ASSERT_INTERNAL(h->stw.active);
        lock_acquire(&h->threads_lock);
        for (struct gch_thread *t = h->attached; t != NULL; t = t->next) {
            gc_phase_apply_thread(t, phase);
            if (phase == GCPHASE_MARK)
                t->assist_debt = 0;
            else
                t->hs_ops &= ~(uint32_t)HS_FLUSH;
        }
        lock_release(&h->threads_lock);
        lock_release(&h->stw.lock);
    }
    if (old == GCPHASE_MARK)
        flush_all(h); /* 4: folds black_bytes */
    if (was_pinned && !f.spans_pinned)
        atomic_u32_store_relaxed(&h->mheap.spans_pinned, 0); /* 5 */
}

/* trace_start_line: the starter of mark `gen`, world running again: its
 * gcpacertrace line, then let the cycle's end lines go. */
static void trace_start_line(struct gch_heap *h, const struct pacer_line *pline, uint64_t gen)
{
    struct gcstate *g = &h->gc;
    pthread_mutex_lock(&g->trace.mu);
    if (pline->len > 0)
        gc_trace_emit_locked(h, pline->text, pline->len);
    g->trace.start_done = gen;
    pthread_cond_broadcast(&g->trace.cv);
    pthread_mutex_unlock(&g->trace.mu);
}

/* print_gctrace: the cycle's line (GODEBUG=gctrace=1). */
static void print_gctrace(struct gch_heap *h, const struct gccycle_record *r)
{
    char line[GC_TRACE_LINE_MAX];
    size_t n = gc_format_gctrace_shape(line, sizeof line, r, h->env.debug.gctracelegacy != 0);
    gc_trace_emit(h, line, n < sizeof line ? n : sizeof line - 1);
}

/* set_trigger: the heap_live at which the next cycle starts (the pacer
 * decides; a stop-the-world collector triggers at the goal). */
static void set_trigger(struct gch_heap *h, uint64_t marked, uint64_t goal)
{
    atomic_u64_store_relaxed(&h->gc.trigger, pacer_trigger(h, marked, goal));
}

/* finish_cycle: goal, trigger, stats and the cycle record.  World
 * stopped; pause is the cycle's stop-the-world time. */
static void finish_cycle(struct gch_heap *h, struct gccycle_record *r, uint64_t pause, int64_t t_end)
{
    struct gcstate *g = &h->gc;
    lock_acquire(&h->stw.lock); /* readers: gch_read_stats, gc_maybe_trigger */
    atomic_u64_store_relaxed(&g->heap_marked_live, r->heap_marked);
    atomic_u64_store_relaxed(&g->heap_reached_live, r->heap_reached);
    atomic_u64_store_relaxed(&h->mheap.counters.alloc_since_gc, 0);
    r->heap_goal = atomic_u64_load_relaxed(&g->next_gc);
    g->pacer.last_roots = r->stack_scan + r->globals_scan;
    g->scav.last_heap_inuse = atomic_u64_load_relaxed(&h->mheap.pages_inuse) * PAGE_SIZE;
    g->scav.last_heap_goal = r->heap_goal;
    pacer_commit(h); /* goal and trigger for the next cycle, the sweep's pace, the
                      * scavenger's goals */
    uint64_t released = gc_released_total(h);
    g->scav.released_last_cycle = released - g->scav.released_at_cycle;
    g->scav.released_at_cycle = released;
    g->num_gc++;
    if (r->forced)
        g->num_forced_gc++;
    r->num = g->num_gc;
    g->pause_total_ns += pause;
    g->pause_ns[(g->num_gc + 255) % 256] = pause;
    g->last_gc_unix_ns = unix_nanotime();
    g->last_gc_mono_ns = t_end;
    r->cpu_sweepterm_ns = r->clock_sweepterm_ns * g->stwprocs;
    r->cpu_markterm_ns = r->clock_markterm_ns * g->stwprocs;
    g->gc_cpu_ns += r->cpu_sweepterm_ns + r->cpu_assist_ns + r->cpu_background_ns + r->cpu_markterm_ns;
    int64_t elapsed = t_end - g->start_ns;
    r->procs = h->env.gomaxprocs;
    r->gc_cpu_fraction = elapsed > 0 ? (double)g->gc_cpu_ns / ((double)elapsed * h->env.gomaxprocs) : 0;
    g->gc_cpu_fraction = r->gc_cpu_fraction;
    lock_release(&h->stw.lock);
}

/* end_cycle: after the world restarted: let waiters and the sweeper go,
 * print the trace line. */
static void end_cycle(struct gch_heap *h, const struct gccycle_record *r, const struct pacer_line *pline)
{
    struct gcstate *g = &h->gc;
    pthread_mutex_lock(&g->trace.mu); /* after the mark's start line */
    while (g->trace.start_done < atomic_u64_load_relaxed(&g->trace.start_pending))
        pthread_cond_wait(&g->trace.cv, &g->trace.mu);
    pthread_mutex_unlock(&g->trace.mu);
    if (pline != NULL)
        pacer_line_emit(h, pline);
    if (h->env.debug.gctrace > 0)
        print_gctrace(h, r); /* before gch_collect may return */
    gc_sweep_wake(h);
    gc_scavtrace_cycle(h); /* when the cycle swept everything itself */
    atomic_u32_store_relaxed(&h->mheap.eager_refused, 0); /* eager release may try again */
    sysmon_kick(h);        /* new scavenger goals */
    lock_acquire(&h->stw.lock);
    g->cycle_running = false;
    g->cycles_done++;
    pthread_cond_broadcast(&g->mark_cond);
    lock_release(&h->stw.lock);
}

/* gc_mark: mark from every root with the world stopped; returns the bytes
 * marked and fills the root byte counts of *rec.  Caller stopped the
 * world and flushed every mcache (X2). */
static uint64_t gc_mark(struct gch_heap *h, struct gccycle_record *rec)
{
    struct gcmarker m;
    gcmarker_init(&m, h);
    rec->globals_scan = gcmarker_scan_globals(&m);
    rec->stack_scan = 0;
    lock_acquire(&h->threads_lock);
    for (struct gch_thread *t = h->attached; t != NULL; t = t->next)
        rec->stack_scan += gcmarker_scan_thread(&m, t); /* W1: t is stopped or is us */
    lock_release(&h->threads_lock);
    do /* EP1 */
        gcmarker_drain(&m, -1);
    while (gc_ephemerons_pass(h, &m));
    uint64_t marked = m.marked;
    m.marked = 0;
    gcwork_dispose(&m.work);
    return marked;
}

/* stw_cycle: the whole cycle with the world stopped (GODEBUG=
 * gcstoptheworld=1 or 2).  The caller stopped the world, ran sweep
 * termination and flushed every cache. */
static void stw_cycle(struct gch_heap *h, struct gccycle_record *r, int64_t t0)
{
    struct gcstate *g = &h->gc;
    int64_t t_mark = gc_nanotime();
    gc_set_phase(h, GCPHASE_MARK);
    r->heap_marked = gc_mark(h, r);
    gc_weak_clear(h); /* FW2, EP2 */
    r->heap_reached = r->heap_marked; /* nothing is allocated black in a stopped mark */
    int64_t t_markterm = gc_nanotime();
    gc_set_phase(h, GCPHASE_MARKTERM); /* the caches are still empty: nobody ran */
    gc_sweep_flip(h);
    if (h->env.debug.gcstoptheworld >= 2)
        gc_sweep_termination(h); /* sweep at once, world still stopped */
    gc_set_phase(h, GCPHASE_OFF);
    atomic_uptr_store_relaxed(&g->collector, 0);
    int64_t t_end = gc_nanotime();
    r->clock_sweepterm_ns = t_mark - t0;
    r->clock_mark_ns = t_markterm - t_mark;
    r->cpu_background_ns = r->clock_mark_ns;
    r->clock_markterm_ns = t_end - t_markterm;
    finish_cycle(h, r, (uint64_t)(t_end - t0), t_end);
    start_the_world(h);
    end_cycle(h, r, NULL);
}

/* mark_setup: start a concurrent mark (Go's gcStart after sweep
 * termination).  World stopped, caches flushed, so every span is
 * uncached (X2 at the start). */
static void mark_setup(struct gch_heap *h, struct gccycle_record *r, int64_t t0)
{
    struct gcstate *g = &h->gc;
    atomic_u64_store_relaxed(&g->marked_bytes, 0);
    atomic_u64_store_relaxed(&h->mheap.counters.black_bytes, 0);
    atomic_u64_store_relaxed(&g->stack_scan_bytes, 0);
    atomic_u64_store_relaxed(&g->globals_scan_bytes, 0);
    atomic_i64_store_relaxed(&g->bg_cpu_ns, 0);
    atomic_i64_store_relaxed(&g->assist_cpu_ns, 0);
    atomic_i64_store_relaxed(&g->idle_cpu_ns, 0);
    atomic_u32_store_relaxed(&g->globals_todo, 1);
    g->term_restarts = 0;
    g->term_restart_ns = 0;
    struct pacer_line pline;
    pacer_start_cycle(h, gc_heap_live(h), atomic_u64_load_relaxed(&g->next_gc), &pline);
    gc_set_phase(h, GCPHASE_MARK); /* pinned, barrier on, allocate black */
    lock_acquire(&h->stw.lock);
    gc_handshake_request(h, HS_SCAN_ROOTS);
    uint64_t gen = ++g->mark_gen;
    atomic_u64_store_relaxed(&g->trace.start_pending, gen); /* not trace.mu: a sink may hold it */
    g->cur = *r;
    g->t0 = t0;
    g->t_mark = gc_nanotime();
    g->cur.clock_sweepterm_ns = g->t_mark - t0;
    pthread_cond_broadcast(&g->mark_cond);
    lock_release(&h->stw.lock);
    atomic_uptr_store_relaxed(&g->collector, 0);
    start_the_world(h); /* preempt stays set: each thread owes its root scan */
    trace_start_line(h, &pline, gen);
}

/* Times mark termination may find work with the world stopped and go
 * back to concurrent marking before it drains that work stopped. */
#define TERM_MAX_RESTARTS 32

/* stopped_has_work: world stopped at mark termination: wait for root
 * edits still shading (no new one starts while stopped), then gather what
 * the mutators shaded since the flush handshake (their barrier buffers
 * and markers) into m.  True if any grey work exists. */
static bool stopped_has_work(struct gch_heap *h, struct gcmarker *m)
{
    struct gcstate *g = &h->gc;
    gc_wait_root_edits(h);
    lock_acquire(&h->threads_lock);
    for (struct gch_thread *t = h->attached; t != NULL; t = t->next) {
        GCH_ASSERT_INTERNAL((t->hs_ops & HS_SCAN_ROOTS) == 0);
        gc_wbuf_flush(t, m);
        gcmarker_flush(&t->marker);
    }
    lock_release(&h->threads_lock);
    return !gcwork_is_empty(&m->work) || workbuf_pool_has_work(&g->workbufs);
}

/* drain_stopped: world stopped, no restart left: drain m, then shade the
 * values of ephemerons whose keys that marked, until nothing is left
 * (EP1). */
static void drain_stopped(struct gch_heap *h, struct gcmarker *m)
{
    do
        atomic_u64_add_relaxed(&h->gc.stw_drained_bytes, (uint64_t)gcmarker_drain(m, -1));
    while (gc_ephemerons_pass(h, m));
}

bool gc_mark_termination(struct gch_heap *h, struct gcmarker *m)
{
    struct gcstate *g = &h->gc;
    int64_t t_mt = gc_nanotime();
    stop_the_world(h, NULL);
    atomic_uptr_store_relaxed(&g->collector, gchi_thread_tag());
    gc_test_hook(h, &g->test_term_hook);
    /* Go's gcMarkDone: work found now may be large (a white subtree);
     * the world goes back to concurrent marking rather than drain it. */
    bool work = stopped_has_work(h, m) || gc_ephemerons_pass(h, m); /* EP1 */
    if (work && g->term_restarts < TERM_MAX_RESTARTS) {
        g->term_restarts++;
        atomic_u64_add_relaxed(&g->term_restarts_total, 1);
        gcmarker_flush(m);
        atomic_uptr_store_relaxed(&g->collector, 0);
        g->term_restart_ns += gc_nanotime() - t_mt;
        start_the_world(h);
        return false;
    }
    drain_stopped(h, m);
    gcmarker_flush(m);
    GCH_ASSERT(!workbuf_pool_has_work(&g->workbufs));
    if (h->env.debug.gccheckmark)
        gc_checkmark(h); /* fatal if the mark above lost anything */
    gc_weak_clear(h); /* FW2, EP2: after the last drain, world still stopped */
    gc_set_phase(h, GCPHASE_MARKTERM); /* barrier off, caches flushed (C3), unpinned */
    gc_sweep_flip(h);
    struct gccycle_record *r = &g->cur;
    r->heap_reached = atomic_u64_load_relaxed(&g->marked_bytes);
    r->heap_marked = r->heap_reached + atomic_u64_load_relaxed(&h->mheap.counters.black_bytes);
    r->heap_end_mark = gc_heap_live(h);
    r->stack_scan = atomic_u64_load_relaxed(&g->stack_scan_bytes);
    r->globals_scan = atomic_u64_load_relaxed(&g->globals_scan_bytes);
    r->cpu_assist_ns = atomic_i64_load_relaxed(&g->assist_cpu_ns);
    r->cpu_background_ns = atomic_i64_load_relaxed(&g->bg_cpu_ns);
    r->cpu_idle_ns = atomic_i64_load_relaxed(&g->idle_cpu_ns);
    r->clock_mark_ns = t_mt - g->t_mark;
    struct pacer_line pline;
    pacer_end_cycle(h, r->heap_end_mark, r->clock_mark_ns, r->cpu_assist_ns, r->cpu_idle_ns, &pline);
    gc_set_phase(h, GCPHASE_OFF);
    atomic_uptr_store_relaxed(&g->collector, 0);
    int64_t t_end = gc_nanotime();
    r->clock_markterm_ns = t_end - t_mt;
    lock_acquire(&h->stw.lock);
    g->mark_done_gen = g->mark_gen;
    lock_release(&h->stw.lock);
    finish_cycle(h, r, (uint64_t)(r->clock_sweepterm_ns + r->clock_markterm_ns + g->term_restart_ns),
                 t_end);
    struct gccycle_record done = *r;
    start_the_world(h);
    end_cycle(h, &done, &pline);
    return true;
}

/* What started a cycle (Go's gcTriggerKind): the heap reaching its
 * trigger, sysmon's period, the embedder (gch_collect), or an allocation
 * that found the heap at its limit (gc_collect_at_limit). */
enum gc_kind { GC_KIND_HEAP, GC_KIND_TIME, GC_KIND_USER, GC_KIND_LIMIT };

/* How a start ended: the cycle runs; another cycle holds the start (or a
 * heap-triggered one found the heap below its trigger); or declined, out
 * of memory to finish the last sweep (gc_start_kind). */
enum gc_start { GC_STARTED, GC_BUSY, GC_DECLINED };

/* gc_claim: make the caller the one starting the next cycle (false if one
 * runs).  A time-triggered cycle also needs the last one to have ended
 * period_ns ago or more (Go's gcTrigger.test for gcTriggerTime). */
static bool gc_claim(struct gch_heap *h, enum gc_kind kind, int64_t period_ns)
{
    struct gcstate *g = &h->gc;
    lock_acquire(&h->stw.lock);
    bool ok = !g->cycle_running;
    if (ok && kind == GC_KIND_TIME)
        ok = g->last_gc_mono_ns != 0 && gc_nanotime() - g->last_gc_mono_ns >= period_ns;
    if (ok)
        g->cycle_running = true;
    lock_release(&h->stw.lock);
    return ok;
}

/* gc_unclaim: give up a start gc_claim granted. */
static void gc_unclaim(struct gch_heap *h)
{
    lock_acquire(&h->stw.lock);
    h->gc.cycle_running = false;
    pthread_cond_broadcast(&h->gc.mark_cond);
    lock_release(&h->stw.lock);
}

/* gc_start_kind: begin a cycle unless one is running (GC_BUSY then).  A
 * heap-triggered cycle also gives up if the heap is no longer at its
 * trigger once the world is stopped.  What the last generation left
 * unswept is swept first, with the world running (as Go's gcStart does):
 * in the pause, sweep termination must finish it whatever the OS says
 * (alloc/mspan.h GB1).  While the spare gcBits arena cannot be had that
 * sweep stops, and every start but gch_collect's declines (GC_DECLINED):
 * the allocation that asked fails with ENOMEM instead of the heap dying
 * in the pause.  Only gch_collect's cycles count as forced (NumForcedGC,
 * gctrace); the workers pace themselves only for heap- and
 * time-triggered ones (the others have a thread waiting). */
static enum gc_start gc_start_kind(struct gch_heap *h, enum gc_kind kind, int64_t period_ns)
{
    struct gcstate *g = &h->gc;
    if (!gc_claim(h, kind, period_ns))
        return GC_BUSY;
    if (!mheap_sweep_done(&h->mheap) && !mheap_sweep_finish_reserved(&h->mheap) && kind != GC_KIND_USER) {
        gc_unclaim(h);
        return GC_DECLINED;
    }
    if (kind == GC_KIND_TIME && h->env.debug.gctrace > 0)
        gc_trace_emit(h, "GC forced\n", 10); /* Go's forcegchelper line */
    struct gch_thread *self = gchi_heap_self(h);
    int64_t t0 = gc_nanotime();
    stop_the_world(h, self);
    gc_wait_root_edits(h); /* R3: none is in flight when the phase changes */
    if (kind == GC_KIND_HEAP && gc_heap_live(h) < atomic_u64_load_relaxed(&g->trigger)) {
        start_the_world(h);
        gc_unclaim(h);
        return GC_BUSY;
    }
    struct gccycle_record r;
    memset(&r, 0, sizeof r);
    r.forced = kind == GC_KIND_USER;
    r.start_ns = t0 - g->start_ns;
    atomic_uptr_store_relaxed(&g->collector, gchi_thread_tag());
    gc_sweep_termination(h);
    flush_all(h);
    r.heap_start = gc_heap_live(h);
    r.heap_end_mark = r.heap_start;
    lock_acquire(&h->stw.lock);
    bool concurrent = h->env.debug.gcstoptheworld == 0 && gc_workers_start(h);
    g->forced = kind == GC_KIND_USER || kind == GC_KIND_LIMIT;
    lock_release(&h->stw.lock);
    if (!concurrent) /* asked for, or no thread could be made for a worker */
        stw_cycle(h, &r, t0);
    else
        mark_setup(h, &r, t0);
    return GC_STARTED;
}

static enum gc_start gc_start(struct gch_heap *h, enum gc_kind kind)
{
    return gc_start_kind(h, kind, 0);
}

bool gc_start_periodic(struct gch_heap *h, int64_t period_ns)
{
    return gc_start_kind(h, GC_KIND_TIME, period_ns) == GC_STARTED;
}

/* run_own_cycle: wait out a cycle already running, then run one this
 * thread starts (another thread's start makes it wait that one out and
 * try again), and wait for its end.  stw.lock held. */
static void run_own_cycle(struct gch_heap *h, struct gch_thread *self, enum gc_kind kind)
{
    struct gcstate *g = &h->gc;
    for (;;) {
        while (g->cycle_running)
            gc_wait_cycle(h, self);
        uint64_t before = g->cycles_done;
        lock_release(&h->stw.lock);
        bool started = gc_start(h, kind) == GC_STARTED; /* never declined (USER) */
        lock_acquire(&h->stw.lock);
        if (!started)
            continue;
        while (g->cycles_done == before)
            gc_wait_cycle(h, self);
        return;
    }
}

/* share_next_cycle: wait for the end of the cycle running or, if none
 * runs, of one this thread starts or another thread starts first (as Go's
 * gcTriggerCycle lets one cycle serve every caller that asked for it).
 * A cycle already running frees what was garbage when it began; a caller
 * that needs more asks again.  False if this thread's start declined
 * (out of memory to sweep: gc_start_kind).  stw.lock held. */
static bool share_next_cycle(struct gch_heap *h, struct gch_thread *self, enum gc_kind kind)
{
    struct gcstate *g = &h->gc;
    uint64_t target = g->cycles_done + 1;
    while (g->cycles_done < target) {
        if (g->cycle_running) {
            gc_wait_cycle(h, self);
            continue;
        }
        lock_release(&h->stw.lock);
        enum gc_start r = gc_start(h, kind); /* busy: another thread's start serves */
        lock_acquire(&h->stw.lock);
        if (r == GC_DECLINED)
            return false;
    }
    return true;
}

/* collect_and_sweep: a whole cycle, then the sweep, like runtime.GC.
 * gch_collect runs a cycle of its own that starts after the call (each
 * call is one forced cycle, NumForcedGC); allocations at the limit share
 * cycles, so threads reaching the limit together run one, not one each.
 * self: the caller's attached record, or NULL. */
static bool collect_and_sweep(struct gch_heap *h, struct gch_thread *self, enum gc_kind kind)
{
    lock_acquire(&h->stw.lock);
    bool ran = true;
    if (kind == GC_KIND_LIMIT)
        ran = share_next_cycle(h, self, kind);
    else
        run_own_cycle(h, self, kind);
    lock_release(&h->stw.lock);
    if (!ran)
        return false;
    /* At the limit the sweep, too, stops rather than meet a refusal of
     * the OS it cannot survive (GB1); the caller retries all the same:
     * what it swept may have freed room, and its own sweep stops too. */
    gc_sweep_wait(h, self, kind == GC_KIND_LIMIT);
    return true;
}

gch_error gch_collect(gch_heap *h)
{
    if (h == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_collect: heap is NULL");
        return GCH_EINVAL;
    }
    gc_check_not_in_cycle(h, "gch_collect");
    struct gch_thread *self = gchi_heap_self(h);
    if (self != NULL)
        stw_check_not_blocking(self, "gch_collect");
    collect_and_sweep(h, self, GC_KIND_USER);
    return GCH_OK;
}

bool gc_collect_at_limit(struct gch_heap *h, struct gch_thread *self)
{
    if (pacer_gc_percent(h) < 0)
        return false; /* GOGC=off (now, not at creation): no cycle but the embedder's */
    return collect_and_sweep(h, self, GC_KIND_LIMIT);
}

bool gc_start_forced(struct gch_heap *h) { return gc_start(h, GC_KIND_USER) == GC_STARTED; }

/* trigger_reached: the phase is off and the heap at its trigger, so an
 * allocation should start a cycle. */
static bool trigger_reached(struct gch_heap *h)
{
    if (atomic_u32_load_relaxed(&h->gc.phase) != GCPHASE_OFF)
        return false;
    if (gc_heap_live(h) < atomic_u64_load_relaxed(&h->gc.trigger))
        return false;
    /* The collector has had half the time: when the memory limit set
     * the goal (live data near or over it), the heap grows instead
     * (gc/mgclimit.c); a GOGC goal grows with the live heap, so cycles
     * go on, without assists, as in Go. */
    return !(atomic_u32_load_relaxed(&h->gc.pacer.goal_limited) != 0 && gc_limiter_on(h));
}

/* wait_cycle_change: the trigger is reached but another thread holds the
 * cycle: one is starting (its stopper has not set the mark phase yet) or
 * one is ending (its mark is over, its trace lines and wake-ups not yet).
 * Neither assists nor a new cycle would stop this allocation, and a
 * collector thread descheduled in end_cycle let a mutator run from 5 to
 * 70 MB against a 10 MB goal.  So wait, in a blocking section, until the
 * cycle state changes (Go's gcStart waits on gcsema and worldsema, held
 * by a cycle until its gctrace line is printed).  Returns true after the
 * wait, or at once when no cycle holds it any more (try again); false
 * without waiting on a trace sink's thread, which may be the one ending
 * the cycle.  The wait is
 * unbounded, as Go's: so a trace sink must not wait for a VM thread that
 * may be allocating (gcheap.h, gch_config.trace).  stw_cycle broadcasts
 * no phase change (the world is stopped): its waiters wake at end_cycle. */
static bool wait_cycle_change(struct gch_heap *h)
{
    if (gchi_in_sink())
        return false;
    struct gch_thread *self = gchi_heap_self(h);
    if (self != NULL)
        gch_blocking_enter(self);
    lock_acquire(&h->stw.lock);
    /* Checked under the lock that every change of the two is broadcast
     * under (mark_setup, end_cycle, an abandoned start), so none is
     * missed. */
    if (h->gc.cycle_running && atomic_u32_load_relaxed(&h->gc.phase) == GCPHASE_OFF)
        lock_wait(&h->stw.lock, &h->gc.mark_cond);
    lock_release(&h->stw.lock);
    if (self != NULL)
        gch_blocking_leave(self);
    return true;
}

int64_t gc_maybe_trigger(struct gch_heap *h)
{
    while (trigger_reached(h)) {
        /* Only the start itself is the caller's stop time: a wait for
         * another thread's cycle is not collector work (Go does not count
         * a goroutine waiting on gcsema), and counting it would feed the
         * GC CPU limiter a descheduled collector's delay. */
        int64_t t0 = gc_nanotime();
        enum gc_start r = gc_start(h, GC_KIND_HEAP);
        if (r == GC_STARTED)
            return gc_nanotime() - t0;
        if (r == GC_DECLINED) /* out of memory to sweep: no cycle now; growth fails too */
            return 0;
        if (!wait_cycle_change(h))
            return 0;
    }
    return 0;
}

/* ---- the allocator's entry into the collector (gc/gchooks.h) ---- */

void gchi_hook_alloc_slow(struct mcache *c, size_t bytes)
{
    gch_thread *t = (gch_thread *)(void *)((char *)c - THREAD_MCACHE_OFFSET);
    stw_check_not_blocking(t, "allocation");
    gc_check_not_in_cycle(t->heap, "allocation"); /* before the safepoint's lock */
    gch_safepoint(t);
    if (atomic_u32_load_relaxed(&t->heap->gc.phase) == GCPHASE_MARK) {
        gc_assist(t, bytes);
    } else {
        int64_t stopped = gc_maybe_trigger(t->heap);
        if (stopped > 0) /* this thread started a cycle */
            atomic_u64_store_relaxed(&t->stop_ns, atomic_u64_load_relaxed(&t->stop_ns) + (uint64_t)stopped);
    }
}

/* Cycles an allocation that finds the heap full waits for before it
 * fails, while the last one left room for it (the reached rule below).
 * More than one: what other threads allocate during a cycle survives it
 * (allocate black), and with several threads at the limit the room a
 * cycle freed may go to the others before this thread's retry.  The cap
 * only bounds the wait of a thread that keeps losing that race. */
#define ALLOC_FAILED_CYCLES 16

bool gchi_hook_alloc_failed(struct mcache *c, size_t bytes, int attempt)
{
    gch_thread *t = (gch_thread *)(void *)((char *)c - THREAD_MCACHE_OFFSET);
    struct gch_heap *h = t->heap;
    size_t limit = h->mheap.heap_limit;
    if (gch_last_error() != GCH_ENOMEM || attempt >= ALLOC_FAILED_CYCLES || (limit != 0 && bytes > limit))
        return false;
    /* After a cycle we waited for: full of live data is full.  What
     * other threads allocated during it counts as marked (allocated
     * black) but may be garbage already, so the test uses the bytes the
     * mark reached, a figure the last finished cycle stored whole (a
     * later cycle's start cannot tear it). */
    if (attempt > 0 && limit != 0) {
        uint64_t reached = atomic_u64_load_relaxed(&h->gc.heap_reached_live);
        if (reached + bytes > limit)
            return false;
    }
    return gc_collect_at_limit(h, t);
}
