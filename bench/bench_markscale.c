/*
 * bench_markscale.c - does marking go faster with more mark workers?
 *
 * A live heap of --live-mib MiB (binary trees of 24-byte nodes under a
 * global root array) is built with collection off, then collected
 * --reps times with gch_collect while the only mutator waits (so all the
 * marking is the workers').  The mark phase's wall time comes from the
 * gctrace line (the B of "A+B+C ms clock") and its CPU from the
 * background share of the cpu field.  Configurations:
 *   gcheap-w1   GOMAXPROCS=4: one dedicated worker
 *   gcheap-w2   GOMAXPROCS=8: two dedicated workers
 *   boehm-m1    Boehm GC, GC_set_markers_count(1): GC_gcollect wall time
 *   boehm-m2    Boehm GC, two parallel markers
 * (Boehm's time covers its whole stop-the-world collection; its CPU is
 * the process's CPU time across GC_gcollect, while the only mutator is
 * inside it, so on a loaded machine mark CPU is the figure to compare:
 * the cpu ratio line gives gcheap's over Boehm's.)  Each runs in
 * a forked child; medians over the repetitions; the speedup is w1/w2 and
 * m1/m2.  On a 2-CPU machine two markers are the most that can help.
 *
 * Usage: bench_markscale [--live-mib N] [--reps R] [--only CONFIG] [--json]
 * (--only runs one configuration, the others print 0: for profiling one
 * marker under perf stat or getrusage without the other three runs.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define GC_THREADS 1
#define GC_NO_THREAD_REDIRECTS 1
#include <gc.h>
#include <gcheap.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

#define TREE_DEPTH 18 /* 2^19 - 1 nodes, 12 MiB per tree */
#define MAX_TREES 4096
#define MAX_REPS 50

struct node {
    struct node *l, *r;
    uint64_t v;
};

static const uint8_t node_mask[] = {0x3};
static const gch_type node_type = {"node", sizeof(struct node), node_mask, NULL};

struct result {
    double mark_ms;   /* median mark wall time (Boehm: collection) */
    double mark_cpu;  /* median mark CPU, ms (gcheap background; Boehm process) */
    int ok;
};

/* ---- gcheap ----------------------------------------------------------------- */

static double last_b_ms, last_bg_ms;

static void trace_sink(const char *line, void *ctx)
{
    (void)ctx;
    double a, b, c, sa, as, bg;
    const char *p = strchr(line, ':');
    if (p != NULL && sscanf(p + 1, " %lf+%lf+%lf ms clock, %lf+%lf/%lf", &a, &b, &c, &sa, &as, &bg) == 6) {
        last_b_ms = b;
        last_bg_ms = bg;
    }
}

static struct node *gch_tree(gch_thread *t, int depth)
{
    GCH_LOCALS(t, loc, 1);
    struct node *n = gch_alloc(t, &node_type);
    if (n == NULL) {
        fprintf(stderr, "bench_markscale: %s\n", gch_last_error_message());
        exit(1);
    }
    loc[0] = n;
    if (depth > 0) {
        struct node *l = gch_tree(t, depth - 1);
        gch_write(t, (void **)&((struct node *)loc[0])->l, l);
        struct node *r = gch_tree(t, depth - 1);
        gch_write(t, (void **)&((struct node *)loc[0])->r, r);
    }
    n = loc[0];
    n->v = (uint64_t)depth;
    GCH_LOCALS_END(t, loc);
    return n;
}

static int run_gcheap(int procs, int ntrees, int reps, struct result *res)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "BMSCALE_";
    cfg.gc_percent = -1; /* no cycle while building */
    cfg.gomaxprocs = procs;
    cfg.trace = trace_sink;
    setenv("BMSCALE_GODEBUG", "gctrace=1", 1);
    gch_heap *h = gch_heap_new(&cfg);
    gch_thread *t = h != NULL ? gch_thread_attach(h) : NULL;
    if (t == NULL)
        return 0;
    static void *roots[MAX_TREES];
    gch_root_range_add(h, roots, (size_t)ntrees);
    for (int i = 0; i < ntrees; i++)
        gch_write(t, &roots[i], gch_tree(t, TREE_DEPTH));
    double b[MAX_REPS], bg[MAX_REPS];
    gch_collect(h); /* the first cycle starts the workers */
    for (int r = 0; r < reps; r++) {
        gch_collect(h);
        b[r] = last_b_ms;
        bg[r] = last_bg_ms;
    }
    res->mark_ms = bench_median(b, (size_t)reps);
    res->mark_cpu = bench_median(bg, (size_t)reps);
    res->ok = 1;
    for (int i = 0; i < ntrees; i++)
        res->ok &= ((struct node *)roots[i])->v == TREE_DEPTH;
    gch_root_range_remove(h, roots);
    gch_thread_detach(t);
    gch_heap_free(h);
    return 1;
}

/* ---- Boehm ------------------------------------------------------------------ */

static struct node *bw_tree(int depth)
{
    struct node *n = GC_MALLOC(sizeof *n);
    if (n == NULL)
        exit(1);
    if (depth > 0) {
        n->l = bw_tree(depth - 1);
        n->r = bw_tree(depth - 1);
    }
    n->v = (uint64_t)depth;
    return n;
}

static struct node **bw_roots;

/* process_cpu_ns: CPU time of every thread of this process. */
static uint64_t process_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int run_boehm(int markers, int ntrees, int reps, struct result *res)
{
    GC_set_markers_count((unsigned)markers);
    GC_INIT();
    GC_disable();
    bw_roots = GC_MALLOC((size_t)ntrees * sizeof *bw_roots);
    for (int i = 0; i < ntrees; i++)
        bw_roots[i] = bw_tree(TREE_DEPTH);
    GC_enable();
    double ms[MAX_REPS], cpu[MAX_REPS];
    GC_gcollect();
    for (int r = 0; r < reps; r++) {
        uint64_t t0 = bench_now_ns(), c0 = process_cpu_ns();
        GC_gcollect();
        ms[r] = (double)(bench_now_ns() - t0) / 1e6;
        cpu[r] = (double)(process_cpu_ns() - c0) / 1e6;
    }
    res->mark_ms = bench_median(ms, (size_t)reps);
    res->mark_cpu = bench_median(cpu, (size_t)reps);
    res->ok = 1;
    for (int i = 0; i < ntrees; i++)
        res->ok &= bw_roots[i]->v == TREE_DEPTH;
    return 1;
}

/* ---- driver ----------------------------------------------------------------- */

static const char *const names[4] = {"gcheap-w1", "gcheap-w2", "boehm-m1", "boehm-m2"};

static int run_child(int which, int ntrees, int reps, struct result *res)
{
    int fd[2];
    if (pipe(fd) != 0)
        return 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        struct result r = {0, 0, 0};
        if (which < 2)
            run_gcheap(which == 0 ? 4 : 8, ntrees, reps, &r);
        else
            run_boehm(which == 2 ? 1 : 2, ntrees, reps, &r);
        ssize_t w = write(fd[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fd[1]);
    ssize_t n = read(fd[0], res, sizeof *res);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return n == (ssize_t)sizeof *res && WIFEXITED(status) && WEXITSTATUS(status) == 0 && res->ok;
}

int main(int argc, char **argv)
{
    long live = 512, reps = 5;
    int json = 0;
    const char *only = NULL;
    static const struct option opts[] = {
        {"live-mib", required_argument, NULL, 'm'}, {"reps", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'}, {"only", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0}};
    for (int c; (c = getopt_long(argc, argv, "m:r:jo:", opts, NULL)) != -1;) {
        if (c == 'm')
            live = bench_parse_long("--live-mib", optarg, 12, 40000);
        else if (c == 'r')
            reps = bench_parse_long("--reps", optarg, 1, MAX_REPS);
        else if (c == 'j')
            json = 1;
        else if (c == 'o')
            only = optarg;
        else
            return fprintf(stderr, "usage: bench_markscale [--live-mib N] [--reps R] [--only CONFIG] [--json]\n"),
                   2;
    }
    int ntrees = (int)(live / 12);
    ntrees = ntrees < 1 ? 1 : ntrees > MAX_TREES ? MAX_TREES : ntrees;
    struct result res[4];
    int failed = 0;
    for (int i = 0; i < 4; i++) {
        if (only != NULL && strcmp(only, names[i]) != 0) {
            res[i] = (struct result){0, 0, 1};
            continue;
        }
        if (!run_child(i, ntrees, (int)reps, &res[i])) {
            fprintf(stderr, "bench_markscale: %s failed\n", names[i]);
            failed = 1;
            res[i] = (struct result){0, 0, 0};
        }
    }
    fprintf(stderr, "bench_markscale: %d trees (%d MiB live), medians over %ld collections; git %s; %s\n",
            ntrees, ntrees * 12, reps, BENCH_GIT_REV, BENCH_BUILD);
    fprintf(stderr, "config      mark ms   mark cpu ms\n");
    for (int i = 0; i < 4; i++)
        fprintf(stderr, "%-10s %8.1f %12.1f\n", names[i], res[i].mark_ms, res[i].mark_cpu);
    double sg = res[1].mark_ms > 0 ? res[0].mark_ms / res[1].mark_ms : 0;
    double sb = res[3].mark_ms > 0 ? res[2].mark_ms / res[3].mark_ms : 0;
    fprintf(stderr, "speedup with 2 markers: gcheap %.2f, boehm %.2f; gcheap-w2/boehm-m2 time %.2f\n", sg, sb,
            res[3].mark_ms > 0 ? res[1].mark_ms / res[3].mark_ms : 0);
    double c1 = res[2].mark_cpu > 0 ? res[0].mark_cpu / res[2].mark_cpu : 0;
    double c2 = res[3].mark_cpu > 0 ? res[1].mark_cpu / res[3].mark_cpu : 0;
    fprintf(stderr, "mark cpu gcheap/boehm: 1 marker %.2f, 2 markers %.2f\n", c1, c2);
    if (json) {
        struct bench_json j;
        bench_json_begin(&j, "markscale");
        bench_json_u64(&j, "live_mib", (uint64_t)ntrees * 12);
        for (int i = 0; i < 4; i++)
            bench_json_num(&j, names[i], res[i].mark_ms);
        bench_json_num(&j, "speedup_gcheap", sg);
        bench_json_num(&j, "speedup_boehm", sb);
        for (int i = 0; i < 4; i++) {
            char key[32];
            snprintf(key, sizeof key, "%s_cpu", names[i]);
            bench_json_num(&j, key, res[i].mark_cpu);
        }
        bench_json_num(&j, "cpu_ratio_1", c1);
        bench_json_num(&j, "cpu_ratio_2", c2);
        bench_json_end(&j, stdout);
    }
    return failed;
}
