/*
 * mgcworker.c - concurrent marking: the background mark workers, mutator
 * assists, and the search for mark termination.
 * Go counterpart: runtime/mgc.go (gcBgMarkWorker, gcMarkDone),
 * mgcmark.go (gcAssistAlloc, gcDrain), mgcpacer.go (the 25% rule).
 * Overview of the cycle: gc/mgc.c.
 *
 * Workers are the heap's own threads, started at the first concurrent
 * cycle and parked on gc.mark_cond between cycles.  In a mark each loops:
 * scan the global roots if nobody has, run the handshakes of threads in
 * blocking sections, drain grey objects; when it finds nothing it goes
 * idle.  The last worker to go idle, when no thread still owes its root
 * scan and the shared lists are empty, runs mark termination: a handshake
 * that makes every thread flush its barrier buffer and marker, then, if
 * no work appeared, the stop-the-world end of the cycle (gc/mgc.c), which
 * drains whatever the mutators produced since.
 *
 * Invariants (all under stw.lock):
 *   MW1 nidle <= nworkers; a worker counted idle holds no queued work;
 *   MW2 at most one worker is `terminating`; the others, idle, wait;
 *   MW3 mark_done is set (and the phase left MARK) only by the
 *       terminator, with the world stopped and every queue empty;
 *   MW4 no worker begins mark work while a worker is `terminating`:
 *       neither by leaving the idle loop nor by entering a new round.
 *       A worker counted idle may be asleep in a round whose mark
 *       already ended (idle_wait); its count then satisfies the next
 *       mark's termination check, and when it wakes it leaves that old
 *       round and enters the new one.  Termination trusts every counted
 *       worker to hold and take no work; entering the new round during
 *       the termination would take grey objects the stopped world's
 *       check no longer sees (lost objects, marking after the mark).
 */
#define GCHI_BUILDING 1
#include "mgcworker.h"
#include "mgc.h"
#include "heap.h"
#include "gcbase.h"
#include "mgcmark.h"
#include "mgcpacer.h"
#include "mgclimit.h"
#include "handshake.h"
#include "markroot.h"

#include <signal.h>
#include <time.h>

/* Bytes a worker scans between checks for handshakes and root jobs (a
 * fractional worker: and for its time share). */
#define WORKER_DRAIN_BUDGET ((int64_t)256 << 10)
#define FRACTIONAL_DRAIN_BUDGET ((int64_t)64 << 10)
/* A fractional worker pauses when over its share by this factor. */
#define FRACTIONAL_SLACK 1.2
/* The least scan work an assist does once it has to scan (Go: 64 KiB),
 * so that assists are not a trickle of tiny drains; the excess is kept as
 * the thread's credit. */
#define ASSIST_MIN_WORK ((int64_t)64 << 10)
/* How long an idle worker sleeps before looking for work again. */
#define WORKER_IDLE_NS 50000
/* Most scan work one thread may owe: far beyond any heap, far below
 * INT64_MAX (the ratio can be huge past the goal or with GOGC=0). */
#define ASSIST_DEBT_MAX 1e15

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- root jobs ---------------------------------------------------------- */

/* root_jobs: scan the globals if nobody has, and run blocked threads'
 * handshakes.  True if it did anything. */
static bool root_jobs(struct gch_heap *h, struct gcmarker *m)
{
    bool did = false;
    uint32_t todo = 1;
    if (atomic_u32_load_relaxed(&h->gc.globals_todo) != 0 &&
        atomic_u32_cas_acq_rel(&h->gc.globals_todo, &todo, 0)) {
        atomic_u64_add_relaxed(&h->gc.globals_scan_bytes, gcmarker_scan_globals(m));
        did = true;
    }
    lock_acquire(&h->stw.lock);
    did |= gc_handshake_help(h, m);
    lock_release(&h->stw.lock);
    return did;
}

/* ---- termination -------------------------------------------------------- */

/* quiet: nothing left to do but termination.  Caller holds stw.lock. */
static bool quiet(struct gch_heap *h)
{
    return !workbuf_pool_has_work(&h->gc.workbufs) && atomic_u32_load_relaxed(&h->gc.globals_todo) == 0 &&
           h->gc.nshading == 0 && !gc_handshake_pending(h, HS_SCAN_ROOTS);
}

/* has_work: something an idle worker can do now: grey objects, the
 * globals, or a blocking thread's handshake.  Not quiet() alone: a
 * running thread that owes its root scan, or a root edit shading, keeps
 * the mark from ending but gives a worker nothing to do but wait.
 * Caller holds stw.lock. */
static bool has_work(struct gch_heap *h)
{
    return workbuf_pool_has_work(&h->gc.workbufs) || atomic_u32_load_relaxed(&h->gc.globals_todo) != 0 ||
           gc_handshake_helpable(h);
}

/* end_terminating: clear `terminating` and wake the workers waiting to
 * enter a round (MW4).  stw.lock held. */
static void end_terminating(struct gcstate *g)
{
    g->workers.terminating = false;
    pthread_cond_broadcast(&g->mark_cond);
}

/* try_terminate: called by an idle worker with stw.lock held.  If every
 * worker is idle and nothing is left, flush every thread by handshake;
 * if that produced no work, end the mark (with stw.lock released) and
 * return true.  Otherwise false, still idle. */
static bool try_terminate(struct gch_heap *h, struct gcmarker *m)
{
    struct gcstate *g = &h->gc;
    struct stw *w = &h->stw;
    if (g->workers.terminating || g->workers.nidle != g->workers.nworkers || !quiet(h))
        return false;
    g->workers.terminating = true; /* MW2 */
    atomic_u32_store_relaxed(&g->hs_flushed, 0);
    m->work.flushed_since_check = false; /* ours was published before going idle */
    gc_handshake_all(h, HS_FLUSH, m);
    if (atomic_u32_load_relaxed(&g->hs_flushed) != 0 || !quiet(h)) {
        end_terminating(g); /* the flush found work: back to marking */
        return false;
    }
    lock_release(&w->lock);
    bool ended = gc_mark_termination(h, m);
    lock_acquire(&w->lock);
    end_terminating(g);
    return ended;
}

/* idle_wait: sleep briefly, stw.lock released. */
static void idle_wait(struct gch_heap *h)
{
    lock_release(&h->stw.lock);
    gc_test_hook(h, &h->gc.workers.test_idle_hook);
    struct timespec ts = {0, WORKER_IDLE_NS};
    nanosleep(&ts, NULL);
    lock_acquire(&h->stw.lock);
}

/* gc_idle_cpu: true when GOMAXPROCS leaves a CPU that no running
 * attached thread, no dedicated worker and not the fractional worker
 * itself claims.  The fractional worker then marks on it past its share,
 * as Go runs an idle mark worker on an idle P (findRunnable ->
 * gcController.addIdleMarkWorker): with one mutator on two CPUs the
 * second CPU would otherwise mark only a quarter of the time while the
 * mutator allocates (and assists) alone.  A thread in a blocking section
 * (waiting, or an assist parked at the goal) claims no CPU, as a Go P
 * whose goroutine is in a syscall is handed on; a thread parked for a
 * stop does.  Caller holds no lock (takes stw.lock, then threads_lock:
 * t->run is written under stw.lock). */
bool gc_idle_cpu(struct gch_heap *h)
{
    size_t busy = (size_t)h->gc.pacer.dedicated + 1;
    lock_acquire(&h->stw.lock);
    lock_acquire(&h->threads_lock);
    for (const struct gch_thread *t = h->attached; t != NULL; t = t->next)
        busy += t->run != RUN_BLOCKING;
    lock_release(&h->threads_lock);
    lock_release(&h->stw.lock);
    return busy <= (size_t)h->env.gomaxprocs;
}

/* How long a fractional worker trusts its last gc_idle_cpu answer (it
 * asks after every drain past its share: every 64 KiB of scan work). */
#define IDLE_PROBE_NS ((int64_t)1000000)

/* idle_probe: a fractional worker's last gc_idle_cpu answer (idle) and
 * when to ask again (next_ns); kept for its whole mark round, so that a
 * worker going idle and busy again asks at most every IDLE_PROBE_NS. */
struct idle_probe {
    int64_t next_ns;
    bool idle;
};

/* fractional_pause: a fractional worker that used more than its share
 * of the mark's wall time so far (used_ns: its time in the mark less its
 * idle marking) sleeps until it is back within it, holding no work.  Not
 * for a forced cycle: gch_collect's caller waits.  Not while a CPU is
 * idle (gc_idle_cpu, asked through *probe): then it returns true, and
 * the worker's next drain is idle marking, which is never counted in its
 * share (else a stretch of idle marking would put it past its share
 * for long after, sleeping while the threads it was to help run). */
static bool fractional_pause(struct gch_heap *h, struct gcmarker *m, int64_t used_ns,
                             struct idle_probe *probe)
{
    struct gcstate *g = &h->gc;
    double share = g->pacer.fractional;
    if (g->forced)
        return false;
    int64_t elapsed = gc_nanotime() - g->t_mark;
    if ((double)used_ns <= FRACTIONAL_SLACK * share * (double)elapsed)
        return false;
    int64_t now = elapsed + g->t_mark;
    if (now >= probe->next_ns) {
        probe->idle = gc_idle_cpu(h);
        probe->next_ns = now + IDLE_PROBE_NS;
    }
    if (probe->idle)
        return true;
    gcmarker_flush(m);
    double wait = (double)used_ns / share - (double)elapsed;
    if (wait > 10e6)
        wait = 10e6; /* look again at least every 10 ms */
    struct timespec ts = {0, (long)wait};
    nanosleep(&ts, NULL);
    return false;
}

/* work_until_idle: root jobs and draining while there is any; returns
 * this worker's CPU time spent, of which *idle_ns (0 on entry) on an idle
 * CPU past a fractional worker's share (Go's idleMarkTime, gctrace's
 * "idle" column; the pacer counts it apart).  *frac_used, the time
 * counted in the fractional share this round, gains the rest.  Scan work
 * is banked as assist credit. */
static int64_t work_until_idle(struct gch_heap *h, struct gcmarker *m, bool fractional,
                               int64_t *frac_used, int64_t *idle_ns, struct idle_probe *probe)
{
    if (GCH_UNLIKELY(atomic_u32_load_relaxed(&h->gc.test_mode) != 0)) {
        lock_acquire(&h->stw.lock);
        if (h->gc.workers.terminating) /* MW4 broken */
            atomic_u32_add_relaxed(&h->gc.workers.test_work_in_term, 1);
        lock_release(&h->stw.lock);
    }
    int64_t cpu0 = thread_cpu_ns();
    int64_t budget = fractional ? FRACTIONAL_DRAIN_BUDGET : WORKER_DRAIN_BUDGET;
    bool did = true, past_share = false;
    while (did) {
        int64_t t0 = past_share ? thread_cpu_ns() : 0;
        did = root_jobs(h, m);
        int64_t done = gcmarker_drain(m, budget);
        if (done > 0) {
            did = true;
            pacer_bank_credit(h, done);
        }
        if (past_share)
            *idle_ns += thread_cpu_ns() - t0;
        if (fractional)
            past_share = fractional_pause(h, m, *frac_used + (thread_cpu_ns() - cpu0) - *idle_ns, probe);
    }
    gcmarker_flush(m); /* MW1: idle holds nothing */
    int64_t used = thread_cpu_ns() - cpu0;
    *frac_used += used - *idle_ns;
    return used;
}

/* mark_round: one worker's part of one concurrent mark.  Its CPU time is
 * banked each time it goes idle, before it may end the mark (which reads
 * the total for the trace line). */
static void mark_round(struct gch_heap *h, struct gcmarker *m, uint64_t gen, bool fractional)
{
    struct gcstate *g = &h->gc;
    int64_t frac_used = 0;
    struct idle_probe probe = {0, false};
    for (;;) {
        if (gc_test_held(h)) {
            lock_acquire(&h->stw.lock);
            idle_wait(h);
            lock_release(&h->stw.lock);
            continue;
        }
        int64_t idle = 0, used = work_until_idle(h, m, fractional, &frac_used, &idle, &probe);
        atomic_i64_add_relaxed(&g->bg_cpu_ns, used - idle);
        atomic_i64_add_relaxed(&g->idle_cpu_ns, idle);
        lock_acquire(&h->stw.lock);
        g->workers.nidle++;
        bool over = false;
        while (!over) {
            if (g->mark_done_gen >= gen) { /* this round's mark, or a later one, ended */
                over = true;
            } else if (gc_test_held(h)) {
                idle_wait(h);
            } else if (try_terminate(h, m)) {
                over = true;
            } else if (!g->workers.terminating && has_work(h)) {
                break; /* work appeared: busy again */
            } else {
                idle_wait(h);
            }
        }
        g->workers.nidle--;
        lock_release(&h->stw.lock);
        if (over)
            break;
    }
}

static void *worker_main(void *arg)
{
    struct gch_heap *h = arg;
    struct gcstate *g = &h->gc;
    lock_acquire(&h->stw.lock);
    /* Workers are numbered in the order they first take the lock; the
     * last is the fractional one when the pacer wants one. */
    bool fractional = g->pacer.fractional > 0 && ++g->workers.nnumbered == pacer_workers(h);
    lock_release(&h->stw.lock);
    struct gcmarker m;
    gcmarker_init(&m, h);
    uint64_t seen = 0;
    lock_acquire(&h->stw.lock);
    for (;;) {
        while (!g->workers.workers_quit && g->mark_gen == seen)
            lock_wait(&h->stw.lock, &g->mark_cond);
        if (g->workers.workers_quit)
            break;
        seen = g->mark_gen;
        while (g->workers.terminating) /* MW4: a stale idle count may have let it begin */
            lock_wait(&h->stw.lock, &g->mark_cond);
        if (g->mark_done_gen == seen)
            continue; /* that mark already ended */
        lock_release(&h->stw.lock);
        mark_round(h, &m, seen, fractional);
        lock_acquire(&h->stw.lock);
    }
    lock_release(&h->stw.lock);
    return NULL;
}

bool gc_workers_start(struct gch_heap *h)
{
    struct gcstate *g = &h->gc;
    lock_assert_held(&h->stw.lock);
    if (g->workers.nworkers > 0)
        return true;
    if (atomic_u32_load_relaxed(&g->workers.test_no_workers) != 0)
        return false;
    int want = pacer_workers(h);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* embedder signals never land here */
    for (int i = 0; i < want; i++) {
        if (pthread_create(&g->workers.threads[i], NULL, worker_main, h) != 0)
            break;
        g->workers.nworkers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return g->workers.nworkers > 0;
}

void gc_workers_stop(struct gch_heap *h)
{
    struct gcstate *g = &h->gc;
    lock_acquire(&h->stw.lock);
    g->workers.workers_quit = true;
    pthread_cond_broadcast(&g->mark_cond);
    int n = g->workers.nworkers;
    lock_release(&h->stw.lock);
    for (int i = 0; i < n; i++)
        pthread_join(g->workers.threads[i], NULL);
}

/* ---- assists ------------------------------------------------------------ */

/* How long an assist waiting at the goal sleeps between looks at the GC
 * CPU limiter (which sees the wait so far in the thread's assist time). */
#define ASSIST_PARK_SLICE_NS ((int64_t)1000000)

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* assist_park: the heap reached the mark's goal and the caller's debt
 * found no work to pay it with: wait in a blocking section until this
 * mark ends, so allocation cannot run past the goal while the last
 * objects are marked (Go parks such a goroutine on the assist queue; we
 * wait for the mark's end, the only credit left to come).  The wait is
 * charged to the thread's assist time slice by slice, and ends early
 * once the GC CPU limiter turns on (gc/mgclimit.c).  Holding no lock, at
 * a safepoint. */
static void assist_park(struct gch_thread *t)
{
    struct gch_heap *h = t->heap;
    lock_acquire(&h->stw.lock);
    uint64_t gen = h->gc.mark_gen;
    bool marking = h->gc.mark_done_gen < gen && !h->gc.workers.workers_quit;
    lock_release(&h->stw.lock);
    if (!marking)
        return;
    atomic_u64_add_relaxed(&h->gc.assist_parks, 1);
    gch_blocking_enter(t);
    lock_acquire(&h->stw.lock);
    /* end_cycle broadcasts mark_cond after mark_done_gen moved on, and
     * pacer_commit when a setting moved the goal (past the heap: go on
     * allocating); mark_cond uses the realtime clock. */
    while (h->gc.mark_done_gen < gen && !h->gc.workers.workers_quit &&
           gc_heap_live(h) >= atomic_u64_load_relaxed(&h->gc.pacer.goal)) {
        int64_t w0 = gc_nanotime();
        lock_timedwait(&h->stw.lock, &h->gc.mark_cond, realtime_ns() + ASSIST_PARK_SLICE_NS);
        sys_time_add(&t->assist_ns, w0); /* owner-written even while blocking */
        lock_release(&h->stw.lock);
        bool stop = gc_limiter_on(h);
        lock_acquire(&h->stw.lock);
        if (stop)
            break;
    }
    lock_release(&h->stw.lock);
    gch_blocking_leave(t);
}

void gc_assist(struct gch_thread *t, size_t bytes)
{
    struct gch_heap *h = t->heap;
    t->assist_debt += (double)bytes * pacer_assist_ratio(h);
    if (t->assist_debt > ASSIST_DEBT_MAX)
        t->assist_debt = ASSIST_DEBT_MAX; /* converted to int64_t below */
    if (t->assist_debt <= 0 || gc_test_held(h))
        return; /* in credit */
    if (gc_limiter_on(h)) {
        t->assist_debt = 0; /* the collector has had half the time: no assist (Go) */
        return;
    }
    pacer_revise(h);
    /* Work the background workers did first, then our own scanning. */
    t->assist_debt -= (double)pacer_take_credit(h, (int64_t)t->assist_debt + 1);
    if (t->assist_debt <= 0)
        return;
    int64_t cpu0 = thread_cpu_ns(), wall0 = gc_nanotime();
    int64_t want = (int64_t)t->assist_debt + 1, done = 0;
    if (want < ASSIST_MIN_WORK)
        want = ASSIST_MIN_WORK;
    /* In slices, stopping early when the world is to stop: a long assist
     * would otherwise hold up every pause (the debt stays for later). */
    bool was = mcache_scan_enter(&t->mcache); /* trace callbacks on t (K4) */
    while (done < want) {
        int64_t d = gcmarker_drain(&t->marker, ASSIST_MIN_WORK);
        done += d;
        if (d == 0 || mem_u32_load_relaxed(&t->head.preempt) != 0)
            break;
    }
    mcache_scan_leave(&t->mcache, was);
    gcmarker_flush(&t->marker);
    t->assist_debt -= (double)done; /* below zero: credit for later allocation */
    if (done == 0)
        t->assist_debt = 0; /* no grey work anywhere: marking is nearly done, forgiven */
    atomic_i64_add_relaxed(&h->gc.assist_cpu_ns, thread_cpu_ns() - cpu0);
    sys_time_add(&t->assist_ns, wall0);
    if (done == 0 && gc_heap_live(h) >= atomic_u64_load_relaxed(&h->gc.pacer.goal))
        assist_park(t); /* at the goal: no allocation past it until the mark ends */
}
