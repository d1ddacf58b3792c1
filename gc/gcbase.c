/*
 * gcbase.c - the collector's common base: the clock, trace emission, the
 * live-heap estimate and GOGC goal, the settings' getters, the misuse
 * checks, waiting for a cycle's end, and sysmon's kick.  Declarations and
 * why this is a file of its own: gc/gcbase.h.  Overview: gc/mgc.c.
 *
 * Nothing here has state of its own: each function reads or waits on
 * state that another file owns (gcstate, the trace sink's mutex, struct
 * sysmon), under that file's locks and rules.
 */
#define GCHI_BUILDING 1
#include "gcbase.h"
#include "heap.h"
#include "error.h"

#include <signal.h>
#include <unistd.h>

/* 4 MiB at GOGC=100: Go's minimum heap goal (heapMinimum). */
#define HEAP_MINIMUM ((uint64_t)4 << 20)

int64_t gc_nanotime(void) { return sys_nanotime(); }

uint64_t gc_heap_goal(int gc_percent, uint64_t marked, uint64_t roots)
{
    if (gc_percent < 0)
        return UINT64_MAX; /* GOGC=off */
    /* 128 bits: (marked + roots) x GOGC overflows 64 for a GOGC in the
     * millions and a heap in the GiB. */
    unsigned __int128 goal = (unsigned __int128)marked + (unsigned __int128)(marked + roots) *
                                                              (unsigned)gc_percent / 100;
    uint64_t floor = HEAP_MINIMUM * (uint64_t)gc_percent / 100;
    if (goal < floor)
        goal = floor;
    return goal > GC_HEAP_GOAL_MAX ? GC_HEAP_GOAL_MAX : (uint64_t)goal;
}

int pacer_gc_percent(const struct gch_heap *h)
{
    return (int)atomic_i64_load_relaxed(&h->gc.pacer.gc_percent);
}

int64_t pacer_memory_limit(const struct gch_heap *h)
{
    return atomic_i64_load_relaxed(&h->gc.pacer.memory_limit);
}

void gc_trace_emit_locked(struct gch_heap *h, const char *line, size_t n)
{
    if (h->trace != NULL) {
        gchi_sink_enter();
        h->trace(line, h->trace_ctx);
        gchi_sink_leave();
        return;
    }
    ssize_t w = write(2, line, n);
    (void)w;
}

void gc_trace_emit(struct gch_heap *h, const char *line, size_t n)
{
    pthread_mutex_lock(&h->gc.trace.mu);
    gc_trace_emit_locked(h, line, n);
    pthread_mutex_unlock(&h->gc.trace.mu);
}

void gc_in_cycle_fatal(const char *what)
{
    gch_fatalf("%s inside a collection: scan and trace callbacks may only call "
               "gch_visit", what);
}

void stw_check_not_blocking(struct gch_thread *t, const char *what)
{
    /* t->run is written only by t itself (stop_the_world writes only its
     * own record), so its owner may read it without the lock. */
    if (GCH_UNLIKELY(t->run == RUN_BLOCKING))
        gch_fatalf("%s inside a blocking section (between gch_blocking_enter and "
                   "gch_blocking_leave): the collector may be using this thread's state", what);
}

void gc_wait_cycle(struct gch_heap *h, struct gch_thread *self)
{
    if (self == NULL) {
        lock_wait(&h->stw.lock, &h->gc.mark_cond);
        return;
    }
    /* The lock is dropped to enter the blocking section, and a cycle may
     * start or end meanwhile: sleep only if nothing changed, or the
     * broadcast would be missed. */
    uint64_t done = h->gc.cycles_done;
    bool running = h->gc.cycle_running;
    lock_release(&h->stw.lock);
    gch_blocking_enter(self);
    lock_acquire(&h->stw.lock);
    if (h->gc.cycles_done == done && h->gc.cycle_running == running)
        lock_wait(&h->stw.lock, &h->gc.mark_cond);
    lock_release(&h->stw.lock);
    gch_blocking_leave(self);
    lock_acquire(&h->stw.lock);
}

void gc_wait_idle(struct gch_heap *h, struct gch_thread *self)
{
    lock_acquire(&h->stw.lock);
    while (h->gc.cycle_running)
        gc_wait_cycle(h, self);
    lock_release(&h->stw.lock);
}

/* start_locked: create the monitor thread, every signal blocked (the
 * embedder's process-directed signals never run on a heap thread).
 * sysmon.lock held; the thread waits for it before its first look. */
static void start_locked(struct gch_heap *h)
{
    struct sysmon *sm = &h->sysmon;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    sm->started = pthread_create(&sm->thread, NULL, sm->main, h) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void sysmon_kick(struct gch_heap *h)
{
    struct sysmon *sm = &h->sysmon;
    lock_acquire(&sm->lock);
    if (!sm->started && !sm->quit)
        start_locked(h); /* the first kick: a cycle ended, or a setting changed */
    sm->kick = true;
    pthread_cond_signal(&sm->cond);
    lock_release(&sm->lock);
}
