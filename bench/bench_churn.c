/*
 * bench_churn.c - a large live heap under random replacement: gcheap
 * against the Boehm-Demers-Weiser collector and malloc/free, measured in
 * the same run, on one or more mutator threads.
 *
 * Workload (per allocator, per repetition), at scale s percent (-s,
 * default 100) and T mutator threads (-t, default 1):
 *   - a pointer table of S = 256 MiB * s / 100 / 64 slots (4 Mi at 100%),
 *     itself an object of the heap (gcheap: gch_alloc_array of a
 *     one-reference type; Boehm: GC_MALLOC; malloc: malloc);
 *   - each slot holds a record: a 48-byte head {leaf, id, slot, pad}
 *     whose one reference is leaf, a 16-byte pointer-free object {id,
 *     check}: 64 bytes per slot, so 256 MiB live at 100% (plus the
 *     32 MiB table);
 *   - build: every thread fills its own contiguous share of the table;
 *   - churn: R = 50 M * s / 100 replacements in all, R / T per thread,
 *     each picks a random slot of the thread's share, checks the record
 *     there (slot number and check word), and stores a fresh record in
 *     its place: the old one becomes garbage (malloc: is freed);
 *   - the main thread then checks every slot.
 * checksum = records checked (S + R); any bad record fails the run.  The
 * whole build + churn + final check is timed.
 *
 * The usual way for each system: gcheap holds the head under
 * construction in a one-slot handle frame while the leaf is allocated,
 * and stores every reference with gch_write; the table sits in the main
 * thread's frame, which blocks (gch_blocking_enter) while it waits for
 * the mutators; each mutator attaches its own gch_thread.  Boehm scans
 * stacks conservatively, GC_MALLOC_ATOMIC holds the leaf, the mutators
 * register with GC_register_my_thread.  malloc frees the replaced record.
 *
 * The driver is gcbench_harness.h (a forked child per allocator and
 * repetition: peak RSS from wait4, wall and CPU, collections, pauses).
 *
 * Usage: bench_churn [-r reps] [-s scale_percent] [-t threads] [-a allocators]
 *   -a  comma-separated: gcheap,boehm,malloc (default all three)
 * gcheap reads GOGC / GODEBUG (cfg.read_env = 1).  Exit 1 on a failed
 * check or crash.
 * CHURN_MEMTRACE=ms: the harness's BENCH_MEMTRACE (gcbench_harness.h),
 * its older name.
 * CHURN_THREADTIME=1 (gcheap): each mutator prints, as it detaches, its
 * wall time, its own CPU time, the time it waited for a CPU while
 * runnable and the time it slept (the rest: /proc/thread-self/schedstat),
 * and the collector's share of its wall time (gch_thread_read_gc_time:
 * stopped, own root scans, assists with their waits at the goal,
 * sweeping).  Sleep is what a loaded machine does not inflate.
 * Accounting for issue 15's two-mutator target, not part of the timing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define GC_THREADS 1
#define GC_NO_THREAD_REDIRECTS 1
#include <gc.h>
#include <gcheap.h>

#include <pthread.h>

#include "gcbench_harness.h"

#define LIVE_MIB_100 256
#define REPLACEMENTS_100 50000000L
#define RECORD_BYTES 64
#define MAX_THREADS 16

struct leaf {
    uint64_t id, check;
};

struct head {
    struct leaf *leaf;
    uint64_t id, slot;
    uint64_t pad[3];
};

static const uint8_t head_mask[1] = {0x01};
static const gch_type head_type = {"churn_head", sizeof(struct head), head_mask, NULL};
static const uint8_t slot_mask[1] = {0x01};
static const gch_type slot_type = {"churn_slot", sizeof(void *), slot_mask, NULL};

static uint64_t leaf_check(uint64_t id, uint64_t slot) { return ~(id * 0x9e3779b97f4a7c15ULL ^ slot); }

/* record_ok: the record in slot i is whole and was built for slot i. */
static bool record_ok(const struct head *hd, size_t i)
{
    return hd != NULL && hd->slot == i && hd->leaf != NULL && hd->leaf->id == hd->id &&
           hd->leaf->check == leaf_check(hd->id, i);
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* One mutator's share of the work; shared fields are read-only. */
struct mutator {
    void **table;
    size_t lo, hi;     /* its slots */
    long replacements; /* its count */
    unsigned index;
    gch_heap *heap;    /* gcheap only */
    uint64_t checked;  /* records checked (out) */
    bool ok;           /* no bad record (out) */
};

static size_t num_slots(long scale) { return (size_t)((uint64_t)LIVE_MIB_100 * scale / 100 * (1u << 20) / RECORD_BYTES); }
static long num_replacements(long scale) { return REPLACEMENTS_100 / 100 * scale; }
static unsigned num_threads(void) { return (unsigned)gcb_param2; }

/* split: thread k's share of the slots and replacements. */
static void split(struct mutator *m, unsigned k, unsigned nt, void **table, size_t slots, long repl)
{
    memset(m, 0, sizeof *m);
    m->table = table;
    m->index = k;
    m->lo = slots * k / nt;
    m->hi = slots * (k + 1) / nt;
    m->replacements = repl / (long)nt + (k < (unsigned)(repl % (long)nt) ? 1 : 0);
    m->ok = true;
}

/* churn_loop: the replacement loop shared by every allocator; fill
 * stores a fresh record with the given id in slot i.  The loop keeps its
 * count and verdict in locals and writes *m once at the end: the mutators'
 * records sit side by side in one array (64 bytes each, 8-byte aligned),
 * so a store per replacement made two mutators' cores trade one cache line
 * (5% of each mutator's samples on 2 threads, none on 1; Go's version
 * keeps them in locals too). */
static void churn_loop(struct mutator *m, void *ctx, void (*fill)(void *ctx, void **table, size_t i, uint64_t id),
                       void (*drop)(struct head *old))
{
    uint64_t seed = 0x2545f4914f6cdd1dULL + m->index * 0x9e3779b97f4a7c15ULL;
    void **table = m->table;
    size_t lo = m->lo, n = m->hi - m->lo;
    uint64_t idbase = (uint64_t)(m->index + 1) << 40, checked = 0;
    bool ok = true;
    for (size_t i = lo; i < lo + n; i++)
        fill(ctx, table, i, i);
    for (long k = 0, r = m->replacements; k < r; k++) {
        size_t i = lo + (size_t)(rng_next(&seed) % n);
        struct head *old = table[i];
        ok &= record_ok(old, i);
        checked++;
        fill(ctx, table, i, idbase + (uint64_t)k);
        if (drop != NULL)
            drop(old);
    }
    m->checked += checked;
    m->ok &= ok;
}

/* final_check: every slot, by the main thread after the mutators end. */
static uint64_t final_check(void **table, size_t slots, bool *ok)
{
    for (size_t i = 0; i < slots; i++)
        *ok &= record_ok(table[i], i);
    return slots;
}

typedef void *(*mutator_fn)(void *);

/* run_mutators: nt threads running fn on their shares; their checks
 * summed into res->checksum (plus the final check's). */
static void run_mutators(mutator_fn fn, void **table, long scale, struct mutator *ms, gch_thread *blocker)
{
    unsigned nt = num_threads();
    pthread_t tid[MAX_THREADS];
    for (unsigned k = 0; k < nt; k++) {
        split(&ms[k], k, nt, table, num_slots(scale), num_replacements(scale));
        ms[k].heap = blocker != NULL ? gch_thread_heap(blocker) : NULL;
    }
    if (blocker != NULL)
        gch_blocking_enter(blocker);
    for (unsigned k = 0; k < nt; k++)
        if (pthread_create(&tid[k], NULL, fn, &ms[k]) != 0) {
            fprintf(stderr, "bench_churn: pthread_create failed\n");
            _exit(3);
        }
    for (unsigned k = 0; k < nt; k++)
        pthread_join(tid[k], NULL);
    if (blocker != NULL)
        gch_blocking_leave(blocker);
}

static void finish(struct mutator *ms, void **table, long scale, struct child_result *res)
{
    size_t slots = num_slots(scale);
    bool ok = true;
    uint64_t sum = final_check(table, slots, &ok);
    for (unsigned k = 0; k < num_threads(); k++) {
        sum += ms[k].checked;
        ok &= ms[k].ok;
    }
    res->checksum = sum;
    res->ok = ok && sum == slots + (uint64_t)num_replacements(scale);
}

/* ------------------------------------------------------------------ */
/* gcheap                                                              */
/* ------------------------------------------------------------------ */

static void gch_fill(void *ctx, void **table, size_t i, uint64_t id)
{
    gch_thread *t = ctx;
    GCH_LOCALS(t, r, 1); /* the head under construction */
    struct head *hd = r[0] = gch_alloc(t, &head_type);
    struct leaf *lf = hd != NULL ? gch_alloc_noscan(t, sizeof *lf) : NULL;
    if (lf == NULL) {
        fprintf(stderr, "bench_churn: gch_alloc: %s\n", gch_last_error_message());
        _exit(3);
    }
    hd = r[0]; /* reload after the safepoint (the heap does not move, but this is the rule) */
    hd->id = id;
    hd->slot = i;
    lf->id = id;
    lf->check = leaf_check(id, i);
    gch_write(t, (void **)&hd->leaf, lf);
    gch_write(t, &table[i], hd);
    GCH_LOCALS_END(t, r);
}

/* runq_wait_ns: the calling thread's time spent runnable but not
 * running (the second field of /proc/thread-self/schedstat), 0 if
 * unknown. */
static uint64_t runq_wait_ns(void)
{
    unsigned long long run = 0, wait = 0;
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu %llu", &run, &wait) != 2)
        wait = 0;
    fclose(f);
    return wait;
}

/* print_thread_time: CHURN_THREADTIME's line for mutator m. */
static void print_thread_time(const struct mutator *m, gch_thread *t, uint64_t wall_ns, uint64_t cpu_ns,
                              uint64_t runq_ns)
{
    gch_gc_time g;
    if (gch_thread_read_gc_time(t, &g) != GCH_OK)
        return;
    fprintf(stderr,
            "mutator %u: wall %.1f ms, cpu %.1f, runnable %.1f, asleep %.1f; gc: stop %.1f, scan %.1f, "
            "assist %.1f, sweep %.1f ms\n",
            m->index, wall_ns / 1e6, cpu_ns / 1e6, runq_ns / 1e6,
            ((double)wall_ns - (double)cpu_ns - (double)runq_ns) / 1e6, g.stop_ns / 1e6, g.scan_ns / 1e6,
            g.assist_ns / 1e6, g.sweep_ns / 1e6);
}

static void *gch_mutator(void *arg)
{
    struct mutator *m = arg;
    uint64_t w0 = bench_now_ns(), c0 = bench_thread_cpu_ns(), q0 = runq_wait_ns();
    gch_thread *t = gch_thread_attach(m->heap);
    if (t == NULL) {
        fprintf(stderr, "bench_churn: gch_thread_attach: %s\n", gch_last_error_message());
        _exit(3);
    }
    churn_loop(m, t, gch_fill, NULL);
    if (getenv("CHURN_THREADTIME") != NULL)
        print_thread_time(m, t, bench_now_ns() - w0, bench_thread_cpu_ns() - c0, runq_wait_ns() - q0);
    gch_thread_detach(t);
    return NULL;
}

static void run_gcheap(long scale, struct child_result *res)
{
    gch_heap *h;
    gch_thread *t = gcb_gcheap_open("churn", &h);
    struct mutator ms[MAX_THREADS];
    size_t slots = num_slots(scale);
    uint64_t w0 = bench_now_ns(), c0 = cpu_now_ns();
    {
        GCH_LOCALS(t, r, 1); /* the table */
        r[0] = gch_alloc_array(t, &slot_type, slots);
        if (r[0] == NULL) {
            fprintf(stderr, "bench_churn: gch_alloc_array: %s\n", gch_last_error_message());
            _exit(3);
        }
        run_mutators(gch_mutator, r[0], scale, ms, t);
        finish(ms, r[0], scale, res);
        GCH_LOCALS_END(t, r);
    }
    res->cpu_ns = cpu_now_ns() - c0;
    res->wall_ns = bench_now_ns() - w0;
    gcb_gcheap_close(h, t, res);
}

/* ------------------------------------------------------------------ */
/* Boehm                                                               */
/* ------------------------------------------------------------------ */

/* plain_fill: a Boehm or malloc peer's record (hd, lf) made and stored
 * at table[i]; `what` names the allocator if either is NULL. */
static void plain_fill(void **table, size_t i, uint64_t id, struct head *hd, struct leaf *lf,
                       const char *what)
{
    if (hd == NULL || lf == NULL) {
        fprintf(stderr, "bench_churn: %s failed\n", what);
        _exit(3);
    }
    hd->id = id;
    hd->slot = i;
    lf->id = id;
    lf->check = leaf_check(id, i);
    hd->leaf = lf;
    table[i] = hd;
}

static void bw_fill(void *ctx, void **table, size_t i, uint64_t id)
{
    (void)ctx;
    struct head *hd = GC_MALLOC(sizeof *hd);
    plain_fill(table, i, id, hd, GC_MALLOC_ATOMIC(sizeof(struct leaf)), "GC_MALLOC");
}

static void *bw_mutator(void *arg)
{
    struct GC_stack_base sb;
    GC_get_stack_base(&sb);
    GC_register_my_thread(&sb);
    churn_loop(arg, NULL, bw_fill, NULL);
    GC_unregister_my_thread();
    return NULL;
}

static void run_boehm(long scale, struct child_result *res)
{
    GC_INIT();
    GC_allow_register_threads();
    GC_set_on_collection_event(gcb_boehm_event);
    struct mutator ms[MAX_THREADS];
    size_t slots = num_slots(scale);
    uint64_t w0 = bench_now_ns(), c0 = cpu_now_ns();
    void **volatile table = GC_MALLOC(slots * sizeof(void *));
    if (table == NULL) {
        fprintf(stderr, "bench_churn: GC_MALLOC failed\n");
        _exit(3);
    }
    run_mutators(bw_mutator, table, scale, ms, NULL);
    finish(ms, table, scale, res);
    res->cpu_ns = cpu_now_ns() - c0;
    res->wall_ns = bench_now_ns() - w0;
    gcb_boehm_close(res);
}

/* ------------------------------------------------------------------ */
/* malloc/free                                                         */
/* ------------------------------------------------------------------ */

static void ml_fill(void *ctx, void **table, size_t i, uint64_t id)
{
    (void)ctx;
    struct head *hd = malloc(sizeof *hd);
    plain_fill(table, i, id, hd, malloc(sizeof(struct leaf)), "malloc");
}

static void ml_drop(struct head *old)
{
    free(old->leaf);
    free(old);
}

static void *ml_mutator(void *arg)
{
    churn_loop(arg, NULL, ml_fill, ml_drop);
    return NULL;
}

static void run_malloc(long scale, struct child_result *res)
{
    struct mutator ms[MAX_THREADS];
    size_t slots = num_slots(scale);
    uint64_t w0 = bench_now_ns(), c0 = cpu_now_ns();
    void **table = calloc(slots, sizeof(void *));
    if (table == NULL) {
        fprintf(stderr, "bench_churn: calloc failed\n");
        _exit(3);
    }
    run_mutators(ml_mutator, table, scale, ms, NULL);
    finish(ms, table, scale, res);
    for (size_t i = 0; i < slots; i++)
        ml_drop(table[i]);
    free(table);
    res->cpu_ns = cpu_now_ns() - c0;
    res->wall_ns = bench_now_ns() - w0;
}

int main(int argc, char **argv)
{
    static const struct gcb_spec spec = {
        .name = "churn", .param_flag = 's', .param_key = "scale_percent",
        .param_default = 100, .param_min = 1, .param_max = 1000,
        .run = {[K_GCH] = run_gcheap, [K_BOEHM] = run_boehm, [K_MALLOC] = run_malloc},
        .param2_flag = 't', .param2_key = "threads",
        .param2_default = 1, .param2_min = 1, .param2_max = MAX_THREADS,
    };
    return gcb_main(&spec, argc, argv);
}
