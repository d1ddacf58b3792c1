/*
 * bench_gogc.c - the GOGC trade-off curve (issue 10): one workload run
 * at GOGC = 25, 50, 100, 200, 400 and at GOGC=off with a GOMEMLIMIT,
 * reporting peak RSS, wall and CPU time and the number of cycles, so the
 * memory / time trade-off is visible in one table.
 *
 * Workload (one mutator thread): a long-lived binary tree of LIVE_MIB
 * (16-byte nodes {left, right}, pointer mask 0b11, built bottom-up and
 * held in a handle frame for the whole run), then ALLOC_MIB of
 * short-lived trees of depth 12 (8191 nodes, 128 KiB each), each checked
 * and dropped; the long-lived tree is checked last.  Children are stored
 * with gch_write, as the concurrent collector requires.  The checksum
 * (node counts) is compared with the closed form.
 *
 * Each (setting, repetition) runs in its own forked child, so each
 * starts cold and its peak RSS (ru_maxrss from wait4) is its own; the
 * child sends wall time, CPU time (all its threads: the mark workers and
 * the sweeper count), NumGC and its checksum back through a pipe.
 * Medians over the repetitions are printed: a table on stderr, one JSON
 * line per setting on stdout.  Settings go through gch_config
 * (gc_percent, memory_limit); the environment is read only under the
 * prefix BENCH_GOGC_ (BENCH_GOGC_GODEBUG=gctrace=1 traces the children).
 *
 * Knobs (environment): BENCH_LIVE_MIB (32), BENCH_ALLOC_MIB (1024),
 * BENCH_REPS (3), BENCH_LIMIT_MIB (the GOGC=off setting's limit; default
 * 2 x LIVE_MIB + 16), BENCH_ONLY (run only the settings whose name
 * contains it, e.g. "off").  Timings on a shared machine are noise; run it on
 * a quiet one for figures.
 */
#include "benchutil.h"

#include <gcheap.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define CHURN_DEPTH 12
#define NODE_BYTES 16
#define MAX_REPS 15

typedef struct node {
    struct node *left, *right;
} node;

static const uint8_t node_mask[1] = {0x03};
static const gch_type node_type = {"gogc_node", sizeof(node), node_mask, NULL};

static uint64_t tree_nodes(int d) { return ((uint64_t)1 << (d + 1)) - 1; }

static uint64_t check_tree(const node *n)
{
    uint64_t c = 0;
    while (n != NULL) { /* recurse left, iterate right */
        c += 1 + check_tree(n->left);
        n = n->right;
    }
    return c;
}

static node *new_node(gch_thread *t)
{
    node *n = gch_alloc(t, &node_type);
    if (n == NULL) {
        fprintf(stderr, "bench_gogc: gch_alloc: %s\n", gch_last_error_message());
        _exit(3);
    }
    return n;
}

/* make_tree: bottom-up; the result must be rooted (or dead) before the
 * caller's next allocation. */
static NOINLINE node *make_tree(gch_thread *t, int d)
{
    if (d <= 0)
        return new_node(t);
    GCH_LOCALS(t, r, 2);
    r[0] = make_tree(t, d - 1);
    r[1] = make_tree(t, d - 1);
    node *n = new_node(t);
    gch_write(t, (void **)&n->left, r[0]);
    gch_write(t, (void **)&n->right, r[1]);
    GCH_LOCALS_END(t, r);
    return n;
}

/* live_depth: the deepest tree that fits in live_mib. */
static int live_depth(long live_mib)
{
    int d = 1;
    while (tree_nodes(d + 1) * NODE_BYTES <= (uint64_t)live_mib << 20)
        d++;
    return d;
}

struct setting {
    const char *name;
    int gc_percent;
    int64_t memory_limit; /* GCH_UNSET: none */
};

struct child_result {
    uint64_t wall_ns, cpu_ns, checksum, expected;
    uint32_t num_gc;
};

static uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* run_child: the workload under one setting. */
static void run_child(const struct setting *s, long live_mib, long alloc_mib, struct child_result *res)
{
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.env_prefix = "BENCH_GOGC_"; /* BENCH_GOGC_GODEBUG=gctrace=1, say; never plain GOGC */
    cfg.gc_percent = s->gc_percent;
    cfg.memory_limit = s->memory_limit;
    gch_heap *h = gch_heap_new(&cfg);
    gch_thread *t = h != NULL ? gch_thread_attach(h) : NULL;
    if (t == NULL) {
        fprintf(stderr, "bench_gogc: no heap: %s\n", gch_last_error_message());
        _exit(3);
    }
    int ld = live_depth(live_mib);
    uint64_t churn = ((uint64_t)alloc_mib << 20) / (tree_nodes(CHURN_DEPTH) * NODE_BYTES);
    uint64_t w0 = bench_now_ns(), c0 = cpu_now_ns(), sum = 0;
    {
        GCH_LOCALS(t, r, 1);
        r[0] = make_tree(t, ld);
        for (uint64_t i = 0; i < churn; i++)
            sum += check_tree(make_tree(t, CHURN_DEPTH));
        sum += check_tree(r[0]);
        GCH_LOCALS_END(t, r);
    }
    res->wall_ns = bench_now_ns() - w0;
    res->cpu_ns = cpu_now_ns() - c0;
    res->checksum = sum;
    res->expected = churn * tree_nodes(CHURN_DEPTH) + tree_nodes(ld);
    gch_stats st;
    gch_read_stats(h, &st);
    res->num_gc = st.num_gc;
    gch_thread_detach(t);
    gch_heap_free(h);
}

/* run_forked: one repetition in a child; false on a crash or a wrong
 * checksum.  *maxrss_kib gets the child's peak RSS. */
static bool run_forked(const struct setting *s, long live_mib, long alloc_mib, struct child_result *res,
                       long *maxrss_kib)
{
    int fd[2];
    if (pipe(fd) != 0)
        return false;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        struct child_result r;
        memset(&r, 0, sizeof r);
        run_child(s, live_mib, alloc_mib, &r);
        ssize_t w = write(fd[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 4);
    }
    close(fd[1]);
    memset(res, 0, sizeof *res);
    ssize_t n = read(fd[0], res, sizeof *res);
    close(fd[0]);
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid)
        return false;
    *maxrss_kib = ru.ru_maxrss;
    return n == (ssize_t)sizeof *res && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
           res->checksum == res->expected;
}

static void report(const struct setting *s, long live_mib, long alloc_mib, long reps, double rss,
                   double wall, double cpu, double gcs)
{
    fprintf(stderr, "%-22s %10.1f %10.3f %10.3f %8.0f\n", s->name, rss, wall, cpu, gcs);
    struct bench_json j;
    bench_json_begin(&j, "gogc");
    bench_json_str(&j, "setting", s->name);
    bench_json_u64(&j, "live_mib", (uint64_t)live_mib);
    bench_json_u64(&j, "alloc_mib", (uint64_t)alloc_mib);
    bench_json_u64(&j, "reps", (uint64_t)reps);
    bench_json_num(&j, "peak_rss_mib", rss);
    bench_json_num(&j, "wall_s", wall);
    bench_json_num(&j, "cpu_s", cpu);
    bench_json_num(&j, "num_gc", gcs);
    bench_json_end(&j, stdout);
}

int main(void)
{
    long live = bench_env_long("BENCH_LIVE_MIB", 32, 1, 1 << 16);
    long alloc = bench_env_long("BENCH_ALLOC_MIB", 1024, 1, 1 << 20);
    long reps = bench_env_long("BENCH_REPS", 3, 1, MAX_REPS);
    long limit = bench_env_long("BENCH_LIMIT_MIB", 2 * live + 16, 1, 1 << 20);
    char offname[64];
    snprintf(offname, sizeof offname, "off, GOMEMLIMIT=%ldMiB", limit);
    const struct setting settings[] = {
        {"GOGC=25", 25, GCH_UNSET},   {"GOGC=50", 50, GCH_UNSET},   {"GOGC=100", 100, GCH_UNSET},
        {"GOGC=200", 200, GCH_UNSET}, {"GOGC=400", 400, GCH_UNSET}, {offname, -1, (int64_t)limit << 20},
    };
    fprintf(stderr, "bench_gogc: live %ld MiB, %ld MiB allocated, medians of %ld\n", live, alloc, reps);
    fprintf(stderr, "%-22s %10s %10s %10s %8s\n", "setting", "peakRSS MiB", "wall s", "cpu s", "GCs");
    int failed = 0;
    const char *only = getenv("BENCH_ONLY");
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if (only != NULL && strstr(settings[i].name, only) == NULL)
            continue;
        double rss[MAX_REPS], wall[MAX_REPS], cpu[MAX_REPS], gcs[MAX_REPS];
        for (long r = 0; r < reps; r++) {
            struct child_result res;
            long kib = 0;
            if (!run_forked(&settings[i], live, alloc, &res, &kib)) {
                fprintf(stderr, "bench_gogc: %s: child failed or wrong checksum\n", settings[i].name);
                failed = 1;
            }
            rss[r] = (double)kib / 1024;
            wall[r] = (double)res.wall_ns / 1e9;
            cpu[r] = (double)res.cpu_ns / 1e9;
            gcs[r] = res.num_gc;
        }
        report(&settings[i], live, alloc, reps, bench_median(rss, (size_t)reps),
               bench_median(wall, (size_t)reps), bench_median(cpu, (size_t)reps),
               bench_median(gcs, (size_t)reps));
    }
    return failed;
}
