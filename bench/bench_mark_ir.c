/*
 * bench_mark_ir.c - instructions per marked node, for callgrind: the
 * mark loop of a plain heap, of a heap with a tag decoder (the shape
 * gchlisp uses) and Boehm GC's whole collection, on the same trees.
 *
 * Not a timer: run it under `valgrind --tool=callgrind --instr-atstart=no`
 * (scripts/mark_ir.sh does, and prints the table).  The trees of
 * 24-byte nodes (bench_markscale's) are built with instrumentation off;
 * then REPS collections run with it on, so the process's Ir over them,
 * divided by nodes x REPS, is the whole cycle's cost per node (workers,
 * the waiting mutator, the sweep), and gcmarker_drain's inclusive Ir the
 * mark loop's.  One configuration per process: plain, decode or boehm.
 *
 * Usage: bench_mark_ir plain|decode|boehm [TREES [REPS]]
 *   TREES  trees of 2^19 - 1 nodes each (default 2: about 1 M nodes)
 *   REPS   collections measured (default 3)
 * gcheap runs with GOMAXPROCS=4 (one dedicated mark worker) and
 * collection off between the explicit cycles; Boehm with one marker.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define GC_THREADS 1
#define GC_NO_THREAD_REDIRECTS 1
#include <gc.h>
#include <gcheap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/callgrind.h>

#include "benchutil.h"

#define TREE_DEPTH 18
#define MAX_TREES 64

struct node {
    uintptr_t l, r; /* a pointer, or (decode) a tagged word */
    uint64_t v;
};

static const uint8_t node_mask[] = {0x3};
static const gch_type node_type = {"node", sizeof(struct node), node_mask, NULL};

/* The decode configuration tags a pointer with 4 in its low bits (as
 * gchlisp tags a pair) and leaves leaves' links as the tagged fixnum 1,
 * which decodes to no address. */
static int tagged;

static void *decode(uintptr_t w)
{
    if ((w & 3u) != 0)
        return NULL;
    return (void *)(w & ~(uintptr_t)7);
}

static uintptr_t link_of(void *p) { return tagged ? (uintptr_t)p | 4u : (uintptr_t)p; }

static struct node *gch_tree(gch_thread *t, int depth)
{
    GCH_LOCALS(t, loc, 1);
    struct node *n = gch_alloc(t, &node_type);
    if (n == NULL) {
        fprintf(stderr, "bench_mark_ir: %s\n", gch_last_error_message());
        exit(1);
    }
    loc[0] = n;
    if (depth > 0) {
        struct node *l = gch_tree(t, depth - 1);
        gch_write(t, (void **)&((struct node *)loc[0])->l, (void *)link_of(l));
        struct node *r = gch_tree(t, depth - 1);
        gch_write(t, (void **)&((struct node *)loc[0])->r, (void *)link_of(r));
    } else if (tagged) {
        n->l = n->r = 1; /* a fixnum */
    }
    n = loc[0];
    n->v = (uint64_t)depth;
    GCH_LOCALS_END(t, loc);
    return n;
}

static int run_gcheap(int ntrees, int reps)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "BMARKIR_";
    cfg.gc_percent = -1;
    cfg.gomaxprocs = 4;
    cfg.decode = tagged ? decode : NULL;
    gch_heap *h = gch_heap_new(&cfg);
    gch_thread *t = h != NULL ? gch_thread_attach(h) : NULL;
    if (t == NULL)
        return 1;
    static void *roots[MAX_TREES];
    gch_root_range_add(h, roots, (size_t)ntrees);
    for (int i = 0; i < ntrees; i++)
        gch_write(t, &roots[i], (void *)link_of(gch_tree(t, TREE_DEPTH)));
    gch_collect(h); /* starts the workers */
    CALLGRIND_ZERO_STATS;
    CALLGRIND_START_INSTRUMENTATION;
    for (int r = 0; r < reps; r++)
        gch_collect(h);
    CALLGRIND_STOP_INSTRUMENTATION;
    int ok = 1;
    for (int i = 0; i < ntrees; i++)
        ok &= ((struct node *)((uintptr_t)roots[i] & ~(uintptr_t)7))->v == TREE_DEPTH;
    gch_root_range_remove(h, roots);
    gch_thread_detach(t);
    gch_heap_free(h);
    return ok ? 0 : 1;
}

static struct node *bw_tree(int depth)
{
    struct node *n = GC_MALLOC(sizeof *n);
    if (n == NULL)
        exit(1);
    if (depth > 0) {
        n->l = (uintptr_t)bw_tree(depth - 1);
        n->r = (uintptr_t)bw_tree(depth - 1);
    }
    n->v = (uint64_t)depth;
    return n;
}

static int run_boehm(int ntrees, int reps)
{
    GC_set_markers_count(1);
    GC_INIT();
    GC_disable();
    struct node **roots = GC_MALLOC((size_t)ntrees * sizeof *roots);
    for (int i = 0; i < ntrees; i++)
        roots[i] = bw_tree(TREE_DEPTH);
    GC_enable();
    GC_gcollect();
    CALLGRIND_ZERO_STATS;
    CALLGRIND_START_INSTRUMENTATION;
    for (int r = 0; r < reps; r++)
        GC_gcollect();
    CALLGRIND_STOP_INSTRUMENTATION;
    int ok = 1;
    for (int i = 0; i < ntrees; i++)
        ok &= roots[i]->v == TREE_DEPTH;
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_mark_ir plain|decode|boehm [TREES [REPS]]\n");
        return 2;
    }
    int ntrees = argc > 2 ? (int)bench_parse_long("TREES", argv[2], 1, MAX_TREES) : 2;
    int reps = argc > 3 ? (int)bench_parse_long("REPS", argv[3], 1, 100) : 3;
    long nodes = (long)ntrees * ((1L << (TREE_DEPTH + 1)) - 1);
    printf("nodes %ld reps %d\n", nodes, reps);
    if (strcmp(argv[1], "boehm") == 0)
        return run_boehm(ntrees, reps);
    tagged = strcmp(argv[1], "decode") == 0;
    if (!tagged && strcmp(argv[1], "plain") != 0)
        return fprintf(stderr, "bench_mark_ir: unknown configuration %s\n", argv[1]), 2;
    return run_gcheap(ntrees, reps);
}
