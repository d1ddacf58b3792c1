/*
 * bench_finalize.c - finalizer and weak-reference throughput: gcheap
 * against the Boehm-Demers-Weiser collector (GC_register_finalizer,
 * GC_general_register_disappearing_link), measured in the same run.
 *
 * Workloads (per allocator, per repetition), N objects of 16 bytes:
 *   finalize  allocate N objects, give each a finalizer (a counter
 *             increment), drop them, then collect and run finalizers until
 *             all N ran.  Reported: ns per object for registration (the
 *             allocation included) and for collection + running.
 *             gcheap: manual_finalizers, gch_collect then
 *             gch_run_finalizers (two cycles: the one that queues them
 *             and, as in Boehm, the objects are freed by a later one, not
 *             timed).  Boehm: GC_set_finalize_on_demand(1), GC_gcollect
 *             then GC_invoke_finalizers.
 *   weak      allocate N objects and a weak reference to each (gcheap:
 *             gch_weak_new, the handles in a heap array; Boehm: a
 *             disappearing link in an atomic, unscanned array), keep every
 *             other object strongly, collect once, then read every weak
 *             reference.  Reported: ns per weak reference created, per
 *             object for the collection, per read; checksum = references
 *             still set after the collection (N/2 expected).
 * Each configuration runs in a forked child per repetition (a fresh
 * heap); medians over repetitions, one JSON line per (workload,
 * allocator) on stdout, a table on stderr.
 *
 * Usage: bench_finalize [-r reps] [-n objects]   (defaults 3, 200000;
 * BENCH_REPS overrides the default repetitions).  Exit 1 on a wrong
 * checksum.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <gcheap.h>

#include <gc.h>
#include <getopt.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"

enum alloc { A_GCHEAP, A_BOEHM, A_N };
static const char *const alloc_names[A_N] = {"gcheap", "boehm"};
enum work { W_FINALIZE, W_WEAK, W_N };
static const char *const work_names[W_N] = {"finalize", "weak"};

/* One measurement: up to three phases in ns per object, and a checksum. */
struct result {
    double ns[3];
    uint64_t checksum;
};

static const uint8_t pair_mask[] = {0x3};
static const gch_type pair_type = {"pair", 16, pair_mask, NULL};
static const uint8_t arr_mask[] = {0x1};
static const gch_type ref_type = {"ref", 8, arr_mask, NULL};

static void count_fin(void *obj, void *arg)
{
    (void)obj;
    (*(uint64_t *)arg)++;
}

static gch_heap *gch_new(void)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.manual_finalizers = 1;
    return gch_heap_new(&cfg);
}

static struct result gcheap_finalize(size_t n)
{
    struct result r = {{0}, 0};
    gch_heap *h = gch_new();
    gch_thread *t = gch_thread_attach(h);
    uint64_t ran = 0;
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++)
        gch_set_finalizer(t, gch_alloc(t, &pair_type), count_fin, &ran);
    uint64_t t1 = bench_now_ns();
    while (ran < n) {
        gch_collect(h);
        gch_run_finalizers(t, -1);
    }
    uint64_t t2 = bench_now_ns();
    r.ns[0] = (double)(t1 - t0) / (double)n;
    r.ns[1] = (double)(t2 - t1) / (double)n;
    r.checksum = ran;
    gch_thread_detach(t);
    gch_heap_free(h);
    return r;
}

static void boehm_fin(void *obj, void *cd)
{
    (void)obj;
    (*(uint64_t *)cd)++;
}

static struct result boehm_finalize(size_t n)
{
    struct result r = {{0}, 0};
    uint64_t ran = 0;
    GC_set_finalize_on_demand(1);
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++)
        GC_REGISTER_FINALIZER(GC_MALLOC(16), boehm_fin, &ran, NULL, NULL);
    uint64_t t1 = bench_now_ns();
    for (int k = 0; ran < n && k < 100; k++) {
        GC_gcollect();
        GC_invoke_finalizers();
    }
    uint64_t t2 = bench_now_ns();
    r.ns[0] = (double)(t1 - t0) / (double)n;
    r.ns[1] = (double)(t2 - t1) / (double)n;
    r.checksum = ran;
    return r;
}

static struct result gcheap_weak(size_t n)
{
    struct result r = {{0}, 0};
    gch_heap *h = gch_new();
    gch_thread *t = gch_thread_attach(h);
    GCH_LOCALS(t, keep, 2);
    keep[0] = gch_alloc_array(t, &ref_type, n);     /* weak handles */
    keep[1] = gch_alloc_array(t, &ref_type, n / 2); /* strong: every other object */
    void **weak = keep[0], **strong = keep[1];
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++) {
        void *o = gch_alloc(t, &pair_type);
        if (i % 2 == 0)
            gch_write(t, &strong[i / 2], o);
        gch_write(t, &weak[i], gch_weak_new(t, o));
    }
    uint64_t t1 = bench_now_ns();
    gch_collect(h);
    uint64_t t2 = bench_now_ns();
    for (size_t i = 0; i < n; i++)
        r.checksum += gch_weak_get(t, weak[i]) != NULL;
    uint64_t t3 = bench_now_ns();
    r.ns[0] = (double)(t1 - t0) / (double)n;
    r.ns[1] = (double)(t2 - t1) / (double)n;
    r.ns[2] = (double)(t3 - t2) / (double)n;
    GCH_LOCALS_END(t, keep);
    gch_thread_detach(t);
    gch_heap_free(h);
    return r;
}

static struct result boehm_weak(size_t n)
{
    struct result r = {{0}, 0};
    void **links = GC_MALLOC_ATOMIC(n * sizeof(void *)); /* not scanned: weak */
    void **strong = GC_MALLOC(n / 2 * sizeof(void *));
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++) {
        void *o = GC_MALLOC(16);
        if (i % 2 == 0)
            strong[i / 2] = o;
        links[i] = o;
        GC_general_register_disappearing_link(&links[i], o);
    }
    uint64_t t1 = bench_now_ns();
    GC_gcollect();
    uint64_t t2 = bench_now_ns();
    for (size_t i = 0; i < n; i++)
        r.checksum += links[i] != NULL;
    uint64_t t3 = bench_now_ns();
    bench_escape(strong);
    r.ns[0] = (double)(t1 - t0) / (double)n;
    r.ns[1] = (double)(t2 - t1) / (double)n;
    r.ns[2] = (double)(t3 - t2) / (double)n;
    return r;
}

/* run_child: one measurement in a fresh process, through a pipe. */
static bool run_child(enum work w, enum alloc a, size_t n, struct result *out)
{
    int fd[2];
    if (pipe(fd) != 0)
        return false;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        if (a == A_BOEHM)
            GC_INIT();
        struct result r = w == W_FINALIZE ? (a == A_GCHEAP ? gcheap_finalize(n) : boehm_finalize(n))
                                          : (a == A_GCHEAP ? gcheap_weak(n) : boehm_weak(n));
        ssize_t k = write(fd[1], &r, sizeof r);
        _exit(k == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fd[1]);
    ssize_t k = read(fd[0], out, sizeof *out);
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return k == (ssize_t)sizeof *out && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static const char *const phase_names[W_N][3] = {
    {"ns_register", "ns_collect_and_run", NULL},
    {"ns_create", "ns_collect", "ns_get"},
};

static bool report(enum work w, size_t n, long reps, double med[A_N][3], uint64_t sum[A_N])
{
    uint64_t want = w == W_FINALIZE ? n : (n + 1) / 2;
    bool ok = true;
    for (int a = 0; a < A_N; a++) {
        struct bench_json js;
        bench_json_begin(&js, "finalize");
        bench_json_str(&js, "workload", work_names[w]);
        bench_json_str(&js, "alloc", alloc_names[a]);
        bench_json_u64(&js, "n", n);
        bench_json_u64(&js, "reps", (uint64_t)reps);
        for (int p = 0; p < 3 && phase_names[w][p] != NULL; p++) {
            char key[64];
            bench_json_num(&js, phase_names[w][p], med[a][p]);
            snprintf(key, sizeof key, "ratio_%s_vs_boehm", phase_names[w][p]);
            bench_json_num(&js, key, med[a][p] / med[A_BOEHM][p]);
            fprintf(stderr, "%-9s %-7s %-20s %10.1f ns/object (x%.2f Boehm)\n", work_names[w],
                    alloc_names[a], phase_names[w][p], med[a][p], med[a][p] / med[A_BOEHM][p]);
        }
        bench_json_u64(&js, "checksum", sum[a]);
        bench_json_bool(&js, "checksum_ok", sum[a] == want);
        bench_json_end(&js, stdout);
        ok = ok && sum[a] == want;
    }
    return ok;
}

int main(int argc, char **argv)
{
    long reps = bench_env_long("BENCH_REPS", 3, 1, 1000);
    long n = 200000;
    int c;
    while ((c = getopt(argc, argv, "r:n:")) != -1) {
        if (c == 'r')
            reps = bench_parse_long("-r", optarg, 1, 1000);
        else if (c == 'n')
            n = bench_parse_long("-n", optarg, 2, 100000000);
        else
            return 2;
    }
    bool ok = true;
    for (int w = 0; w < W_N; w++) {
        double v[A_N][3][1000];
        double med[A_N][3];
        uint64_t sum[A_N] = {0};
        for (long r = 0; r < reps; r++)
            for (int a = 0; a < A_N; a++) {
                struct result res;
                if (!run_child(w, a, (size_t)n, &res)) {
                    fprintf(stderr, "bench_finalize: %s/%s child failed\n", work_names[w],
                            alloc_names[a]);
                    return 1;
                }
                for (int p = 0; p < 3; p++)
                    v[a][p][r] = res.ns[p];
                sum[a] = res.checksum;
            }
        for (int a = 0; a < A_N; a++)
            for (int p = 0; p < 3; p++)
                med[a][p] = bench_median(v[a][p], (size_t)reps);
        ok = report(w, (size_t)n, reps, med, sum) && ok;
    }
    return ok ? 0 : 1;
}
