/*
 * mgc.h - collector state and the functions the cycle is built from.
 * Overview essay: gc/mgc.c.  Go counterpart: runtime/mgc.go (work,
 * gcphase), mgcmark.go, mgcsweep.go.
 *
 * Phases (gc_phase):
 *   GCPHASE_OFF       mutators run; allocation is white; barrier off;
 *                     spans are swept lazily and in the background
 *   GCPHASE_MARK      (world stopped in this first, stop-the-world
 *                     collector) roots and heap are marked
 *   GCPHASE_MARKTERM  marking done; the sweep generation flips
 *
 * Invariants:
 *   X1 when marking begins every in-use span has sweepgen ==
 *      mheap.sweepgen and all-zero mark bits (sweep termination sweeps
 *      what the previous generation left, and sweeping leaves them so);
 *   X2 during marking no span is cached by an mcache (the cycle flushes
 *      every cache first), so alloc bits are exact (M4) and the marker can
 *      tell a free slot from an allocated one;
 *   X3 a marked object of a scan span is put on the grey queue exactly
 *      once (the mark bit is tested and set before queueing).
 * Locking: gc.lock is not a mutex: cycles are serialised by the
 * stop-the-world lock (only the stopper runs a cycle).
 */
#ifndef GCHEAP_GC_MGC_H
#define GCHEAP_GC_MGC_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include <stdint.h>
#include "lock.h"
#include "mgcwork.h"
#include "mstats.h"

struct gch_heap;
struct gch_thread;

enum gcphase { GCPHASE_OFF = 0, GCPHASE_MARK = 1, GCPHASE_MARKTERM = 2 };

/* struct bgsweeper: the background sweeper thread (gc/mgcsweep.c). */
struct bgsweeper {
    struct lock lock;            /* rank BGSWEEP */
    pthread_cond_t cond;         /* wake or quit changed */
    pthread_t thread;            /* [lock] valid when started */
    bool started;                /* [lock] */
    bool wake;                   /* [lock] a new generation to sweep */
    struct atomic_u32 quit;      /* [written under lock, read atomic] heap is being freed */
    struct atomic_u64 rounds;    /* [atomic] sweep rounds finished (tests) */
};

/* struct gcstate: per heap (Go's `work` and parts of `memstats`). */
struct gcstate {
    struct atomic_u32 phase;        /* [written by the stopper; read by any thread] enum gcphase */
    struct atomic_uptr collector;   /* [written by the stopper] gchi_thread_tag() of the
                                     * thread running the cycle, 0 outside one */
    struct workbuf_pool workbufs;   /* grey objects */
    struct atomic_u64 next_gc;      /* [written by the stopper; read by allocators] heap goal */
    struct atomic_u64 heap_marked_live; /* [atomic] live bytes marked by the last cycle */
    /* Cycle statistics: written by the stopper under stw.lock (finish_cycle),
     * read under it by gch_read_stats and gc_maybe_trigger. */
    uint32_t num_gc, num_forced_gc; /* [stw.lock] */
    uint64_t pause_total_ns;        /* [stw.lock] */
    uint64_t pause_ns[256];         /* [stw.lock] ring */
    uint64_t last_gc_unix_ns;       /* [stw.lock] */
    int64_t start_ns;               /* [immutable] heap creation, monotonic ns */
    int stwprocs;                   /* [immutable] min(GOMAXPROCS, online CPUs): CPU
                                     * charged per ns of stop-the-world (Go stwprocs) */
    int64_t gc_cpu_ns;              /* [STW] GC CPU time so far, for gc_cpu_fraction */
    struct bgsweeper sweeper;
};

void gc_init(struct gch_heap *h);
/* gc_mark: mark from every root with the world stopped; returns the bytes
 * marked and fills the root byte counts of *rec.  Caller stopped the
 * world and flushed every mcache (X2). */
uint64_t gc_mark(struct gch_heap *h, struct gccycle_record *rec);
/* Sweeping (gc/mgcsweep.c; the mechanism is alloc/msweep.h):
 * gc_sweep_termination: sweep what the last generation left (world
 *   stopped, before marking: X1);
 * gc_sweep_flip: start the next generation (world stopped, after marking);
 * gc_sweep_pace: spread its sweeping over the allocation from heap_live
 *   up to next_goal (world stopped, after the flip);
 * gc_sweep_wake: let the background sweeper run (world running);
 * gc_sweep_wait: sweep until the generation is done, polling safepoints
 *   when self is not NULL (gch_collect);
 * gc_sweep_init / gc_sweep_destroy: the sweeper thread's lifetime. */
void gc_sweep_termination(struct gch_heap *h);
void gc_sweep_flip(struct gch_heap *h);
void gc_sweep_pace(struct gch_heap *h, uint64_t heap_live, uint64_t next_goal);
void gc_sweep_wake(struct gch_heap *h);
void gc_sweep_wait(struct gch_heap *h, struct gch_thread *self);
void gc_sweep_init(struct gch_heap *h);
void gc_sweep_destroy(struct gch_heap *h);
/* gc_heap_goal: GOGC goal for a live heap of `marked` bytes plus roots. */
uint64_t gc_heap_goal(int gc_percent, uint64_t marked, uint64_t roots);
int64_t gc_nanotime(void);
/* gc_maybe_trigger: start a cycle if the live-heap estimate reached the
 * goal.  Called from allocation slow paths holding no lock. */
void gc_maybe_trigger(struct gch_heap *h);
/* gc_check_not_in_cycle: fatal if the calling thread is the one running
 * a cycle: it can get here only from a scan or trace callback. */
void gc_check_not_in_cycle(struct gch_heap *h, const char *what);

#endif
