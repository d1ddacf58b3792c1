/*
 * gcbench_harness.h - the shared driver of the collector benchmarks
 * against Boehm GC and malloc/free (bench_gcbench.c, bench_binarytrees.c,
 * bench_churn.c).
 *
 * A benchmark supplies a struct gcb_spec: its name, one numeric parameter
 * (flag, JSON key, default and range), optionally a second one (read by
 * the run functions from gcb_param2), and a run function per allocator
 * (NULL where the workload has no such version: malloc/free exists only
 * for workloads that know when their objects die).
 * The harness runs every (allocator, repetition) in a forked child, so
 * each starts from a fresh process and peak RSS comes from wait4; the
 * child measures wall and CPU time and sends its struct child_result back
 * through a pipe.  Allocator order rotates per repetition.  It prints one
 * JSON line per allocator (medians, ratios to Boehm) and a table on
 * stderr, and exits 1 on a failed check or a crashed child.
 * Boehm's pauses come from GC_set_on_collection_event (gcb_boehm_event).
 * BENCH_MEMTRACE=ms (gcheap only): the sampler of memtrace.h, run from
 * gcb_gcheap_open to gcb_gcheap_close.
 * Include once, from the benchmark's .c file.
 */
#ifndef GCHEAP_BENCH_GCBENCH_HARNESS_H
#define GCHEAP_BENCH_GCBENCH_HARNESS_H

#include <errno.h>
#include <gc.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"
#include "memtrace.h"

#define MAX_REPS 100

enum alloc_kind { K_GCH, K_BOEHM, K_MALLOC, NUM_KINDS };
static const char *const kind_names[NUM_KINDS] = {"gcheap", "boehm", "malloc"};

struct child_result {
    uint64_t wall_ns, cpu_ns;
    uint64_t num_gc;
    uint64_t max_pause_ns, pause_total_ns;
    uint64_t p99_pause_ns;   /* 99th percentile of the recorded pauses */
    uint64_t heap_bytes; /* gcheap HeapSys; Boehm GC_get_heap_size */
    uint64_t checksum;   /* sum of all checks */
    int ok;
};

static uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* gcb_p99: the 99th percentile (nearest rank) of v[0..n); sorts v. */
static uint64_t gcb_p99(uint64_t *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t rank = (n * 99 + 99) / 100; /* ceil(0.99 n), 1-based */
    return v[rank - 1];
}

/* The child's one gcheap heap is traced from gcb_gcheap_open to
 * gcb_gcheap_close. */
static struct memtrace gcb_memtrace;
static bool gcb_memtracing;

/* gcb_gcheap_open: a heap reading GOGC/GODEBUG from the environment and
 * the calling thread attached to it; exits the child on failure.  Starts
 * the memtrace sampler when asked. */
static gch_thread *gcb_gcheap_open(const char *bench, gch_heap **hp)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.read_env = 1;
    gch_heap *h = gch_heap_new(&cfg);
    gch_thread *t = h != NULL ? gch_thread_attach(h) : NULL;
    if (t == NULL) {
        fprintf(stderr, "bench_%s: %s: %s\n", bench, h ? "gch_thread_attach" : "gch_heap_new",
                gch_last_error_message());
        _exit(3);
    }
    *hp = h;
    gcb_memtracing = memtrace_start(&gcb_memtrace, h);
    return t;
}

/* gcb_gcheap_close: collections, pauses and heap size into res; detach
 * and free the heap.  The longest pause is over the last 256 cycles. */
static void gcb_gcheap_close(gch_heap *h, gch_thread *t, struct child_result *res)
{
    if (gcb_memtracing)
        memtrace_stop(&gcb_memtrace);
    gch_stats st;
    gch_read_stats(h, &st);
    res->num_gc = st.num_gc;
    res->pause_total_ns = st.pause_total_ns;
    res->heap_bytes = st.heap_sys;
    uint64_t mx = 0, v[GCH_PAUSE_RING];
    size_t n = 0;
    for (unsigned i = 0; i < GCH_PAUSE_RING && i < st.num_gc; i++) {
        mx = st.pause_ns[i] > mx ? st.pause_ns[i] : mx;
        v[n++] = st.pause_ns[i];
    }
    res->max_pause_ns = mx;
    res->p99_pause_ns = gcb_p99(v, n);
    gch_thread_detach(t);
    gch_heap_free(h);
}

struct gcb_spec {
    const char *name;        /* "gcbench": JSON bench name and program suffix */
    char param_flag;         /* the option letter of the parameter */
    const char *param_key;   /* its JSON key and usage word */
    long param_default, param_min, param_max;
    void (*run[NUM_KINDS])(long param, struct child_result *res);
    char param2_flag;        /* 0: no second parameter */
    const char *param2_key;
    long param2_default, param2_min, param2_max;
};

/* The second parameter of this run (spec->param2_default unless given);
 * set before any child is forked, read-only afterwards. */
static long gcb_param2;

/* Boehm pause tracking: the longest and total GC_EVENT_START..END span,
 * and the first BW_MAX_PAUSES spans for the percentile. */
#define BW_MAX_PAUSES 4096
static uint64_t bw_start, bw_max, bw_total;
static uint64_t bw_pauses[BW_MAX_PAUSES];
static size_t bw_npauses;

static void gcb_boehm_event(GC_EventType e)
{
    if (e == GC_EVENT_START) {
        bw_start = bench_now_ns();
    } else if (e == GC_EVENT_END && bw_start != 0) {
        uint64_t d = bench_now_ns() - bw_start;
        bw_max = d > bw_max ? d : bw_max;
        bw_total += d;
        bw_start = 0;
        if (bw_npauses < BW_MAX_PAUSES)
            bw_pauses[bw_npauses++] = d;
    }
}

/* gcb_boehm_close: Boehm's collections, pauses and heap size into res. */
static void gcb_boehm_close(struct child_result *res)
{
    res->num_gc = GC_get_gc_no();
    res->max_pause_ns = bw_max;
    res->pause_total_ns = bw_total;
    res->p99_pause_ns = gcb_p99(bw_pauses, bw_npauses);
    res->heap_bytes = GC_get_heap_size();
}

struct sample {
    struct child_result r;
    double maxrss_kib;
    bool failed;
};

static void gcb_run_child(const struct gcb_spec *spec, enum alloc_kind k, long param,
                          struct sample *s)
{
    int fd[2];
    memset(s, 0, sizeof *s);
    if (pipe(fd) != 0) {
        fprintf(stderr, "bench_%s: pipe: %s\n", spec->name, strerror(errno));
        exit(1);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "bench_%s: fork: %s\n", spec->name, strerror(errno));
        exit(1);
    }
    if (pid == 0) {
        close(fd[0]);
        struct child_result r;
        memset(&r, 0, sizeof r);
        spec->run[k](param, &r);
        ssize_t w = write(fd[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 4);
    }
    close(fd[1]);
    ssize_t got = 0;
    while (got < (ssize_t)sizeof s->r) {
        ssize_t n = read(fd[0], (char *)&s->r + got, sizeof s->r - (size_t)got);
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
    s->maxrss_kib = (double)ru.ru_maxrss;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != (ssize_t)sizeof s->r || !s->r.ok) {
        if (WIFSIGNALED(status))
            fprintf(stderr, "bench_%s: %s child killed by signal %d (%s)\n", spec->name, kind_names[k],
                    WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            fprintf(stderr, "bench_%s: %s child failed: exit %d, result %s, check %s\n",
                    spec->name, kind_names[k], WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                    got == (ssize_t)sizeof s->r ? "read" : "missing", s->r.ok ? "ok" : "FAILED");
        s->failed = true;
    }
}

static double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

static void gcb_usage(const struct gcb_spec *spec)
{
    fprintf(stderr, "usage: bench_%s [-r reps] [-%c %s]", spec->name, spec->param_flag, spec->param_key);
    if (spec->param2_flag)
        fprintf(stderr, " [-%c %s]", spec->param2_flag, spec->param2_key);
    fprintf(stderr, " [-a");
    for (unsigned k = 0, n = 0; k < NUM_KINDS; k++)
        if (spec->run[k] != NULL)
            fprintf(stderr, "%c%s", n++ ? ',' : ' ', kind_names[k]);
    fprintf(stderr, "]\n");
    exit(2);
}

/* gcb_parse_kinds: the comma-separated allocator list arg into kinds;
 * an unknown name or one without a run function is a usage error. */
static void gcb_parse_kinds(const struct gcb_spec *spec, const char *arg, bool *kinds)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", arg);
    for (unsigned k = 0; k < NUM_KINDS; k++)
        kinds[k] = false;
    for (char *sv = NULL, *tok = strtok_r(buf, ",", &sv); tok; tok = strtok_r(NULL, ",", &sv)) {
        unsigned k = 0;
        while (k < NUM_KINDS && (strcmp(tok, kind_names[k]) != 0 || spec->run[k] == NULL))
            k++;
        if (k == NUM_KINDS)
            gcb_usage(spec);
        kinds[k] = true;
    }
}

static int gcb_main(const struct gcb_spec *spec, int argc, char **argv)
{
    unsigned reps = (unsigned)bench_env_long("BENCH_REPS", 3, 1, MAX_REPS);
    long param = spec->param_default;
    gcb_param2 = spec->param2_default;
    char optstring[16];
    int olen = snprintf(optstring, sizeof optstring, "r:%c:a:h", spec->param_flag);
    if (spec->param2_flag)
        snprintf(optstring + olen, sizeof optstring - (size_t)olen, "%c:", spec->param2_flag);
    bool kinds[NUM_KINDS];
    for (unsigned k = 0; k < NUM_KINDS; k++)
        kinds[k] = spec->run[k] != NULL;
    int c;
    while ((c = getopt(argc, argv, optstring)) != -1) {
        char flag[3] = {'-', (char)c, 0};
        if (c == spec->param_flag) {
            param = bench_parse_long(flag, optarg, spec->param_min, spec->param_max);
            continue;
        }
        if (spec->param2_flag && c == spec->param2_flag) {
            gcb_param2 = bench_parse_long(flag, optarg, spec->param2_min, spec->param2_max);
            continue;
        }
        switch (c) {
        case 'r': reps = (unsigned)bench_parse_long("-r", optarg, 1, MAX_REPS); break;
        case 'a': gcb_parse_kinds(spec, optarg, kinds); break;
        default: gcb_usage(spec);
        }
    }
    if (optind != argc)
        gcb_usage(spec);

    static struct sample samples[NUM_KINDS][MAX_REPS];
    enum alloc_kind order[NUM_KINDS];
    unsigned nk = 0;
    for (unsigned k = 0; k < NUM_KINDS; k++)
        if (kinds[k])
            order[nk++] = (enum alloc_kind)k;
    bool ok = true;
    for (unsigned rep = 0; rep < reps; rep++)
        for (unsigned j = 0; j < nk; j++) {
            enum alloc_kind k = order[(j + rep) % nk];
            struct sample *s = &samples[k][rep];
            gcb_run_child(spec, k, param, s);
            ok &= !s->failed;
            fprintf(stderr, "  rep %u %-6s wall %8.1f ms  cpu %8.1f ms  rss %7.1f MiB  gcs %5" PRIu64
                            "  max pause %7.2f ms  p99 %7.2f ms%s\n",
                    rep, kind_names[k], (double)s->r.wall_ns / 1e6, (double)s->r.cpu_ns / 1e6,
                    s->maxrss_kib / 1024, s->r.num_gc, (double)s->r.max_pause_ns / 1e6,
                    (double)s->r.p99_pause_ns / 1e6, s->failed ? "  FAILED" : "");
        }

    enum { F_WALL, F_CPU, F_RSS, F_GC, F_MAXP, F_P99, F_TOTP, F_HEAP, NF };
    double med[NUM_KINDS][NF];
    for (unsigned j = 0; j < nk; j++) {
        enum alloc_kind k = order[j];
        double v[NF][MAX_REPS];
        for (unsigned rep = 0; rep < reps; rep++) {
            const struct sample *s = &samples[k][rep];
            v[F_WALL][rep] = (double)s->r.wall_ns / 1e6;
            v[F_CPU][rep] = (double)s->r.cpu_ns / 1e6;
            v[F_RSS][rep] = s->maxrss_kib / 1024;
            v[F_GC][rep] = (double)s->r.num_gc;
            v[F_MAXP][rep] = (double)s->r.max_pause_ns / 1e6;
            v[F_P99][rep] = (double)s->r.p99_pause_ns / 1e6;
            v[F_TOTP][rep] = (double)s->r.pause_total_ns / 1e6;
            v[F_HEAP][rep] = (double)s->r.heap_bytes / (1 << 20);
        }
        for (unsigned f = 0; f < NF; f++)
            med[k][f] = bench_median(v[f], reps);
    }
    bool both = kinds[K_GCH] && kinds[K_BOEHM];
    for (unsigned j = 0; j < nk; j++) {
        enum alloc_kind k = order[j];
        bool bad = false;
        for (unsigned rep = 0; rep < reps; rep++)
            bad |= samples[k][rep].failed;
        struct bench_json js;
        bench_json_begin(&js, spec->name);
        bench_json_str(&js, "alloc", kind_names[k]);
        bench_json_u64(&js, spec->param_key, (uint64_t)param);
        if (spec->param2_flag)
            bench_json_u64(&js, spec->param2_key, (uint64_t)gcb_param2);
        bench_json_num(&js, "median_wall_ms", med[k][F_WALL]);
        bench_json_num(&js, "median_cpu_ms", med[k][F_CPU]);
        bench_json_num(&js, "median_maxrss_mib", med[k][F_RSS]);
        bench_json_num(&js, "median_num_gc", med[k][F_GC]);
        bench_json_num(&js, "median_max_pause_ms", med[k][F_MAXP]);
        bench_json_num(&js, "median_p99_pause_ms", med[k][F_P99]);
        bench_json_num(&js, "median_total_pause_ms", med[k][F_TOTP]);
        bench_json_num(&js, "median_heap_mib", med[k][F_HEAP]);
        bench_json_num(&js, "ratio_wall_vs_boehm", both ? ratio(med[k][F_WALL], med[K_BOEHM][F_WALL]) : NAN);
        bench_json_num(&js, "ratio_cpu_vs_boehm", both ? ratio(med[k][F_CPU], med[K_BOEHM][F_CPU]) : NAN);
        bench_json_num(&js, "ratio_rss_vs_boehm", both ? ratio(med[k][F_RSS], med[K_BOEHM][F_RSS]) : NAN);
        bench_json_u64(&js, "reps", reps);
        bench_json_u64(&js, "checksum", samples[k][0].r.checksum);
        bench_json_bool(&js, "checksum_ok", !bad);
        bench_json_end(&js, stdout);
    }

    fprintf(stderr, "\nbench_%s: medians over %u reps (%s %ld); git %s; %s\n", spec->name, reps,
            spec->param_key, param, BENCH_GIT_REV, BENCH_BUILD);
    fprintf(stderr, "%-7s %10s %10s %9s %7s %11s %10s %11s %9s\n", "alloc", "wall ms", "cpu ms",
            "rss MiB", "GCs", "maxpause ms", "p99 ms", "sumpause ms", "heap MiB");
    for (unsigned j = 0; j < nk; j++) {
        enum alloc_kind k = order[j];
        fprintf(stderr, "%-7s %10.1f %10.1f %9.1f %7.0f %11.2f %10.2f %11.1f %9.1f\n", kind_names[k],
                med[k][F_WALL], med[k][F_CPU], med[k][F_RSS], med[k][F_GC], med[k][F_MAXP], med[k][F_P99],
                med[k][F_TOTP], med[k][F_HEAP]);
    }
    if (both)
        fprintf(stderr, "gcheap/boehm: wall %.3f  cpu %.3f  rss %.3f  (< 1: gcheap better)\n",
                ratio(med[K_GCH][F_WALL], med[K_BOEHM][F_WALL]), ratio(med[K_GCH][F_CPU], med[K_BOEHM][F_CPU]),
                ratio(med[K_GCH][F_RSS], med[K_BOEHM][F_RSS]));
    fprintf(stderr, "max pause: gcheap, max of pause_ns (last 256 cycles); boehm, longest "
                    "GC_EVENT_START..END.  heap: gcheap HeapSys, boehm GC_get_heap_size, at the end.\n");
    if (!ok)
        fprintf(stderr, "bench_%s: FAILED (see above)\n", spec->name);
    return ok ? 0 : 1;
}

/* Tree builders for the peers whose nodes are plain pointers (Boehm GC,
 * malloc): each file defines `node` (with left and right) and
 * PFX_new_node(), then instantiates what it needs.  gcheap's builders stay
 * written out in each file: they hold nodes in handle frames. */
#define GCB_DEFINE_MAKE_TREE(pfx)                                         \
    static __attribute__((noinline)) node *pfx##_make_tree(int d)         \
    {                                                                     \
        if (d <= 0)                                                       \
            return pfx##_new_node();                                      \
        node *l = pfx##_make_tree(d - 1);                                 \
        node *r = pfx##_make_tree(d - 1);                                 \
        node *n = pfx##_new_node();                                       \
        n->left = l;                                                      \
        n->right = r;                                                     \
        return n;                                                         \
    }
#define GCB_DEFINE_POPULATE(pfx)                                          \
    static __attribute__((noinline)) void pfx##_populate(int d, node *n)  \
    {                                                                     \
        if (d <= 0)                                                       \
            return;                                                       \
        d--;                                                              \
        n->left = pfx##_new_node();                                       \
        n->right = pfx##_new_node();                                      \
        pfx##_populate(d, n->left);                                       \
        pfx##_populate(d, n->right);                                      \
    }
/* malloc peer: free a tree, recursing left and iterating right. */
#define GCB_DEFINE_FREE_TREE(pfx)                                         \
    static void pfx##_free_tree(node *n)                                  \
    {                                                                     \
        while (n != NULL) {                                               \
            node *right = n->right;                                       \
            pfx##_free_tree(n->left);                                     \
            free(n);                                                      \
            n = right;                                                    \
        }                                                                 \
    }

#endif /* GCHEAP_BENCH_GCBENCH_HARNESS_H */
