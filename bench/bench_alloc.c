/*
 * bench_alloc.c - small-object allocation throughput: gcheap against
 * glibc malloc and calloc, measured in the same process run.
 *
 * Workload, per repetition and per thread: allocate N objects of one size,
 * keep every one live in an array, and write one word into each (a link
 * to the previous object, so the word is a real reference for the scan
 * type).  Only this allocation loop is timed.  Then everything is
 * released outside the timed region:
 *   malloc, calloc  free() of each object, timed separately and reported
 *                   as median_ns_per_free;
 *   gcheap          the thread detaches and the heap is freed: every
 *                   repetition uses a fresh heap with collection off
 *                   (GOGC off), so that only allocation is measured.
 *                   Reported as median_ms_teardown.
 * Then malloc_trim(0) (untimed) returns glibc's free memory to the OS.
 * So each repetition starts from an allocator holding no live objects and
 * no touched free memory, and both kinds take the page faults of touching
 * fresh memory (gcheap maps a new heap; glibc grows its trimmed heap):
 * median_minflt reports them.  On a machine with slow page faults they
 * dominate the larger sizes; the fast path itself is best seen in a
 * profile of one configuration (-s 16 -t 1 -a gcheap-scan -r 1).
 * median_cpu_ns_per_alloc is the loops' CPU time (all threads, user and
 * system) per allocation: stable on a loaded machine, where the wall time
 * of two threads depends on whether they really ran at once;
 * median_sys_ns_per_alloc is its system part (the page faults, mostly);
 * median_nvcsw counts the loops' voluntary context switches (all threads):
 * sleeps on a lock the other thread holds, or in the kernel.
 * In the rows of two or more threads glibc is warmer than that: the
 * threads allocate from non-main arenas (heaps of 64 MiB), and after
 * everything is freed and trimmed part of each arena stays resident, so
 * the next repetition reuses touched pages (64 B objects, 96 MiB per
 * thread: 16382 faults per thread and repetition after the first, not
 * 30720; median_minflt per object about halves, gcheap's does not).
 * Since nothing is freed while a repetition allocates, glibc serves every
 * request by splitting its top chunk, never from its tcache: this is
 * malloc's allocate-only path, not its steady-state one.
 * The objs array is not a root, which is why collection is off here;
 * bench_gcbench and bench_binarytrees measure the collector.
 *
 * Allocators:
 *   gcheap-scan    gch_alloc with a type whose pointer mask marks word 0
 *   gcheap-noscan  gch_alloc_noscan (no tiny allocator: an 8-byte
 *                  request takes an 8-byte slot)
 *   malloc         glibc malloc (does not zero)
 *   calloc         glibc calloc(1, size) (zeroes, like gch_alloc)
 *   boehm          Boehm GC's GC_MALLOC (zeroes, scanned conservatively),
 *                  with collection disabled while allocating (the objs
 *                  array is not one of its roots); its objects are
 *                  dropped by one GC_gcollect after the repetition
 *                  (reported as median_ms_teardown).  Boehm keeps the
 *                  freed memory, so its later repetitions start warm.
 * Threads: 1 (the main thread) or T threads allocating at once, each with
 * its own gch_thread on one shared heap; the time per allocation is then
 * the wall time from the first thread's start to the last one's end,
 * divided by all threads' allocations.
 *
 * Each configuration (allocator, size, threads) runs one warm-up
 * repetition, discarded, then `reps` measured ones; the allocators of one
 * (size, threads) are interleaved, in an order rotated every repetition,
 * so drift in machine speed hits all of them alike.  One JSON line per
 * configuration goes to stdout (benchutil.h), a summary table to stderr.
 * The only check is a checksum: every object's link word must still point
 * to its predecessor (an overlap of two objects would break the chain).
 * Exit status 1 if a checksum or an allocation failed.
 *
 * Usage: bench_alloc [-r reps] [-s sizes] [-t threads] [-a allocators]
 *                    [-n max_objects] [-m MiB_per_thread] [-g godebug]
 *   -r  measured repetitions (default $BENCH_REPS or 7; plus 1 warm-up)
 *   -s  comma-separated sizes in bytes, 8..32768 (default 8,...,512)
 *   -t  comma-separated thread counts (default 1,2)
 *   -a  comma-separated allocators (default all five)
 *   -n  objects per thread, at most (default 3000000)
 *   -m  MiB of objects per thread and repetition, at most (default 96);
 *       N = min(max_objects, MiB / size)
 *   -g  GODEBUG settings for gcheap's heaps (say disablethp=1), for A/B
 *       runs of one binary; the rest of the environment stays ignored
 *       (the heaps read only BENCH_ALLOC_GODEBUG, which -g sets)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define GC_THREADS 1
#define GC_NO_THREAD_REDIRECTS 1
#include <gc.h>
#include <gcheap.h>

#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <sys/mman.h>

#include "benchutil.h"

#define NOINLINE __attribute__((noinline))

#define MAX_SIZES 32
#define MAX_THREAD_COUNTS 8
#define MAX_THREADS 64
#define MAX_REPS 1000
#define MAX_OBJ_SIZE 32768 /* gcheap's largest small size class */
#define GODEBUG_PREFIX "BENCH_ALLOC_"
#define GODEBUG_VAR GODEBUG_PREFIX "GODEBUG"

enum alloc_kind { K_GCH_SCAN, K_GCH_NOSCAN, K_MALLOC, K_CALLOC, K_BOEHM, NUM_KINDS };

static const char *const kind_names[NUM_KINDS] = {"gcheap-scan", "gcheap-noscan", "malloc", "calloc",
                                                  "boehm"};

static bool kind_is_gcheap(enum alloc_kind k) { return k == K_GCH_SCAN || k == K_GCH_NOSCAN; }

/* kind_is_gc: a collector, whose objects are dropped, not freed. */
static bool kind_is_gc(enum alloc_kind k) { return kind_is_gcheap(k) || k == K_BOEHM; }

/* Word 0 of a scan object is a reference; the mask covers the largest size. */
static const uint8_t scan_mask[MAX_OBJ_SIZE / 64] = {0x01};

/* ------------------------------------------------------------------ */
/* The timed loops: identical but for the allocation call              */
/* ------------------------------------------------------------------ */

/* Each loop allocates n objects into objs[], writes a link to the previous
 * object into word 0, and returns how many it allocated (n unless the
 * allocator returned NULL).  noinline keeps them apart in profiles.  The
 * link is a reference in a gcheap-scan object, so it is stored through
 * the write barrier as gcheap's contract requires (gch_write: with the
 * collector off, one load of the thread's flag and a branch); in a
 * gcheap-noscan object it is plain data, as in malloc's. */
#define DEFINE_ALLOC_LOOP(name, ALLOC_EXPR, STORE_LINK)                                        \
    static NOINLINE size_t name(void **objs, size_t n, size_t size, gch_thread *t,            \
                                const gch_type *ty)                                          \
    {                                                                                          \
        (void)size, (void)t, (void)ty;                                                        \
        void *prev = NULL;                                                                    \
        for (size_t i = 0; i < n; i++) {                                                      \
            void *p = (ALLOC_EXPR);                                                           \
            if (p == NULL)                                                                    \
                return i;                                                                     \
            STORE_LINK(t, (void **)p, prev);                                                  \
            objs[i] = p;                                                                      \
            prev = p;                                                                         \
        }                                                                                     \
        bench_escape(objs);                                                                   \
        return n;                                                                             \
    }

#define STORE_PLAIN(t, slot, v) (*(slot) = (v))
DEFINE_ALLOC_LOOP(loop_gch_scan, gch_alloc(t, ty), gch_write)
DEFINE_ALLOC_LOOP(loop_gch_noscan, gch_alloc_noscan(t, size), STORE_PLAIN)
DEFINE_ALLOC_LOOP(loop_malloc, malloc(size), STORE_PLAIN)
DEFINE_ALLOC_LOOP(loop_calloc, calloc(1, size), STORE_PLAIN)
DEFINE_ALLOC_LOOP(loop_boehm, GC_MALLOC(size), STORE_PLAIN)

typedef size_t (*alloc_loop_fn)(void **, size_t, size_t, gch_thread *, const gch_type *);
static const alloc_loop_fn kind_loops[NUM_KINDS] = {loop_gch_scan, loop_gch_noscan, loop_malloc,
                                                    loop_calloc, loop_boehm};

/* chain_checksum: how many of objs[0..n) still link to their predecessor
 * (n when nothing overlapped or was lost). */
static uint64_t chain_checksum(void *const *objs, size_t n)
{
    uint64_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        void *want = i == 0 ? NULL : objs[i - 1];
        ok += *(void *const *)objs[i] == want;
    }
    return ok;
}

/* ------------------------------------------------------------------ */
/* One repetition                                                      */
/* ------------------------------------------------------------------ */

struct worker {
    enum alloc_kind kind;   /* [set by main before start] */
    size_t size, n;         /* [set by main before start] */
    void **objs;            /* [owner] pre-faulted, reused by every rep */
    gch_heap *heap;         /* [set by main] gcheap kinds only */
    const gch_type *type;   /* [set by main] gcheap-scan only */
    pthread_barrier_t *barrier; /* NULL in single-thread mode */
    uint64_t alloc_t0, alloc_t1, rel_t0, rel_t1; /* [owner; read after join] */
    uint64_t minflt;        /* faults during the timed loop */
    uint64_t cpu_ns;        /* thread CPU time of the timed loop */
    uint64_t sys_ns;        /* its system part (page faults) */
    uint64_t nvcsw;         /* voluntary context switches in it (lock sleeps) */
    size_t done;            /* objects allocated */
    uint64_t checksum;
    bool attach_failed;
};

static void barrier_wait(pthread_barrier_t *b)
{
    if (b != NULL)
        pthread_barrier_wait(b);
}

/* worker_run: one thread's share of one repetition.  The barriers keep
 * the threads' timed phases together: all allocate, then all release. */
static void *worker_run(void *arg)
{
    struct worker *w = arg;
    gch_thread *t = NULL;
    w->attach_failed = false;
    if (kind_is_gcheap(w->kind)) {
        t = gch_thread_attach(w->heap);
        w->attach_failed = t == NULL;
    }
    bool bw_registered = false; /* GC_DUPLICATE for the main thread */
    if (w->kind == K_BOEHM) {
        struct GC_stack_base sb;
        GC_get_stack_base(&sb);
        bw_registered = GC_register_my_thread(&sb) == GC_SUCCESS;
    }
    barrier_wait(w->barrier);
    uint64_t f0 = bench_thread_minflt();
    uint64_t c0 = bench_thread_cpu_ns(), s0 = bench_thread_sys_ns(), v0 = bench_thread_nvcsw();
    w->alloc_t0 = bench_now_ns();
    w->done = w->attach_failed ? 0 : kind_loops[w->kind](w->objs, w->n, w->size, t, w->type);
    w->alloc_t1 = bench_now_ns();
    w->cpu_ns = bench_thread_cpu_ns() - c0;
    w->sys_ns = bench_thread_sys_ns() - s0;
    w->nvcsw = bench_thread_nvcsw() - v0;
    w->minflt = bench_thread_minflt() - f0;
    w->checksum = chain_checksum(w->objs, w->done);
    barrier_wait(w->barrier);
    w->rel_t0 = bench_now_ns();
    if (kind_is_gcheap(w->kind)) {
        if (t != NULL)
            gch_thread_detach(t);
    } else if (w->kind != K_BOEHM) {
        for (size_t i = 0; i < w->done; i++)
            free(w->objs[i]);
    } else if (bw_registered) {
        GC_unregister_my_thread();
    }
    w->rel_t1 = bench_now_ns();
    return NULL;
}

struct rep_result {
    double ns_per_alloc;  /* alloc wall time / all allocations */
    double ns_per_free;   /* release wall time / all objects (malloc kinds) */
    double teardown_ms;   /* detach wall + gch_heap_free (gcheap kinds) */
    double minflt;        /* page faults in the timed loops, all threads */
    double cpu_ns_per_alloc; /* CPU time of the timed loops, all threads / all allocations */
    double sys_ns_per_alloc; /* its system part */
    double nvcsw;            /* voluntary context switches in the timed loops, all threads */
    uint64_t checksum;    /* sum of the threads' chain checksums */
    size_t done;          /* all allocations */
    bool failed;          /* heap, thread or allocation failure */
};

/* run_rep: one repetition of kind k at size with nthreads workers. */
static void run_rep(enum alloc_kind k, size_t size, size_t n, unsigned nthreads,
                    struct worker *ws, const gch_type *ty, struct rep_result *r)
{
    memset(r, 0, sizeof *r);
    gch_heap *h = NULL;
    if (kind_is_gcheap(k)) {
        /* GC quiet: the objects live in a C array, not in roots, and this
         * measures allocation alone (bench_gcbench / bench_binarytrees
         * measure collection). */
        gch_config cfg;
        gch_config_init(&cfg);
        cfg.gc_percent = -1;
        cfg.read_env = 0;
        if (getenv(GODEBUG_VAR) != NULL) { /* -g: only this prefix's GODEBUG is set */
            cfg.read_env = 1;
            cfg.env_prefix = GODEBUG_PREFIX;
        }
        h = gch_heap_new(&cfg);
        if (h == NULL) {
            fprintf(stderr, "bench_alloc: gch_heap_new: %s\n", gch_last_error_message());
            r->failed = true;
            return;
        }
    }
    pthread_barrier_t barrier;
    if (nthreads > 1)
        pthread_barrier_init(&barrier, NULL, nthreads);
    for (unsigned i = 0; i < nthreads; i++) {
        ws[i].kind = k;
        ws[i].size = size;
        ws[i].n = n;
        ws[i].heap = h;
        ws[i].type = ty;
        ws[i].barrier = nthreads > 1 ? &barrier : NULL;
    }
    if (nthreads == 1) {
        worker_run(&ws[0]);
    } else {
        pthread_t tids[MAX_THREADS];
        for (unsigned i = 0; i < nthreads; i++) {
            int e = pthread_create(&tids[i], NULL, worker_run, &ws[i]);
            if (e != 0) {
                fprintf(stderr, "bench_alloc: pthread_create: %s\n", strerror(e));
                exit(1);
            }
        }
        for (unsigned i = 0; i < nthreads; i++)
            pthread_join(tids[i], NULL);
        pthread_barrier_destroy(&barrier);
    }
    uint64_t a0 = UINT64_MAX, a1 = 0, f0 = UINT64_MAX, f1 = 0;
    for (unsigned i = 0; i < nthreads; i++) {
        const struct worker *w = &ws[i];
        a0 = w->alloc_t0 < a0 ? w->alloc_t0 : a0;
        a1 = w->alloc_t1 > a1 ? w->alloc_t1 : a1;
        f0 = w->rel_t0 < f0 ? w->rel_t0 : f0;
        f1 = w->rel_t1 > f1 ? w->rel_t1 : f1;
        r->done += w->done;
        r->checksum += w->checksum;
        r->minflt += (double)w->minflt;
        r->cpu_ns_per_alloc += (double)w->cpu_ns;
        r->sys_ns_per_alloc += (double)w->sys_ns;
        r->nvcsw += (double)w->nvcsw;
        r->failed |= w->attach_failed || w->done != n;
    }
    if (r->failed && kind_is_gcheap(k))
        fprintf(stderr, "bench_alloc: %s size %zu: %s\n", kind_names[k], size, gch_last_error_message());
    else if (r->failed)
        fprintf(stderr, "bench_alloc: %s size %zu returned NULL\n", kind_names[k], size);
    double total = r->done ? (double)r->done : 1.0;
    r->ns_per_alloc = (double)(a1 - a0) / total;
    r->cpu_ns_per_alloc /= total;
    r->sys_ns_per_alloc /= total;
    if (k == K_BOEHM) {
        uint64_t t0 = bench_now_ns();
        GC_enable(); /* the objs array is no root: everything goes */
        GC_gcollect();
        GC_disable();
        r->teardown_ms = (double)(bench_now_ns() - t0) / 1e6;
    } else if (kind_is_gcheap(k)) {
        uint64_t t0 = bench_now_ns();
        gch_error e = gch_heap_free(h);
        uint64_t t1 = bench_now_ns();
        if (e != GCH_OK) {
            fprintf(stderr, "bench_alloc: gch_heap_free: %s\n", gch_strerror(e));
            r->failed = true;
        }
        r->teardown_ms = (double)((f1 - f0) + (t1 - t0)) / 1e6;
    } else {
        r->ns_per_free = (double)(f1 - f0) / total;
        /* Give the freed memory back to the OS, as gch_heap_free does, so
         * the next repetition of any allocator starts cold (untimed).
         * Without it glibc keeps the chunks in its fastbins and tcache and
         * the next malloc or calloc repetition skips the page faults that
         * gcheap's fresh heap takes. */
        malloc_trim(0);
    }
}

/* ------------------------------------------------------------------ */
/* Configurations, medians, output                                     */
/* ------------------------------------------------------------------ */

struct options {
    unsigned reps;
    size_t sizes[MAX_SIZES];
    unsigned nsizes;
    unsigned threads[MAX_THREAD_COUNTS];
    unsigned nthreads;
    bool kinds[NUM_KINDS];
    size_t max_objects;
    size_t mib_per_thread;
};

/* One (size, threads) group's medians, kept for the summary table. */
struct row {
    size_t size, n;
    unsigned threads;
    bool have[NUM_KINDS];
    double ns[NUM_KINDS];       /* median ns per allocation */
    double ns_free[NUM_KINDS];  /* malloc kinds: median ns per free */
    double teardown[NUM_KINDS]; /* gcheap kinds: median teardown ms */
    double cpu[NUM_KINDS];      /* median CPU ns per allocation */
};

static size_t objects_for(const struct options *o, size_t size)
{
    size_t n = o->mib_per_thread * ((size_t)1 << 20) / size;
    n = n < o->max_objects ? n : o->max_objects;
    return n ? n : 1;
}

static double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

/* run_group: every selected allocator at one (size, threads); prints the
 * JSON lines and fills *row.  False if a checksum or allocation failed. */
static bool run_group(const struct options *o, size_t size, unsigned nthreads, struct worker *ws,
                      struct row *row)
{
    static double samples[NUM_KINDS][7][MAX_REPS]; /* alloc, free, teardown, minflt, cpu, sys, nvcsw */
    gch_type ty = {"bench_obj", size, scan_mask, NULL};
    size_t n = objects_for(o, size);
    enum alloc_kind order[NUM_KINDS];
    unsigned nk = 0;
    for (unsigned k = 0; k < NUM_KINDS; k++)
        if (o->kinds[k])
            order[nk++] = (enum alloc_kind)k;
    bool ok = true;
    uint64_t last_checksum[NUM_KINDS] = {0};
    bool checksum_ok[NUM_KINDS];
    for (unsigned k = 0; k < NUM_KINDS; k++)
        checksum_ok[k] = true;
    uint64_t want = (uint64_t)n * nthreads;

    for (unsigned rep = 0; rep <= o->reps; rep++) { /* rep 0: warm-up, discarded */
        for (unsigned j = 0; j < nk; j++) {
            enum alloc_kind k = order[(j + rep) % nk];
            struct rep_result r;
            run_rep(k, size, n, nthreads, ws, &ty, &r);
            if (r.failed || r.checksum != want) {
                if (!r.failed)
                    fprintf(stderr, "bench_alloc: %s size %zu threads %u: checksum %" PRIu64
                                    ", want %" PRIu64 "\n",
                            kind_names[k], size, nthreads, r.checksum, want);
                checksum_ok[k] = false;
                ok = false;
            }
            last_checksum[k] = r.checksum;
            if (rep == 0)
                continue;
            samples[k][0][rep - 1] = r.ns_per_alloc;
            samples[k][1][rep - 1] = r.ns_per_free;
            samples[k][2][rep - 1] = r.teardown_ms;
            samples[k][3][rep - 1] = r.minflt;
            samples[k][4][rep - 1] = r.cpu_ns_per_alloc;
            samples[k][5][rep - 1] = r.sys_ns_per_alloc;
            samples[k][6][rep - 1] = r.nvcsw;
        }
    }

    memset(row, 0, sizeof *row);
    row->size = size;
    row->n = n;
    row->threads = nthreads;
    double lo[NUM_KINDS], hi[NUM_KINDS], flt[NUM_KINDS], cpu[NUM_KINDS], sys[NUM_KINDS], csw[NUM_KINDS];
    for (unsigned j = 0; j < nk; j++) {
        enum alloc_kind k = order[j];
        row->have[k] = true;
        lo[k] = bench_min(samples[k][0], o->reps);
        hi[k] = bench_max(samples[k][0], o->reps);
        row->ns[k] = bench_median(samples[k][0], o->reps);
        row->ns_free[k] = bench_median(samples[k][1], o->reps);
        row->teardown[k] = bench_median(samples[k][2], o->reps);
        flt[k] = bench_median(samples[k][3], o->reps);
        cpu[k] = bench_median(samples[k][4], o->reps);
        sys[k] = bench_median(samples[k][5], o->reps);
        csw[k] = bench_median(samples[k][6], o->reps);
        row->cpu[k] = cpu[k];
    }
    for (unsigned j = 0; j < nk; j++) {
        enum alloc_kind k = order[j];
        struct bench_json js;
        bench_json_begin(&js, "alloc");
        bench_json_str(&js, "alloc", kind_names[k]);
        bench_json_u64(&js, "size", size);
        bench_json_u64(&js, "threads", nthreads);
        if (kind_is_gcheap(k) && getenv(GODEBUG_VAR) != NULL)
            bench_json_str(&js, "godebug", getenv(GODEBUG_VAR));
        bench_json_num(&js, "median_ns_per_alloc", row->ns[k]);
        bench_json_num(&js, "ratio_vs_malloc",
                       row->have[K_MALLOC] ? ratio(row->ns[k], row->ns[K_MALLOC]) : NAN);
        bench_json_num(&js, "ratio_vs_calloc",
                       row->have[K_CALLOC] ? ratio(row->ns[k], row->ns[K_CALLOC]) : NAN);
        bench_json_num(&js, "min_ns_per_alloc", lo[k]);
        bench_json_num(&js, "max_ns_per_alloc", hi[k]);
        if (kind_is_gc(k))
            bench_json_num(&js, "median_ms_teardown", row->teardown[k]);
        else
            bench_json_num(&js, "median_ns_per_free", row->ns_free[k]);
        bench_json_num(&js, "median_minflt", flt[k]);
        bench_json_num(&js, "median_cpu_ns_per_alloc", cpu[k]);
        bench_json_num(&js, "median_sys_ns_per_alloc", sys[k]);
        bench_json_num(&js, "median_nvcsw", csw[k]);
        bench_json_u64(&js, "n_per_thread", n);
        bench_json_u64(&js, "reps", o->reps);
        bench_json_u64(&js, "checksum", last_checksum[k]);
        bench_json_bool(&js, "checksum_ok", checksum_ok[k]);
        bench_json_end(&js, stdout);
    }
    return ok;
}

static void print_cell(double v, bool have)
{
    if (have && v == v)
        fprintf(stderr, " %8.2f", v);
    else
        fprintf(stderr, " %8s", "-");
}

static void print_table(const struct row *rows, unsigned nrows, const struct options *o)
{
    fprintf(stderr, "\nbench_alloc: median ns per allocation over %u reps (lower is better); "
                    "git %s; %s\n", o->reps, BENCH_GIT_REV, BENCH_BUILD);
    fprintf(stderr, "%3s %5s %8s | %8s %8s %8s %8s %8s | %8s %8s %8s %8s %8s | %8s %8s\n", "thr", "size",
            "N/thread", "gch-scan", "gch-nosc", "malloc", "calloc", "boehm", "scan/mal", "nosc/mal",
            "scan/cal", "nosc/cal", "scan/bw", "free ns", "gch tdms");
    for (unsigned i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        fprintf(stderr, "%3u %5zu %8zu |", r->threads, r->size, r->n);
        for (unsigned k = 0; k < NUM_KINDS; k++)
            print_cell(r->ns[k], r->have[k]);
        fprintf(stderr, " |");
        print_cell(ratio(r->ns[K_GCH_SCAN], r->ns[K_MALLOC]), r->have[K_GCH_SCAN] && r->have[K_MALLOC]);
        print_cell(ratio(r->ns[K_GCH_NOSCAN], r->ns[K_MALLOC]), r->have[K_GCH_NOSCAN] && r->have[K_MALLOC]);
        print_cell(ratio(r->ns[K_GCH_SCAN], r->ns[K_CALLOC]), r->have[K_GCH_SCAN] && r->have[K_CALLOC]);
        print_cell(ratio(r->ns[K_GCH_NOSCAN], r->ns[K_CALLOC]), r->have[K_GCH_NOSCAN] && r->have[K_CALLOC]);
        print_cell(ratio(r->ns[K_GCH_SCAN], r->ns[K_BOEHM]), r->have[K_GCH_SCAN] && r->have[K_BOEHM]);
        fprintf(stderr, " |");
        print_cell(r->ns_free[K_MALLOC], r->have[K_MALLOC]);
        print_cell(r->teardown[K_GCH_SCAN], r->have[K_GCH_SCAN]);
        fprintf(stderr, "\n");
    }
    fprintf(stderr, "ratios: gcheap / peer (< 1: gcheap faster).  free ns: malloc's free() per object.  "
                    "gch tdms: gcheap-scan detach + gch_heap_free, ms per rep.\n");
    fprintf(stderr, "\nmedian CPU ns per allocation (the loops' thread CPU time, all threads)\n");
    fprintf(stderr, "%3s %5s | %8s %8s %8s %8s %8s | %8s %8s\n", "thr", "size", "gch-scan", "gch-nosc",
            "malloc", "calloc", "boehm", "scan/mal", "nosc/mal");
    for (unsigned i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        fprintf(stderr, "%3u %5zu |", r->threads, r->size);
        for (unsigned k = 0; k < NUM_KINDS; k++)
            print_cell(r->cpu[k], r->have[k]);
        fprintf(stderr, " |");
        print_cell(ratio(r->cpu[K_GCH_SCAN], r->cpu[K_MALLOC]), r->have[K_GCH_SCAN] && r->have[K_MALLOC]);
        print_cell(ratio(r->cpu[K_GCH_NOSCAN], r->cpu[K_MALLOC]), r->have[K_GCH_NOSCAN] && r->have[K_MALLOC]);
        fprintf(stderr, "\n");
    }
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: bench_alloc [-r reps] [-s sizes] [-t threads] [-a allocators] "
                    "[-n max_objects] [-m MiB_per_thread] [-g godebug]\n"
                    "  allocators: gcheap-scan,gcheap-noscan,malloc,calloc,boehm\n"
                    "  reps default: $BENCH_REPS or 7 (plus one warm-up)\n");
    exit(2);
}

/* parse_list: a comma-separated list of integers in [lo, hi] into out. */
static unsigned parse_list(const char *what, const char *arg, long lo, long hi, size_t *out, unsigned max)
{
    char buf[512];
    unsigned n = 0;
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == max) {
            fprintf(stderr, "bench_alloc: %s: at most %u values\n", what, max);
            exit(2);
        }
        out[n++] = (size_t)bench_parse_long(what, tok, lo, hi);
    }
    if (n == 0)
        usage();
    return n;
}

static void parse_kinds(const char *arg, bool *kinds)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    for (unsigned k = 0; k < NUM_KINDS; k++)
        kinds[k] = false;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        unsigned k = 0;
        while (k < NUM_KINDS && strcmp(tok, kind_names[k]) != 0)
            k++;
        if (k == NUM_KINDS) {
            fprintf(stderr, "bench_alloc: unknown allocator '%s'\n", tok);
            usage();
        }
        kinds[k] = true;
    }
}

static void parse_options(int argc, char **argv, struct options *o)
{
    static const size_t default_sizes[] = {8, 16, 32, 48, 64, 96, 128, 256, 512};
    memset(o, 0, sizeof *o);
    o->reps = (unsigned)bench_env_long("BENCH_REPS", 7, 1, MAX_REPS);
    o->nsizes = sizeof default_sizes / sizeof default_sizes[0];
    memcpy(o->sizes, default_sizes, sizeof default_sizes);
    o->threads[0] = 1;
    o->threads[1] = 2;
    o->nthreads = 2;
    for (unsigned k = 0; k < NUM_KINDS; k++)
        o->kinds[k] = true;
    o->max_objects = 3000000;
    o->mib_per_thread = 96;
    size_t tmp[MAX_THREAD_COUNTS];
    int c;
    unsetenv(GODEBUG_VAR); /* set by -g only */
    while ((c = getopt(argc, argv, "r:s:t:a:n:m:g:h")) != -1) {
        switch (c) {
        case 'r': o->reps = (unsigned)bench_parse_long("-r", optarg, 1, MAX_REPS); break;
        case 's': o->nsizes = parse_list("-s", optarg, 8, MAX_OBJ_SIZE, o->sizes, MAX_SIZES); break;
        case 't':
            o->nthreads = parse_list("-t", optarg, 1, MAX_THREADS, tmp, MAX_THREAD_COUNTS);
            for (unsigned i = 0; i < o->nthreads; i++)
                o->threads[i] = (unsigned)tmp[i];
            break;
        case 'a': parse_kinds(optarg, o->kinds); break;
        case 'n': o->max_objects = (size_t)bench_parse_long("-n", optarg, 1, 1L << 30); break;
        case 'm': o->mib_per_thread = (size_t)bench_parse_long("-m", optarg, 1, 1L << 16); break;
        case 'g': setenv(GODEBUG_VAR, optarg, 1); break;
        default: usage();
        }
    }
    if (optind != argc)
        usage();
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    GC_INIT(); /* Boehm: collection only between repetitions (run_rep) */
    GC_allow_register_threads();
    GC_disable();

    /* One pre-faulted pointer array per thread, outside every allocator. */
    unsigned max_threads = 1;
    size_t max_n = 1;
    for (unsigned i = 0; i < o.nthreads; i++)
        max_threads = o.threads[i] > max_threads ? o.threads[i] : max_threads;
    for (unsigned i = 0; i < o.nsizes; i++) {
        size_t n = objects_for(&o, o.sizes[i]);
        max_n = n > max_n ? n : max_n;
    }
    static struct worker ws[MAX_THREADS];
    for (unsigned i = 0; i < max_threads; i++) {
        void *m = mmap(NULL, max_n * sizeof(void *), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (m == MAP_FAILED) {
            perror("bench_alloc: mmap");
            return 1;
        }
        memset(m, 0, max_n * sizeof(void *));
        ws[i].objs = m;
    }

    static struct row rows[MAX_SIZES * MAX_THREAD_COUNTS];
    unsigned nrows = 0;
    bool ok = true;
    for (unsigned ti = 0; ti < o.nthreads; ti++)
        for (unsigned si = 0; si < o.nsizes; si++)
            ok &= run_group(&o, o.sizes[si], o.threads[ti], ws, &rows[nrows++]);
    print_table(rows, nrows, &o);
    if (!ok)
        fprintf(stderr, "bench_alloc: FAILED: a checksum or an allocation failed (see above)\n");
    return ok ? 0 : 1;
}
