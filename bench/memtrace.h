/*
 * memtrace.h - BENCH_MEMTRACE=ms: a sampler thread that reads the
 * process's resident size and gch_read_stats every ms milliseconds and
 * prints, when stopped, where the memory was at the largest resident size
 * seen (heap in use, free and released pages, metadata, goal);
 * BENCH_MEMTRACE_ALL=1 prints every sample.  Accounting for issue 15, not
 * part of the timing (the sampler's CPU time counts in the process's).
 * Used by gcbench_harness.h and bench_pauses.c; include once, after
 * benchutil.h.
 */
#ifndef GCHEAP_BENCH_MEMTRACE_H
#define GCHEAP_BENCH_MEMTRACE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gcheap.h>

/* One memtrace sample, MiB (BENCH_MEMTRACE). */
struct memsample {
    double t_s, rss, inuse, free, released, meta, alloc, goal;
    unsigned num_gc;
};

struct memtrace {
    gch_heap *heap;
    long period_ms;
    bool all;
    volatile int stop; /* set by the main thread, polled by the sampler */
    struct memsample peak;
    pthread_t th;
};

static double rss_mib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

static void memtrace_print(const char *what, const struct memsample *m)
{
    fprintf(stderr,
            "memtrace %s: t %.2f s rss %.1f = inuse %.1f + free %.1f + meta %.1f + other %.1f MiB "
            "(released %.1f, alloc %.1f, goal %.1f, gc %u)\n",
            what, m->t_s, m->rss, m->inuse, m->free, m->meta, m->rss - m->inuse - m->free - m->meta,
            m->released, m->alloc, m->goal, m->num_gc);
}

static void *memtrace_main(void *arg)
{
    struct memtrace *mt = arg;
    uint64_t t0 = bench_now_ns();
    gch_stats *st = malloc(sizeof *st);
    while (st != NULL && !mt->stop) {
        gch_read_stats(mt->heap, st);
        const double mib = 1 << 20;
        struct memsample m = {
            .t_s = (double)(bench_now_ns() - t0) / 1e9, .rss = rss_mib(),
            .inuse = (double)st->heap_inuse / mib, .free = (double)(st->heap_idle - st->heap_released) / mib,
            .released = (double)st->heap_released / mib, .meta = (double)st->metadata_sys / mib,
            .alloc = (double)st->heap_alloc / mib, .goal = (double)st->next_gc / mib, .num_gc = st->num_gc};
        if (m.rss > mt->peak.rss)
            mt->peak = m;
        if (mt->all)
            memtrace_print("sample", &m);
        struct timespec ts = {mt->period_ms / 1000, (mt->period_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    free(st);
    return NULL;
}

/* memtrace_start: the sampler, if BENCH_MEMTRACE (or CHURN_MEMTRACE)
 * asks for it; false if not running. */
static bool memtrace_start(struct memtrace *mt, gch_heap *h)
{
    const char *e = getenv("BENCH_MEMTRACE");
    if (e == NULL)
        e = getenv("CHURN_MEMTRACE");
    memset(mt, 0, sizeof *mt);
    if (e == NULL || atol(e) <= 0)
        return false;
    mt->heap = h;
    mt->period_ms = atol(e);
    mt->all = getenv("BENCH_MEMTRACE_ALL") != NULL || getenv("CHURN_MEMTRACE_ALL") != NULL;
    return pthread_create(&mt->th, NULL, memtrace_main, mt) == 0;
}

static void memtrace_stop(struct memtrace *mt)
{
    mt->stop = 1;
    pthread_join(mt->th, NULL);
    memtrace_print("peak", &mt->peak);
}

#endif /* GCHEAP_BENCH_MEMTRACE_H */
