/*
 * mprof.c - heap profile buckets, their cycle-delayed publication, and
 * the sampling slow path of the allocator.
 * Go counterpart: runtime/mprof.go, malloc.go (profilealloc,
 * nextSample, fastexprand).  Contract and invariants MP1-MP3:
 * alloc/mprof.h.  Overview: alloc/malloc.c.
 *
 * The allocation fast path pays one subtraction and one sign test per
 * object (mcache.next_sample); everything here runs once per sample
 * (every 512 KiB by default), or at a flip, the end of a sweep, or when
 * a profile is written.
 */
#define GCHI_BUILDING 1
#include "mprof.h"
#include "malloc.h"
#include "mspan.h"
#include "mspecial.h"

#include <stdlib.h>
#include <string.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>

/* The section every function between a public allocation entry point
 * and mprof_sample is placed in (GCHI_ALLOC_TEXT, malloc.h); the linker
 * names its bounds. */
extern const char __start_gchi_alloc_text[] __attribute__((visibility("hidden")));
extern const char __stop_gchi_alloc_text[] __attribute__((visibility("hidden")));

static int unwind(void **buf, int max);

void mprof_init(struct mprof *p, struct persistent *pa, int64_t rate)
{
    lock_init(&p->lock, LOCKRANK_MPROF);
    p->pa = pa;
    p->rate = rate < 0 ? 0 : rate;
    atomic_ptr_store_relaxed(&p->table, NULL);
    atomic_ptr_store_relaxed(&p->all, NULL);
    atomic_u32_store_relaxed(&p->cycle, 0);
    p->flushed = 1; /* cycle 0 has nothing to publish */
    atomic_u64_store_relaxed(&p->nsamples, 0);
    atomic_u64_store_relaxed(&p->nbuckets, 0);
    atomic_u64_store_relaxed(&p->nlost, 0);
    if (p->rate > 0) {
        /* libunwind initialises its globals lazily at the first unwind,
         * unsynchronised with concurrent unwinds (TSan reports it): do
         * that first unwind here, before the heap has threads. */
        void *warm[2];
        (void)unwind(warm, 2);
    }
}

void mprof_destroy(struct mprof *p) { lock_destroy(&p->lock); } /* buckets: pa's memory */

/* ---- sampling distances ------------------------------------------------ */

/* rng_next: splitmix64. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* neg_log_unit: -ln(u) for u in (0, 1], to about 1e-7, without libm:
 * u = m * 2^e with m in [1, 2), ln m = 2 atanh((m - 1) / (m + 1)) by its
 * series (the argument is at most 1/3, so six terms suffice). */
static double neg_log_unit(double u)
{
    uint64_t bits;
    memcpy(&bits, &u, sizeof bits);
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1023) << 52);
    double m;
    memcpy(&m, &bits, sizeof m);
    double s = (m - 1) / (m + 1), s2 = s * s;
    double series = s * (1 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 / 11)))));
    return -(e * 0.69314718055994530942 + 2 * series);
}

int64_t mprof_next_interval(int64_t rate, uint64_t *rng)
{
    if (rate <= 0)
        return INT64_MAX;
    if (rate == 1)
        return 0; /* every object: the fast path's count goes negative at once */
    /* u uniform in (0, 1]: 53 random bits, never 0. */
    double u = (double)((rng_next(rng) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double d = neg_log_unit(u) * (double)rate;
    return d >= 9.0e18 ? INT64_MAX : (int64_t)d;
}

/* ---- buckets ----------------------------------------------------------- */

/* 104 bytes plus 8 per frame on LP64 (binary-trees depth 21 makes about
 * 12 K buckets of 20-32 frames: 3-4 MiB of metadata).  Go's bucket with
 * its memRecord is 176 plus 8 per frame. */
_Static_assert(sizeof(void *) != 8 || sizeof(struct mprof_bucket) == 104, "bucket header grew");

static uint64_t stack_hash(const uintptr_t *stk, uint32_t n, size_t size)
{
    uint64_t h = 0xcbf29ce484222325u ^ size;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ stk[i]) * 0x100000001b3u + (h >> 29);
    return h ^ (h >> 32);
}

static bool bucket_matches(const struct mprof_bucket *b, uint64_t hash, const uintptr_t *stk,
                           uint32_t n, size_t size)
{
    return b->hash == hash && b->size == size && b->nstk == n &&
           memcmp(b->stk, stk, n * sizeof *stk) == 0;
}

/* chain_find: the bucket for (stk, size) on chain *head, or NULL.
 * Lock-free (MP1). */
static struct mprof_bucket *chain_find(struct atomic_ptr *head, uint64_t hash,
                                       const uintptr_t *stk, uint32_t n, size_t size)
{
    for (struct mprof_bucket *b = atomic_ptr_load_acquire(head); b != NULL; b = b->next)
        if (bucket_matches(b, hash, stk, n, size))
            return b;
    return NULL;
}

/* bucket_insert: find or make the bucket, under the lock. */
static struct mprof_bucket *bucket_insert(struct mprof *p, uint64_t hash, const uintptr_t *stk,
                                          uint32_t n, size_t size)
{
    lock_acquire(&p->lock);
    struct atomic_ptr *table = atomic_ptr_load_relaxed(&p->table);
    if (table == NULL) {
        table = persistent_alloc(p->pa, MPROF_TABLE_SIZE * sizeof *table, 64);
        if (table == NULL) {
            lock_release(&p->lock);
            return NULL;
        }
        atomic_ptr_store_release(&p->table, table); /* zeroed chains first */
    }
    struct atomic_ptr *head = &table[hash % MPROF_TABLE_SIZE];
    struct mprof_bucket *b = chain_find(head, hash, stk, n, size);
    if (b == NULL) {
        b = persistent_alloc(p->pa, sizeof *b + n * sizeof *stk, 16);
        if (b != NULL) {
            b->hash = hash;
            b->size = size;
            b->nstk = n;
            memcpy(b->stk, stk, n * sizeof *stk);
            b->next = atomic_ptr_load_relaxed(head);
            b->allnext = atomic_ptr_load_relaxed(&p->all);
            /* Release: the fields above before the bucket is reachable (MP1). */
            atomic_ptr_store_release(head, b);
            atomic_ptr_store_release(&p->all, b);
            atomic_u64_add_relaxed(&p->nbuckets, 1);
        }
    }
    lock_release(&p->lock);
    return b;
}

struct mprof_bucket *mprof_malloc(struct mprof *p, const uintptr_t *stk, uint32_t n, size_t size)
{
    uint64_t hash = stack_hash(stk, n, size);
    struct atomic_ptr *table = atomic_ptr_load_acquire(&p->table);
    struct mprof_bucket *b = NULL;
    if (table != NULL)
        b = chain_find(&table[hash % MPROF_TABLE_SIZE], hash, stk, n, size);
    if (b == NULL)
        b = bucket_insert(p, hash, stk, n, size);
    if (b == NULL) {
        atomic_u64_add_relaxed(&p->nlost, 1);
        return NULL;
    }
    /* No flip while this thread is between its load of cycle and its
     * adds: it is running, not at a safepoint (MP2). */
    struct mprof_future *f = &b->future[(atomic_u32_load_relaxed(&p->cycle) + 2) % 3];
    atomic_u64_add_relaxed(&f->allocs, 1);
    atomic_u64_add_relaxed(&p->nsamples, 1);
    return b;
}

void mprof_free(struct mprof *p, struct mprof_bucket *b)
{
    /* Sweeping: the flip waits for it to finish (SW4, MP2). */
    struct mprof_future *f = &b->future[(atomic_u32_load_relaxed(&p->cycle) + 1) % 3];
    atomic_u64_add_relaxed(&f->frees, 1); /* of b->size bytes, as its allocation (MP3) */
}

/* gchi_mprof_free: the specials' PROFILE hook (mspecial.h): a sampled
 * object was freed, by the sweep or explicitly.  Replaces the weak stub
 * in mspecial.c. */
void gchi_mprof_free(struct mheap *h, struct special_profile *rec, uintptr_t obj, size_t size)
{
    (void)obj, (void)size;
    if (rec->bucket != NULL)
        mprof_free(&h->prof, rec->bucket);
}

/* attach: give the sampled object at v a PROFILE record naming b, so
 * that the sweep that frees it accounts the free (SP4: the caller's
 * cache holds v's span, or it was just allocated, so it is live). */
static void attach(struct mheap *h, uintptr_t v, struct mprof_bucket *b)
{
    struct mspan *s = mheap_span_of_heap(h, v);
    struct special_profile *r = (struct special_profile *)special_alloc(h, SPECIAL_PROFILE);
    if (s == NULL || r == NULL) {
        if (r != NULL)
            special_free(h, &r->sp);
        atomic_u64_add_relaxed(&h->prof.nlost, 1); /* its free will not be seen */
        return;
    }
    r->sp.offset = v - s->start;
    r->bucket = b;
    if (!special_add(h, s, &r->sp)) /* a slot reused before its sweep: cannot happen */
        special_free(h, &r->sp);
}

/* ---- publication ------------------------------------------------------- */

/* take: move a future counter's value out (whatever was added meanwhile
 * stays for a later flush). */
static uint64_t take(struct atomic_u64 *a)
{
    uint64_t v = atomic_u64_load_relaxed(a);
    if (v != 0)
        atomic_u64_sub_relaxed(a, v);
    return v;
}

/* flush_index: publish future[idx] of every bucket.  Caller holds the lock. */
static void flush_index(struct mprof *p, uint32_t idx)
{
    lock_assert_held(&p->lock);
    for (struct mprof_bucket *b = atomic_ptr_load_acquire(&p->all); b != NULL; b = b->allnext) {
        struct mprof_future *f = &b->future[idx];
        b->active.allocs += take(&f->allocs);
        b->active.frees += take(&f->frees);
    }
}

/* flush_cycle: publish the cycle's own slot, once per cycle.  The flip
 * leaves it to the first of the post-sweep flush and a reader, so the
 * stopped world never walks the buckets.  Caller holds the lock. */
static void flush_cycle(struct mprof *p)
{
    uint32_t c = atomic_u32_load_relaxed(&p->cycle);
    if (p->flushed != c + 1) {
        flush_index(p, c % 3);
        p->flushed = c + 1;
    }
}

void mprof_next_cycle(struct mprof *p)
{
    atomic_u32_store_relaxed(&p->cycle, atomic_u32_load_relaxed(&p->cycle) + 1);
}

void mprof_post_sweep(struct mprof *p, uint32_t seen)
{
    if (atomic_ptr_load_relaxed(&p->all) == NULL)
        return; /* nothing sampled yet */
    lock_acquire(&p->lock);
    /* A flip since the sweep ended (another cycle ran in between): its
     * own flush publishes this slot instead (MP2). */
    if (atomic_u32_load_relaxed(&p->cycle) == seen) {
        flush_cycle(p);
        flush_index(p, (seen + 1) % 3);
    }
    lock_release(&p->lock);
}

/* publish_all: nothing was published yet (no cycle ran): publish every
 * slot, as Go's MemProfile does.  Caller holds the lock. */
static void publish_all(struct mprof *p)
{
    for (struct mprof_bucket *b = atomic_ptr_load_acquire(&p->all); b != NULL; b = b->allnext)
        if (b->active.allocs != 0)
            return;
    for (uint32_t i = 0; i < 3; i++)
        flush_index(p, i);
}

struct mprof_record *mprof_snapshot(struct mprof *p, size_t *n)
{
    *n = 0;
    lock_acquire(&p->lock);
    flush_cycle(p);
    publish_all(p);
    size_t count = 0;
    for (struct mprof_bucket *b = atomic_ptr_load_acquire(&p->all); b != NULL; b = b->allnext)
        count += b->active.allocs != 0;
    struct mprof_record *r = count == 0 ? NULL : malloc(count * sizeof *r);
    for (struct mprof_bucket *b = atomic_ptr_load_acquire(&p->all); r != NULL && b != NULL;
         b = b->allnext)
        if (b->active.allocs != 0)
            r[(*n)++] = (struct mprof_record){b->stk, b->nstk, b->size, b->active};
    lock_release(&p->lock);
    return r;
}

/* ---- the allocation slow path ----------------------------------------- */

static bool in_alloc_text(uintptr_t ip)
{
    return ip >= (uintptr_t)__start_gchi_alloc_text && ip < (uintptr_t)__stop_gchi_alloc_text;
}

#if defined(__SANITIZE_THREAD__)
#define MPROF_STEP_UNWIND 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPROF_STEP_UNWIND 1
#endif
#endif

/* unwind: up to max return addresses of the calling thread, innermost
 * first.  unw_backtrace is libunwind's fast path, but it keeps a
 * per-thread cache whose destructor locks a mutex at thread exit, after
 * ThreadSanitizer has retired the thread (a crash in every TSan program
 * whose threads sampled): TSan builds step a cursor instead, which
 * keeps no per-thread state. */
static GCH_NOINLINE GCHI_ALLOC_TEXT int unwind(void **buf, int max)
{
#ifdef MPROF_STEP_UNWIND
    unw_context_t ctx;
    unw_cursor_t cur;
    if (unw_getcontext(&ctx) != 0 || unw_init_local(&cur, &ctx) != 0)
        return 0;
    int n = 0;
    unw_word_t ip;
    while (n < max && unw_step(&cur) > 0 && unw_get_reg(&cur, UNW_REG_IP, &ip) == 0 && ip != 0)
        buf[n++] = (void *)ip;
    return n;
#else
    return unw_backtrace(buf, max);
#endif
}

/* capture: the caller's stack, innermost first, without the heap's own
 * frames (the leading run of return addresses inside gchi_alloc_text,
 * however the compiler inlined or tail-called that path).  Returns the
 * frame count. */
static GCH_NOINLINE GCHI_ALLOC_TEXT uint32_t capture(uintptr_t *out)
{
    void *raw[MPROF_MAX_STACK + 16];
    int n = unwind(raw, (int)(sizeof raw / sizeof raw[0]));
    int skip = 0;
    while (skip < n && in_alloc_text((uintptr_t)raw[skip]))
        skip++;
    uint32_t k = 0;
    for (int i = skip; i < n && k < MPROF_MAX_STACK; i++)
        out[k++] = (uintptr_t)raw[i];
    return k;
}

void *mprof_sample(struct mcache *c, uintptr_t v, size_t size)
{
    struct mprof *p = &c->heap->prof;
    c->next_sample = mprof_next_interval(p->rate, &c->sample_rng);
    if (p->rate == 0)
        return (void *)v;
    uintptr_t stk[MPROF_MAX_STACK];
    uint32_t n = capture(stk);
    struct mprof_bucket *b = mprof_malloc(p, stk, n, size);
    if (b != NULL)
        attach(c->heap, v, b);
    return (void *)v;
}
