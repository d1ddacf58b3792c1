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
 * allocated, and gcheap does not move objects).  Every store of a child
 * into a node goes through the write barrier (gch_write), as gcheap's
 * concurrent collector requires; Boehm's side stores plainly.  Boehm
 * scans the C stack.
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
 *   -a  comma-separated: gcheap,boehm,malloc (default all three; malloc
 *       frees every dropped tree at once, the long-lived ones at the end)
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

#include "gcbench_harness.h"

#define NOINLINE __attribute__((noinline))

enum { STRETCH_DEPTH = 18, LONG_LIVED_DEPTH = 16, ARRAY_SIZE = 500000, MIN_DEPTH = 4, MAX_DEPTH = 16 };


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
    gch_write(g_t, (void **)&n->left, gch_new_node());
    gch_write(g_t, (void **)&n->right, gch_new_node());
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
    gch_write(g_t, (void **)&n->left, r[0]);
    gch_write(g_t, (void **)&n->right, r[1]);
    GCH_LOCALS_END(g_t, r);
    return n;
}

static void run_gcheap(long scale, struct child_result *res)
{
    gch_heap *h;
    g_t = gcb_gcheap_open("gcbench", &h);
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
    gcb_gcheap_close(h, g_t, res);
}

/* ------------------------------------------------------------------ */
/* Boehm                                                               */
/* ------------------------------------------------------------------ */

static node *bw_new_node(void)
{
    node *n = GC_MALLOC(sizeof(node));
    if (n == NULL) {
        fprintf(stderr, "bench_gcbench: GC_MALLOC failed\n");
        _exit(3);
    }
    return n;
}

GCB_DEFINE_POPULATE(bw)

GCB_DEFINE_MAKE_TREE(bw)

static void run_boehm(long scale, struct child_result *res)
{
    GC_INIT();
    GC_set_on_collection_event(gcb_boehm_event);
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
    gcb_boehm_close(res);
}

/* ------------------------------------------------------------------ */
/* malloc/free: each dropped tree is freed at once                     */
/* ------------------------------------------------------------------ */

static node *ml_new_node(void)
{
    node *n = malloc(sizeof(node));
    if (n == NULL) {
        fprintf(stderr, "bench_gcbench: malloc failed\n");
        _exit(3);
    }
    n->left = n->right = NULL;
    n->i = n->j = 0;
    return n;
}

GCB_DEFINE_POPULATE(ml)

GCB_DEFINE_MAKE_TREE(ml)

GCB_DEFINE_FREE_TREE(ml)

static void run_malloc(long scale, struct child_result *res)
{
    uint64_t w0 = bench_now_ns(), c0 = cpu_now_ns();
    ml_free_tree(ml_make_tree(STRETCH_DEPTH));
    node *longl = ml_new_node();
    ml_populate(LONG_LIVED_DEPTH, longl);
    double *a = malloc(ARRAY_SIZE * sizeof(double));
    if (a == NULL) {
        fprintf(stderr, "bench_gcbench: malloc failed\n");
        _exit(3);
    }
    for (int i = 0; i < ARRAY_SIZE / 2; i++)
        a[i] = 1.0 / i;
    for (int d = MIN_DEPTH; d <= MAX_DEPTH; d += 2) {
        long n = num_iters(d, scale);
        for (long i = 0; i < n; i++) {
            node *temp = ml_new_node();
            ml_populate(d, temp);
            ml_free_tree(temp);
        }
        for (long i = 0; i < n; i++)
            ml_free_tree(ml_make_tree(d));
    }
    res->checksum = (uint64_t)count_nodes(longl);
    res->ok = res->checksum == (uint64_t)tree_size(LONG_LIVED_DEPTH) && a[1000] == 1.0 / 1000;
    ml_free_tree(longl);
    free(a);
    res->cpu_ns = cpu_now_ns() - c0;
    res->wall_ns = bench_now_ns() - w0;
}

/* ------------------------------------------------------------------ */
/* Driver: one forked child per (allocator, repetition)                */
/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    static const struct gcb_spec spec = {
        .name = "gcbench", .param_flag = 's', .param_key = "scale_percent",
        .param_default = 100, .param_min = 1, .param_max = 10000,
        .run = {[K_GCH] = run_gcheap, [K_BOEHM] = run_boehm, [K_MALLOC] = run_malloc},
    };
    return gcb_main(&spec, argc, argv);
}
