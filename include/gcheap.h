/*
 * gcheap.h - the one header an embedder includes.
 *
 * gcheap is a garbage-collected heap for language VMs and interpreters,
 * built on the Go runtime's allocator (spans, size classes, per-thread
 * caches) and collector design.  This header declares:
 *   - the opaque handles gch_heap (one independent heap) and gch_thread
 *     (one attached mutator thread: Go's P);
 *   - gch_type, the description of an object's layout that the VM gives;
 *   - lifecycle, allocation, statistics and error reporting.
 *
 * Threading contract:
 *   - every thread that touches a heap first calls gch_thread_attach() and
 *     uses the returned gch_thread only from that OS thread, and detaches
 *     before the OS thread exits;
 *   - a thread that is not attached must not touch the heap's objects;
 *   - gch_heap_free() requires every thread to have detached.
 *
 * Errors: calls that can fail return NULL (or a negative gch_error) and
 * leave a code and message in a per-OS-thread slot, like errno, read with
 * gch_last_error() and gch_last_error_message().  Misuse that would
 * corrupt the heap if execution went on is a fatal error: a message on
 * stderr naming what was wrong, a backtrace, then abort().
 *
 * Exports: the shared library exports gch_* only.  A few of those are
 * not API but ABI: the entry points that the inline fast paths of the
 * headers in include/gcheap/ call from the embedder's code, so they must
 * stay as long as those paths may call them.  They are
 * gch_alloc_finish_slow (gcheap/alloc.h), gch_write_check_slow
 * (gcheap/barrier.h), gch_safepoint_check and gch_frame_pop_fatal
 * (gcheap/safepoint.h); call the inline functions instead of them.
 */
#ifndef GCHEAP_H
#define GCHEAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gcheap/config.h"
#include "gcheap/attrs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; the API is what this
 * marks (and scripts/gcheap.map exports). */
#if defined(__GNUC__)
#define GCH_API __attribute__((visibility("default")))
#else
#define GCH_API
#endif

#define GCH_VERSION_MAJOR 0
#define GCH_VERSION_MINOR 1
#define GCH_VERSION_PATCH 0

/* ------------------------------------------------------------------ */
/* Handles                                                             */
/* ------------------------------------------------------------------ */

typedef struct gch_heap gch_heap;     /* one heap; heaps are independent */
typedef struct gch_thread gch_thread; /* one mutator thread attached to a heap */

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

typedef enum gch_error {
    GCH_OK = 0,
    GCH_EINVAL = -1,      /* a bad argument: size 0, NULL type, bad config */
    GCH_EOVERFLOW = -2,   /* a size computation overflowed (n * elem size) */
    GCH_ENOMEM = -3,      /* out of address space, memory, or the heap limit */
    GCH_EDETACHED = -4,   /* the gch_thread is not attached (detached or bogus) */
    GCH_EWRONGTHREAD = -5,/* the gch_thread belongs to another OS thread */
    GCH_EBUSY = -6,       /* the heap still has attached threads */
    GCH_ESTATE = -7       /* the call is not legal in the current state */
} gch_error;

/* gch_last_error: the code of the last failed gcheap call on this OS
 * thread (GCH_OK if none failed since gch_clear_error). */
GCH_API gch_error gch_last_error(void);
/* gch_last_error_message: a readable sentence for the last failure on this
 * OS thread; never NULL; valid until the next gcheap call on this thread. */
GCH_API const char *gch_last_error_message(void);
GCH_API void gch_clear_error(void);
/* gch_strerror: a fixed description of a code. */
GCH_API const char *gch_strerror(gch_error e);

/* ------------------------------------------------------------------ */
/* Types: what the VM tells the heap about an object's layout          */
/* ------------------------------------------------------------------ */

typedef struct gch_visitor gch_visitor;
/* gch_trace_fn: report every reference slot of obj with gch_visit().
 * Used for shapes a pointer mask cannot describe.  Called once for each
 * element the object was allocated with (1 for gch_alloc, n for
 * gch_alloc_array; size = the type's size), never for the bytes past
 * them (see gch_usable_size).  It runs inside a collection, on a mark
 * worker or on any attached thread (inside gch_alloc when that thread
 * assists the mark, or at its safepoint), and may call only gch_visit:
 * allocating is a fatal error, and it must not take a lock that a VM
 * thread may hold while it allocates or polls a safepoint (that thread
 * may be the one running the callback, or may wait on it): a deadlock.
 * Must not touch other heap objects' type-dependent fields.
 * An object whose callback reports only its first n slots (a count-
 * prefixed vector) must keep every slot it does not report NULL: before
 * lowering n, clear the dropped slots with gch_write_clear (the barrier
 * then shades what they held), and raise n only over NULL slots.  A slot
 * dropped uncleared keeps a reference the collector no longer sees; when
 * n grows back over it, it names a freed object (GODEBUG=gcstress=1
 * reports it at the next allocation). */
typedef void (*gch_trace_fn)(gch_visitor *v, void *obj, size_t size);
GCH_API void gch_visit(gch_visitor *v, void *const *slot);

/*
 * gch_type: the layout of one kind of object.  Exactly one of these holds:
 *   - ptrmask == NULL and trace == NULL: the object holds no references
 *     (a "noscan" object: never scanned);
 *   - ptrmask != NULL: bit i (LSB first in byte i/8) says word i holds a
 *     reference; the mask covers size/8 words, rounded up to whole bytes;
 *   - trace != NULL: the callback reports the references.
 * The descriptor must outlive every object allocated with it.
 */
typedef struct gch_type {
    const char *name;        /* for error messages and profiles; may be NULL */
    size_t size;             /* bytes of one object; > 0 */
    const uint8_t *ptrmask;  /* see above */
    gch_trace_fn trace;      /* see above */
} gch_type;

/* ------------------------------------------------------------------ */
/* Heap lifecycle                                                      */
/* ------------------------------------------------------------------ */

/*
 * gch_config: construction options.  Initialise with gch_config_init()
 * and then set what you need; fields added later keep working defaults.
 */
typedef struct gch_config {
    /* sizeof(gch_config) as the program was compiled; gch_config_init
     * sets it: leave it alone.  The library reads only the first `size`
     * bytes and gives every later field its default, so a program built
     * against an older header keeps working with a newer shared library;
     * a larger size (a newer header) is accepted if the bytes this
     * library does not know are zero (else gch_heap_new fails with
     * GCH_EINVAL).  0 (a config not made by gch_config_init) is
     * GCH_EINVAL. */
    size_t size;
    /* Prefix for environment variables: NULL reads GOGC, GODEBUG, ...;
     * "MYVM_" reads MYVM_GOGC, MYVM_GODEBUG, ... */
    const char *env_prefix;
    /* Hard cap on heap memory mapped from the OS (HeapSys), bytes; 0 = no
     * cap.  An allocation that finds the heap full first runs a whole
     * collection and its sweep, as gch_collect does (so it is a
     * safepoint where a cycle runs; a few cycles while other threads
     * keep filling the heap), unless GOGC is off; then it returns NULL
     * with GCH_ENOMEM if the heap is still full. */
    size_t heap_limit;
    /* Release idle memory with MADV_FREE instead of MADV_DONTNEED
     * (GODEBUG=madvdontneed=0). */
    int madv_free;
    /* Collector knobs; GCH_UNSET keeps Go's default.  The environment
     * (GOGC, GOMEMLIMIT, GOMAXPROCS, GODEBUG, under env_prefix) overrides
     * these when set and valid; an invalid variable prints one line on
     * stderr and the configured value stays. */
    int gc_percent;        /* GOGC: -1 = off; default 100 */
    int64_t memory_limit;  /* GOMEMLIMIT in bytes; default none */
    int gomaxprocs;        /* GOMAXPROCS: mark workers; default online CPUs */
    int read_env;          /* 0: ignore the environment entirely; default 1 */
    /* The monitor thread's periods, ms (0 turns the job off; GCH_UNSET
     * keeps the default).  GODEBUG=forcegcms=N,scavengeidlems=N override
     * them. */
    int64_t force_gc_ms;      /* start a cycle when none ended for this long (Go's
                               * forcegcperiod); default 120000; never with GOGC=off
                               * or before the first cycle */
    int64_t scavenge_idle_ms; /* return free pages unused for this long to the OS;
                               * default 300000 */
    /* Optional decoder for tagged values (NaN-boxing, small-int tags):
     * given the word in a reference slot, return the heap pointer it
     * holds, or NULL.  Applied to every reference slot the collector
     * reads (masks, callbacks, roots).  NULL: slots hold plain pointers.
     * Every object is 8-byte aligned (gch_alloc), so a decoder may use
     * the three low bits of a word as its tag.  It runs on collector
     * threads and on any thread inside the mark, many at once: it must
     * be a pure function of the word (no gcheap call, no allocation, no
     * lock). */
    void *(*decode)(uintptr_t word);
    /* Where trace lines (GODEBUG=gctrace=1 ...) go: NULL writes them to
     * stderr; otherwise trace(line, trace_ctx) receives each line, '\n'
     * included.  Called with the world running (never while threads are
     * stopped), from whichever thread started or ended the cycle (a VM
     * thread or one of the heap's workers), one call at a time; it may
     * not call back into the heap's collector.  A VM thread whose
     * allocation starts a cycle may call it from inside gch_alloc, so it
     * must not take a lock the VM holds while allocating (an interpreter
     * lock, say): hand the line to a queue instead.  The cycle a line
     * reports (or, for "GC forced", is about to start) holds the heap's
     * cycle until the sink returns: meanwhile no other cycle starts, and
     * a VM thread whose allocation reaches the next trigger waits (in a
     * blocking section) for the sink, as Go's allocations wait for the
     * previous cycle's gctrace line.  So a slow sink slows allocation,
     * and a sink that waits for any VM thread that may be allocating
     * (for a lock it holds, a queue it drains) can deadlock. */
    void (*trace)(const char *line, void *trace_ctx);
    void *trace_ctx;
    /* Heap profiling (gch_write_heap_profile): on average one sampled
     * allocation per this many bytes allocated (Go's MemProfileRate);
     * 0 turns sampling off, 1 samples every object; default 524288
     * (512 KiB).  GODEBUG=memprofilerate=N overrides it. */
    int mem_profile_rate;
    /* Who runs finalizers and cleanups (gch_set_finalizer, gch_add_cleanup):
     * 0 (default): a thread the heap starts at the first one registered,
     * attached to the heap (so they may allocate); 1: nobody but the
     * embedder, with gch_run_finalizers on a thread of its choosing. */
    int manual_finalizers;
    /* Nonzero: gctrace lines drop their ", S MB stacks, L MB globals"
     * fields and nothing else (the Go < 1.18 shape, which the patterns of
     * gcvis and GCViewer expect); default 0, Go's current shape.
     * GODEBUG=gctracelegacy=0/1 overrides it. */
    int gctrace_legacy;
} gch_config;

#define GCH_UNSET (-2147483647 - 1)

/* gch_config_init_size: the defaults for a config of `size` bytes: at
 * most `size` bytes are written (bytes beyond the library's own struct
 * are zeroed) and cfg->size is set to size.  Use gch_config_init. */
GCH_API void gch_config_init_size(gch_config *cfg, size_t size);
static inline void gch_config_init(gch_config *cfg) { gch_config_init_size(cfg, sizeof *cfg); }

/* gch_heap_new: a new, empty heap.  cfg may be NULL (defaults).  Returns
 * NULL on failure with gch_last_error() set. */
GCH_API gch_heap *gch_heap_new(const gch_config *cfg);
/* gch_heap_free: release everything the heap holds back to the OS.
 * Returns GCH_EBUSY (and frees nothing) while threads are attached. */
GCH_API gch_error gch_heap_free(gch_heap *h);

/* gch_thread_attach: attach the calling OS thread to h.  An OS thread may
 * be attached to several heaps at once, but to each heap at most once
 * (a second attach returns NULL with GCH_ESTATE). */
GCH_API gch_thread *gch_thread_attach(gch_heap *h);
/* gch_thread_detach: give the thread's caches back to the heap.  The
 * handle must not be used afterwards. */
GCH_API gch_error gch_thread_detach(gch_thread *t);
/* gch_thread_heap: the heap t is attached to. */
GCH_API gch_heap *gch_thread_heap(const gch_thread *t);

/* ------------------------------------------------------------------ */
/* Allocation                                                          */
/* ------------------------------------------------------------------ */

/*
 * gch_alloc: a new zeroed object of type ty.  Returns NULL with
 * gch_last_error() set on failure (GCH_EINVAL for a NULL type or size 0,
 * GCH_ENOMEM, GCH_EDETACHED, GCH_EWRONGTHREAD).
 *
 * Alignment, for every object the heap hands out (gch_alloc,
 * gch_alloc_noscan, gch_alloc_array, any size, with or without
 * references): at least 8 bytes, so the three low bits of a reference
 * are free for a VM's tags (see gch_config.decode); 16 bytes for objects
 * of 9..16 bytes and of 25 bytes or more (requests of 17..24 bytes share
 * Go's 24-byte size class, whose slots are only 8-byte aligned).  No two
 * objects share a slot: gcheap has no tiny allocator packing small
 * objects together, so a 1..8-byte object takes 8 bytes.
 */
static inline void *gch_alloc(gch_thread *t, const gch_type *ty);
/* gch_alloc_noscan: size bytes that hold no references, zeroed, aligned
 * as gch_alloc's objects are.
 * gch_alloc, gch_alloc_noscan and gch_alloc_array (below) are inline
 * (gcheap/alloc.h): small objects are taken from the thread's cache in
 * the caller, anything else by gch_alloc_slow / gch_alloc_noscan_slow /
 * gch_alloc_array_slow, out of line, with the same contract.  The shared
 * library also exports all three under their own names, out of line (for
 * embedders that reach it through dlsym or an FFI). */
static inline void *gch_alloc_noscan(gch_thread *t, size_t size);
/* gch_alloc_array: n objects of type ty in one block, zeroed; the layout
 * (mask or callback) applies to each element.  n * ty->size overflowing
 * gives GCH_EOVERFLOW; a masked type whose size is not a multiple of 8
 * gives GCH_EINVAL for n > 1 (its elements' words would not align). */
static inline void *gch_alloc_array(gch_thread *t, const gch_type *ty, size_t n);

/* gch_usable_size: the bytes available at p, an object the caller owns:
 * its size-class slot, less the type header (8 or 16 bytes) that objects
 * of trace-callback types and scan objects over 512 bytes carry at the
 * end of their slot.  At least the size asked for; the bytes never belong
 * to another object.  The collector scans only the elements the object
 * was allocated with (ty->size x n); the bytes past them, up to the
 * usable size, may hold any data but are never scanned: a reference
 * stored there does not keep its object alive.  0 if p is not the start
 * of an object in this heap. */
GCH_API size_t gch_usable_size(gch_heap *h, const void *p);
/* gch_is_heap_pointer: true when p points into an object slot of one of
 * h's in-use spans (interior pointers included).  The slot may be free at
 * this moment: whether a slot is allocated is known exactly only to the
 * thread allocating from it, as in Go's findObject.  O(1), any thread. */
GCH_API int gch_is_heap_pointer(gch_heap *h, const void *p);
/* gch_object_base: the start of the object slot p points into (same
 * meaning as gch_is_heap_pointer), or NULL.  O(1), any thread. */
GCH_API void *gch_object_base(gch_heap *h, const void *p);

/* ------------------------------------------------------------------ */
/* Statistics (Go's runtime.MemStats heap fields, same meanings)       */
/* ------------------------------------------------------------------ */

#define GCH_NUM_SIZE_CLASSES 68

typedef struct gch_size_class_stats {
    uint32_t size;    /* bytes per object of the class (0 for large) */
    uint64_t mallocs; /* objects allocated in this class */
    uint64_t frees;   /* objects freed in this class */
} gch_size_class_stats;

#define GCH_PAUSE_RING 256

typedef struct gch_stats {
    uint64_t heap_alloc;    /* HeapAlloc: bytes in allocated objects */
    uint64_t total_alloc;   /* TotalAlloc: cumulative bytes allocated */
    uint64_t heap_sys;      /* HeapSys: heap bytes obtained from the OS */
    uint64_t heap_idle;     /* HeapIdle: bytes in no span (free + released) */
    uint64_t heap_inuse;    /* HeapInuse: bytes in in-use spans */
    uint64_t heap_released; /* HeapReleased: idle bytes returned to the OS */
    uint64_t heap_objects;  /* HeapObjects: allocated objects (Mallocs - Frees) */
    uint64_t mallocs;       /* Mallocs: cumulative objects allocated */
    uint64_t frees;         /* Frees: cumulative objects freed */
    uint64_t tiny_allocs;   /* Go: objects packed into tiny blocks; always 0 here */
    uint64_t sys;           /* Sys: all memory mapped (heap + metadata) */
    uint64_t metadata_sys;  /* bytes of off-heap metadata (spans, bitmaps, arenas) */
    uint64_t next_gc;        /* NextGC: heap goal of the next cycle, bytes */
    uint64_t last_gc;        /* LastGC: end of the last cycle, ns since the Unix epoch */
    uint64_t pause_total_ns; /* PauseTotalNs */
    uint64_t pause_ns[GCH_PAUSE_RING]; /* PauseNs: [(num_gc + 255) % 256] is the latest */
    double gc_cpu_fraction;  /* GCCPUFraction: the collector's share of the CPU
                              * (GOMAXPROCS CPUs) since the heap was made */
    uint64_t released_total; /* bytes ever returned to the OS (all scavengers) */
    uint64_t released_last_cycle; /* bytes returned between the ends of the last two
                              * cycles (before the first: 0) */
    uint64_t scavenge_ns;    /* wall time sysmon spent releasing memory (idle and
                              * background scavengers) */
    uint32_t num_gc;         /* NumGC: completed cycles */
    uint32_t num_forced_gc;  /* NumForcedGC: cycles run by gch_collect */
    /* BySize[0] gathers large objects; [1..67] the small size classes. */
    gch_size_class_stats by_size[GCH_NUM_SIZE_CLASSES];
} gch_stats;

/*
 * gch_read_stats: fill *out.  The page-level fields (HeapSys, HeapIdle,
 * HeapInuse, HeapReleased) are one consistent snapshot.  Object counts
 * are flushed from a thread's cache when it refills a span, detaches, or
 * calls gch_thread_flush(); until then a thread's latest allocations may
 * be missing, and while other threads allocate the object fields are
 * read counter by counter (never negative, but not one snapshot).  When
 * every thread has flushed and none is allocating they are exact.
 */
GCH_API void gch_read_stats(gch_heap *h, gch_stats *out);
/*
 * gch_collect: run a whole collection cycle now, sweep included, like
 * Go's runtime.GC: every object not reachable from the roots (global
 * roots, heap scanners, and every attached thread's handle frames and
 * thread scanners) is freed.  Callable from an attached thread (its
 * roots count; it must keep what it uses in them) or from any other
 * thread.  Returns GCH_EINVAL for a NULL heap.
 */
GCH_API gch_error gch_collect(gch_heap *h);

/*
 * gch_free_os_memory: gch_collect, then return every free heap page to
 * the OS now (Go's debug.FreeOSMemory): when no other thread allocates
 * meanwhile, HeapReleased then equals HeapIdle.  With GODEBUG=scavtrace=1 it prints Go's forced scav line.
 * Callable from any thread, as gch_collect.  GCH_EINVAL for NULL.
 */
GCH_API gch_error gch_free_os_memory(gch_heap *h);

/*
 * gch_set_gc_percent / gch_set_memory_limit: Go's runtime/debug
 * SetGCPercent and SetMemoryLimit.  Each returns the previous value and
 * takes effect at once: the goal and trigger are recomputed, and a mark
 * in progress paces its assists to the new goal.  A negative percent
 * turns collection off (the memory limit still applies) and returns only
 * once no cycle runs, except from a trace sink (gch_config.trace), where
 * it returns at once (the cycle being traced ends after the sink
 * returns); a negative limit changes nothing and only reads it
 * (INT64_MAX = no limit).  Any thread, attached or not, at any time but
 * from a scan or trace callback (fatal).  NULL heap: GCH_UNSET with
 * GCH_EINVAL.
 */
GCH_API int gch_set_gc_percent(gch_heap *h, int percent);
GCH_API int64_t gch_set_memory_limit(gch_heap *h, int64_t limit);

/* gch_thread_flush: return t's cached spans to the heap and publish its
 * counts, so that gch_read_stats is exact for this thread. */
GCH_API gch_error gch_thread_flush(gch_thread *t);

/* gch_gc_time: wall time an attached thread spent on the collector's
 * behalf since it attached, ns: what the collector cost that thread's
 * latency.  Go reports the like per process in runtime/metrics
 * (/cpu/classes/gc/...); here it is per thread. */
typedef struct gch_gc_time {
    uint64_t stop_ns;   /* parked while the world was stopped (or waiting to leave a
                         * blocking section), plus stopping the world itself when its
                         * allocation started a cycle (all of it with gcstoptheworld) */
    uint64_t scan_ns;   /* scanning its own roots at handshakes */
    uint64_t assist_ns; /* mark assists: scan work paid for its allocation */
    uint64_t sweep_ns;  /* sweeping spans to allocate (proportional sweep, reclaim) */
} gch_gc_time;
/* gch_thread_read_gc_time: t's counters, read by any thread (each counter
 * is exact; the four are not one snapshot).  GCH_EINVAL for NULL. */
GCH_API gch_error gch_thread_read_gc_time(const gch_thread *t, gch_gc_time *out);

/* ------------------------------------------------------------------ */
/* Safepoints, blocking sections, handle frames                        */
/* ------------------------------------------------------------------ */

/*
 * The embedder's contract: at every safepoint (gch_safepoint, any
 * allocation, gch_blocking_enter) every reference the thread will still
 * use must sit in a registered root (a handle frame, a global root, a
 * scan callback) or be reachable from one.  Between safepoints, raw
 * pointers in C locals are safe.  GODEBUG=gcstress=N (a whole collection
 * every N allocations, freed objects filled with 0xdeadbeef) makes a
 * broken contract fail at once: see README.md.
 *
 * gch_blocking_enter/leave bracket code that touches no heap object
 * (system calls, long native work): the world may stop without waiting
 * for the thread, and the collector may scan the thread's frames and
 * flush its caches meanwhile.  Inside the section the thread must not
 * allocate, push or pop frames, write its frames' slots, store through
 * gch_write, flush, or change its scanners (fatal where detected).
 * gch_safepoint there does nothing: the whole section is a safepoint.
 * Leaving waits while the world is stopped.
 */
GCH_API void gch_blocking_enter(gch_thread *t);
GCH_API void gch_blocking_leave(gch_thread *t);

/* ------------------------------------------------------------------ */
/* Roots                                                               */
/* ------------------------------------------------------------------ */

/*
 * Global roots: slots (or ranges of slots) outside the heap holding NULL
 * or references, scanned every cycle.  Every store of a reference into a
 * registered slot goes through gch_write (the collector marks while the
 * VM runs, and scans the globals only once per cycle).  Adding the same
 * slot twice is GCH_EINVAL; removing a slot that is not registered is
 * GCH_EINVAL.  Any thread, attached or not; a root added or removed
 * while the collector marks has its contents marked.  Adding or removing
 * a root is a safepoint of sorts: while the collector holds the world
 * stopped it waits (an attached thread parks as at gch_safepoint), and
 * from a scan or trace callback it is a fatal error.
 */
GCH_API gch_error gch_root_add(gch_heap *h, void **slot);
GCH_API gch_error gch_root_remove(gch_heap *h, void **slot);
GCH_API gch_error gch_root_range_add(gch_heap *h, void **start, size_t count);
GCH_API gch_error gch_root_range_remove(gch_heap *h, void **start);

/* gch_scan_fn: report every reference the embedder holds in its own
 * structures with gch_visit(v, &slot).  It runs inside a collection and
 * may call only gch_visit: allocating, collecting, polling a safepoint or
 * editing roots there is a fatal error (as in trace callbacks).  The
 * same deadlock rule as for trace callbacks holds: see below for where
 * each kind runs. */
typedef void (*gch_scan_fn)(gch_visitor *v, void *ctx);
/* Heap-wide scanners (embedder tables), called once per cycle by a mark
 * worker while the VM's threads run, and also at once, on the calling
 * thread, by a root edit made while the collector marks (adding or
 * removing a root or a heap scanner: its scanner, or every scanner
 * added or removed then).  Like global roots, the slots a heap scanner
 * reports must be written with gch_write, and the scanner must tolerate
 * concurrent writers (it runs under the heap's roots lock, not the
 * embedder's).  So a heap scanner that takes an embedder lock deadlocks
 * if a thread holding that lock edits the roots, calls gch_collect or
 * allocates with the heap at its limit (both wait for a whole cycle), or
 * waits for a thread that does.  Any thread, attached or not. */
GCH_API gch_error gch_heap_scanner_add(gch_heap *h, gch_scan_fn fn, void *ctx);
GCH_API gch_error gch_heap_scanner_remove(gch_heap *h, gch_scan_fn fn, void *ctx);
/* Per-thread scanners (a VM's value stack), called for t's roots only:
 * on t itself at a safepoint (gch_safepoint, or inside an allocation),
 * or on a mark worker while t is in a blocking section.  An allocation
 * may itself wait in a blocking section (for a cycle, at heap_limit), so
 * the scanner can run on a worker during any gch_alloc: it must find its
 * stack through ctx, never through thread-local storage.  Owner thread
 * only. */
GCH_API gch_error gch_thread_scanner_add(gch_thread *t, gch_scan_fn fn, void *ctx);
GCH_API gch_error gch_thread_scanner_remove(gch_thread *t, gch_scan_fn fn, void *ctx);

/* ------------------------------------------------------------------ */
/* Heap profile (Go's runtime.MemProfile, written as pprof)            */
/* ------------------------------------------------------------------ */

/*
 * Allocations are sampled as Go samples them: on average one object per
 * gch_config.mem_profile_rate bytes allocated (GODEBUG=memprofilerate=N;
 * default 512 KiB; 0 off), each thread drawing exponential distances, so
 * an object of s bytes is sampled with probability 1 - exp(-s / rate).
 * A sampled object's call stack (up to 32 frames, the heap's own frames
 * left out) is recorded with libunwind, and the sweep that frees it
 * records the free.  When sampling is off an allocation pays one
 * subtraction and one test.
 *
 * gch_write_heap_profile: write the profile to f as a gzipped pprof
 * protocol buffer, the format of Go's heap profiles, which `go tool
 * pprof` reads: sample types alloc_objects, alloc_space, inuse_objects
 * and inuse_space, one sample per (stack, object size) with the counts
 * scaled up to estimates of all objects as Go scales them, period = the
 * rate, function names resolved from the symbol tables of the process's
 * executable mappings (no source lines).  Like Go's, the profile is as
 * of the most recently completed cycle whose sweep has finished: objects
 * allocated since then are not in it yet, and an object that died shows
 * as in use until a cycle found it dead and swept it (gch_collect twice
 * makes the profile current).  Before any cycle completes everything
 * sampled so far shows.  Any thread, attached or not; f stays open and
 * is flushed.  GCH_EINVAL for a NULL argument or a write error, GCH_ENOMEM
 * when memory for the tables runs out.
 */
GCH_API gch_error gch_write_heap_profile(gch_heap *h, FILE *f);

/* ------------------------------------------------------------------ */
/* Finalizers, cleanups, weak references, ephemerons                   */
/* ------------------------------------------------------------------ */

/*
 * gch_set_finalizer: run fn(obj, arg) once, after obj becomes unreachable
 * (Go's runtime.SetFinalizer).  obj must be the start of an object of t's
 * heap (else GCH_EINVAL).  An object has at most one finalizer: setting
 * one replaces the previous fn and arg, and fn NULL removes it.
 *   - While the finalizer is set, arg and everything obj references are
 *     kept alive (arg is any pointer: a heap object is kept, other
 *     pointers are left alone); obj itself is not.  So an arg that
 *     reaches obj keeps it alive: obj is then never finalized nor freed
 *     while the finalizer is set (as for cycles, below).
 *   - The cycle that finds obj unreachable keeps it, with everything it
 *     reaches, and queues the finalizer; obj and arg stay alive until fn
 *     has returned, and obj is freed by the first cycle after that which
 *     finds it unreachable.  fn may store obj somewhere reachable
 *     (resurrection): obj then lives on as any object, without a
 *     finalizer (it may set a new one).
 *   - Finalizers run on the heap's finalizer thread (one at a time
 *     there) and inside gch_run_finalizers, on its caller; with
 *     gch_config.manual_finalizers only inside gch_run_finalizers.  The
 *     two share one queue, so two finalizers may run at once on
 *     different threads.  Either thread is attached and running, so fn
 *     may allocate, collect and set finalizers; fn must not block
 *     except inside gch_blocking_enter/leave (every stop of the world
 *     waits for it otherwise), and fn must return: leaving it by
 *     longjmp is not supported (obj and arg would stay alive for ever).
 *     Order among objects is unspecified, except that an
 *     object reachable from another finalizable object is kept until the
 *     latter's finalizer has run (its finalizer runs at a later cycle).
 *   - Cycles: an object reachable from itself through its own referents
 *     (a cycle through a finalizable object, including a reference to
 *     itself) is always marked from its own finalizer record, so it is
 *     never finalized nor freed while the finalizer is set (Go's rule).
 *     Break such cycles, or use gch_add_cleanup, whose object is not
 *     kept.
 *   - A finalizer pending when the heap is freed does not run.
 * Any attached thread (t is the caller's).  GCH_ENOMEM if no record can
 * be allocated.
 */
typedef void (*gch_finalizer_fn)(void *obj, void *arg);
GCH_API gch_error gch_set_finalizer(gch_thread *t, void *obj, gch_finalizer_fn fn, void *arg);

/*
 * gch_add_cleanup: run fn(arg) once, after obj has been freed (Go's
 * runtime.AddCleanup).  An object may have several cleanups; they run
 * after obj's finalizer (if any) and after it was freed, in an
 * unspecified order, where finalizers run.  obj is never kept alive by
 * its cleanups; arg is kept alive until fn has returned.  arg must not
 * reach obj (arg == obj, or a path of references from arg to obj): obj
 * would then never be freed.  arg == obj gives GCH_EINVAL.  Builds with
 * GCH_DEBUG >= 2 also walk the graph from arg (up to 65536 objects; t's
 * cached spans are flushed first; an object another thread allocated
 * since its last gch_thread_flush is not followed) and return GCH_EINVAL
 * when the walk reaches obj; other builds do not walk.  obj must be the start
 * of an object (GCH_EINVAL); GCH_ENOMEM if no record can be allocated.
 * fn runs as a finalizer does (same threads and rules).  A cleanup
 * pending when the heap is freed does not run.
 */
typedef void (*gch_cleanup_fn)(void *arg);
GCH_API gch_error gch_add_cleanup(gch_thread *t, void *obj, gch_cleanup_fn fn, void *arg);

/* gch_run_finalizers: run up to max queued finalizers and cleanups
 * (max < 0: all) on the calling thread t, outside any blocking section;
 * returns how many ran, or a negative gch_error for a bad t.  With the
 * heap's finalizer thread (no manual_finalizers) the two share the
 * queue. */
GCH_API int gch_run_finalizers(gch_thread *t, int max);

/*
 * Weak references (Go's weak.Pointer).  gch_weak_new returns the weak
 * handle of obj, the start of an object (GCH_EINVAL otherwise): two
 * calls for the same object return the same handle (so handles compare
 * equal exactly when made from the same object).  A handle is itself a
 * heap object, kept alive while obj is and otherwise like any object: the
 * embedder keeps it reachable (a root or a heap slot) to use it.  May
 * allocate (a safepoint; obj is protected).  NULL with GCH_ENOMEM.
 *
 * gch_weak_get returns obj while obj is reachable, and NULL from the
 * cycle that finds it unreachable on: the handle is cleared at the end of
 * that cycle's mark, with the world stopped, so no thread sees obj after
 * another saw NULL, and obj is freed only after.  A get while the
 * collector marks marks obj (the caller now holds it).  If obj has a
 * finalizer, the handle is cleared when obj first becomes unreachable,
 * before the finalizer runs, even if the finalizer resurrects it.
 */
typedef struct gch_weak gch_weak;
GCH_API gch_weak *gch_weak_new(gch_thread *t, void *obj);
GCH_API void *gch_weak_get(gch_thread *t, gch_weak *w);

/*
 * Ephemerons: gch_ephemeron_new(t, key, value) makes a heap object that
 * holds key weakly and value only while key is otherwise reachable: the
 * value is kept alive exactly when the ephemeron and its key are both
 * reachable, through any path but the ephemeron's own value.  So a value
 * that references its own key does not keep it alive, and chains
 * (one ephemeron's value holding the key of the next) are followed.  Once
 * a cycle finds the key unreachable (or the ephemeron itself, which is
 * then freed, or kept for its finalizer), both fields read NULL from the
 * end of that cycle's mark on, as for weak handles.  key must point into an object of the heap
 * (GCH_EINVAL otherwise); value may be any pointer (NULL included).  Keys
 * and values are raw pointers, never passed to gch_config.decode.  The
 * ephemeron is an ordinary object for its own reachability: keep it in a
 * root or a heap slot.  May allocate (key and value are protected).
 * gch_ephemeron_key / _value read the fields (NULL once cleared); while
 * the collector marks, each marks both key and value.  Cost: the end of
 * each cycle's mark, with the world stopped, takes up to E + 1 passes
 * over all E live ephemerons, O(E^2) when chains run opposite to the
 * order in which their ephemerons were created; avoid long chains.
 */
typedef struct gch_ephemeron gch_ephemeron;
GCH_API gch_ephemeron *gch_ephemeron_new(gch_thread *t, void *key, void *value);
GCH_API void *gch_ephemeron_key(gch_thread *t, gch_ephemeron *e);
GCH_API void *gch_ephemeron_value(gch_thread *t, gch_ephemeron *e);

#include "gcheap/safepoint.h"
#include "gcheap/barrier.h"
#include "gcheap/alloc.h"

#ifdef __cplusplus
}
#endif

#endif /* GCHEAP_H */
