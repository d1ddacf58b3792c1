/*
 * mspan.c - span layout, alloc-bit search, and the gcBits arenas.
 * Go counterparts: runtime/mbitmap.go (nextFreeIndex, refillAllocCache),
 * mheap.go (initSpan, gcBits arenas).  Contract and invariants M1-M5:
 * alloc/mspan.h.  Overview: alloc/malloc.c.
 */
#define GCHI_BUILDING 1
#include "mspan.h"
#include "error.h"

#define GCBITS_CHUNK ((size_t)64 << 10)

struct gcbits_arena {
    struct gcbits_arena *next;     /* [gcbits lock] epoch list or free list */
    struct gcbits_arena *all_next; /* [gcbits lock] every arena */
    struct atomic_u64 used;        /* [atomic add; set under the gcbits lock before the
                                    * arena is published] bytes of bits[] handed out, or
                                    * more once full: an add that overshoots gets none */
    uint64_t bits[];               /* 8-byte aligned bitmaps */
};

#define GCBITS_CAPACITY (GCBITS_CHUNK - offsetof(struct gcbits_arena, bits))

uint32_t span_next_free_index(struct mspan *s)
{
    uint32_t idx = s->freeindex;
    const uint32_t n = s->nelems;
    if (idx == n)
        return n;
    uint64_t cache = s->alloc_cache;
    while (cache == 0) {
        /* The window is exhausted: move to the next 64-slot window. */
        idx = (idx + 64) & ~(uint32_t)63;
        if (idx >= n) {
            s->freeindex = n;
            return n;
        }
        span_refill_alloc_cache(s, idx / 8);
        cache = s->alloc_cache;
    }
    unsigned bit = (unsigned)__builtin_ctzll(cache);
    uint32_t found = idx + bit;
    if (found >= n) {
        s->freeindex = n;
        return n;
    }
    s->alloc_cache = (cache >> bit) >> 1;
    uint32_t next = found + 1;
    if ((next & 63) == 0 && next != n)
        span_refill_alloc_cache(s, next / 8);
    s->freeindex = next;
    track_alloc(s->start + (uintptr_t)found * s->elemsize, s->elemsize); /* handed out next */
    return found;
}

void span_init_layout(struct mspan *s, uintptr_t start, size_t npages, spanclass_t spc)
{
    unsigned sc = spanclass_sizeclass(spc);
    size_t elemsize = sc == 0 ? npages * PAGE_SIZE : gchi_class_to_size[sc];
    /* Release stores: a lock-free reader of a reused record may be
     * copying these (span_read_layout); they order after the odd
     * layout_seq store in mheap_alloc_span. */
    GCHI_SEQ_STORE(&s->start, start);
    GCHI_SEQ_STORE(&s->npages, npages);
    GCHI_SEQ_STORE(&s->elemsize, elemsize);
    GCHI_SEQ_STORE(&s->divmagic, sc == 0 ? 0 : gchi_class_to_divmagic[sc]);
    GCHI_SEQ_STORE(&s->spanclass, spc);
    s->nelems = sc == 0 ? 1 : gchi_class_to_nelems[sc];
    s->wordmask = elemsize / 8 >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << (elemsize / 8)) - 1;
    GCHI_SEQ_STORE(&s->limit, start + (uintptr_t)s->nelems * elemsize);
    s->freeindex = 0;
    s->alloc_count = 0;
    s->alloc_count_before_cache = 0;
    s->alloc_cache = 0;
    s->next = s->prev = NULL;
    s->list = NULL;
    s->typebits = NULL;
    s->has_headers = false;
    s->black = false;
    s->largetype = NULL;
    s->largesize = 0;
}

void span_prepare_cache(struct mspan *s)
{
    uint32_t window = s->freeindex & ~(uint32_t)63;
    if (window >= s->nelems) {
        s->alloc_cache = 0;
        return;
    }
    span_refill_alloc_cache(s, window / 8);
    unsigned shift = s->freeindex & 63;
    s->alloc_cache = shift == 0 ? s->alloc_cache : s->alloc_cache >> shift;
}

/* free_word: the free slots (alloc bit clear) among the 64 of word w. */
static uint64_t free_word(const struct mspan *s, uint32_t w)
{
    uint64_t holes = ~load_le64(s->alloc_bits + 8 * w);
    return s->nelems - w * 64 < 64 ? holes & (((uint64_t)1 << (s->nelems - w * 64)) - 1) : holes;
}

void span_zero_free(struct mspan *s)
{
    for (uint32_t w = 0; w * 64 < s->nelems; w++) {
        uint64_t holes = free_word(s, w);
        while (holes != 0) { /* one memset per run of free slots */
            unsigned lo = (unsigned)__builtin_ctzll(holes);
            uint64_t run = holes >> lo;
            unsigned len = ~run == 0 ? 64 - lo : (unsigned)__builtin_ctzll(~run);
            uintptr_t p = s->start + (uintptr_t)(w * 64 + lo) * s->elemsize;
            track_zero_free(p, (size_t)len * s->elemsize);
            holes = len + lo >= 64 ? 0 : holes & ~((((uint64_t)1 << len) - 1) << lo);
        }
    }
    s->needzero = false;
}

/* set_marks: store v in the mark byte of every slot of word w's holes
 * (the free slots free_word found), one relaxed byte store each: markers
 * may read these bytes meanwhile (MB2). */
static void set_marks(struct mspan *s, uint32_t w, uint64_t holes, uint8_t v)
{
    uint8_t *marks = s->gcmarks + (size_t)w * 64;
    if (holes == ~(uint64_t)0) { /* 64 free slots (a fresh span): no bit walk */
        for (unsigned k = 0; k < 64; k++)
            mem_u8_store_relaxed(&marks[k], v);
        return;
    }
    for (; holes != 0; holes &= holes - 1)
        mem_u8_store_relaxed(&marks[(unsigned)__builtin_ctzll(holes)], v);
}

void span_colour_free(struct mspan *s)
{
    GCH_ASSERT_INTERNAL(s->freeindex == 0 && !s->black);
    for (uint32_t w = 0; w * 64 < s->nelems; w++)
        set_marks(s, w, free_word(s, w), 1);
    s->black = true;
}

void span_uncolour_free(struct mspan *s)
{
    for (uint32_t w = s->freeindex / 64; w * 64 < s->nelems; w++) {
        uint64_t holes = free_word(s, w);
        if (w == s->freeindex / 64 && s->freeindex % 64 != 0) /* handed out below freeindex */
            holes &= ~(((uint64_t)1 << (s->freeindex % 64)) - 1);
        set_marks(s, w, holes, 0);
    }
    s->black = false;
}

void span_commit_alloc_bits(struct mspan *s)
{
    /* Every slot below freeindex was handed out.  Markers read these
     * words meanwhile, as whole 64-bit words (gc/mgcmark.c map_bit), so
     * they are written as whole words too (no mixed-size atomics): the
     * full words stored, the last one ORed (its slots at or above
     * freeindex keep their bits). */
    uint64_t *alloc = (uint64_t *)(void *)s->alloc_bits;
    uint32_t n = s->freeindex;
    for (uint32_t w = 0; w < n / 64; w++) /* release: after the objects' black marks (K5) */
        mem_u64_store_release(&alloc[w], ~(uint64_t)0);
    if (n % 64 != 0)
        mem_u64_or_release(&alloc[n / 64], mem_order(((uint64_t)1 << (n % 64)) - 1));
    s->freeindex = 0;
    s->alloc_cache = 0;
}

/* span_is_valid: the checks that hold for any in-use span (M5 and the
 * layout); used by assertions and the heap verifier. */
bool span_is_valid(const struct mspan *s)
{
    GCH_CHECK_CMP("span state", atomic_u8_load_acquire(&s->state), ==, MSPAN_IN_USE);
    GCH_CHECK("span layout", s->npages != 0 && (s->start & (PAGE_SIZE - 1)) == 0);
    GCH_CHECK_CMP("span layout", s->limit, <=, s->start + s->npages * PAGE_SIZE);
    GCH_CHECK_CMP("M5", s->alloc_count, <=, s->nelems);
    GCH_CHECK_CMP("M1", s->freeindex, <=, s->nelems);
    GCH_CHECK("span bits", s->alloc_bits != NULL && s->gcmarks != NULL);
    return true;
}

/* ---- gcBits arenas ----------------------------------------------------- */

void gcbits_init(struct gcbits *g, struct sysmem *sys)
{
    lock_init(&g->lock, LOCKRANK_GCBITS);
    g->sys = sys;
    atomic_ptr_store_relaxed(&g->next, NULL);
    g->current = g->previous = g->free = g->all = NULL;
    atomic_ptr_store_relaxed(&g->spare, NULL);
    atomic_u64_store_relaxed(&g->spare_taken, 0);
    atomic_u64_store_relaxed(&g->sys_bytes, 0);
    atomic_u64_store_relaxed(&g->handed_bytes, 0);
}

/* new_arena: a zeroed arena from the free list or the OS.  Caller holds
 * g->lock. */
static struct gcbits_arena *new_arena(struct gcbits *g)
{
    struct gcbits_arena *a = g->free;
    if (a != NULL) {
        g->free = a->next;
        uint64_t used = atomic_u64_load_relaxed(&a->used);
        memset(a->bits, 0, used < GCBITS_CAPACITY ? used : GCBITS_CAPACITY);
    } else {
        a = sys_alloc(g->sys, GCBITS_CHUNK);
        if (a == NULL)
            return NULL;
        a->all_next = g->all;
        g->all = a;
        atomic_u64_add_relaxed(&g->sys_bytes, GCBITS_CHUNK);
    }
    atomic_u64_store_relaxed(&a->used, 0);
    a->next = NULL;
    return a;
}

/* take_spare: the spare arena, emptied, or NULL (GB1).  Caller holds
 * g->lock. */
static struct gcbits_arena *take_spare(struct gcbits *g)
{
    struct gcbits_arena *a = atomic_ptr_load_relaxed(&g->spare);
    if (a != NULL) {
        atomic_ptr_store_relaxed(&g->spare, NULL);
        atomic_u64_store_relaxed(&g->spare_taken, atomic_u64_load_relaxed(&g->spare_taken) + 1);
    }
    return a;
}

/* arena_try: nbytes of a, or NULL when a is full.  One atomic add, no
 * lock: an add that overshoots leaves used past the capacity, and the
 * arena is full from then on. */
static uint8_t *arena_try(struct gcbits_arena *a, size_t nbytes)
{
    uint64_t end = atomic_u64_add_relaxed(&a->used, nbytes);
    return end <= GCBITS_CAPACITY ? (uint8_t *)a->bits + (end - nbytes) : NULL;
}

/* bits_alloc: nbytes from the arena being filled, without the lock, or
 * under it from a new one (from the spare too when use_spare); NULL when
 * none can be had.  Arenas are published to the lock-free path with a
 * release store after they are zeroed, and leave it only at an epoch
 * change, which no allocation overlaps (the flip: world stopped, sweep
 * done; mspan.h). */
static uint8_t *bits_alloc(struct gcbits *g, size_t nbytes, bool use_spare)
{
    struct gcbits_arena *a = atomic_ptr_load_acquire(&g->next);
    uint8_t *p = a != NULL ? arena_try(a, nbytes) : NULL;
    if (p == NULL) {
        lock_acquire(&g->lock);
        a = atomic_ptr_load_relaxed(&g->next); /* another thread may have replaced it */
        p = a != NULL ? arena_try(a, nbytes) : NULL;
        if (p == NULL) {
            struct gcbits_arena *fresh = new_arena(g);
            if (fresh == NULL && use_spare)
                fresh = take_spare(g);
            if (fresh == NULL) {
                lock_release(&g->lock);
                return NULL;
            }
            atomic_u64_store_relaxed(&fresh->used, nbytes);
            p = (uint8_t *)fresh->bits;
            /* The filled arena stays in this epoch: chain it behind. */
            fresh->next = a;
            atomic_ptr_store_release(&g->next, fresh); /* after new_arena zeroed it */
        }
        lock_release(&g->lock);
    }
    atomic_u64_add_relaxed(&g->handed_bytes, nbytes);
    return p;
}

uint8_t *gcbits_alloc(struct gcbits *g, size_t nbytes)
{
    GCH_ASSERT(nbytes % 8 == 0 && nbytes <= 1024);
    uint8_t *p = bits_alloc(g, nbytes, false);
    /* Zero already; the write makes the first touch of a fresh arena page
     * a write (mfixalloc.c: fixalloc_alloc says why). */
    if (p != NULL)
        memset(p, 0, nbytes);
    return p;
}

uint8_t *gcbits_alloc_sweep(struct gcbits *g, size_t nbytes)
{
    GCH_ASSERT(nbytes % 8 == 0 && nbytes <= 128);
    return bits_alloc(g, nbytes, true);
}

bool gcbits_reserve(struct gcbits *g)
{
    if (atomic_ptr_load_relaxed(&g->spare) != NULL)
        return true;
    lock_acquire(&g->lock);
    bool ok = atomic_ptr_load_relaxed(&g->spare) != NULL;
    if (!ok) {
        struct gcbits_arena *a = new_arena(g); /* free list first, then the OS */
        if (a != NULL)
            atomic_ptr_store_relaxed(&g->spare, a);
        ok = a != NULL;
    }
    lock_release(&g->lock);
    return ok;
}

/* free_chain: move every arena of the chain to the free list. */
static void free_chain(struct gcbits *g, struct gcbits_arena *a)
{
    while (a != NULL) {
        struct gcbits_arena *next = a->next;
        a->next = g->free;
        g->free = a;
        a = next;
    }
}

void gcbits_new_epoch(struct gcbits *g)
{
    lock_acquire(&g->lock);
    free_chain(g, g->previous);
    g->previous = g->current;
    g->current = atomic_ptr_load_relaxed(&g->next);
    atomic_ptr_store_relaxed(&g->next, NULL);
    lock_release(&g->lock);
}

void gcbits_release_all(struct gcbits *g)
{
    lock_acquire(&g->lock);
    struct gcbits_arena *a = g->all;
    while (a != NULL) {
        struct gcbits_arena *next = a->all_next;
        sys_free(g->sys, a, GCBITS_CHUNK, SYS_READY);
        atomic_u64_sub_relaxed(&g->sys_bytes, GCBITS_CHUNK);
        a = next;
    }
    atomic_ptr_store_relaxed(&g->next, NULL);
    g->current = g->previous = g->free = g->all = NULL;
    atomic_ptr_store_relaxed(&g->spare, NULL); /* it was on the all list */
    lock_release(&g->lock);
    lock_destroy(&g->lock);
}
