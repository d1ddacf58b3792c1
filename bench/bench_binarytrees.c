/*
 * bench_binarytrees.c - the benchmarks game's binary-trees, single
 * threaded: gcheap against the Boehm-Demers-Weiser collector, measured in
 * the same run.
 *
 * Workload (per allocator, per repetition), as in the benchmarks game with
 * N = max depth (default 21):
 *   - a stretch tree of depth N+1, built bottom-up, checked and dropped;
 *   - a long-lived tree of depth N, kept to the end;
 *   - for d = 4, 6, ..., N: 2^(N - d + 4) trees of depth d, each built
 *     bottom-up, checked (node count) and dropped;
 *   - the long-lived tree is checked last.
 * checksum = the sum of every check (node counts); compared with the
 * closed form.  Node: {left, right} (16 bytes), pointer mask 0b11.
 *
 * gcheap roots: the long-lived tree sits in a handle frame; bottom-up
 * construction keeps both children in a 2-slot frame until the parent is
 * allocated; a fresh tree is checked before the next allocation, so needs
 * no root.  The children are stored into a node through the write
 * barrier (gch_write), as gcheap's concurrent collector requires; Boehm's
 * side stores plainly.  Boehm scans the C stack.
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
 * Usage: bench_binarytrees [-r reps] [-d max_depth] [-a allocators]
 *   -r  repetitions (default $BENCH_REPS or 3); medians are reported
 *   -d  max depth N, 6..26 (default 21)
 *   -a  comma-separated: gcheap,boehm,malloc (default all three; malloc
 *       frees each tree once checked)
 * gcheap reads GOGC / GODEBUG (cfg.read_env = 1).  Exit 1 on a wrong
 * checksum or crash.
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

enum { MIN_DEPTH = 4 };


typedef struct node {
    struct node *left, *right;
} node;

static const uint8_t node_mask[1] = {0x03};
static const gch_type node_type = {"bt_node", sizeof(node), node_mask, NULL};

static uint64_t tree_size(int d) { return ((uint64_t)1 << (d + 1)) - 1; }

/* expected_checksum: the sum of every check the workload makes. */
static uint64_t expected_checksum(int maxd)
{
    uint64_t sum = tree_size(maxd + 1) + tree_size(maxd);
    for (int d = MIN_DEPTH; d <= maxd; d += 2)
        sum += ((uint64_t)1 << (maxd - d + MIN_DEPTH)) * tree_size(d);
    return sum;
}

static uint64_t check_tree(const node *n)
{
    uint64_t c = 0;
    while (n != NULL) { /* recurse left, iterate right */
        c += 1 + check_tree(n->left);
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
        fprintf(stderr, "bench_binarytrees: gch_alloc: %s\n", gch_last_error_message());
        _exit(3);
    }
    return n;
}

/* bottom-up; the result must be stored in a root (or be dead) before the
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

static void run_gcheap(long maxd, struct child_result *res)
{
    gch_heap *h;
    g_t = gcb_gcheap_open("binarytrees", &h);
    uint64_t w0 = bench_now_ns(), c0 = cpu_now_ns();
    uint64_t sum = 0;
    {
        GCH_LOCALS(g_t, r, 1); /* the long-lived tree */
        sum += check_tree(gch_make_tree(maxd + 1));
        r[0] = gch_make_tree(maxd);
        for (int d = MIN_DEPTH; d <= maxd; d += 2) {
            long n = 1L << (maxd - d + MIN_DEPTH);
            for (long i = 0; i < n; i++)
                sum += check_tree(gch_make_tree(d));
        }
        sum += check_tree(r[0]);
        GCH_LOCALS_END(g_t, r);
    }
    res->cpu_ns = cpu_now_ns() - c0;
    res->wall_ns = bench_now_ns() - w0;
    res->checksum = sum;
    res->ok = sum == expected_checksum(maxd);
    gcb_gcheap_close(h, g_t, res);
}

/* ------------------------------------------------------------------ */
/* Boehm                                                               */
/* ------------------------------------------------------------------ */

static node *bw_new_node(void)
{
    node *n = GC_MALLOC(sizeof(node));
    if (n == NULL) {
        fprintf(stderr, "bench_binarytrees: GC_MALLOC failed\n");
        _exit(3);
    }
    return n;
}

GCB_DEFINE_MAKE_TREE(bw)

static void run_boehm(long maxd, struct child_result *res)
{
    GC_INIT();
    GC_set_on_collection_event(gcb_boehm_event);
    uint64_t w0 = bench_now_ns(), c0 = cpu_now_ns();
    uint64_t sum = 0;
    sum += check_tree(bw_make_tree(maxd + 1));
    node *volatile longl = bw_make_tree(maxd);
    for (int d = MIN_DEPTH; d <= maxd; d += 2) {
        long n = 1L << (maxd - d + MIN_DEPTH);
        for (long i = 0; i < n; i++)
            sum += check_tree(bw_make_tree(d));
    }
    sum += check_tree(longl);
    res->cpu_ns = cpu_now_ns() - c0;
    res->wall_ns = bench_now_ns() - w0;
    res->checksum = sum;
    res->ok = sum == expected_checksum(maxd);
    gcb_boehm_close(res);
}

/* ------------------------------------------------------------------ */
/* malloc/free: each tree is freed once checked                        */
/* ------------------------------------------------------------------ */

static node *ml_new_node(void)
{
    node *n = malloc(sizeof(node));
    if (n == NULL) {
        fprintf(stderr, "bench_binarytrees: malloc failed\n");
        _exit(3);
    }
    n->left = n->right = NULL;
    return n;
}

GCB_DEFINE_MAKE_TREE(ml)

GCB_DEFINE_FREE_TREE(ml)

/* ml_check: check_tree, then free the tree. */
static uint64_t ml_check(node *n)
{
    uint64_t c = check_tree(n);
    ml_free_tree(n);
    return c;
}

static void run_malloc(long maxd, struct child_result *res)
{
    uint64_t w0 = bench_now_ns(), c0 = cpu_now_ns();
    uint64_t sum = ml_check(ml_make_tree((int)maxd + 1));
    node *longl = ml_make_tree((int)maxd);
    for (int d = MIN_DEPTH; d <= maxd; d += 2) {
        long n = 1L << (maxd - d + MIN_DEPTH);
        for (long i = 0; i < n; i++)
            sum += ml_check(ml_make_tree(d));
    }
    sum += ml_check(longl);
    res->cpu_ns = cpu_now_ns() - c0;
    res->wall_ns = bench_now_ns() - w0;
    res->checksum = sum;
    res->ok = sum == expected_checksum((int)maxd);
}

/* ------------------------------------------------------------------ */
/* Driver: one forked child per (allocator, repetition)                */
/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    static const struct gcb_spec spec = {
        .name = "binarytrees", .param_flag = 'd', .param_key = "max_depth",
        .param_default = 21, .param_min = 6, .param_max = 26,
        .run = {[K_GCH] = run_gcheap, [K_BOEHM] = run_boehm, [K_MALLOC] = run_malloc},
    };
    return gcb_main(&spec, argc, argv);
}
