/*
 * bench_gcbench.c - the classic GCBench (Ellis, Kovac, Boehm): gcheap
 * against the Boehm-Demers-Weiser collector, measured in the same run.
 *
 * Workload (per allocator, per repetition), as in GCBench.c:
 *   - a stretch tree of depth 18 (kStretchTreeDepth), built bottom-up
 *     and dropped;
 *   - a long-lived tree of depth 16 (top-down) and an array of 500,000
 *     doubles (noscan / GC_MALLOC_ATOMIC), kept to the end;
 *   - for depth d = 4, 6, ..., 16: NumIters(d) = scale * 2 *
 *     TreeSize(18) / TreeSize(d) trees built top-down (Populate) and as
 *     many bottom-up (MakeTree), each dropped at once;
 *   - check: the long-lived tree still has TreeSize(16) nodes and
 *     array[1000] == 1.0/1000.
 * Node: {left, right, i, j} (32 bytes), pointer mask 0b11.
 *
 * gcheap roots: the long-lived tree, the array and the current temporary
 * tree sit in a handle frame; bottom-up construction keeps both children
 * in a 2-slot frame until the parent is allocated; top-down construction
 * needs no frames (the parent is reachable when its children are
 * allocated, and gcheap does not move objects).  Boehm scans the C stack.
 *
 * Every (allocator, repetition) runs in its own forked child, so each
 * starts cold and its peak RSS (ru_maxrss from wait4) is its own.  The
 * child measures wall time (CLOCK_MONOTONIC) and CPU time
 * (CLOCK_PROCESS_CPUTIME_ID, all its threads) around the workload, the
 * number of collections (gch_stats.num_gc; GC_get_gc_no()), and the
 * longest pause: gcheap, the max of the pause_ns ring (the last 256
 * cycles); Boehm, the longest GC_EVENT_START..GC_EVENT_END interval from
 * GC_set_on_collection_event (the stop-the-world collection, without its
 * lazy sweeping).  Allocators alternate within a repetition, in an order
 * rotated every repetition.  There is no warm-up repetition: every
 * repetition is a fresh process.
 *
 * Usage: bench_gcbench [-r reps] [-s scale_percent] [-a allocators]
 *   -r  repetitions (default $BENCH_REPS or 3); medians are reported
 *   -s  NumIters scaled to this percentage (default 100: GCBench's count)
 *   -a  comma-separated: gcheap,boehm (default both)
 * gcheap reads GOGC / GODEBUG (cfg.read_env = 1).  Exit 1 on a failed
 * check or crash.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <gcheap.h>

#include <gc.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"

#define NOINLINE __attribute__((noinline))
#define MAX_REPS 100

enum { STRETCH_DEPTH = 18, LONG_LIVED_DEPTH = 16, ARRAY_SIZE = 500000, MIN_DEPTH = 4, MAX_DEPTH = 16 };

enum alloc_kind { K_GCH, K_BOEHM, NUM_KINDS };
static const char *const kind_names[NUM_KINDS] = {"gcheap", "boehm"};

typedef struct node {
    struct node *left, *right;
    int64_t i, j;
} node;

static const uint8_t node_mask[1] = {0x03};
static const gch_type node_type = {"gcbench_node", sizeof(node), node_mask, NULL};

static long tree_size(int d) { return (1L << (d + 1)) - 1; }

static long num_iters(int d, long scale_pct)
{
    long n = 2 * tree_size(STRETCH_DEPTH) / tree_size(d) * scale_pct / 100;
    return n > 0 ? n : 1;
}

static long count_nodes(const node *n)
{
    long c = 0;
    while (n != NULL) { /* recurse left, iterate right */
        c += 1 + count_nodes(n->left);
        n = n->right;
    }
    return c;
}

/* ------------------------------------------------------------------ */
/* gcheap                                                              */
/* ------------------------------------------------------------------ */

static gch_thread *g_t;

static node *gch_new_node(void)
{
    node *n = gch_alloc(g_t, &node_type);
    if (n == NULL) {
        fprintf(stderr, "bench_gcbench: gch_alloc: %s\n", gch_last_error_message());
        _exit(3);
    }
    return n;
}

/* Populate: n must be reachable from a root. */
static NOINLINE void gch_populate(int d, node *n)
{
    if (d <= 0)
        return;
    d--;
    n->left = gch_new_node();
    n->right = gch_new_node();
    gch_populate(d, n->left);
    gch_populate(d, n->right);
}

/* MakeTree: bottom-up; the result must be stored in a root before the
 * caller's next allocation. */
static NOINLINE node *gch_make_tree(int d)
{
    if (d <= 0)
        return gch_new_node();
    GCH_LOCALS(g_t, r, 2);
    r[0] = gch_make_tree(d - 1);
    r[1] = gch_make_tree(d - 1);
    node *n = gch_new_node();
    n->left = r[0];
    n->right = r[1];
    GCH_LOCALS_END(g_t, r);
    return n;
}

struct child_result {
    uint64_t wall_ns, cpu_ns;
    uint64_t num_gc;
    uint64_t max_pause_ns, pause_total_ns;
    uint64_t heap_bytes; /* gcheap HeapSys; Boehm GC_get_heap_size */
    uint64_t checksum;   /* long-lived node count */
    int ok;
};

static uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void run_gcheap(long scale, struct child_result *res)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.read_env = 1;
    gch_heap *h = gch_heap_new(&cfg);
    if (h == NULL) {
        fprintf(stderr, "bench_gcbench: gch_heap_new: %s\n", gch_last_error_message());
        _exit(3);
    }
    g_t = gch_thread_attach(h);
    if (g_t == NULL) {
        fprintf(stderr, "bench_gcbench: gch_thread_attach: %s\n", gch_last_error_message());
        _exit(3);
    }
    uint64_t w0 = bench_now_ns(), c0 = cpu_now_ns();
    {
        GCH_LOCALS(g_t, r, 3); /* 0: long-lived tree, 1: array, 2: temp tree */
        r[2] = gch_make_tree(STRETCH_DEPTH);
        r[2] = NULL;
        r[0] = gch_new_node();
        gch_populate(LONG_LIVED_DEPTH, r[0]);
        double *a = gch_alloc_noscan(g_t, ARRAY_SIZE * sizeof(double));
        if (a == NULL) {
            fprintf(stderr, "bench_gcbench: gch_alloc_noscan: %s\n", gch_last_error_message());
            _exit(3);
        }
        r[1] = a;
        for (int i = 0; i < ARRAY_SIZE / 2; i++)
            a[i] = 1.0 / i;
        for (int d = MIN_DEPTH; d <= MAX_DEPTH; d += 2) {
            long n = num_iters(d, scale);
            for (long i = 0; i < n; i++) {
                r[2] = gch_new_node();
                gch_populate(d, r[2]);
                r[2] = NULL;
            }
            for (long i = 0; i < n; i++) {
                r[2] = gch_make_tree(d);
                r[2] = NULL;
            }
        }
        res->checksum = (uint64_t)count_nodes(r[0]);
        res->ok = res->checksum == (uint64_t)tree_size(LONG_LIVED_DEPTH) &&
                  ((double *)r[1])[1000] == 1.0 / 1000;
        GCH_LOCALS_END(g_t, r);
    }
    res->cpu_ns = cpu_now_ns() - c0;
    res->wall_ns = bench_now_ns() - w0;
    gch_stats st;
    gch_read_stats(h, &st);
    res->num_gc = st.num_gc;
    res->pause_total_ns = st.pause_total_ns;
    res->heap_bytes = st.heap_sys;
    uint64_t mx = 0;
    for (unsigned i = 0; i < GCH_PAUSE_RING && i < st.num_gc; i++)
        mx = st.pause_ns[i] > mx ? st.pause_ns[i] : mx;
    res->max_pause_ns = mx;
    gch_thread_detach(g_t);
    gch_heap_free(h);
}

/* ------------------------------------------------------------------ */
/* Boehm                                                               */
/* ------------------------------------------------------------------ */

static uint64_t bw_start, bw_max, bw_total;

static void boehm_event(GC_EventType e)
{
    if (e == GC_EVENT_START) {
        bw_start = bench_now_ns();
    } else if (e == GC_EVENT_END && bw_start != 0) {
        uint64_t d = bench_now_ns() - bw_start;
        bw_max = d > bw_max ? d : bw_max;
        bw_total += d;
        bw_start = 0;
    }
}

static node *bw_new_node(void)
{
    node *n = GC_MALLOC(sizeof(node));
    if (n == NULL) {
        fprintf(stderr, "bench_gcbench: GC_MALLOC failed\n");
        _exit(3);
    }
    return n;
}

static NOINLINE void bw_populate(int d, node *n)
{
    if (d <= 0)
        return;
    d--;
    n->left = bw_new_node();
    n->right = bw_new_node();
    bw_populate(d, n->left);
    bw_populate(d, n->right);
}

static NOINLINE node *bw_make_tree(int d)
{
    if (d <= 0)
        return bw_new_node();
    node *l = bw_make_tree(d - 1);
    node *r = bw_make_tree(d - 1);
    node *n = bw_new_node();
    n->left = l;
    n->right = r;
    return n;
}

static void run_boehm(long scale, struct child_result *res)
{
    GC_INIT();
    GC_set_on_collection_event(boehm_event);
    uint64_t w0 = bench_now_ns(), c0 = cpu_now_ns();
    node *volatile temp = bw_make_tree(STRETCH_DEPTH);
    temp = NULL;
    node *volatile longl = bw_new_node();
    bw_populate(LONG_LIVED_DEPTH, longl);
    double *volatile a = GC_MALLOC_ATOMIC(ARRAY_SIZE * sizeof(double));
    if (a == NULL) {
        fprintf(stderr, "bench_gcbench: GC_MALLOC_ATOMIC failed\n");
        _exit(3);
    }
    for (int i = 0; i < ARRAY_SIZE / 2; i++)
        a[i] = 1.0 / i;
    for (int d = MIN_DEPTH; d <= MAX_DEPTH; d += 2) {
        long n = num_iters(d, scale);
        for (long i = 0; i < n; i++) {
            temp = bw_new_node();
            bw_populate(d, temp);
            temp = NULL;
        }
        for (long i = 0; i < n; i++) {
            temp = bw_make_tree(d);
            temp = NULL;
        }
    }
    res->checksum = (uint64_t)count_nodes(longl);
    res->ok = res->checksum == (uint64_t)tree_size(LONG_LIVED_DEPTH) && a[1000] == 1.0 / 1000;
    res->cpu_ns = cpu_now_ns() - c0;
    res->wall_ns = bench_now_ns() - w0;
    res->num_gc = GC_get_gc_no();
    res->max_pause_ns = bw_max;
    res->pause_total_ns = bw_total;
    res->heap_bytes = GC_get_heap_size();
}

/* ------------------------------------------------------------------ */
/* Driver: one forked child per (allocator, repetition)                */
/* ------------------------------------------------------------------ */

struct sample {
    struct child_result r;
    double maxrss_kib;
    bool failed;
};

static void run_child(enum alloc_kind k, long scale, struct sample *s)
{
    int fd[2];
    memset(s, 0, sizeof *s);
    if (pipe(fd) != 0) {
        perror("bench_gcbench: pipe");
        exit(1);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench_gcbench: fork");
        exit(1);
    }
    if (pid == 0) {
        close(fd[0]);
        struct child_result r;
        memset(&r, 0, sizeof r);
        if (k == K_GCH)
            run_gcheap(scale, &r);
        else
            run_boehm(scale, &r);
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
            fprintf(stderr, "bench_gcbench: %s child killed by signal %d (%s)\n", kind_names[k],
                    WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            fprintf(stderr, "bench_gcbench: %s child failed: exit %d, result %s, check %s\n",
                    kind_names[k], WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                    got == (ssize_t)sizeof s->r ? "read" : "missing", s->r.ok ? "ok" : "FAILED");
        s->failed = true;
    }
}

static double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

static void usage(void)
{
    fprintf(stderr, "usage: bench_gcbench [-r reps] [-s scale_percent] [-a gcheap,boehm]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    unsigned reps = (unsigned)bench_env_long("BENCH_REPS", 3, 1, MAX_REPS);
    long scale = 100;
    bool kinds[NUM_KINDS] = {true, true};
    int c;
    while ((c = getopt(argc, argv, "r:s:a:h")) != -1) {
        switch (c) {
        case 'r': reps = (unsigned)bench_parse_long("-r", optarg, 1, MAX_REPS); break;
        case 's': scale = bench_parse_long("-s", optarg, 1, 10000); break;
        case 'a': {
            char buf[128];
            snprintf(buf, sizeof buf, "%s", optarg);
            kinds[K_GCH] = kinds[K_BOEHM] = false;
            for (char *sv = NULL, *tok = strtok_r(buf, ",", &sv); tok; tok = strtok_r(NULL, ",", &sv)) {
                if (strcmp(tok, "gcheap") == 0)
                    kinds[K_GCH] = true;
                else if (strcmp(tok, "boehm") == 0)
                    kinds[K_BOEHM] = true;
                else
                    usage();
            }
            break;
        }
        default: usage();
        }
    }
    if (optind != argc)
        usage();

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
            run_child(k, scale, s);
            ok &= !s->failed;
            fprintf(stderr, "  rep %u %-6s wall %8.1f ms  cpu %8.1f ms  rss %7.1f MiB  gcs %5" PRIu64
                            "  max pause %7.2f ms%s\n",
                    rep, kind_names[k], (double)s->r.wall_ns / 1e6, (double)s->r.cpu_ns / 1e6,
                    s->maxrss_kib / 1024, s->r.num_gc, (double)s->r.max_pause_ns / 1e6,
                    s->failed ? "  FAILED" : "");
        }

    enum { F_WALL, F_CPU, F_RSS, F_GC, F_MAXP, F_TOTP, F_HEAP, NF };
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
        bench_json_begin(&js, "gcbench");
        bench_json_str(&js, "alloc", kind_names[k]);
        bench_json_u64(&js, "scale_percent", (uint64_t)scale);
        bench_json_num(&js, "median_wall_ms", med[k][F_WALL]);
        bench_json_num(&js, "median_cpu_ms", med[k][F_CPU]);
        bench_json_num(&js, "median_maxrss_mib", med[k][F_RSS]);
        bench_json_num(&js, "median_num_gc", med[k][F_GC]);
        bench_json_num(&js, "median_max_pause_ms", med[k][F_MAXP]);
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

    fprintf(stderr, "\nbench_gcbench: medians over %u reps (scale %ld%%); git %s; %s\n", reps, scale,
            BENCH_GIT_REV, BENCH_BUILD);
    fprintf(stderr, "%-7s %10s %10s %9s %7s %11s %11s %9s\n", "alloc", "wall ms", "cpu ms", "rss MiB",
            "GCs", "maxpause ms", "sumpause ms", "heap MiB");
    for (unsigned j = 0; j < nk; j++) {
        enum alloc_kind k = order[j];
        fprintf(stderr, "%-7s %10.1f %10.1f %9.1f %7.0f %11.2f %11.1f %9.1f\n", kind_names[k], med[k][F_WALL],
                med[k][F_CPU], med[k][F_RSS], med[k][F_GC], med[k][F_MAXP], med[k][F_TOTP], med[k][F_HEAP]);
    }
    if (both)
        fprintf(stderr, "gcheap/boehm: wall %.3f  cpu %.3f  rss %.3f  (< 1: gcheap better)\n",
                ratio(med[K_GCH][F_WALL], med[K_BOEHM][F_WALL]), ratio(med[K_GCH][F_CPU], med[K_BOEHM][F_CPU]),
                ratio(med[K_GCH][F_RSS], med[K_BOEHM][F_RSS]));
    fprintf(stderr, "max pause: gcheap, max of pause_ns (last 256 cycles); boehm, longest "
                    "GC_EVENT_START..END.  heap: gcheap HeapSys, boehm GC_get_heap_size, at the end.\n");
    if (!ok)
        fprintf(stderr, "bench_gcbench: FAILED (see above)\n");
    return ok ? 0 : 1;
}
