/*
 * mstats.h - the per-cycle statistics records that every trace printer
 * and any embedder callback reads (STYLE.md habit 12).
 * Go counterpart: the values runtime/mgc.go gcMarkTermination gathers
 * from work, memstats and gcController before printing its gctrace
 * line, and the counters runtime/mgcscavenge.go printScavTrace reads.
 * Printers: gc/trace.c.
 *
 * Owns: struct gccycle_record (one per completed GC cycle) and
 *   struct scav_record (one per scavenger summary).
 * Invariants:
 *   RC1 a record is filled in completely by its producer before anyone
 *      formats it, and is never changed afterwards: printers and
 *      callbacks see a finished value, not a live view of the heap;
 *   RC2 units are those in the field comments (ns, bytes, 0..1);
 *      printers do all rounding (MiB, ms) themselves.
 * Locking: a record is produced at mark termination (world stopped or
 *   under the cycle's ownership, like Go's worldsema) and then passed
 *   by value or const pointer; it holds no pointers into the heap.
 */
#ifndef GCHEAP_GC_MSTATS_H
#define GCHEAP_GC_MSTATS_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stdint.h>

/* gccycle_record: what one finished GC cycle did.  Times are signed
 * because they are differences of monotonic clock readings; a negative
 * value (clock trouble, or a caller bug) prints as 0.
 * Go counterpart: the gctrace inputs in gcMarkTermination. */
struct gccycle_record {
    uint32_t num;                /* 1-based cycle number (Go NumGC after the cycle) */
    int64_t start_ns;            /* cycle start (sweep termination begins), ns since
                                    the heap was created (Go tSweepTerm - runtimeInitTime) */

    /* Wall-clock durations of the three phases, ns. */
    int64_t clock_sweepterm_ns;  /* STW sweep termination (Go tMark - tSweepTerm) */
    int64_t clock_mark_ns;       /* concurrent mark (Go tMarkTerm - tMark) */
    int64_t clock_markterm_ns;   /* STW mark termination (Go tEnd - tMarkTerm) */

    /* CPU time, ns, summed over threads. */
    int64_t cpu_sweepterm_ns;    /* sweep termination: stw procs x wall time */
    int64_t cpu_assist_ns;       /* mutator assists (Go assistTime) */
    int64_t cpu_background_ns;   /* dedicated + fractional mark workers */
    int64_t cpu_idle_ns;         /* idle mark workers (Go idleMarkTime) */
    int64_t cpu_markterm_ns;     /* mark termination: stw procs x wall time */

    /* Heap sizes, bytes. */
    uint64_t heap_start;         /* heap live when the cycle started (Go heap0) */
    uint64_t heap_end_mark;      /* heap live when mark termination began (Go heap1) */
    uint64_t heap_marked;        /* bytes marked live by this cycle (Go heap2) */
    uint64_t heap_reached;       /* of which reached by the mark, not allocated black */
    uint64_t heap_goal;          /* goal of the cycle just finished (Go lastHeapGoal) */

    /* Root scan work, bytes. */
    uint64_t stack_scan;         /* per-thread roots (handle stacks, VM stacks) scanned */
    uint64_t globals_scan;       /* registered global roots scanned */

    int procs;                   /* mutator thread contexts at cycle start (Go maxprocs) */
    bool forced;                 /* started explicitly by the embedder (Go userForced,
                                    runtime.GC); the
                                    periodic 2-minute cycle is not forced */
    double gc_cpu_fraction;      /* cumulative GC share of CPU since heap creation,
                                    0..1 (Go MemStats.GCCPUFraction) */
};

/* scav_record: one scavenger summary line's worth of counters.
 * released_bg and released_eager count since the previous record; the
 * others are gauges at the time of the record.
 * Go counterpart: the arguments and gauges of printScavTrace. */
struct scav_record {
    uint64_t released_bg;        /* bytes returned to the OS by the background scavenger */
    uint64_t released_eager;     /* bytes returned eagerly (heap growth, memory limit,
                                    or, in a forced record, the explicit release) */
    uint64_t heap_released;      /* bytes currently returned to the OS (Go HeapReleased) */
    uint64_t heap_inuse;         /* bytes in in-use spans (Go HeapInuse) */
    uint64_t heap_free;          /* bytes in free, not yet released spans */
    bool forced;                 /* produced by an explicit release of all free
                                    memory (Go debug.FreeOSMemory) */
    bool controller_reset;       /* the rate controller fell back since the last record;
                                    printed only when not forced */
};

#endif
