/*
 * bench_alloc_ir.c - instructions per allocation on the fast path, for
 * callgrind: gch_alloc, gch_alloc_noscan and gch_alloc_array against
 * glibc malloc at 16, 64 and 128 bytes, in one process.
 *
 * Not a timer: run it under `valgrind --tool=callgrind` (scripts/alloc_ir.sh
 * does, and prints the table).  Each (API, size) has two identical
 * noinline loops, warm_<api>_<size> and run_<api>_<size>, of N
 * allocations each; the warm loop takes the first spans and heap growth
 * (and glibc's first top-chunk growth), so the run loop's inclusive Ir / N
 * is the steady cost of one allocation (mreuse: malloc's, after the warm
 * loop's objects were freed, so that it serves them from its bins): the call, the fast path, the
 * amortised refill of a span every nelems objects, and the loop's own
 * store of the pointer (2-3 Ir, the same for every API).
 * Two more cases for gch_alloc and gch_alloc_noscan: mark<api> runs its
 * loop while the collector marks (a heap scanner holds a gch_collect
 * cycle in its mark, on another thread, until the loop is done), and
 * reuse<api> runs it after a gch_collect freed the warm loop's objects,
 * so its spans come from recycled pages that need zeroing.
 * The heap runs with collection off (GOGC off), as bench_alloc does, and
 * with heap profiling off unless asked (mem_profile_rate 0: the fast
 * path still pays its sampling check, but no sample's stack walk, whose
 * thousands of Ir would land at random in one loop or another).
 *
 * Usage: bench_alloc_ir [N [RATE]]
 *   N     objects per loop (default 20000)
 *   RATE  gch_config.mem_profile_rate (default 0: off)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <gcheap.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"

#define NOINLINE __attribute__((noinline))

/* Word 0 of each object is a reference (the typed fast path's mask). */
static const uint8_t mask1[] = {0x01, 0x00}; /* 16 words: t128 */
static const gch_type t16 = {"t16", 16, mask1, NULL};
static const gch_type t64 = {"t64", 64, mask1, NULL};
static const gch_type t128 = {"t128", 128, mask1, NULL};
/* gch_alloc_array's element: {reference, word}, 16 bytes; the length
 * is opaque to the compiler. */
static const gch_type pair = {"pair", 16, mask1, NULL};

#define LOOP(name, EXPR)                                                                  \
    static NOINLINE size_t name(void **objs, size_t n, gch_thread *t)                     \
    {                                                                                     \
        (void)t;                                                                          \
        for (size_t i = 0; i < n; i++) {                                                  \
            void *p = (EXPR);                                                             \
            if (p == NULL)                                                                \
                return i;                                                                 \
            objs[i] = p;                                                                  \
        }                                                                                 \
        bench_escape(objs);                                                               \
        return n;                                                                         \
    }
#define PAIR(api, size, EXPR) LOOP(warm_##api##_##size, EXPR) LOOP(run_##api##_##size, EXPR)

PAIR(alloc, 16, gch_alloc(t, &t16))
PAIR(alloc, 64, gch_alloc(t, &t64))
PAIR(alloc, 128, gch_alloc(t, &t128))
PAIR(noscan, 16, gch_alloc_noscan(t, 16))
PAIR(noscan, 64, gch_alloc_noscan(t, 64))
PAIR(noscan, 128, gch_alloc_noscan(t, 128))
/* opaque: x, unknown to the compiler (an array's length is usually not a
 * constant where it is allocated). */
static inline size_t opaque(size_t x)
{
    __asm__("" : "+r"(x));
    return x;
}

PAIR(array, 16, gch_alloc_array(t, &pair, opaque(1)))
PAIR(array, 64, gch_alloc_array(t, &pair, opaque(4)))
PAIR(array, 128, gch_alloc_array(t, &pair, opaque(8)))
PAIR(markalloc, 16, gch_alloc(t, &t16))
PAIR(markalloc, 64, gch_alloc(t, &t64))
PAIR(markalloc, 128, gch_alloc(t, &t128))
PAIR(marknoscan, 16, gch_alloc_noscan(t, 16))
PAIR(marknoscan, 64, gch_alloc_noscan(t, 64))
PAIR(marknoscan, 128, gch_alloc_noscan(t, 128))
PAIR(reusealloc, 16, gch_alloc(t, &t16))
PAIR(reusealloc, 64, gch_alloc(t, &t64))
PAIR(reusealloc, 128, gch_alloc(t, &t128))
PAIR(reusenoscan, 16, gch_alloc_noscan(t, 16))
PAIR(reusenoscan, 64, gch_alloc_noscan(t, 64))
PAIR(reusenoscan, 128, gch_alloc_noscan(t, 128))
PAIR(malloc, 16, malloc(16))
PAIR(malloc, 64, malloc(64))
PAIR(malloc, 128, malloc(128))
/* mreuse: malloc again after freeing the warm loop's objects (its bins and
 * tcache, the steady state of a program that frees), for context. */
PAIR(mreuse, 16, malloc(16))
PAIR(mreuse, 64, malloc(64))
PAIR(mreuse, 128, malloc(128))

typedef size_t (*loop_fn)(void **, size_t, gch_thread *);
static const struct {
    const char *name;
    loop_fn warm, run;
} loops[] = {
#define ROW(api, size) {#api "_" #size, warm_##api##_##size, run_##api##_##size}
    ROW(alloc, 16),  ROW(alloc, 64),  ROW(alloc, 128),  ROW(noscan, 16), ROW(noscan, 64),
    ROW(noscan, 128), ROW(array, 16), ROW(array, 64),   ROW(array, 128), ROW(malloc, 16),
    ROW(malloc, 64), ROW(malloc, 128), ROW(mreuse, 16), ROW(mreuse, 64), ROW(mreuse, 128),
    ROW(markalloc, 16), ROW(markalloc, 64), ROW(markalloc, 128), ROW(marknoscan, 16),
    ROW(marknoscan, 64), ROW(marknoscan, 128), ROW(reusealloc, 16), ROW(reusealloc, 64),
    ROW(reusealloc, 128), ROW(reusenoscan, 16), ROW(reusenoscan, 64), ROW(reusenoscan, 128),
#undef ROW
};

/* The mark<api> loops' held mark: a heap scanner that, while armed,
 * says the mark has begun and waits for the loop to end. */
struct hold {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int armed, in_mark, release;
    gch_heap *h;
};

static void hold_scanner(gch_visitor *v, void *ctx)
{
    struct hold *k = ctx;
    (void)v;
    pthread_mutex_lock(&k->mu);
    if (k->armed) {
        k->armed = 0;
        k->in_mark = 1;
        pthread_cond_broadcast(&k->cv);
        while (!k->release)
            pthread_cond_wait(&k->cv, &k->mu);
    }
    pthread_mutex_unlock(&k->mu);
}

static void *collector(void *arg)
{
    gch_collect(((struct hold *)arg)->h);
    return NULL;
}

/* run_in_mark: fn's loop while a cycle marks: t waits for the mark in a
 * blocking section (the cycle stops the world first). */
static size_t run_in_mark(struct hold *k, gch_thread *t, loop_fn fn, void **objs, size_t n)
{
    pthread_t th;
    k->armed = 1;
    k->in_mark = k->release = 0;
    if (pthread_create(&th, NULL, collector, k) != 0)
        return 0;
    gch_blocking_enter(t);
    pthread_mutex_lock(&k->mu);
    while (!k->in_mark)
        pthread_cond_wait(&k->cv, &k->mu);
    pthread_mutex_unlock(&k->mu);
    gch_blocking_leave(t);
    size_t done = fn(objs, n, t);
    pthread_mutex_lock(&k->mu);
    k->release = 1;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    gch_blocking_enter(t);
    pthread_join(th, NULL);
    gch_blocking_leave(t);
    return done;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    int rate = argc > 2 ? atoi(argv[2]) : 0;
    void **objs = calloc(n, sizeof *objs);
    gch_config cfg;
    gch_config_init(&cfg);
    cfg.gc_percent = -1;
    cfg.read_env = 0;
    cfg.mem_profile_rate = rate;
    gch_heap *h = gch_heap_new(&cfg);
    gch_thread *t = h != NULL ? gch_thread_attach(h) : NULL;
    if (objs == NULL || t == NULL) {
        fprintf(stderr, "bench_alloc_ir: setup: %s\n", gch_last_error_message());
        return 1;
    }
    static struct hold k = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL};
    k.h = h;
    gch_heap_scanner_add(h, hold_scanner, &k);
    int rc = 0;
    for (size_t i = 0; i < sizeof loops / sizeof loops[0]; i++) {
        size_t done = loops[i].warm(objs, n, t);
        if (strncmp(loops[i].name, "mreuse", 6) == 0) /* give them back first */
            for (size_t j = 0; j < done; j++)
                free(objs[j]);
        if (strncmp(loops[i].name, "reuse", 5) == 0) /* nothing holds them */
            gch_collect(h);
        if (strncmp(loops[i].name, "mark", 4) == 0)
            done += run_in_mark(&k, t, loops[i].run, objs, n);
        else
            done += loops[i].run(objs, n, t);
        if (done != 2 * n) {
            fprintf(stderr, "bench_alloc_ir: %s: allocation failed\n", loops[i].name);
            rc = 1;
        }
        printf("%s %zu\n", loops[i].name, n); /* malloc's objects leak: the process ends */
    }
    gch_heap_scanner_remove(h, hold_scanner, &k);
    gch_thread_detach(t);
    gch_heap_free(h);
    free(objs);
    return rc;
}
