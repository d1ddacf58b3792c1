/*
 * gcstate.h - struct gcstate, the collector's per-heap state, and the
 * state structs it holds: the background sweeper, the scavenger's pacing,
 * the CPU limiter, the pacer, and the phases (enum gcphase).  Types only:
 * each file's functions are in its own header (gc/mgc.h the driver's,
 * gc/mgcpacer.h the pacer's, gc/mgcsweep.h the sweeper's, ...), and the
 * phases' table and X1-X4 are described in gc/mgc.h.
 * Two parts have headers of their own: the mark workers (gc/gcworkers.h)
 * and the trace sink (gc/tracesink.h).  Go counterpart: runtime/mgc.go
 * (work), mgcpacer.go (gcController), mgclimit.go, mgcscavenge.go.
 * Overview: gc/mgc.c.
 *
 * Locking: each field says which rule it follows; cycles are serialised
 * by cycle_running under stw.lock.
 */
#ifndef GCHEAP_GC_GCSTATE_H
#define GCHEAP_GC_GCSTATE_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "atomic.h"
#include "lock.h"
#include "mheap.h"
#include "mgcwork.h"
#include "mstats.h"
#include "gcworkers.h"
#include "tracesink.h"

struct checkmark;

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

/* struct scavpacing: the background scavenger's goals and accounting
 * (gc/mgcscavenge.c; Go's scavenger state in mgcscavenge.go). */
struct scavpacing {
    struct atomic_u64 gogc_goal;   /* [written under stw.lock, read atomic] retained bytes
                                    * (in use + free) to come down to; UINT64_MAX: none */
    struct atomic_u64 limit_goal;  /* [as gogc_goal] Ready bytes (heap and metadata) to
                                    * stay under: 95% of GOMEMLIMIT; UINT64_MAX: none */
    uint64_t last_heap_inuse;      /* [stw.lock] in-use bytes at the last mark termination */
    uint64_t last_heap_goal;       /* [stw.lock] goal of the last finished cycle, 0 before */
    uint64_t released_at_cycle;    /* [stw.lock] released_total at the last cycle's end */
    uint64_t released_last_cycle;  /* [stw.lock] released between the last two cycle ends */
    struct atomic_u64 cpu_ns;      /* [atomic] wall time sysmon's scavengers worked */
    uint64_t reported[SCAV_NKINDS];/* [gc.trace.mu] released_bytes at the last scavtrace line */
    uint64_t line_gen;             /* [gc.trace.mu] sweep generation whose line went out */
};

/* struct gclimiter: the GC CPU limiter (gc/mgclimit.c, LM1-LM2). */
struct gclimiter {
    pthread_mutex_t mu;            /* leaf: the bucket */
    int64_t last_ns;               /* [mu] end of the last window */
    int64_t bucket_ns;             /* [mu] LM1 */
    uint64_t last_lost;            /* [mu] lost_ns at the last update */
    int64_t capacity_per_thread_ns;/* [mu; tests may shorten it before use] */
    struct atomic_u64 lost_ns;     /* [atomic] extra lost time (gc_limiter_charge) */
    struct atomic_u64 next_update_ns; /* [atomic] throttle for gc_limiter_on */
    struct atomic_u32 on;          /* [written under mu, read atomic] LM2 */
    struct atomic_u64 enabled_count; /* [atomic] times it turned on (tests, stats) */
};

/* struct pacer: the pacer's state (gc/mgcpacer.c).  Fields without a
 * note are written with the world stopped or at heap creation. */
struct pacer {
    int dedicated;                  /* dedicated mark workers (25% rule) */
    double fractional;              /* CPUs for the one fractional worker, 0: none */
    double cons_mark;               /* bytes allocated per byte scanned, max of 5 cycles */
    double last_cons_mark[4];
    uint64_t last_heap_scan, last_stack_scan, last_globals_scan; /* last mark's work */
    uint64_t triggered;             /* heap_live when the mark began; UINT64_MAX outside */
    struct atomic_u64 goal;         /* [written with the world stopped, or under stw.lock
                                     * while it runs (setters); read atomic] this mark's goal */
    /* The settings the runtime setters change (gch_set_gc_percent,
     * gch_set_memory_limit): written under stw.lock with the world
     * running, read atomic by anyone. */
    struct atomic_i64 gc_percent;   /* GOGC; -1 = off */
    struct atomic_i64 memory_limit; /* GOMEMLIMIT, bytes; INT64_MAX = none */
    struct atomic_u32 goal_limited; /* [written under stw.lock, read atomic] the memory limit,
                                     * not GOGC, set the goal last committed */
    uint64_t last_roots;            /* [stw.lock] root bytes scanned by the last cycle */
    struct atomic_u64 heap_scan_work;  /* [atomic] heap bytes scanned this mark */
    struct atomic_i64 bg_credit;    /* [atomic] scan work banked by workers for assists */
    struct atomic_u64 assist_ratio_fp; /* [atomic] scan bytes owed per byte, x 65536 */
};

/* The collector's phase (gcstate.phase): what each turns on, and the
 * transitions, are described with the phase table in gc/mgc.h. */
enum gcphase { GCPHASE_OFF = 0, GCPHASE_MARK = 1, GCPHASE_MARKTERM = 2 };

/* struct gcstate: per heap (Go's `work` and parts of `memstats`): the
 * cycle's state, with the workers and the trace sink as members. */
struct gcstate {
    struct atomic_u32 phase;        /* [written by gc_set_phase, world stopped; read by any
                                     * thread] enum gcphase (above) */
    struct atomic_uptr collector;   /* [written by the stopper] gchi_thread_tag() of the
                                     * thread running the cycle, 0 outside one */
    struct workbuf_pool workbufs;   /* grey objects */
    struct atomic_u64 next_gc;      /* [written by the stopper; read by allocators] heap goal */
    struct atomic_u64 heap_marked_live; /* [atomic] live bytes marked by the last cycle */
    struct atomic_u64 heap_reached_live; /* [written under stw.lock with heap_marked_live]
                                     * of those, the bytes the mark reached (not allocated
                                     * black): one cycle's figure, never mixed with another's */
    struct atomic_u64 marked_bytes; /* [atomic] bytes blackened this cycle, folded in by
                                     * gcmarker_flush */
    /* Cycle statistics: written by the stopper under stw.lock (finish_cycle),
     * read under it by gch_read_stats and gc_maybe_trigger. */
    uint32_t num_gc, num_forced_gc; /* [stw.lock] */
    uint64_t pause_total_ns;        /* [stw.lock] */
    uint64_t pause_ns[256];         /* [stw.lock] ring */
    uint64_t last_gc_unix_ns;       /* [stw.lock] */
    int64_t last_gc_mono_ns;        /* [stw.lock] monotonic end of the last cycle, 0 before
                                     * the first (sysmon's periodic GC) */
    int64_t start_ns;               /* [immutable] heap creation, monotonic ns */
    int stwprocs;                   /* [immutable] min(GOMAXPROCS, online CPUs): CPU
                                     * charged per ns of stop-the-world (Go stwprocs) */
    int64_t gc_cpu_ns;              /* [STW] GC CPU time so far, for gc_cpu_fraction */
    struct bgsweeper sweeper;
    struct atomic_u64 trigger;      /* [written by the stopper; read by allocators]
                                     * heap_live at which the next cycle starts */
    /* The cycle and the concurrent mark (gc/mgc.c, gc/mgcworker.c), under
     * stw.lock unless marked otherwise. */
    pthread_cond_t mark_cond;       /* a mark started, a cycle ended, workers quit */
    struct tracesink trace;         /* the trace sink's serialisation (gc/tracesink.h) */
    bool cycle_running;             /* [stw.lock] from gc_start to the end of the cycle */
    uint64_t cycles_done;           /* [stw.lock] */
    uint64_t mark_gen;              /* [stw.lock] concurrent marks started */
    uint64_t mark_done_gen;         /* [stw.lock] the last concurrent mark that ended */
    int nshading;                   /* [stw.lock] root edits shading outside any thread's
                                     * marker (gc_shade_begin): termination waits (X4) */
    struct atomic_u32 hs_flushed;   /* [atomic] a flush handshake published work (X4) */
    /* Test instrumentation, set only through tests/testhooks.c (never
     * compiled into the library): zero in production, where each use
     * below costs one load off the hot paths. */
    struct atomic_u32 test_mode;    /* [atomic] a test instrumented this heap: the MW4
                                     * probe (workers.test_work_in_term) runs */
    struct atomic_uptr test_root_edit_hook; /* [atomic acq/rel] void (*)(struct gch_heap *),
                                     * called by each root edit after gc_shade_begin */
    struct atomic_uptr test_term_hook; /* [atomic acq/rel] called by mark termination
                                     * as soon as the world is stopped */
    struct atomic_uptr test_grey_target; /* [atomic] GCH_DEBUG >= 2: a marker about to
                                     * grey this address (unmarked) calls test_grey_hook
                                     * between its mark and alloc loads */
    struct atomic_uptr test_grey_hook;
    bool forced;                    /* [stw.lock] the running cycle is gch_collect's */
    struct atomic_u32 globals_todo; /* [atomic] 1 until a worker claims the global roots */
    struct gcworkers workers;       /* the background mark workers (gc/gcworkers.h) */
    struct atomic_u64 stack_scan_bytes, globals_scan_bytes; /* [atomic] this cycle */
    struct atomic_i64 bg_cpu_ns, assist_cpu_ns;             /* [atomic] this cycle */
    struct atomic_i64 idle_cpu_ns; /* [atomic] this cycle: fractional marking on an idle CPU */
    struct pacer pacer;
    struct scavpacing scav;
    struct gclimiter limiter;
    double gc_cpu_fraction;         /* [stw.lock] Go's GCCPUFraction after the last cycle */
    struct gccycle_record cur;      /* [the cycle's stoppers] the concurrent cycle */
    int term_restarts;              /* [the cycle's stoppers] terminations that found work */
    int64_t term_restart_ns;        /* [the cycle's stoppers] their stopped time */
    struct atomic_u64 term_restarts_total; /* [atomic] all cycles' (tests) */
    struct atomic_u64 assist_parks; /* [atomic] assists that waited for a mark's end at
                                     * its goal (gc/mgcworker.c; tests) */
    struct atomic_u64 stw_drained_bytes;   /* [atomic] scanned with the world stopped at
                                            * mark termination, all cycles (tests) */
    struct checkmark *checkmark;    /* [world stopped] gccheckmark bitmaps, or NULL */
    struct atomic_u32 test_hold;    /* [atomic] tests: workers and assists do no mark work */
    struct atomic_u64 checkmark_passes; /* [atomic] gccheckmark passes run (tests) */
    int64_t t0, t_mark;             /* [the cycle's stoppers] its start, mark start */
};

#endif
