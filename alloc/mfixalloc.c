/*
 * mfixalloc.c - persistent chunk allocator and fixed-size record
 * allocator for off-heap metadata (contract and invariants P1, F1 in
 * mfixalloc.h).  Go counterparts: persistentalloc, fixalloc.
 *
 * Chunks are 256 KiB; a request larger than a quarter chunk gets a chunk
 * of its own so that it wastes nothing of the shared bump region.
 */
#define GCHI_BUILDING 1
#include "mfixalloc.h"

#include <stdlib.h>
#include <string.h>

#define PERSISTENT_CHUNK (256u << 10)
#define FIXALLOC_BLOCK (16u << 10)

struct persistent_chunk {
    struct persistent_chunk *next;
    size_t size; /* bytes mapped, this header included */
};

void persistent_init(struct persistent *p, struct sysmem *sys) { persistent_init_chunk(p, sys, PERSISTENT_CHUNK); }

void persistent_init_chunk(struct persistent *p, struct sysmem *sys, size_t chunk)
{
    GCH_ASSERT(chunk >= 4096 && chunk % 4096 == 0);
    lock_init(&p->lock, LOCKRANK_PERSISTENT);
    p->sys = sys;
    p->chunk = chunk;
    p->cur = p->end = NULL;
    p->chunks = NULL;
    atomic_u64_store_relaxed(&p->sys_bytes, 0);
}

/* new_chunk: map n bytes and link them (P1).  Caller holds p->lock. */
static struct persistent_chunk *new_chunk(struct persistent *p, size_t n)
{
    struct persistent_chunk *c = sys_alloc(p->sys, n);
    if (c == NULL)
        return NULL;
    c->size = n;
    c->next = p->chunks;
    p->chunks = c;
    atomic_u64_add_relaxed(&p->sys_bytes, n);
    return c;
}

static uintptr_t align_up(uintptr_t x, size_t a) { return (x + a - 1) & ~(uintptr_t)(a - 1); }

void *persistent_alloc(struct persistent *p, size_t size, size_t align)
{
    GCH_ASSERT(align != 0 && (align & (align - 1)) == 0 && align <= 4096);
    if (size == 0)
        size = 1;
    lock_acquire(&p->lock);
    void *result = NULL;
    if (size > p->chunk / 4) {
        size_t page = sys_phys_page_size();
        size_t n = align_up(size + 4096, page); /* header page keeps 4096 alignment */
        struct persistent_chunk *c = new_chunk(p, n);
        if (c != NULL)
            result = (char *)c + 4096;
        lock_release(&p->lock);
        return result;
    }
    uintptr_t at = align_up((uintptr_t)p->cur, align);
    if (p->cur == NULL || at + size > (uintptr_t)p->end) {
        struct persistent_chunk *c = new_chunk(p, p->chunk);
        if (c == NULL) {
            lock_release(&p->lock);
            return NULL;
        }
        p->cur = (char *)(c + 1);
        p->end = (char *)c + p->chunk;
        at = align_up((uintptr_t)p->cur, align);
    }
    p->cur = (char *)(at + size);
    lock_release(&p->lock);
    return (void *)at; /* fresh sys_alloc memory is already zero */
}

void persistent_release_all(struct persistent *p)
{
    lock_acquire(&p->lock);
    struct persistent_chunk *c = p->chunks;
    while (c != NULL) {
        struct persistent_chunk *next = c->next;
        size_t n = c->size;
        atomic_u64_sub_relaxed(&p->sys_bytes, n);
        sys_free(p->sys, c, n, SYS_READY);
        c = next;
    }
    p->chunks = NULL;
    p->cur = p->end = NULL;
    lock_release(&p->lock);
    lock_destroy(&p->lock);
}

void fixalloc_init(struct fixalloc *f, size_t size, struct persistent *pa, bool zero)
{
    fixalloc_init_align(f, size, 16, pa, zero);
}

void fixalloc_init_align(struct fixalloc *f, size_t size, size_t align, struct persistent *pa, bool zero)
{
    GCH_ASSERT(align >= 8 && align <= 64 && (align & (align - 1)) == 0);
    if (size < sizeof(struct fixlink))
        size = sizeof(struct fixlink);
    f->size = (size + align - 1) & ~(align - 1);
    f->pa = pa;
    f->free = NULL;
    f->chunk = NULL;
    f->nchunk = 0;
    f->inuse = 0;
    f->nfree = 0;
    f->kept = 0;
    f->released = NULL;
    f->spare = NULL;
    f->zero = zero;
    f->releasable = false;
}

void fixalloc_set_releasable(struct fixalloc *f)
{
    GCH_ASSERT(f->zero && f->inuse == 0 && f->chunk == NULL);
    f->releasable = true;
}

void *fixalloc_alloc(struct fixalloc *f)
{
    if (f->free != NULL) {
        struct fixlink *v = f->free;
        f->free = v->next;
        f->nfree--;
        if (f->kept > f->nfree)
            f->kept = f->nfree;
        f->inuse++;
        if (f->zero)
            memset(v, 0, f->size);
        return v;
    }
    if (f->released != NULL) { /* F2: zero, or not (a test's ops): zero it */
        struct fixrun *r = f->released;
        void *v = r->start;
        r->start += f->size;
        if (--r->n == 0) {
            f->released = r->next;
            r->next = f->spare;
            f->spare = r;
        }
        memset(v, 0, f->size);
        f->inuse++;
        return v;
    }
    if (f->nchunk < f->size) {
        size_t want = f->releasable ? FIXALLOC_RELEASABLE_BLOCK : FIXALLOC_BLOCK;
        size_t block = f->size > want ? f->size : want;
        block -= block % f->size;
        f->chunk = persistent_alloc(f->pa, block, f->releasable ? 4096 : 64);
        if (f->chunk == NULL) {
            f->nchunk = 0;
            return NULL;
        }
        f->nchunk = block;
    }
    /* Never used, so zero already; but write it anyway, zeroed or not: a
     * fresh page whose first touch is a read maps the shared zero page,
     * and the first write then takes a second fault whose TLB flush
     * interrupts every CPU running one of our threads (the span record's
     * seqlock is read before it is written; heap bits are read-modified). */
    void *v = f->chunk;
    memset(v, 0, f->size);
    f->chunk += f->size;
    f->nchunk -= f->size;
    f->inuse++;
    return v;
}

void fixalloc_free(struct fixalloc *f, void *v)
{
    GCH_ASSERT_INTERNAL(/*F1*/ f->inuse > 0);
    struct fixlink *l = v;
    l->next = f->free;
    f->free = l;
    f->nfree++;
    f->inuse--;
}

bool fixalloc_release_take(struct fixalloc *f, size_t min_bytes, struct fixrelease *r)
{
    GCH_ASSERT(f->releasable); /* F2: zeroed when handed out again */
    memset(r, 0, sizeof *r);
    if (f->nfree == 0 || (f->nfree - f->kept) * f->size < min_bytes)
        return false;
    r->list = f->free;
    r->n = f->nfree;
    r->spare = f->spare;
    f->free = NULL;
    f->nfree = 0;
    f->kept = 0;
    f->spare = NULL;
    return true;
}

static int cmp_addr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (char *const *)a, y = (uintptr_t) * (char *const *)b;
    return x < y ? -1 : x > y;
}

/* release_span: records v[i, j) are adjacent; give back the pages wholly
 * inside them and return, in [*a, *b), those whose start lies on a page
 * given back (they hold no link any more: F2, one run); [*a, *b) is
 * empty if nothing was given back.  The records before *a keep their
 * link word on a page kept (their tails may lie on a released page: a
 * reuse zeroes the whole record anyway). */
static void release_span(struct fixalloc *f, struct sysmem *sys, struct fixrelease *r, char **v, size_t i,
                         size_t j, size_t *a, size_t *b)
{
    size_t page = sys_phys_page_size();
    uintptr_t lo = align_up((uintptr_t)v[i], page);
    uintptr_t hi = ((uintptr_t)v[j - 1] + f->size) & ~(uintptr_t)(page - 1);
    *a = *b = j;
    if (hi <= lo || f->size > page || sys->ops.unused == NULL)
        return; /* (a record no larger than a page starts on every page inside a run) */
    struct fixrun *d = r->spare;
    if (d != NULL)
        r->spare = d->next;
    else if ((d = persistent_alloc(f->pa, sizeof *d, 8)) == NULL)
        return;
    if (!sys->ops.unused(sys->ops.ctx, (void *)lo, hi - lo, false)) { /* refused: all kept */
        d->next = r->spare;
        r->spare = d;
        return;
    }
    size_t k = i;
    while ((uintptr_t)v[k] < lo)
        k++;
    *a = k;
    while (k < j && (uintptr_t)v[k] < hi)
        k++;
    *b = k;
    d->start = v[*a];
    d->n = *b - *a;
    d->next = r->runs;
    r->runs = d;
    r->released_bytes += hi - lo;
}

void fixalloc_release(struct fixalloc *f, struct sysmem *sys, struct fixrelease *r)
{
    char **v = r->n != 0 ? malloc(r->n * sizeof *v) : NULL;
    if (v == NULL) { /* nothing given back: the list goes back as it is */
        for (struct fixlink *l = r->list; l != NULL; l = l->next)
            r->tail = l;
        return;
    }
    size_t n = 0;
    for (struct fixlink *l = r->list; l != NULL; l = l->next)
        v[n++] = (char *)l;
    GCH_ASSERT_INTERNAL(/*F1*/ n == r->n);
    qsort(v, n, sizeof *v, cmp_addr);
    /* Rebuild the list in address order from the records kept. */
    struct fixlink *head = NULL, *tail = NULL;
    size_t kept = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && v[j] == v[j - 1] + f->size)
            j++;
        size_t a, b;
        release_span(f, sys, r, v, i, j, &a, &b);
        for (size_t k = i; k < j; k++) {
            if (k >= a && k < b)
                continue;
            struct fixlink *l = (struct fixlink *)(void *)v[k];
            l->next = NULL;
            if (tail != NULL)
                tail->next = l;
            else
                head = l;
            tail = l;
            kept++;
        }
        i = j;
    }
    free(v);
    r->list = head;
    r->tail = tail;
    r->n = kept;
}

/* fixrun_move_all: push every descriptor of *from onto *to. */
static void fixrun_move_all(struct fixrun **to, struct fixrun **from)
{
    while (*from != NULL) {
        struct fixrun *d = *from;
        *from = d->next;
        d->next = *to;
        *to = d;
    }
}

void fixalloc_release_put(struct fixalloc *f, struct fixrelease *r)
{
    if (r->tail != NULL) {
        r->tail->next = f->free;
        f->free = r->list;
        f->nfree += r->n;
        f->kept += r->n;
    }
    fixrun_move_all(&f->released, &r->runs);
    fixrun_move_all(&f->spare, &r->spare);
}
