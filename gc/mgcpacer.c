/*
 * mgcpacer.c - the pacer: when a cycle starts, how many workers mark,
 * and how much scan work an allocating thread owes while it marks.
 * Go counterpart: runtime/mgcpacer.go (gcControllerState: commit,
 * trigger, startCycle, endCycle, revise).  Overview: gc/mgc.c.
 *
 * The goal (GOGC) says how large the heap may grow before the next mark
 * must be over; the pacer picks the trigger, the heap size at which to
 * start marking so that it ends near the goal.  It learns from each cycle
 * a cons/mark ratio: bytes the mutators allocated per byte of scan work
 * done, at 25% of the CPU given to marking.  The runway, the allocation
 * expected during the next mark, is that ratio times last cycle's scan
 * work times 3 (75% mutator / 25% collector), and the trigger is the goal
 * minus the runway, kept between about 81% and 95% of the way from the
 * live heap to the goal (Go: 70% to 95%; see TRIGGER_MIN_64THS).
 *
 * During the mark, assists keep the promise: a thread that allocates b
 * bytes owes b x assist_ratio bytes of scan work, where the ratio is the
 * scan work still expected over the heap left before the goal, revised as
 * the mark goes.  Background workers bank the work they do as credit,
 * which assists take before scanning themselves.
 *
 * Workers follow the 25% rule: GOMAXPROCS/4 CPUs, as whole dedicated
 * workers when the rounding is within 30%, else with one fractional
 * worker that marks only for its share of the wall time.
 *
 * Concurrency: the p->* fields without [atomic] are written with the
 * world stopped (mark setup, mark termination) or at heap creation.
 */
#define GCHI_BUILDING 1
#include "mgcpacer.h"
#include "heap.h"
#include "stw.h"
#include "trace.h"
#include "error.h"
#include "gcbase.h"
#include "mgcsweep.h"
#include "mgcscavenge.h"

#include <math.h>
#include <unistd.h>

/* Trigger bounds, in 64ths of the way from the live heap to the goal.
 * Everything allocated during a mark is black and counts as marked, so
 * the goal after a mark that used its whole runway is 2 x (live +
 * runway): a mark held at the goal by assists carries (1 - min) of the
 * way as floating garbage into the next goal, and marked settles at
 * live / min.  Go's min is 45 (about 0.70: marked 1.42 x live); ours is
 * 58 (0.91: 1.10 x live), since gcheap's mutators allocate several times
 * faster than Go's during a mark and the runway the cons/mark estimate
 * asks for is cut at the min in every cycle of binary-trees, churn and
 * GCBench.  Each step up trades memory for cycles (issue 15: 52 -> 58 cut
 * churn's peak RSS 190 -> 176 MiB with 13 cycles in both, binary-trees
 * d21's 260 -> 234 MiB for 12% more cycles; docs/memory-2026-12-06.md).
 * A mark then has 6/64 of the way as runway and assists carry more of
 * it: what a late start costs is assist time, not pause time. */
#define TRIGGER_MIN_64THS 58
#define TRIGGER_MAX_64THS 61
/* Expected scan work never counts as less than this (a new heap). */
#define MIN_EXPECTED_WORK ((uint64_t)1 << 20)
/* The fixed-point scale of assist_ratio_fp. */
#define RATIO_ONE 65536.0

void pacer_init(struct gch_heap *h)
{
    struct pacer *p = &h->gc.pacer;
    double total = h->env.gomaxprocs * 0.25;
    int dedicated = (int)(total + 0.5);
    double err = (double)dedicated / total - 1;
    p->fractional = 0;
    if (fabs(err) > 0.30) {
        if (dedicated > total)
            dedicated--;
        p->fractional = total - dedicated; /* CPUs: one worker, part time */
    }
    if (dedicated > GC_MAX_WORKERS - 1)
        dedicated = GC_MAX_WORKERS - 1;
    p->dedicated = dedicated;
    p->triggered = UINT64_MAX;
    atomic_i64_store_relaxed(&p->gc_percent, h->env.gc_percent);
    atomic_i64_store_relaxed(&p->memory_limit, h->env.memory_limit);
}

int pacer_workers(const struct gch_heap *h)
{
    const struct pacer *p = &h->gc.pacer;
    return p->dedicated + (p->fractional > 0 ? 1 : 0);
}

static uint64_t expected_work(const struct pacer *p)
{
    uint64_t e = p->last_heap_scan + p->last_stack_scan + p->last_globals_scan;
    return e > MIN_EXPECTED_WORK ? e : MIN_EXPECTED_WORK;
}

uint64_t pacer_trigger(struct gch_heap *h, uint64_t marked, uint64_t goal)
{
    const struct pacer *p = &h->gc.pacer;
    if (goal == UINT64_MAX || h->env.debug.gcstoptheworld > 0 || marked >= goal)
        return goal; /* off, or nothing to overlap with */
    uint64_t step = (goal - marked) / 64;
    uint64_t lo = marked + step * TRIGGER_MIN_64THS;
    uint64_t hi = marked + step * TRIGGER_MAX_64THS;
    uint64_t floor_bytes = (uint64_t)4 << 20;
    if (goal > floor_bytes && goal - floor_bytes > hi)
        hi = goal - floor_bytes; /* a large heap starts no earlier than 4 MiB short */
    if (hi < lo)
        hi = lo;
    double runway = p->cons_mark * 3.0 * (double)(p->last_heap_scan + p->last_stack_scan +
                                                   p->last_globals_scan);
    uint64_t trigger = runway >= (double)goal ? lo : goal - (uint64_t)runway;
    return trigger < lo ? lo : trigger > hi ? hi : trigger;
}

static void set_ratio(struct pacer *p, double ratio)
{
    double fp = ratio * RATIO_ONE;
    atomic_u64_store_relaxed(&p->assist_ratio_fp, fp > 1e18 ? (uint64_t)1e18 : (uint64_t)fp);
}

double pacer_assist_ratio(const struct gch_heap *h)
{
    return (double)atomic_u64_load_relaxed(&h->gc.pacer.assist_ratio_fp) / RATIO_ONE;
}

uint64_t pacer_work_done(const struct gch_heap *h)
{
    const struct gcstate *g = &h->gc;
    return atomic_u64_load_relaxed(&g->pacer.heap_scan_work) +
           atomic_u64_load_relaxed(&g->stack_scan_bytes) + atomic_u64_load_relaxed(&g->globals_scan_bytes);
}

void pacer_revise(struct gch_heap *h)
{
    struct pacer *p = &h->gc.pacer;
    if (p->triggered == UINT64_MAX)
        return;
    uint64_t live = gc_heap_live(h), work = pacer_work_done(h);
    double goal = (double)atomic_u64_load_relaxed(&p->goal), expected = (double)expected_work(p);
    double max_work = (double)live; /* all of it, if everything live were scannable */
    if ((double)work > expected) { /* more to scan than last time: stretch the goal */
        double stretched = (goal - (double)p->triggered) / expected * max_work + (double)p->triggered;
        int gogc = pacer_gc_percent(h);
        double pct = gogc < 0 ? 100000.0 : (double)gogc;
        /* Go caps the stretch at (1 + GOGC/100) x goal, "no more than the
         * next cycle will use anyway"; under a goal the memory limit set,
         * the next cycle is held to the limit too, so no stretch (Go,
         * with GOGC=off, would allow 1001x: bench_gogc's first cycle went
         * 20 MB past an 80 MiB limit's goal; Go's own ran 6 MB past). */
        double cap = atomic_u32_load_relaxed(&p->goal_limited) != 0 ? goal : (1 + pct / 100) * goal;
        goal = stretched < cap ? stretched : cap;
        expected = max_work;
    }
    if ((double)live > goal) { /* over already: aim a little further and scan it all */
        goal *= 1.1;
        expected = max_work;
    }
    double rem_work = expected - (double)work;
    double rem_heap = goal - (double)live;
    set_ratio(p, (rem_work > 1000 ? rem_work : 1000) / (rem_heap > 1 ? rem_heap : 1));
}

void pacer_start_cycle(struct gch_heap *h, uint64_t live, uint64_t goal, struct pacer_line *line)
{
    struct pacer *p = &h->gc.pacer;
    p->triggered = live;
    atomic_u64_store_relaxed(&p->goal, goal);
    atomic_u64_store_relaxed(&p->heap_scan_work, 0);
    atomic_i64_store_relaxed(&p->bg_credit, 0);
    pacer_revise(h);
    line->len = 0;
    if (h->env.debug.gcpacertrace > 0) {
        size_t n = gc_format_pacer_start(line->text, sizeof line->text, pacer_assist_ratio(h),
                                         p->last_heap_scan, live, goal, p->dedicated,
                                         p->fractional / h->env.gomaxprocs);
        line->len = n < sizeof line->text ? n : sizeof line->text - 1;
    }
}

void pacer_end_cycle(struct gch_heap *h, uint64_t live, int64_t mark_ns, int64_t assist_ns, int64_t idle_ns,
                     struct pacer_line *line)
{
    struct pacer *p = &h->gc.pacer;
    const struct gcstate *g = &h->gc;
    uint64_t heap_work = atomic_u64_load_relaxed(&p->heap_scan_work);
    uint64_t stack_work = atomic_u64_load_relaxed(&g->stack_scan_bytes);
    uint64_t globals_work = atomic_u64_load_relaxed(&g->globals_scan_bytes);
    uint64_t work = heap_work + stack_work + globals_work;
    double procs = (double)h->env.gomaxprocs;
    double u = 0.25 + (mark_ns > 0 ? (double)assist_ns / ((double)mark_ns * procs) : 0);
    /* Marking on idle CPUs sped this mark up beyond the 25% the next one
     * may get: counted in the work's cost, not in the mutators' share
     * (Go's idleUtilization in endCycle). */
    double idle_u = mark_ns > 0 ? (double)idle_ns / ((double)mark_ns * procs) : 0;
    double prev = p->cons_mark;
    line->len = 0;
    if (live > p->triggered && work > 0 && u < 1) {
        double cur = (double)(live - p->triggered) * (u + idle_u) / ((double)work * (1 - u));
        double m = cur;
        for (int i = 0; i < 4; i++)
            m = p->last_cons_mark[i] > m ? p->last_cons_mark[i] : m;
        for (int i = 3; i > 0; i--)
            p->last_cons_mark[i] = p->last_cons_mark[i - 1];
        p->last_cons_mark[0] = cur;
        p->cons_mark = m;
    }
    /* Go skips the line (and the estimate) when the heap did not grow
     * during the mark. */
    if (h->env.debug.gcpacertrace > 0 && live > p->triggered) {
        uint64_t goal = atomic_u64_load_relaxed(&p->goal);
        int64_t delta = goal > INT64_MAX ? 0 : (int64_t)live - (int64_t)goal;
        struct pacer_end_record r = {
            (int)(u * 100), heap_work, stack_work, globals_work, expected_work(p), p->triggered, live,
            delta, prev};
        size_t n = gc_format_pacer_end(line->text, sizeof line->text, &r);
        line->len = n < sizeof line->text ? n : sizeof line->text - 1;
    }
    p->last_heap_scan = heap_work;
    p->last_stack_scan = stack_work;
    p->last_globals_scan = globals_work;
    p->triggered = UINT64_MAX;
}

int64_t pacer_take_credit(struct gch_heap *h, int64_t want)
{
    struct atomic_i64 *c = &h->gc.pacer.bg_credit;
    int64_t have = atomic_i64_load_relaxed(c);
    while (have > 0) {
        int64_t take = have < want ? have : want;
        if (atomic_i64_cas_acq_rel(c, &have, have - take))
            return take;
    }
    return 0;
}

void pacer_bank_credit(struct gch_heap *h, int64_t work)
{
    atomic_i64_add_relaxed(&h->gc.pacer.bg_credit, work);
}

void pacer_line_emit(struct gch_heap *h, const struct pacer_line *line)
{
    if (line->len > 0)
        gc_trace_emit(h, line->text, line->len);
}

/* ---- the memory limit and the setters ---------------------------------- */

/* Headroom kept below the memory-limit goal, Go >= 1.21's: 3% of it, at
 * least 1 MiB (memoryLimitHeapGoalHeadroomPercent, ...MinHeapGoalHeadroom),
 * so that the heap does not sit exactly at the limit between cycles. */
#define LIMIT_HEADROOM_PERCENT 3
#define LIMIT_MIN_HEADROOM ((uint64_t)1 << 20)

/* memory_limit_goal: Go's memoryLimitHeapGoal.  The memory the heap holds
 * is its Ready pages plus its metadata (sys.ready); what is not object
 * bytes or free pages (fragmentation, span records, bitmaps, mark
 * buffers) is "non-heap", and the goal is what is left of the limit for
 * objects.  Free pages are left out: the scavenger releases them. */
static uint64_t memory_limit_goal(struct gch_heap *h, uint64_t marked)
{
    uint64_t limit = (uint64_t)pacer_memory_limit(h);
    struct mheap *m = &h->mheap;
    uint64_t ready = atomic_u64_load_relaxed(&m->sys.ready);
    uint64_t free_bytes = atomic_u64_load_relaxed(&m->pages_free) * PAGE_SIZE;
    uint64_t alloc = gchi_heap_alloc_bytes(h);
    /* The three are read one by one: a snapshot that does not add up
     * counts no non-heap memory rather than wrapping. */
    uint64_t nonheap = ready > free_bytes + alloc ? ready - free_bytes - alloc : 0;
    uint64_t overage = ready > limit ? ready - limit : 0;
    if (nonheap + overage >= limit)
        return marked; /* hopeless: collect continuously */
    uint64_t goal = limit - (nonheap + overage);
    uint64_t headroom = goal / 100 * LIMIT_HEADROOM_PERCENT;
    if (headroom < LIMIT_MIN_HEADROOM)
        headroom = LIMIT_MIN_HEADROOM;
    goal = goal < 2 * headroom ? headroom : goal - headroom;
    return goal > marked ? goal : marked;
}

uint64_t pacer_goal(struct gch_heap *h, uint64_t marked, uint64_t roots, bool *limited)
{
    uint64_t goal = gc_heap_goal(pacer_gc_percent(h), marked, roots);
    uint64_t lim = memory_limit_goal(h, marked);
    if (limited != NULL)
        *limited = lim < goal;
    return lim < goal ? lim : goal;
}

void pacer_commit(struct gch_heap *h)
{
    struct gcstate *g = &h->gc;
    struct pacer *p = &g->pacer;
    lock_assert_held(&h->stw.lock);
    uint64_t marked = atomic_u64_load_relaxed(&g->heap_marked_live);
    bool limited;
    uint64_t goal = pacer_goal(h, marked, p->last_roots, &limited);
    atomic_u32_store_relaxed(&p->goal_limited, limited ? 1 : 0);
    atomic_u64_store_relaxed(&g->next_gc, goal);
    atomic_u64_store_relaxed(&g->trigger, pacer_trigger(h, marked, goal));
    gc_scav_pace(h, goal);
    /* The sweep spreads what is left over the allocation until the new
     * trigger (Go's gcControllerCommit -> gcPaceSweeper). */
    gc_sweep_pace(h, gc_heap_live(h), atomic_u64_load_relaxed(&g->trigger));
    if (p->triggered != UINT64_MAX) { /* marking: the mark paces to the new goal */
        atomic_u64_store_relaxed(&p->goal, goal);
        pacer_revise(h);
        /* Assists waiting at the old goal look again (assist_park). */
        pthread_cond_broadcast(&g->mark_cond);
    }
}

/* setting_begin: take stw.lock with the world running (a setting changes
 * only between stops, so the pacer's stopped-world fields are quiet).
 * Returns the caller's record if it is attached and running (it parks
 * while a stop is in force, as at a safepoint), else NULL. */
static struct gch_thread *setting_begin(struct gch_heap *h, const char *what)
{
    gc_check_not_in_cycle(h, what);
    struct gch_thread *self = gchi_heap_self(h);
    lock_acquire(&h->stw.lock);
    if (self != NULL && self->run != RUN_RUNNING)
        self = NULL; /* in a blocking section: it does not hold the world up */
    stw_wait_running(h, self);
    return self;
}

int gch_set_gc_percent(gch_heap *h, int percent)
{
    if (h == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_set_gc_percent: heap is NULL");
        return GCH_UNSET;
    }
    struct gch_thread *self = setting_begin(h, "gch_set_gc_percent");
    int old = pacer_gc_percent(h);
    atomic_i64_store_relaxed(&h->gc.pacer.gc_percent, percent < 0 ? -1 : percent);
    pacer_commit(h);
    lock_release(&h->stw.lock);
    /* As Go: no mark runs once collection is off.  Not from a trace sink:
     * the cycle whose line it prints ends only after the sink returns. */
    if (percent < 0 && !gchi_in_sink())
        gc_wait_idle(h, self);
    sysmon_kick(h);
    return old;
}

int64_t gch_set_memory_limit(gch_heap *h, int64_t limit)
{
    if (h == NULL) {
        gchi_set_error(GCH_EINVAL, "gch_set_memory_limit: heap is NULL");
        return GCH_UNSET;
    }
    if (limit < 0)
        return pacer_memory_limit(h); /* a query */
    setting_begin(h, "gch_set_memory_limit");
    int64_t old = pacer_memory_limit(h);
    atomic_i64_store_relaxed(&h->gc.pacer.memory_limit, limit);
    atomic_u64_store_relaxed(&h->mheap.memory_limit, (uint64_t)limit);
    pacer_commit(h);
    lock_release(&h->stw.lock);
    sysmon_kick(h);
    return old;
}

/* sub_floor0: a - b, or 0 when a counter pair was read mid-update (the
 * two loads are not one snapshot; a flush may land between them). */
static uint64_t alloc_sub_floor0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

uint64_t gchi_heap_alloc_bytes(gch_heap *h)
{
    struct heap_counters *k = &h->mheap.counters;
    uint64_t bytes = alloc_sub_floor0(atomic_u64_load_relaxed(&k->large_alloc_bytes),
                                atomic_u64_load_relaxed(&k->large_free_bytes));
    for (unsigned sc = 1; sc < NUM_SIZE_CLASSES; sc++) {
        uint64_t ma = atomic_u64_load_relaxed(&k->small_mallocs[sc]);
        uint64_t fr = atomic_u64_load_relaxed(&k->small_frees[sc]);
        bytes += alloc_sub_floor0(ma, fr) * gchi_class_to_size[sc];
    }
    return bytes;
}
