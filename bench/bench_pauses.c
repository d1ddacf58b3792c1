/*
 * bench_pauses.c - stop-the-world pauses and minimum mutator utilization
 * (MMU) with a large live heap that two threads keep mutating: gcheap's
 * concurrent collector, gcheap with GODEBUG=gcstoptheworld=1, and the
 * Boehm-Demers-Weiser collector, measured in the same run.  The goal it
 * tracks: no stop-the-world pause over 1 ms at 1 GiB live.
 *
 * Workload (per configuration, per repetition), two mutator threads:
 *   - build: a global root array of K buckets (256-byte objects of 32
 *     references); every bucket slot holds a chain of 1-4 nodes of 32 to
 *     256 bytes (16-byte steps); K is chosen so that buckets and nodes
 *     come to --live-mib MiB.  The threads build alternate buckets;
 *   - steady state, --seconds long: each thread repeats a unit of work:
 *     build a fresh chain for a random bucket slot and swap it in (the
 *     old chain becomes garbage, so the live size stays put), then
 *     allocate GARBAGE_PER_UNIT short-lived nodes;
 *   - check, after both threads stop: every bucket slot holds 1-4 nodes,
 *     each built for that slot (a node stores its id, its home slot and
 *     size class, a hash of the three, and the complement of the hash in
 *     its last word).  A failed check exits 1.
 * Node word 0 is the only reference (pointer mask 0b1); a bucket is all
 * references.  gcheap stores every reference through gch_write; a chain
 * under construction sits in a one-slot handle frame; the root array is a
 * registered root range.  Boehm allocates with GC_MALLOC (conservative
 * scan), its root array hangs off a static variable, and the threads are
 * registered with GC_register_my_thread; stores are plain release stores.
 *
 * Pauses (each stop-the-world pause recorded separately):
 *   - gcheap: from the gctrace lines (GODEBUG=gctrace=1 through the trace
 *     sink of gch_config), "gc N @T s P%: A+B+C ms clock": concurrently,
 *     A (sweep termination + mark setup) and C (mark termination) are the
 *     two pauses; with gcstoptheworld=1 the whole A+B+C is one.  The line
 *     arrives when the cycle ends, so a pause's start is placed backwards
 *     from the arrival time;
 *   - Boehm: GC_EVENT_PRE_STOP_WORLD .. GC_EVENT_POST_START_WORLD from
 *     GC_set_on_collection_event (the collection proper; lazy sweeping
 *     during allocation runs with the world going).
 * Pauses starting in the steady state give the max, the 99th percentile
 * (nearest rank) and the sum; the longest pause of the build is reported
 * apart.  Trace lines print two significant digits (whole ms from 10 ms
 * up), so a pause is known to within a few percent, and as gcheap clocks
 * it: A and C both start before the world is stopped (they include the
 * time to bring the threads to a safepoint); A ends before the world is
 * started again.
 *
 * Minimum mutator utilization (Go's definition, as its execution-trace
 * tools compute it): over every window of 10 ms (and 100 ms) in the
 * steady state, the share of the mutators' capacity (window x the 2
 * mutator threads, which is also GOMAXPROCS on the 2-CPU machines this
 * runs on) not taken by the collector; MMU is the least of it.  The
 * collector's time, binned at 20 us:
 *   - gcheap: each mutator's own collector time from
 *     gch_thread_read_gc_time (parked for stops or stopping the world,
 *     root-scan handshakes, assists, sweeping to allocate), sampled every
 *     8 units and spread evenly over the sample's interval; plus the mark
 *     workers' CPU time from each cycle's gctrace line (background + idle
 *     in "cpu"), spread evenly over the cycle's concurrent mark phase;
 *   - Boehm: its stop-the-world pauses (from the collection events) count
 *     whole for both mutators; its lazy sweeping during allocation is not
 *     seen (so Boehm's MMU is, if anything, flattered).
 * "util" is the same over the whole steady state.
 * Also reported: the longest stall, the largest excess of one unit's
 * time over the thread's median unit (whatever its cause: a pause, an
 * assist, sweeping, page faults, the OS preempting the thread; each unit's
 * end is recorded in a malloc'd array, so neither collector sees it); the throughput, units of work per second over
 * both threads; and, to tell those causes apart, the mutators' minor page
 * faults, involuntary context switches and on-CPU fraction (thread CPU
 * time / wall time) in the steady state, from getrusage(RUSAGE_THREAD).
 *
 * Each (configuration, repetition) runs in its own forked child: peak RSS
 * (ru_maxrss, wait4) is its own and includes the timeline arrays (4 bytes
 * per unit).  Configurations rotate per repetition; medians over the
 * repetitions are printed as one JSON line per configuration (--json)
 * with ratios to Boehm measured in the same run, and as a table on
 * stderr.  wall and cpu cover build + steady state; "GCs(st)" counts all
 * collections and (in brackets) those that started in the steady state.
 * Repetitions default to $BENCH_REPS or 3.
 * BENCH_MEMTRACE=ms (memtrace.h) samples a gcheap child's resident size
 * and heap stats and prints the breakdown at its largest resident size.
 *
 * Usage: bench_pauses [--live-mib N] [--seconds S] [--reps R] [--gogc G]
 *                     [--configs gcheap,gcheap-stw,boehm] [--json] [--gctrace]
 * --gctrace copies gcheap's gctrace lines to stderr, each marked with the
 * phase (build / steady) and the seconds since that phase began.
 * GOGC (default 100) applies to both gcheap configurations (set as
 * BPAUSE_GOGC, env prefix BPAUSE_; BPAUSE_GODEBUG is set by the bench);
 * Boehm keeps its default free-space divisor (3, reported).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <gcheap.h>

#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS
#include <gc.h>

#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"
#include "memtrace.h"

enum cfg_kind { C_CONC, C_STW, C_BOEHM, NUM_CFGS };
static const char *const cfg_names[NUM_CFGS] = {"gcheap", "gcheap-stw", "boehm"};

enum {
    NMUT = 2,             /* mutator threads */
    NSIZES = 15,          /* node sizes 32, 48, ..., 256 bytes */
    SLOTS = 32,           /* references per bucket: a 256-byte object */
    MAX_CHAIN = 4,        /* nodes per bucket slot: 1..MAX_CHAIN */
    GARBAGE_PER_UNIT = 4, /* short-lived nodes per unit of work */
    MAX_PAUSES = 16384,
    MAX_CYCLES = 8192,
    MAX_REPS = 50,
    UNITS_PER_SEC_CAP = 8000000 /* timeline capacity: units shorter than 125 ns end the run */
};
#define BIN_NS 20000u /* MMU bins */
#define SAMPLE_UNITS 8 /* units between samples of a mutator's collector time */
#define GARBAGE_BIT ((uint64_t)1 << 55)
#define MIB ((uint64_t)1 << 20)

struct node {
    struct node *next; /* word 0: the only reference */
    uint64_t id;       /* thread << 56 | counter; GARBAGE_BIT on short-lived nodes */
    uint64_t home;     /* (bucket * SLOTS + slot) << 4 | size class */
    uint64_t check;    /* node_check(id, home); ~check in the last word over 32 bytes */
};

struct bucket {
    struct node *slot[SLOTS];
};

static const uint8_t node_mask[4] = {0x01, 0, 0, 0};
static const uint8_t bucket_mask[4] = {0xff, 0xff, 0xff, 0xff};
#define NODE_TYPE(sz) {"pause_node", (sz), node_mask, NULL}
static const gch_type node_types[NSIZES] = {
    NODE_TYPE(32),  NODE_TYPE(48),  NODE_TYPE(64),  NODE_TYPE(80),  NODE_TYPE(96),
    NODE_TYPE(112), NODE_TYPE(128), NODE_TYPE(144), NODE_TYPE(160), NODE_TYPE(176),
    NODE_TYPE(192), NODE_TYPE(208), NODE_TYPE(224), NODE_TYPE(240), NODE_TYPE(256)};
static const gch_type bucket_type = {"pause_bucket", sizeof(struct bucket), bucket_mask, NULL};

static size_t node_size(unsigned sc) { return 32 + 16 * (size_t)sc; }

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t node_check(uint64_t id, uint64_t home) { return mix64(id ^ home * 0x9e3779b97f4a7c15ULL); }

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_pauses: %s: %s\n", what, why);
    _exit(3);
}

/* ------------------------------------------------------------------ */
/* The child's state                                                   */
/* ------------------------------------------------------------------ */

struct mut {
    int idx;
    bool boehm;
    gch_thread *t;      /* gcheap; NULL for Boehm */
    void **hold;        /* one root slot: the chain under construction */
    uint64_t rng, next_id;
    uint32_t *gaps;     /* steady state: ns from the previous unit's end to this one's */
    size_t n, cap;
    uint64_t (*samp)[2]; /* gcheap, steady state: {time, collector ns so far}, every
                          * SAMPLE_UNITS units */
    size_t nsamp;
    gch_gc_time gct0, gct1; /* gcheap: collector time at the steady state's start and end */
    uint64_t t_start;
    /* Steady state, from getrusage(RUSAGE_THREAD): minor page faults,
     * involuntary context switches, CPU time (user + system). */
    uint64_t minflt, nivcsw, cpu_ns;
    pthread_t th;
};

/* One configuration run (a child process).  Static storage, so Boehm
 * scans roots[] (its array is GC_MALLOC'd) as a data-segment root. */
static struct {
    enum cfg_kind kind;
    gch_heap *h;
    struct bucket **roots; /* nbuckets slots */
    size_t nbuckets;
    uint64_t seconds;
    bool echo_trace; /* --gctrace: copy gcheap's gctrace lines to stderr */
    pthread_barrier_t barrier;
    uint64_t t0, meas_start, meas_deadline, meas_cpu0;
    struct mut mut[NMUT];
    struct memtrace memtrace; /* BENCH_MEMTRACE (memtrace.h), gcheap configurations */
    bool memtracing;
} R;

/* The pause log: every stop-the-world pause and the start of every
 * collection.  Written by the trace sink (gcheap) or the collection event
 * callback (Boehm), read by the child's main thread at the end. */
static struct {
    pthread_mutex_t lock;
    uint64_t start[MAX_PAUSES], dur[MAX_PAUSES];
    size_t n;
    uint64_t cycle_start[MAX_CYCLES];
    size_t ncycles;
    /* gcheap, concurrent: each cycle's mark phase and its workers' CPU. */
    uint64_t mark_start[MAX_CYCLES], mark_end[MAX_CYCLES], mark_cpu[MAX_CYCLES];
    size_t nmarks;
    uint64_t bw_stop0; /* Boehm: time of GC_EVENT_PRE_STOP_WORLD */
    unsigned bad_lines;
} P = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void log_pause(uint64_t start, uint64_t dur)
{
    pthread_mutex_lock(&P.lock);
    if (P.n < MAX_PAUSES) {
        P.start[P.n] = start;
        P.dur[P.n++] = dur;
    }
    pthread_mutex_unlock(&P.lock);
}

static void log_cycle(uint64_t start)
{
    pthread_mutex_lock(&P.lock);
    if (P.ncycles < MAX_CYCLES)
        P.cycle_start[P.ncycles++] = start;
    pthread_mutex_unlock(&P.lock);
}

static uint64_t ms_to_ns(double ms) { return ms > 0 ? (uint64_t)(ms * 1e6 + 0.5) : 0; }

/* trace_sink: one gctrace line, "gc N @T s P%: A+B+C ms clock, ...",
 * delivered after the world restarts at the end of the cycle. */
static void trace_sink(const char *line, void *ctx)
{
    (void)ctx;
    uint64_t now = bench_now_ns();
    unsigned long num;
    unsigned pct;
    double at, a, b, c;
    if (sscanf(line, "gc %lu @%lfs %u%%: %lf+%lf+%lf ms clock", &num, &at, &pct, &a, &b, &c) != 6) {
        pthread_mutex_lock(&P.lock);
        P.bad_lines++;
        pthread_mutex_unlock(&P.lock);
        return;
    }
    if (R.echo_trace) {
        uint64_t ms = __atomic_load_n(&R.meas_start, __ATOMIC_RELAXED);
        fprintf(stderr, "    [%s, %s %.3f s] %s", cfg_names[R.kind], ms ? "steady" : "build",
                (double)(now - (ms ? ms : R.t0)) / 1e9, line);
    }
    uint64_t an = ms_to_ns(a), bn = ms_to_ns(b), cn = ms_to_ns(c), start = now - (an + bn + cn);
    log_cycle(start);
    double cst, cas, cbg, cidle, cmt;
    const char *cpu = strstr(line, " ms clock, ");
    if (R.kind != C_STW && cpu != NULL &&
        sscanf(cpu, " ms clock, %lf+%lf/%lf/%lf+%lf ms cpu", &cst, &cas, &cbg, &cidle, &cmt) == 5) {
        pthread_mutex_lock(&P.lock);
        if (P.nmarks < MAX_CYCLES) {
            P.mark_start[P.nmarks] = start + an;
            P.mark_end[P.nmarks] = start + an + bn;
            P.mark_cpu[P.nmarks++] = ms_to_ns(cbg + cidle);
        }
        pthread_mutex_unlock(&P.lock);
    }
    if (R.kind == C_STW) {
        log_pause(start, an + bn + cn);
    } else {
        log_pause(start, an);
        log_pause(now - cn, cn);
    }
}

static void boehm_event(GC_EventType e)
{
    uint64_t now = bench_now_ns();
    if (e == GC_EVENT_START) {
        log_cycle(now);
    } else if (e == GC_EVENT_PRE_STOP_WORLD) {
        P.bw_stop0 = now;
    } else if (e == GC_EVENT_POST_START_WORLD && P.bw_stop0 != 0) {
        log_pause(P.bw_stop0, now - P.bw_stop0);
        P.bw_stop0 = 0;
    }
}

/* ------------------------------------------------------------------ */
/* Mutator work                                                        */
/* ------------------------------------------------------------------ */

static inline void *x_alloc(struct mut *m, const gch_type *ty)
{
    void *p = m->boehm ? GC_MALLOC(ty->size) : gch_alloc(m->t, ty);
    if (p == NULL)
        die(m->boehm ? "GC_MALLOC" : "gch_alloc", m->boehm ? "out of memory" : gch_last_error_message());
    return p;
}

/* x_write: a reference store into a heap object or the root array. */
static inline void x_write(struct mut *m, void *slot, void *v)
{
    if (m->boehm)
        __atomic_store_n((void **)slot, v, __ATOMIC_RELEASE);
    else
        gch_write(m->t, (void **)slot, v);
}

static struct node *new_node(struct mut *m, unsigned sc, uint64_t id, uint64_t home)
{
    struct node *n = x_alloc(m, &node_types[sc]);
    n->id = id;
    n->home = home << 4 | sc;
    n->check = node_check(n->id, n->home);
    if (sc > 0)
        ((uint64_t *)(void *)n)[node_size(sc) / 8 - 1] = ~n->check;
    return n;
}

/* make_chain: 1..MAX_CHAIN new nodes built for slot `home`; the result
 * is also in m->hold[0] (a root) until the caller clears it. */
static struct node *make_chain(struct mut *m, uint64_t home)
{
    uint64_t r = rng_next(&m->rng);
    unsigned len = 1 + (unsigned)(r % MAX_CHAIN);
    m->hold[0] = NULL;
    for (unsigned i = 0; i < len; i++) {
        unsigned sc = (unsigned)((r >> (8 + 8 * i)) & 0xff) % NSIZES;
        struct node *n = new_node(m, sc, m->next_id++, home);
        x_write(m, &n->next, m->hold[0]);
        m->hold[0] = n;
    }
    return m->hold[0];
}

static void build(struct mut *m)
{
    for (size_t b = (size_t)m->idx; b < R.nbuckets; b += NMUT) {
        struct bucket *bk = x_alloc(m, &bucket_type); /* reachable from R.roots from here on */
        x_write(m, &R.roots[b], bk);
        for (unsigned s = 0; s < SLOTS; s++)
            x_write(m, &bk->slot[s], make_chain(m, b * SLOTS + s));
        m->hold[0] = NULL;
    }
}

/* unit: one unit of steady-state work: replace a random slot's chain,
 * then allocate short-lived garbage. */
static void unit(struct mut *m)
{
    uint64_t r = rng_next(&m->rng);
    size_t b = (size_t)(r % R.nbuckets);
    unsigned s = (unsigned)(r >> 58) % SLOTS;
    struct node *c = make_chain(m, b * SLOTS + s);
    struct bucket *bk = __atomic_load_n(&R.roots[b], __ATOMIC_ACQUIRE);
    x_write(m, &bk->slot[s], c);
    m->hold[0] = NULL;
    uint64_t g = rng_next(&m->rng);
    for (unsigned i = 0; i < GARBAGE_PER_UNIT; i++) {
        unsigned sc = (unsigned)((g >> (8 * i)) & 0xff) % NSIZES;
        bench_escape(new_node(m, sc, m->next_id++ | GARBAGE_BIT, 0));
    }
    if (!m->boehm)
        gch_safepoint(m->t);
}

/* thread_usage: the calling thread's minor faults, involuntary context
 * switches and CPU time so far. */
static void thread_usage(uint64_t *minflt, uint64_t *nivcsw, uint64_t *cpu_ns)
{
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    getrusage(RUSAGE_THREAD, &ru);
    *minflt = (uint64_t)ru.ru_minflt;
    *nivcsw = (uint64_t)ru.ru_nivcsw;
    *cpu_ns = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
              (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

/* sample_gc_time: gcheap: the thread's collector time so far, at now. */
static void sample_gc_time(struct mut *m, uint64_t now)
{
    gch_gc_time g;
    if (m->boehm || m->nsamp == m->cap / SAMPLE_UNITS + 2 || gch_thread_read_gc_time(m->t, &g) != GCH_OK)
        return;
    if (m->nsamp == 0)
        m->gct0 = g;
    m->gct1 = g;
    m->samp[m->nsamp][0] = now;
    m->samp[m->nsamp++][1] = g.stop_ns + g.scan_ns + g.assist_ns + g.sweep_ns;
}

/* measure: units until the deadline, each one's end recorded. */
static void measure(struct mut *m)
{
    uint64_t flt0, csw0, cpu0;
    thread_usage(&flt0, &csw0, &cpu0);
    uint64_t prev = bench_now_ns(), end = R.meas_deadline;
    m->t_start = prev;
    sample_gc_time(m, prev);
    while (m->n < m->cap) {
        unit(m);
        uint64_t now = bench_now_ns(), gap = now - prev;
        m->gaps[m->n++] = gap < UINT32_MAX ? (uint32_t)gap : UINT32_MAX;
        prev = now;
        if (m->n % SAMPLE_UNITS == 0 || now >= end)
            sample_gc_time(m, now);
        if (now >= end)
            break;
    }
    thread_usage(&m->minflt, &m->nivcsw, &m->cpu_ns);
    m->minflt -= flt0;
    m->nivcsw -= csw0;
    m->cpu_ns -= cpu0;
}

/* sync_threads: a barrier between the mutators; gcheap threads wait in a
 * blocking section so that a collection need not wait for them. */
static void sync_threads(struct mut *m)
{
    if (!m->boehm)
        gch_blocking_enter(m->t);
    pthread_barrier_wait(&R.barrier);
    if (!m->boehm)
        gch_blocking_leave(m->t);
}

static void *mutator(void *arg)
{
    struct mut *m = arg;
    void *hold[1] = {NULL};
    gch_frame frame;
    struct GC_stack_base sb;
    if (m->boehm) {
        if (GC_get_stack_base(&sb) != GC_SUCCESS || GC_register_my_thread(&sb) != GC_SUCCESS)
            die("GC_register_my_thread", "failed");
    } else {
        m->t = gch_thread_attach(R.h);
        if (m->t == NULL)
            die("gch_thread_attach", gch_last_error_message());
        gch_frame_push(m->t, &frame, hold, 1);
    }
    m->hold = hold;
    build(m);
    sync_threads(m);
    if (m->idx == 0) {
        uint64_t now = bench_now_ns();
        R.meas_deadline = now + R.seconds * 1000000000u;
        __atomic_store_n(&R.meas_start, now, __ATOMIC_RELAXED); /* also read by trace_sink */
        R.meas_cpu0 = cpu_now_ns();
    }
    sync_threads(m);
    measure(m);
    m->hold = NULL;
    if (m->boehm) {
        GC_unregister_my_thread();
    } else {
        gch_frame_pop(m->t, &frame);
        gch_thread_detach(m->t);
        m->t = NULL;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

struct child_result {
    uint64_t wall_ns, cpu_ns, build_ns, meas_cpu_ns;
    uint64_t num_gc, meas_gc;
    uint64_t max_pause_ns, p99_pause_ns, total_pause_ns, npauses, build_max_pause_ns;
    double mmu10, mmu100, util_mean, units_per_s, unit_ns, max_stall_ns;
    uint64_t minflt, nivcsw; /* the mutators' minor faults and preemptions in the steady state */
    double gc_stop_ms, gc_scan_ms, gc_assist_ms, gc_sweep_ms, gc_worker_ms; /* steady state, summed */
    double oncpu;            /* the mutators' mean CPU time / wall time in the steady state */
    uint64_t heap_bytes, live_bytes, nodes;
    unsigned bad_lines;
    int ok;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* pauses_summarize: the steady-state pauses (start in [t0, t1)) and
 * cycles, and the longest pause before t0. */
static void pauses_summarize(uint64_t t0, uint64_t t1, struct child_result *res)
{
    pthread_mutex_lock(&P.lock);
    uint64_t *v = malloc((P.n + 1) * sizeof *v);
    if (v == NULL)
        die("malloc", "out of memory");
    size_t nv = 0;
    for (size_t i = 0; i < P.n; i++) {
        if (P.start[i] >= t0 && P.start[i] < t1) {
            v[nv++] = P.dur[i];
            res->total_pause_ns += P.dur[i];
        } else if (P.start[i] < t0 && P.dur[i] > res->build_max_pause_ns) {
            res->build_max_pause_ns = P.dur[i];
        }
    }
    for (size_t i = 0; i < P.ncycles; i++)
        res->meas_gc += P.cycle_start[i] >= t0 && P.cycle_start[i] < t1;
    res->bad_lines = P.bad_lines;
    pthread_mutex_unlock(&P.lock);
    res->npauses = nv;
    if (nv > 0) {
        qsort(v, nv, sizeof *v, cmp_u64);
        res->max_pause_ns = v[nv - 1];
        res->p99_pause_ns = v[(nv * 99 + 99) / 100 - 1]; /* nearest rank: ceil(0.99 n) */
    }
    free(v);
}

/* gap_median: the median of g[0..n), by a histogram of ns up to 64 us. */
static uint32_t gap_median(const uint32_t *g, size_t n)
{
    enum { HMAX = 65536 };
    uint32_t *hist = calloc(HMAX, sizeof *hist);
    if (hist == NULL)
        die("calloc", "out of memory");
    for (size_t i = 0; i < n; i++)
        hist[g[i] < HMAX ? g[i] : HMAX - 1]++;
    size_t seen = 0, half = (n + 1) / 2;
    uint32_t med = HMAX - 1;
    for (uint32_t v = 0; v < HMAX; v++) {
        seen += hist[v];
        if (seen >= half) {
            med = v;
            break;
        }
    }
    free(hist);
    return med;
}

/* spread: d ns of collector time evenly over [a, e) (ns from the steady
 * state's start) into the bins. */
static void spread(double *bins, size_t nbins, uint64_t a, uint64_t e, double d)
{
    if (e <= a || d <= 0)
        return;
    double rate = d / (double)(e - a);
    while (a < e) {
        size_t i = (size_t)(a / BIN_NS);
        if (i >= nbins)
            return;
        uint64_t bin_end = (uint64_t)(i + 1) * BIN_NS, stop = e < bin_end ? e : bin_end;
        bins[i] += rate * (double)(stop - a);
        a = stop;
    }
}

/* mmu_window: the least mutator utilization over windows of w bins
 * (sliding by one bin) of the first `full` bins. */
static double mmu_window(const double *bins, size_t full, size_t w)
{
    if (full < w)
        w = full;
    if (w == 0)
        return 1;
    double sum = 0, worst = 0;
    for (size_t i = 0; i < full; i++) {
        sum += bins[i] - (i >= w ? bins[i - w] : 0);
        worst = sum > worst ? sum : worst;
    }
    double u = 1 - worst / ((double)w * BIN_NS * NMUT);
    return u < 0 ? 0 : u;
}

/* mmu_summarize: MMU(10 ms), MMU(100 ms) and the mean utilization of the
 * steady state [t0, t1) (the header says what counts as collector time),
 * then the stall, throughput and CPU figures from the unit timelines. */
static void mmu_summarize(uint64_t t0, uint64_t t1, struct child_result *res)
{
    for (int i = 0; i < NMUT; i++) { /* the steady state ends with the first thread to stop */
        uint64_t end = R.mut[i].t_start;
        for (size_t j = 0; j < R.mut[i].n; j++)
            end += R.mut[i].gaps[j];
        t1 = end < t1 ? end : t1;
    }
    size_t nbins = (size_t)((t1 - t0) / BIN_NS) + 1;
    double *bins = calloc(nbins, sizeof *bins);
    if (bins == NULL)
        die("calloc", "out of memory");
    pthread_mutex_lock(&P.lock);
    if (R.kind == C_BOEHM) {
        for (size_t i = 0; i < P.n; i++) {
            uint64_t a = P.start[i] > t0 ? P.start[i] : t0, e = P.start[i] + P.dur[i];
            if (e > a)
                spread(bins, nbins, a - t0, e - t0, (double)(e - a) * NMUT);
        }
    }
    for (size_t i = 0; i < P.nmarks; i++) {
        uint64_t a = P.mark_start[i], e = P.mark_end[i];
        if (e <= a || e <= t0)
            continue;
        /* The part inside the steady state, pro rata. */
        uint64_t ca = a > t0 ? a : t0, ce = e < t1 ? e : t1;
        if (ce <= ca)
            continue;
        double d = (double)P.mark_cpu[i] * (double)(ce - ca) / (double)(e - a);
        spread(bins, nbins, ca - t0, ce - t0, d);
        res->gc_worker_ms += d / 1e6;
    }
    pthread_mutex_unlock(&P.lock);
    for (int i = 0; i < NMUT; i++) {
        const struct mut *m = &R.mut[i];
        for (size_t j = 1; j < m->nsamp; j++) {
            uint64_t a = m->samp[j - 1][0], e = m->samp[j][0];
            double d = (double)(m->samp[j][1] - m->samp[j - 1][1]);
            if (e > a && a >= t0)
                spread(bins, nbins, a - t0, e - t0, d < (double)(e - a) ? d : (double)(e - a));
        }
    }
    size_t full = (size_t)((t1 - t0) / BIN_NS); /* bins wholly inside the steady state */
    double total = 0;
    for (size_t i = 0; i < full; i++)
        total += bins[i];
    res->mmu10 = mmu_window(bins, full, 10000000u / BIN_NS);
    res->mmu100 = mmu_window(bins, full, 100000000u / BIN_NS);
    res->util_mean = full > 0 ? 1 - total / ((double)full * BIN_NS * NMUT) : 1;
    free(bins);

    double units = 0;
    for (int i = 0; i < NMUT; i++) {
        const struct mut *m = &R.mut[i];
        uint64_t b = gap_median(m->gaps, m->n), sum = 0, longest = 0;
        for (size_t j = 0; j < m->n; j++) {
            sum += m->gaps[j];
            longest = m->gaps[j] > longest ? m->gaps[j] : longest;
        }
        double stall = longest > b ? (double)(longest - b) : 0;
        res->max_stall_ns = stall > res->max_stall_ns ? stall : res->max_stall_ns;
        res->minflt += m->minflt;
        res->gc_stop_ms += (double)(m->gct1.stop_ns - m->gct0.stop_ns) / 1e6;
        res->gc_scan_ms += (double)(m->gct1.scan_ns - m->gct0.scan_ns) / 1e6;
        res->gc_assist_ms += (double)(m->gct1.assist_ns - m->gct0.assist_ns) / 1e6;
        res->gc_sweep_ms += (double)(m->gct1.sweep_ns - m->gct0.sweep_ns) / 1e6;
        res->nivcsw += m->nivcsw;
        res->unit_ns += (double)b / NMUT;
        units += sum > 0 ? (double)m->n * 1e9 / (double)sum : 0;
        res->oncpu += sum > 0 ? (double)m->cpu_ns / (double)sum / NMUT : 0;
        if (m->n == m->cap)
            fprintf(stderr, "bench_pauses: %s: mutator %d filled its timeline; steady state cut short\n",
                    cfg_names[R.kind], i);
    }
    res->units_per_s = units;
}

/* check_slot: the chain in one bucket slot; false if damaged. */
static bool check_slot(const struct node *n, uint64_t home, struct child_result *res)
{
    unsigned len = 0;
    for (; n != NULL; n = n->next) {
        unsigned sc = (unsigned)(n->home & 15);
        if (++len > MAX_CHAIN || n->home >> 4 != home || sc >= NSIZES || (n->id & GARBAGE_BIT) ||
            n->check != node_check(n->id, n->home) ||
            (sc > 0 && ((const uint64_t *)(const void *)n)[node_size(sc) / 8 - 1] != ~n->check))
            return false;
        res->live_bytes += node_size(sc);
        res->nodes++;
    }
    return len > 0;
}

/* verify: walk the whole structure (t: gcheap's attached main thread). */
static void verify(gch_thread *t, struct child_result *res)
{
    res->ok = 1;
    res->live_bytes = R.nbuckets * (sizeof(struct bucket) + sizeof(void *));
    for (size_t b = 0; b < R.nbuckets && res->ok; b++) {
        const struct bucket *bk = R.roots[b];
        if (bk == NULL) {
            res->ok = 0;
            break;
        }
        for (unsigned s = 0; s < SLOTS; s++)
            if (!check_slot(bk->slot[s], b * SLOTS + s, res)) {
                fprintf(stderr, "bench_pauses: %s: bucket %zu slot %u damaged\n", cfg_names[R.kind], b, s);
                res->ok = 0;
                break;
            }
        if (t != NULL && b % 64 == 0)
            gch_safepoint(t);
    }
}

/* ------------------------------------------------------------------ */
/* One configuration, in the child                                     */
/* ------------------------------------------------------------------ */

struct opts {
    long live_mib, seconds, gogc;
    unsigned reps;
    bool json, gctrace;
    bool cfgs[NUM_CFGS];
};

/* nbuckets_for: buckets whose expected size (bucket, root slot and
 * 2.5 nodes of 144 bytes on average per slot) makes live_mib. */
static size_t nbuckets_for(long live_mib)
{
    double per = sizeof(struct bucket) + sizeof(void *) + SLOTS * (MAX_CHAIN + 1) / 2.0 * 144;
    size_t k = (size_t)((double)live_mib * (double)MIB / per);
    return k > NMUT ? k : NMUT;
}

static void setup_gcheap(const struct opts *o)
{
    char gogc[32];
    snprintf(gogc, sizeof gogc, "%ld", o->gogc);
    setenv("BPAUSE_GOGC", gogc, 1);
    setenv("BPAUSE_GODEBUG", R.kind == C_STW ? "gctrace=1,gcstoptheworld=1" : "gctrace=1", 1);
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "BPAUSE_";
    cfg.gc_percent = (int)o->gogc;
    cfg.trace = trace_sink;
    R.h = gch_heap_new(&cfg);
    if (R.h == NULL)
        die("gch_heap_new", gch_last_error_message());
    R.roots = calloc(R.nbuckets, sizeof *R.roots);
    if (R.roots == NULL)
        die("calloc", "out of memory");
    if (gch_root_range_add(R.h, (void **)R.roots, R.nbuckets) != GCH_OK)
        die("gch_root_range_add", gch_last_error_message());
    R.memtracing = memtrace_start(&R.memtrace, R.h);
}

static void setup_boehm(void)
{
    GC_INIT();
    GC_set_on_collection_event(boehm_event);
    GC_allow_register_threads();
    R.roots = GC_MALLOC(R.nbuckets * sizeof *R.roots);
    if (R.roots == NULL)
        die("GC_MALLOC", "out of memory");
}

/* finish: verification, stats and heap size; gcheap's heap is freed. */
static void finish(struct child_result *res)
{
    if (R.kind == C_BOEHM) {
        verify(NULL, res);
        res->num_gc = GC_get_gc_no();
        res->heap_bytes = GC_get_heap_size();
        return;
    }
    gch_thread *t = gch_thread_attach(R.h);
    if (t == NULL)
        die("gch_thread_attach", gch_last_error_message());
    verify(t, res);
    if (R.memtracing)
        memtrace_stop(&R.memtrace);
    gch_stats st;
    gch_read_stats(R.h, &st);
    res->num_gc = st.num_gc;
    res->heap_bytes = st.heap_sys;
    gch_thread_detach(t);
    gch_root_range_remove(R.h, (void **)R.roots);
    gch_heap_free(R.h);
}

static void run_child(enum cfg_kind k, const struct opts *o, struct child_result *res)
{
    R.kind = k;
    R.nbuckets = nbuckets_for(o->live_mib);
    R.seconds = (uint64_t)o->seconds;
    R.echo_trace = o->gctrace;
    if (pthread_barrier_init(&R.barrier, NULL, NMUT) != 0)
        die("pthread_barrier_init", strerror(errno));
    if (k == C_BOEHM)
        setup_boehm();
    else
        setup_gcheap(o);
    uint64_t w0 = bench_now_ns(), c0 = cpu_now_ns();
    R.t0 = w0;
    for (int i = 0; i < NMUT; i++) {
        struct mut *m = &R.mut[i];
        m->idx = i;
        m->boehm = k == C_BOEHM;
        m->rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1) ^ w0;
        m->next_id = (uint64_t)i << 56;
        m->cap = (size_t)o->seconds * UNITS_PER_SEC_CAP + 1024;
        m->gaps = malloc(m->cap * sizeof *m->gaps); /* pages touched as used */
        m->samp = malloc((m->cap / SAMPLE_UNITS + 2) * sizeof *m->samp);
        if (m->gaps == NULL || m->samp == NULL || pthread_create(&m->th, NULL, mutator, m) != 0)
            die("mutator", "cannot start");
    }
    for (int i = 0; i < NMUT; i++)
        pthread_join(R.mut[i].th, NULL);
    uint64_t w1 = bench_now_ns(), c1 = cpu_now_ns();
    res->wall_ns = w1 - w0;
    res->cpu_ns = c1 - c0;
    res->build_ns = R.meas_start - w0;
    res->meas_cpu_ns = c1 - R.meas_cpu0;
    finish(res);
    pauses_summarize(R.meas_start, w1, res);
    mmu_summarize(R.meas_start, w1, res);
}

/* ------------------------------------------------------------------ */
/* Driver: one forked child per (configuration, repetition)            */
/* ------------------------------------------------------------------ */

enum {
    F_BUILD, F_WALL, F_CPU, F_MCPU, F_RSS, F_HEAP, F_LIVE, F_GC, F_MGC, F_NP, F_MAXP, F_P99, F_TOTP,
    F_BMAXP, F_STALL, F_MMU, F_MMU100, F_UTIL, F_UPS, F_UNIT, F_FLT, F_CSW, F_ONCPU, F_GSTOP, F_GSCAN,
    F_GASSIST, F_GSWEEP, F_GWORK, NF
};
static const char *const field_keys[NF] = {
    "build_ms", "wall_ms", "cpu_ms", "steady_cpu_ms", "maxrss_mib", "heap_mib", "live_mib",
    "num_gc", "steady_num_gc", "steady_pauses", "max_pause_ms", "p99_pause_ms", "total_pause_ms",
    "build_max_pause_ms", "max_stall_ms", "mmu10ms", "mmu100ms", "utilization", "units_per_s",
    "unit_ns", "steady_minflt", "steady_nivcsw", "mutator_oncpu",
    "gc_stop_ms", "gc_scan_ms", "gc_assist_ms", "gc_sweep_ms", "gc_worker_ms"};

struct sample {
    double f[NF];
    bool failed;
};

static void sample_fields(const struct child_result *r, double maxrss_kib, double *f)
{
    f[F_BUILD] = (double)r->build_ns / 1e6;
    f[F_WALL] = (double)r->wall_ns / 1e6;
    f[F_CPU] = (double)r->cpu_ns / 1e6;
    f[F_MCPU] = (double)r->meas_cpu_ns / 1e6;
    f[F_RSS] = maxrss_kib / 1024;
    f[F_HEAP] = (double)r->heap_bytes / (double)MIB;
    f[F_LIVE] = (double)r->live_bytes / (double)MIB;
    f[F_GC] = (double)r->num_gc;
    f[F_MGC] = (double)r->meas_gc;
    f[F_NP] = (double)r->npauses;
    f[F_MAXP] = (double)r->max_pause_ns / 1e6;
    f[F_P99] = (double)r->p99_pause_ns / 1e6;
    f[F_TOTP] = (double)r->total_pause_ns / 1e6;
    f[F_BMAXP] = (double)r->build_max_pause_ns / 1e6;
    f[F_STALL] = r->max_stall_ns / 1e6;
    f[F_MMU] = r->mmu10;
    f[F_MMU100] = r->mmu100;
    f[F_UTIL] = r->util_mean;
    f[F_UPS] = r->units_per_s;
    f[F_UNIT] = r->unit_ns;
    f[F_FLT] = (double)r->minflt;
    f[F_CSW] = (double)r->nivcsw;
    f[F_ONCPU] = r->oncpu;
    f[F_GSTOP] = r->gc_stop_ms;
    f[F_GSCAN] = r->gc_scan_ms;
    f[F_GASSIST] = r->gc_assist_ms;
    f[F_GSWEEP] = r->gc_sweep_ms;
    f[F_GWORK] = r->gc_worker_ms;
}

/* run_one: fork, run configuration k, read its result and peak RSS. */
static void run_one(enum cfg_kind k, const struct opts *o, struct sample *s)
{
    int fd[2];
    memset(s, 0, sizeof *s);
    if (pipe(fd) != 0)
        die("pipe", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork", strerror(errno));
    if (pid == 0) {
        close(fd[0]);
        struct child_result r;
        memset(&r, 0, sizeof r);
        run_child(k, o, &r);
        ssize_t w = write(fd[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 4);
    }
    close(fd[1]);
    struct child_result r;
    memset(&r, 0, sizeof r);
    ssize_t got = 0;
    while (got < (ssize_t)sizeof r) {
        ssize_t n = read(fd[0], (char *)&r + got, sizeof r - (size_t)got);
        if (n <= 0)
            break;
        got += n;
    }
    close(fd[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    sample_fields(&r, (double)ru.ru_maxrss, s->f);
    s->failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != (ssize_t)sizeof r || !r.ok;
    if (s->failed)
        fprintf(stderr, "bench_pauses: %s child failed: %s %d, result %s, check %s\n", cfg_names[k],
                WIFSIGNALED(status) ? "signal" : "exit",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                got == (ssize_t)sizeof r ? "read" : "missing", r.ok ? "ok" : "FAILED");
    if (r.bad_lines > 0)
        fprintf(stderr, "bench_pauses: %s: %u gctrace lines not understood\n", cfg_names[k], r.bad_lines);
}

static void print_rep(unsigned rep, enum cfg_kind k, const struct sample *s)
{
    const double *f = s->f;
    fprintf(stderr,
            "  rep %u %-10s build %6.0f ms  wall %6.0f ms  rss %6.0f MiB  GCs %3.0f (%3.0f)  max %8.2f ms"
            "  p99 %8.2f ms  stall %7.2f ms  MMU10/100 %.3f/%.3f  util %.3f  %5.0f kunits/s  on-cpu %.2f"
            "  %.0fk faults  %.0fk preempted  gc ms: stop %.0f scan %.0f assist %.0f sweep %.0f "
            "workers %.0f%s\n",
            rep, cfg_names[k], f[F_BUILD], f[F_WALL], f[F_RSS], f[F_GC], f[F_MGC], f[F_MAXP], f[F_P99],
            f[F_STALL], f[F_MMU], f[F_MMU100], f[F_UTIL], f[F_UPS] / 1e3, f[F_ONCPU], f[F_FLT] / 1e3,
            f[F_CSW] / 1e3, f[F_GSTOP], f[F_GSCAN], f[F_GASSIST], f[F_GSWEEP], f[F_GWORK],
            s->failed ? "  FAILED" : "");
}

static double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

static void print_json(const struct opts *o, enum cfg_kind k, const double *med, const double *bw,
                       bool bad)
{
    char key[64];
    struct bench_json js;
    bench_json_begin(&js, "pauses");
    bench_json_str(&js, "alloc", cfg_names[k]);
    bench_json_u64(&js, "live_mib", (uint64_t)o->live_mib);
    bench_json_u64(&js, "seconds", (uint64_t)o->seconds);
    bench_json_u64(&js, "threads", NMUT);
    if (k == C_BOEHM)
        bench_json_u64(&js, "free_space_divisor", 3);
    else
        bench_json_u64(&js, "gogc", (uint64_t)o->gogc);
    for (unsigned f = 0; f < NF; f++) {
        snprintf(key, sizeof key, "median_%s", field_keys[f]);
        bench_json_num(&js, key, med[f]);
    }
    bench_json_num(&js, "ratio_max_pause_vs_boehm", bw ? ratio(med[F_MAXP], bw[F_MAXP]) : NAN);
    bench_json_num(&js, "ratio_p99_pause_vs_boehm", bw ? ratio(med[F_P99], bw[F_P99]) : NAN);
    bench_json_num(&js, "ratio_mmu10ms_vs_boehm", bw ? ratio(med[F_MMU], bw[F_MMU]) : NAN);
    bench_json_num(&js, "ratio_throughput_vs_boehm", bw ? ratio(med[F_UPS], bw[F_UPS]) : NAN);
    bench_json_num(&js, "ratio_cpu_vs_boehm", bw ? ratio(med[F_CPU], bw[F_CPU]) : NAN);
    bench_json_num(&js, "ratio_rss_vs_boehm", bw ? ratio(med[F_RSS], bw[F_RSS]) : NAN);
    bench_json_u64(&js, "reps", o->reps);
    bench_json_bool(&js, "checksum_ok", !bad);
    bench_json_end(&js, stdout);
}

static void print_table(const struct opts *o, const enum cfg_kind *order, unsigned nk,
                        double med[][NF])
{
    fprintf(stderr, "\nbench_pauses: medians over %u reps; live %ld MiB, %ld s steady state, %d mutators, "
                    "GOGC %ld, Boehm free-space divisor 3; git %s; %s\n",
            o->reps, o->live_mib, o->seconds, NMUT, o->gogc, BENCH_GIT_REV, BENCH_BUILD);
    fprintf(stderr, "%-10s %7s %7s %7s %7s %7s %7s %8s %8s %8s %8s %8s %6s %6s %5s %7s %7s %5s\n",
            "config", "build s", "wall s", "cpu s", "rss MiB", "heapMiB", "liveMiB", "GCs(st)", "max ms",
            "p99 ms", "bmax ms", "stall ms", "MMU10", "MMU100", "util", "kunit/s", "unit us", "onCPU");
    for (unsigned j = 0; j < nk; j++) {
        const double *m = med[order[j]];
        fprintf(stderr, "%-10s %7.2f %7.2f %7.2f %7.0f %7.0f %7.0f %4.0f(%2.0f) %8.2f %8.2f %8.2f %8.2f "
                        "%6.3f %6.3f %5.3f %7.0f %7.2f %5.2f\n",
                cfg_names[order[j]], m[F_BUILD] / 1e3, m[F_WALL] / 1e3, m[F_CPU] / 1e3, m[F_RSS],
                m[F_HEAP], m[F_LIVE], m[F_GC], m[F_MGC], m[F_MAXP], m[F_P99], m[F_BMAXP], m[F_STALL],
                m[F_MMU], m[F_MMU100], m[F_UTIL], m[F_UPS] / 1e3, m[F_UNIT] / 1e3, m[F_ONCPU]);
    }
    fprintf(stderr,
            "max/p99: stop-the-world pauses in the steady state (p99 nearest rank); bmax: longest in the "
            "build.\n  gcheap: gctrace A and C (A+B+C with gcstoptheworld=1); boehm: PRE_STOP_WORLD.."
            "POST_START_WORLD.\n  stall: longest single gap of a mutator beyond its median unit "
            "(pauses, assists, sweeping, faults, OS preemption).\n  MMU10/MMU100: least share of the %d "
            "mutators' capacity left by the collector in any 10 / 100 ms window; util: over the whole "
            "steady state.\n"
            "  onCPU: the mutators' CPU time (getrusage, thread) / wall time in the steady state.\n",
            NMUT);
}

static void report(const struct opts *o, struct sample samples[][MAX_REPS])
{
    enum cfg_kind order[NUM_CFGS];
    unsigned nk = 0;
    double med[NUM_CFGS][NF];
    for (unsigned k = 0; k < NUM_CFGS; k++)
        if (o->cfgs[k])
            order[nk++] = (enum cfg_kind)k;
    for (unsigned j = 0; j < nk; j++)
        for (unsigned f = 0; f < NF; f++) {
            double v[MAX_REPS];
            for (unsigned rep = 0; rep < o->reps; rep++)
                v[rep] = samples[order[j]][rep].f[f];
            med[order[j]][f] = bench_median(v, o->reps);
        }
    const double *bw = o->cfgs[C_BOEHM] ? med[C_BOEHM] : NULL;
    for (unsigned j = 0; j < nk && o->json; j++) {
        bool bad = false;
        for (unsigned rep = 0; rep < o->reps; rep++)
            bad |= samples[order[j]][rep].failed;
        print_json(o, order[j], med[order[j]], bw, bad);
    }
    print_table(o, order, nk, med);
    if (o->cfgs[C_CONC])
        fprintf(stderr, "goal (gcheap, concurrent): no stop-the-world pause over 1 ms: %s (max %.2f ms)\n",
                med[C_CONC][F_MAXP] <= 1.0 ? "met" : "NOT met", med[C_CONC][F_MAXP]);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_pauses [--live-mib N] [--seconds S] [--reps R] [--gogc G]\n"
                    "                    [--configs gcheap,gcheap-stw,boehm] [--json] [--gctrace]\n");
    exit(2);
}

static void parse_configs(const char *arg, struct opts *o)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", arg);
    memset(o->cfgs, 0, sizeof o->cfgs);
    for (char *sv = NULL, *tok = strtok_r(buf, ",", &sv); tok; tok = strtok_r(NULL, ",", &sv)) {
        unsigned k = 0;
        while (k < NUM_CFGS && strcmp(tok, cfg_names[k]) != 0)
            k++;
        if (k == NUM_CFGS)
            usage();
        o->cfgs[k] = true;
    }
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"live-mib", required_argument, NULL, 'l'}, {"seconds", required_argument, NULL, 's'},
        {"reps", required_argument, NULL, 'r'},     {"gogc", required_argument, NULL, 'g'},
        {"configs", required_argument, NULL, 'c'},  {"json", no_argument, NULL, 'j'},
        {"gctrace", no_argument, NULL, 't'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    *o = (struct opts){.live_mib = 1024, .seconds = 10, .gogc = 100, .cfgs = {true, true, true}};
    o->reps = (unsigned)bench_env_long("BENCH_REPS", 3, 1, MAX_REPS);
    int c;
    while ((c = getopt_long(argc, argv, "l:s:r:g:c:jth", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': o->live_mib = bench_parse_long("--live-mib", optarg, 8, 1 << 20); break;
        case 's': o->seconds = bench_parse_long("--seconds", optarg, 1, 600); break;
        case 'r': o->reps = (unsigned)bench_parse_long("--reps", optarg, 1, MAX_REPS); break;
        case 'g': o->gogc = bench_parse_long("--gogc", optarg, 1, 100000); break;
        case 'c': parse_configs(optarg, o); break;
        case 'j': o->json = true; break;
        case 't': o->gctrace = true; break;
        default: usage();
        }
    }
    if (optind != argc)
        usage();
}

int main(int argc, char **argv)
{
    struct opts o;
    parse_args(argc, argv, &o);
    static struct sample samples[NUM_CFGS][MAX_REPS];
    enum cfg_kind order[NUM_CFGS];
    unsigned nk = 0;
    for (unsigned k = 0; k < NUM_CFGS; k++)
        if (o.cfgs[k])
            order[nk++] = (enum cfg_kind)k;
    bool ok = nk > 0;
    for (unsigned rep = 0; rep < o.reps; rep++)
        for (unsigned j = 0; j < nk; j++) {
            enum cfg_kind k = order[(j + rep) % nk];
            run_one(k, &o, &samples[k][rep]);
            ok &= !samples[k][rep].failed;
            print_rep(rep, k, &samples[k][rep]);
        }
    report(&o, samples);
    if (!ok)
        fprintf(stderr, "bench_pauses: FAILED (see above)\n");
    return ok ? 0 : 1;
}
