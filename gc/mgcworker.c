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
 *       terminator, with the world stopped and every queue empty.
 */
#define GCHI_BUILDING 1
#include "mgc.h"
#include "heap.h"

#include <signal.h>
#include <time.h>

/* Bytes a worker scans between checks for handshakes and root jobs. */
#define WORKER_DRAIN_BUDGET ((int64_t)256 << 10)
/* How long an idle worker sleeps before looking for work again. */
#define WORKER_IDLE_NS 50000

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int gc_dedicated_workers(int gomaxprocs)
{
    /* Go's rule: 25% of GOMAXPROCS, rounded; when rounding is off by
     * more than 30% Go runs a fractional worker instead.  gcheap runs
     * whole dedicated workers only, at least one. */
    int n = (gomaxprocs + 2) / 4;
    return n < 1 ? 1 : (n > GC_MAX_WORKERS ? GC_MAX_WORKERS : n);
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

void gc_handshake_run(struct gch_heap *h, struct gch_thread *t, uint32_t ops, struct gcmarker *m)
{
    if (ops & HS_SCAN_ROOTS)
        atomic_u64_add_relaxed(&h->gc.stack_scan_bytes, gcmarker_scan_thread(m, t));
    gc_wbuf_flush(t, m);
    if (m != &t->marker)
        gcmarker_flush(&t->marker);
    gcmarker_flush(m);
}

/* ---- termination -------------------------------------------------------- */

/* quiet: nothing left to do but termination.  Caller holds stw.lock. */
static bool quiet(struct gch_heap *h)
{
    return !workbuf_pool_has_work(&h->gc.workbufs) && atomic_u32_load_relaxed(&h->gc.globals_todo) == 0 &&
           !gc_handshake_pending(h, HS_SCAN_ROOTS);
}

/* try_terminate: called by an idle worker with stw.lock held.  If every
 * worker is idle and nothing is left, flush every thread by handshake;
 * if that produced no work, end the mark (with stw.lock released) and
 * return true.  Otherwise false, still idle. */
static bool try_terminate(struct gch_heap *h, struct gcmarker *m)
{
    struct gcstate *g = &h->gc;
    struct stw *w = &h->stw;
    if (g->terminating || g->nidle != g->nworkers || !quiet(h))
        return false;
    g->terminating = true; /* MW2 */
    gc_handshake_request(h, HS_FLUSH);
    while (gc_handshake_pending(h, HS_FLUSH)) {
        if (!gc_handshake_help(h, m))
            lock_wait(&w->lock, &w->changed);
    }
    if (!quiet(h)) {
        g->terminating = false; /* the flush found work: back to marking */
        return false;
    }
    lock_release(&w->lock);
    gc_mark_termination(h, m);
    lock_acquire(&w->lock);
    g->terminating = false;
    return true;
}

/* idle_wait: sleep briefly, stw.lock released. */
static void idle_wait(struct gch_heap *h)
{
    lock_release(&h->stw.lock);
    struct timespec ts = {0, WORKER_IDLE_NS};
    nanosleep(&ts, NULL);
    lock_acquire(&h->stw.lock);
}

/* mark_round: one worker's part of one concurrent mark.  Its CPU time is
 * banked each time it goes idle, before it may end the mark (which reads
 * the total for the trace line). */
static void mark_round(struct gch_heap *h, struct gcmarker *m, uint64_t gen)
{
    struct gcstate *g = &h->gc;
    for (;;) {
        if (gc_test_held(h)) {
            lock_acquire(&h->stw.lock);
            idle_wait(h);
            lock_release(&h->stw.lock);
            continue;
        }
        int64_t cpu0 = thread_cpu_ns();
        bool did = root_jobs(h, m);
        did |= gcmarker_drain(m, WORKER_DRAIN_BUDGET) > 0;
        while (did) {
            did = root_jobs(h, m);
            did |= gcmarker_drain(m, WORKER_DRAIN_BUDGET) > 0;
        }
        gcmarker_flush(m); /* MW1: idle holds nothing */
        atomic_i64_add_relaxed(&g->bg_cpu_ns, thread_cpu_ns() - cpu0);
        lock_acquire(&h->stw.lock);
        g->nidle++;
        bool over = false;
        while (!over) {
            if (g->mark_done_gen == gen) {
                over = true;
            } else if (gc_test_held(h)) {
                idle_wait(h);
            } else if (try_terminate(h, m)) {
                over = true;
            } else if (!quiet(h) && !g->terminating) {
                break; /* work appeared: busy again */
            } else {
                idle_wait(h);
            }
        }
        g->nidle--;
        lock_release(&h->stw.lock);
        if (over)
            break;
    }
}

static void *worker_main(void *arg)
{
    struct gch_heap *h = arg;
    struct gcstate *g = &h->gc;
    struct gcmarker m;
    gcmarker_init(&m, h);
    uint64_t seen = 0;
    lock_acquire(&h->stw.lock);
    for (;;) {
        while (!g->workers_quit && g->mark_gen == seen)
            lock_wait(&h->stw.lock, &g->mark_cond);
        if (g->workers_quit)
            break;
        seen = g->mark_gen;
        if (g->mark_done_gen == seen)
            continue; /* that mark already ended */
        lock_release(&h->stw.lock);
        mark_round(h, &m, seen);
        lock_acquire(&h->stw.lock);
    }
    lock_release(&h->stw.lock);
    return NULL;
}

bool gc_workers_start(struct gch_heap *h)
{
    struct gcstate *g = &h->gc;
    lock_assert_held(&h->stw.lock);
    if (g->nworkers > 0)
        return true;
    int want = gc_dedicated_workers(h->env.gomaxprocs);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* embedder signals never land here */
    for (int i = 0; i < want; i++) {
        if (pthread_create(&g->workers[i], NULL, worker_main, h) != 0)
            break;
        g->nworkers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return g->nworkers > 0;
}

void gc_workers_stop(struct gch_heap *h)
{
    struct gcstate *g = &h->gc;
    lock_acquire(&h->stw.lock);
    g->workers_quit = true;
    pthread_cond_broadcast(&g->mark_cond);
    int n = g->nworkers;
    lock_release(&h->stw.lock);
    for (int i = 0; i < n; i++)
        pthread_join(g->workers[i], NULL);
}

/* ---- assists ------------------------------------------------------------ */

void gc_assist(struct gch_thread *t, size_t bytes)
{
    struct gch_heap *h = t->heap;
    t->assist_debt += (double)bytes * h->gc.assist_ratio;
    if (t->assist_debt <= 0 || gc_test_held(h))
        return;
    int64_t cpu0 = thread_cpu_ns();
    /* Pay in scan work taken from the shared lists; with none to take the
     * debt is forgiven: marking is nearly done. */
    int64_t done = gcmarker_drain(&t->marker, (int64_t)t->assist_debt + 1);
    gcmarker_flush(&t->marker);
    t->assist_debt = done > 0 ? t->assist_debt - (double)done : 0;
    if (t->assist_debt < 0)
        t->assist_debt = 0;
    atomic_i64_add_relaxed(&h->gc.assist_cpu_ns, thread_cpu_ns() - cpu0);
}
