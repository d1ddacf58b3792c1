/*
 * marena.h - heap arenas and the address -> arena -> span index.
 * Go counterpart: runtime/malloc.go (heapArena, arenaIndex, arena hints),
 * mheap.go (spanOf).  Overview: alloc/malloc.c.
 *
 * The heap's address space is reserved in 64 MiB arenas aligned to 64 MiB.
 * Each arena has off-heap metadata: the span of every 8 KiB page, and the
 * page allocator's free/released bitmaps (mpagealloc.h).  A two-level
 * index (2048 x 2048 entries for 48-bit addresses) finds an address's
 * arena in two loads, which makes "does p belong to this heap" O(1).
 *
 * Invariants:
 *   A1 an index entry is set (release) once the arena's metadata is
 *      complete and never cleared until the heap is freed;
 *   A2 spans[i] is the in-use span holding page i, or NULL when page i
 *      is in no in-use span; entries change under the heap lock and are
 *      read with acquire loads by any thread;
 *   A3 pages [0, mapped_pages) are mapped (Prepared or Ready); the rest
 *      of the arena is Reserved (accessible below ahead_pages, untouched:
 *      sys.h's sys_map_ahead);
 *   A4 no page below free_hint is free: whoever sets a free bit lowers
 *      the hint to it (arena_set_free), the page search raises it to
 *      the first free page it finds, so a dense arena's search starts
 *      at its first free page, not at page 0 (Go's searchAddr).
 */
#ifndef GCHEAP_ALLOC_MARENA_H
#define GCHEAP_ALLOC_MARENA_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include "mspan.h"
#include "mpagealloc.h"

#define ARENA_SHIFT 26
#define ARENA_SIZE ((uintptr_t)1 << ARENA_SHIFT)
#define PAGES_PER_ARENA (ARENA_SIZE / PAGE_SIZE)            /* 8192 */
#define ARENA_WORDS (PAGES_PER_ARENA / 64)                  /* bitmap words */
#define HEAP_ADDR_BITS 48
#define ARENA_L2_BITS 11
#define ARENA_L1_BITS (HEAP_ADDR_BITS - ARENA_SHIFT - ARENA_L2_BITS)
#define ARENA_L1_ENTRIES ((size_t)1 << ARENA_L1_BITS)
#define ARENA_L2_ENTRIES ((size_t)1 << ARENA_L2_BITS)

struct heaparena {
    uintptr_t base;                   /* [immutable] ARENA_SIZE aligned */
    struct heaparena *next, *prev;    /* [heap lock] all arenas in address order */
    size_t mapped_pages;              /* [heap lock] A3 */
    size_t ahead_pages;               /* [heap lock] pages below it are accessible: at
                                       * least mapped_pages; up to the arena's end (or
                                       * heap_limit) when the first growth step mapped
                                       * the rest ahead (sys_map_ahead, mheap.c
                                       * arena_os_map) */
    bool ahead_tried;                 /* [heap lock] arena_os_map tried to map ahead */
    size_t zeroed_base;               /* [heap lock] pages at or above it were never used */
    size_t free_pages;                /* [heap lock] set bits in free_bits */
    size_t free_hint;                 /* [heap lock] A4 */
    bool huge;                        /* [heap lock; changed under scav_lock too, or at
                                       * reservation before the arena has a page, or by
                                       * arena_advise_tail while nothing can advise or
                                       * release its tail: see there] the
                                       * arena, or its fresh tail, is advised
                                       * MADV_HUGEPAGE (mscavenge.c) */
    bool tail_advised;                /* [heap lock] fresh memory here was advised,
                                       * at reservation or its tail (mheap.c
                                       * arena_advise_tail); cleared when a release has
                                       * un-advised the arena, so growth advises the
                                       * fresh tail again (mscavenge.c release_run) */
    uint64_t free_bits[ARENA_WORDS];  /* [heap lock] 1 = page free (and mapped) */
    uint64_t scav_bits[ARENA_WORDS];  /* [heap lock] 1 = free page released to the OS */
    /* [heap lock] for a free page: when it was last freed, in ms of
     * mheap_now_ms (wrapping: compare ages, not times); the idle
     * scavenger releases pages whose age reached scavenge_idle_ms.  Per
     * page, so coalescing never loses a page's age.  Meaningless for
     * pages in use. */
    uint32_t free_since[PAGES_PER_ARENA];
    struct atomic_ptr spans[PAGES_PER_ARENA]; /* A2 */
    /* [set/cleared under the span's specials stripe lock, read atomic]
     * bit i: the span starting at page i has specials (mspecial.h SP3). */
    struct atomic_u64 special_bits[ARENA_WORDS];
};

/* struct arena_l2: one second-level table of the index. */
struct arena_l2 {
    struct atomic_ptr arena[ARENA_L2_ENTRIES];
};

struct arena_index {
    struct atomic_ptr l1[ARENA_L1_ENTRIES]; /* -> struct arena_l2, set once (A1) */
};

/* arena_of: the arena holding p, or NULL if p is not in this heap's
 * address space.  Any thread, no lock. */
static inline struct heaparena *arena_of(const struct arena_index *ix, uintptr_t p)
{
    uintptr_t ai = p >> ARENA_SHIFT;
    if (ai >> (ARENA_L1_BITS + ARENA_L2_BITS))
        return NULL;
    const struct arena_l2 *l2 = atomic_ptr_load_acquire(&ix->l1[ai >> ARENA_L2_BITS]);
    if (l2 == NULL)
        return NULL;
    return atomic_ptr_load_acquire(&l2->arena[ai & (ARENA_L2_ENTRIES - 1)]);
}

/* arena_set_free: pages [first, first + n) of a became free: their free
 * bits set, and the hint lowered to keep A4.  Caller holds the heap lock. */
static inline void arena_set_free(struct heaparena *a, size_t first, size_t n)
{
    bits_set_range(a->free_bits, first, n);
    if (first < a->free_hint)
        a->free_hint = first;
}

/* arena_span_of: the span recorded for the page holding p (A2), or NULL.
 * The span may be in the middle of being freed: check its state. */
static inline struct mspan *arena_span_of(const struct arena_index *ix, uintptr_t p)
{
    struct heaparena *a = arena_of(ix, p);
    if (a == NULL)
        return NULL;
    return atomic_ptr_load_acquire(&a->spans[(p - a->base) >> PAGE_SHIFT]);
}

#endif /* GCHEAP_ALLOC_MARENA_H */
