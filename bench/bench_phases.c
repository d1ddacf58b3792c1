/*
 * bench_phases.c - RSS over time for a VM that alternates a large peak
 * with a quiet phase (issue 10): gcheap with its idle periods shortened,
 * gcheap with Go's defaults (2-minute periodic GC, 5-minute idle
 * release), and Boehm GC, each in its own forked child so that process
 * RSS belongs to one heap.
 *
 * Workload per round: a peak phase builds PEAK_MIB of live 1 MiB
 * pointer-free chunks (every page written) and holds it; then a quiet
 * phase keeps QUIET_MIB of them and allocates a little (1 MiB per
 * 100 ms) while idle.  RSS (/proc/self/statm) is sampled every 250 ms.
 * Output: one JSON line per configuration with the samples in MiB, the
 * peak, the RSS at the end of each quiet phase, and gcheap's
 * background-scavenger time.  Timings on a shared machine are noise;
 * RSS is what this measures.
 *
 * Knobs (environment): BENCH_PEAK_MIB (1024), BENCH_QUIET_MIB (64),
 * BENCH_ROUNDS (2), BENCH_PEAK_MS (1000), BENCH_QUIET_MS (4000).
 */
#include "benchutil.h"

#include <gcheap.h>
#include <gc.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)
#define SAMPLE_MS 250
#define MAX_SAMPLES 512

struct params {
    long peak_mib, quiet_mib, rounds, peak_ms, quiet_ms;
};

/* One heap under test: allocate a chunk, store it in slot i of the root
 * array, drop slots [from, n). */
struct heapops {
    const char *name;
    void *(*alloc_chunk)(void *ctx);
    void (*store)(void *ctx, size_t i, void *p);
    void (*idle)(void *ctx); /* a safepoint while the VM idles */
    void *ctx;
};

struct samples {
    double rss[MAX_SAMPLES];
    size_t n;
    uint64_t next_ns, t0;
};

static double rss_mib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f != NULL) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE) / (double)MIB;
}

static void sample(struct samples *s)
{
    uint64_t now = bench_now_ns();
    while (now >= s->next_ns && s->n < MAX_SAMPLES) {
        s->rss[s->n++] = rss_mib();
        s->next_ns += (uint64_t)SAMPLE_MS * 1000000;
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* run: the workload; fills the samples and the quiet-phase-end RSS. */
static void run(const struct params *p, const struct heapops *o, struct samples *s, double *quiet_end)
{
    s->t0 = bench_now_ns();
    s->next_ns = s->t0;
    for (long r = 0; r < p->rounds; r++) {
        for (long i = 0; i < p->peak_mib; i++) {
            char *c = o->alloc_chunk(o->ctx);
            for (size_t k = 0; k < MIB; k += 4096)
                c[k] = 1;
            o->store(o->ctx, (size_t)i, c);
            sample(s);
        }
        for (uint64_t end = bench_now_ns() + (uint64_t)p->peak_ms * 1000000; bench_now_ns() < end;) {
            sleep_ms(50);
            o->idle(o->ctx);
            sample(s);
        }
        for (long i = p->quiet_mib; i < p->peak_mib; i++)
            o->store(o->ctx, (size_t)i, NULL);
        for (uint64_t end = bench_now_ns() + (uint64_t)p->quiet_ms * 1000000; bench_now_ns() < end;) {
            sleep_ms(100);
            o->store(o->ctx, (size_t)p->peak_mib, o->alloc_chunk(o->ctx)); /* light activity */
            o->idle(o->ctx);
            sample(s);
        }
        quiet_end[r] = rss_mib();
    }
}

/* ---- gcheap ------------------------------------------------------------- */

struct gch_ctx {
    gch_heap *h;
    gch_thread *t;
    void **roots;
};

static void *gch_chunk(void *ctx)
{
    struct gch_ctx *g = ctx;
    return gch_alloc_noscan(g->t, MIB);
}

static void gch_store(void *ctx, size_t i, void *p)
{
    struct gch_ctx *g = ctx;
    gch_write(g->t, &g->roots[i], p);
}

static void gch_idle(void *ctx)
{
    struct gch_ctx *g = ctx;
    gch_safepoint(g->t);
}

static void report(const char *config, const struct params *p, const struct samples *s,
                   const double *quiet_end, double scav_ms)
{
    struct bench_json j;
    bench_json_begin(&j, "phases");
    bench_json_str(&j, "config", config);
    bench_json_u64(&j, "peak_mib", (uint64_t)p->peak_mib);
    bench_json_u64(&j, "quiet_mib", (uint64_t)p->quiet_mib);
    double peak = 0;
    char buf[32];
    bench_json_key(&j, "rss_mib_every_250ms");
    bench_json_raw(&j, "[");
    for (size_t i = 0; i < s->n; i++) {
        snprintf(buf, sizeof buf, i ? ",%.0f" : "%.0f", s->rss[i]);
        bench_json_raw(&j, buf);
        peak = s->rss[i] > peak ? s->rss[i] : peak;
    }
    bench_json_raw(&j, "]");
    bench_json_num(&j, "rss_peak_mib", peak);
    bench_json_num(&j, "rss_end_quiet1_mib", quiet_end[0]);
    bench_json_num(&j, "rss_end_quiet_last_mib", quiet_end[p->rounds - 1]);
    if (scav_ms >= 0)
        bench_json_num(&j, "scavenger_ms", scav_ms);
    bench_json_end(&j, stdout);
}

static void child_gcheap(const struct params *p, bool shortened)
{
    gch_config cfg;
    gch_config_init(&cfg);
    if (shortened) {
        cfg.force_gc_ms = 500;
        cfg.scavenge_idle_ms = 1000;
    }
    struct gch_ctx g;
    g.h = gch_heap_new(&cfg);
    g.t = gch_thread_attach(g.h);
    g.roots = calloc((size_t)p->peak_mib + 1, sizeof *g.roots);
    gch_root_range_add(g.h, g.roots, (size_t)p->peak_mib + 1);
    struct heapops o = {"gcheap", gch_chunk, gch_store, gch_idle, &g};
    struct samples s = {{0}, 0, 0, 0};
    double quiet_end[64];
    run(p, &o, &s, quiet_end);
    gch_stats st;
    gch_read_stats(g.h, &st);
    double scav_ms = (double)st.scavenge_ns / 1e6;
    report(shortened ? "gcheap idle=1s forcegc=0.5s" : "gcheap defaults (idle 5 min, forcegc 2 min)", p,
           &s, quiet_end, scav_ms);
}

/* ---- Boehm GC ----------------------------------------------------------- */

static void *bdw_chunk(void *ctx)
{
    (void)ctx;
    return GC_MALLOC_ATOMIC(MIB);
}

static void bdw_store(void *ctx, size_t i, void *p) { ((void **)ctx)[i] = p; }
static void bdw_idle(void *ctx) { (void)ctx; }

static void child_boehm(const struct params *p)
{
    GC_INIT();
    void **roots = GC_MALLOC((size_t)(p->peak_mib + 1) * sizeof *roots);
    struct heapops o = {"boehm", bdw_chunk, bdw_store, bdw_idle, roots};
    struct samples s = {{0}, 0, 0, 0};
    double quiet_end[64];
    run(p, &o, &s, quiet_end);
    bench_escape(roots);
    report("boehm", p, &s, quiet_end, -1);
}

int main(void)
{
    struct params p = {bench_env_long("BENCH_PEAK_MIB", 1024, 16, 1 << 20),
                       bench_env_long("BENCH_QUIET_MIB", 64, 1, 1 << 20),
                       bench_env_long("BENCH_ROUNDS", 2, 1, 64),
                       bench_env_long("BENCH_PEAK_MS", 1000, 0, 600000),
                       bench_env_long("BENCH_QUIET_MS", 4000, 100, 3600000)};
    if (p.quiet_mib > p.peak_mib)
        p.quiet_mib = p.peak_mib;
    for (int config = 0; config < 3; config++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            if (config == 0)
                child_gcheap(&p, true);
            else if (config == 1)
                child_gcheap(&p, false);
            else
                child_boehm(&p);
            fflush(stdout);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
    }
    return 0;
}
