/*
 * demo.c - the README's demonstration: a toy interpreter's allocation
 * pattern run on gcheap, printing the heap's statistics after each phase.
 *
 * The workload mimics what a Lisp-like VM allocates: cons cells (two
 * references), boxed numbers and short strings (pointer-free, 8- or
 * 16-byte slots), vectors (arrays of references) and a few large buffers.
 * Two interpreter threads run at once, each attached to the same heap,
 * keeping the values they still use in handle frames (GCH_LOCALS), as an
 * interpreter keeps them on its value stack; every reference they store
 * into a heap object goes through the write barrier (gch_write), so the
 * collector can mark while they run.  Each round's data becomes
 * garbage at the end of the round, so the collector runs whenever the
 * heap reaches its GOGC goal; with GODEBUG=gctrace=1 (scripts/demo.sh
 * sets it) every cycle prints Go's gctrace line on stderr.
 *
 * Usage: demo [scale]   (scale 1 = about 22 MiB of objects, default 4)
 */
#define _POSIX_C_SOURCE 200809L
#include <gcheap.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Cons { void *car, *cdr; } Cons;
typedef struct Vector { size_t len; void *items[]; } Vector;

static const uint8_t cons_mask[] = {0x3};
static const gch_type cons_type = {"cons", sizeof(Cons), cons_mask, NULL};
static const uint8_t ref_mask[] = {0x1};
static const gch_type ref_type = {"ref", sizeof(void *), ref_mask, NULL};

struct worker {
    gch_heap *heap;
    unsigned seed;
    long scale;
    uint64_t checksum;
    int failed;
};

static void *check(void *p, const char *what)
{
    if (p == NULL) {
        fprintf(stderr, "demo: %s failed: %s\n", what, gch_last_error_message());
        exit(1);
    }
    return p;
}

/* make_list: a list of n boxed integers (noscan 8-byte boxes), built in
 * the caller's root slot *out: every allocation is a safepoint, so the
 * partial list and the new box live in roots across it. */
static void make_list(gch_thread *t, long n, void **out)
{
    GCH_LOCALS(t, r, 1);
    *out = NULL;
    for (long i = 0; i < n; i++) {
        int64_t *box = check(gch_alloc_noscan(t, sizeof *box), "box");
        *box = i;
        r[0] = box;
        Cons *c = check(gch_alloc(t, &cons_type), "cons");
        /* references into a heap object: through the write barrier */
        gch_write(t, &c->car, r[0]);
        gch_write(t, &c->cdr, *out);
        *out = c; /* a handle-frame slot: no barrier */
    }
    GCH_LOCALS_END(t, r);
}

/* make_string: a short pointer-free string, as a VM's symbol or literal. */
static char *make_string(gch_thread *t, unsigned *seed)
{
    size_t len = 3 + (size_t)(rand_r(seed) % 40);
    char *s = check(gch_alloc_noscan(t, len + 1), "string");
    for (size_t i = 0; i < len; i++)
        s[i] = (char)('a' + rand_r(seed) % 26);
    return s;
}

static void *interpreter(void *arg)
{
    struct worker *w = arg;
    gch_thread *t = check(gch_thread_attach(w->heap), "attach");
    GCH_LOCALS(t, roots, 2); /* [0] the round's list, [1] its vector */
    for (long round = 0; round < 20 * w->scale; round++) {
        make_list(t, 20000, &roots[0]);
        for (Cons *c = roots[0]; c != NULL; c = c->cdr)
            w->checksum += (uint64_t)*(int64_t *)c->car;
        size_t n = 1000;
        roots[1] = check(gch_alloc_array(t, &ref_type, n + 1), "vector");
        Vector *v = roots[1];
        v->len = n; /* word 0: not a heap address, ignored by the marker */
        for (size_t i = 0; i < n; i++) {
            char *s = make_string(t, &w->seed);
            v = roots[1];
            gch_write(t, &v->items[i], s);
        }
        w->checksum += (uint64_t)strlen(v->items[n - 1]);
        if (round % 5 == 0) {
            char *buf = check(gch_alloc_noscan(t, 256 << 10), "buffer"); /* large object */
            buf[0] = 1;
            w->checksum += (uint64_t)buf[0];
        }
    }
    GCH_LOCALS_END(t, roots);
    gch_thread_detach(t);
    return NULL;
}

static void print_stats(gch_heap *h, const char *phase, double secs)
{
    gch_stats st;
    gch_read_stats(h, &st);
    printf("%-10s %6.3fs  HeapAlloc %7.1f MiB  HeapInuse %7.1f MiB  HeapSys %7.1f MiB  "
           "HeapIdle %6.1f MiB  Released %6.1f MiB  Objects %9" PRIu64 "  Mallocs %9" PRIu64
           "  tiny %8" PRIu64 "  NumGC %u\n",
           phase, secs, st.heap_alloc / 1048576.0, st.heap_inuse / 1048576.0,
           st.heap_sys / 1048576.0, st.heap_idle / 1048576.0, st.heap_released / 1048576.0,
           st.heap_objects, st.mallocs, st.tiny_allocs, st.num_gc);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    long scale = argc > 1 ? strtol(argv[1], NULL, 10) : 4;
    if (scale < 1 || scale > 1000) {
        fprintf(stderr, "usage: demo [scale 1..1000]\n");
        return 2;
    }
    gch_heap *h = check(gch_heap_new(NULL), "gch_heap_new");
    printf("gcheap demo: two interpreter threads allocating cons lists, boxes, strings, vectors\n");
    print_stats(h, "start", 0);

    double t0 = now();
    struct worker w[2] = {{h, 1, scale, 0, 0}, {h, 2, scale, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, interpreter, &w[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    print_stats(h, "allocated", now() - t0);
    gch_collect(h); /* everything is garbage now: a forced cycle frees it */
    print_stats(h, "collected", now() - t0);

    gch_stats st;
    gch_read_stats(h, &st);
    printf("\nper size class (objects allocated):\n");
    for (int c = 0; c < GCH_NUM_SIZE_CLASSES; c++)
        if (st.by_size[c].mallocs > 0)
            printf("  class %2d  %6u B  %10" PRIu64 "\n", c, st.by_size[c].size, st.by_size[c].mallocs);
    printf("metadata %.1f KiB, checksum %" PRIu64 "\n", st.metadata_sys / 1024.0,
           w[0].checksum + w[1].checksum);
    if (gch_heap_free(h) != GCH_OK) {
        fprintf(stderr, "demo: gch_heap_free: %s\n", gch_last_error_message());
        return 1;
    }
    return 0;
}
