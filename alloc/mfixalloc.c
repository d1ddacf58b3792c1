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

#include <string.h>

#define PERSISTENT_CHUNK (256u << 10)
#define FIXALLOC_BLOCK (16u << 10)

struct persistent_chunk {
    struct persistent_chunk *next;
    size_t size; /* bytes mapped, this header included */
};

void persistent_init(struct persistent *p, struct sysmem *sys)
{
    lock_init(&p->lock, LOCKRANK_PERSISTENT);
    p->sys = sys;
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
    if (size > PERSISTENT_CHUNK / 4) {
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
        struct persistent_chunk *c = new_chunk(p, PERSISTENT_CHUNK);
        if (c == NULL) {
            lock_release(&p->lock);
            return NULL;
        }
        p->cur = (char *)(c + 1);
        p->end = (char *)c + PERSISTENT_CHUNK;
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
    f->zero = zero;
}

void *fixalloc_alloc(struct fixalloc *f)
{
    if (f->free != NULL) {
        struct fixlink *v = f->free;
        f->free = v->next;
        f->inuse++;
        if (f->zero)
            memset(v, 0, f->size);
        return v;
    }
    if (f->nchunk < f->size) {
        size_t block = f->size > FIXALLOC_BLOCK ? f->size : FIXALLOC_BLOCK;
        block -= block % f->size;
        f->chunk = persistent_alloc(f->pa, block, 64);
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
    f->inuse--;
}
