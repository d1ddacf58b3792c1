/*
 * mheap.h - the page heap: arenas, page allocation, span structs, the
 * central lists, and the counters behind gch_stats.
 * Go counterpart: runtime/mheap.go (+ the pageAlloc of mpagealloc.go).
 * Overview: alloc/malloc.c.
 *
 * Invariants (pages counted in PAGE_SIZE units):
 *   H1 pages_mapped == pages_inuse + pages_free + pages_released;
 *   H2 a mapped page is in exactly one of: an in-use span (free bit 0),
 *      free and Ready (free bit 1, scav bit 0), free and released
 *      (free bit 1, scav bit 1), or being released (free bit 0, no span,
 *      inside scav_busy: counted in pages_free until the release ends,
 *      alloc/mscavenge.c); a page leaving the released state for a
 *      span is made Ready with sys_used first;
 *   H3 in-use spans never overlap, and spans[] (A2) covers each exactly;
 *   H4 pages_mapped * PAGE_SIZE <= heap_limit when a limit is set;
 *   H5 while spans_pinned is set (the collector is marking) no span is
 *      freed, so a concurrent marker may trust the fields of any span it
 *      finds in use through the page map.
 *   H6 an allocation fails for want of pages only when no release is in
 *      flight: pages out of the free set for a madvise come back, so
 *      mheap_alloc_span waits for them (scav_done) before giving up.
 * Locking: h->lock (rank MHEAP) guards the arenas, bitmaps, span structs
 *   and the page counters; the counters are atomics so that stats can be
 *   read without the lock.  The central lists have their own locks.
 *   scav_lock (rank SCAVENGE, taken before h->lock) lets one release run
 *   at a time; it is held across one madvise (one run), h->lock never is.
 *   A pass takes and drops both per run, so a long pass never holds up
 *   an allocation, and the release on allocation over the memory limit
 *   only tries scav_lock (it gives up while another release runs).
 */
#ifndef GCHEAP_ALLOC_MHEAP_H
#define GCHEAP_ALLOC_MHEAP_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include "marena.h"
#include "mcentral.h"
#include "mfixalloc.h"
#include "mspecial.h"
#include "msweep.h"
#include "mprof.h"

/* Heap growth step in pages: Go's palloc chunk, 4 MiB.  Larger steps
 * mean fewer mprotect calls and less address-space fragmentation; smaller
 * ones keep HeapSys closer to what is used.  New memory starts released,
 * so a large step costs address space, not RSS. */
#define HEAP_GROW_PAGES ((size_t)512)
/* A transparent huge page (x86-64's 2 MiB PMD) in heap pages. */
#define HUGE_PAGE_PAGES ((size_t)(2u << 20) / PAGE_SIZE)
/* Heap memory mapped, in pages, before the first arena's fresh tail is
 * advised MADV_HUGEPAGE (mheap.c arena_advise_tail).  Below it the heap
 * keeps 4 KiB granularity; above it a 2 MiB unit faulted in whole adds at
 * most 2 MiB of RSS, 6% of 32 MiB.  32 MiB keeps GCBench (28 MiB mapped
 * on a quiet machine, peak RSS 28 against Boehm's 30) below it in most
 * runs (a loaded machine's longer marks take it to 40); a heap that
 * grows to 96 MiB (bench_alloc, 64 B on one thread) takes 8192 faults of
 * 4 KiB there instead of 16384. */
#define HUGE_TAIL_AFTER_PAGES ((size_t)(32u << 20) / PAGE_SIZE)

/* Object counters, flushed from mcaches in batches (Go: consistentHeapStats). */
struct heap_counters {
    struct atomic_u64 small_mallocs[NUM_SIZE_CLASSES]; /* [atomic] per size class */
    struct atomic_u64 small_frees[NUM_SIZE_CLASSES];   /* [atomic] */
    struct atomic_u64 large_mallocs, large_frees;      /* [atomic] objects */
    struct atomic_u64 large_alloc_bytes, large_free_bytes; /* [atomic] */
    /* Bytes handed to mcaches (free slots of each span cached, counted as
     * if allocated) and large objects since the last GC cycle; with the
     * bytes marked by that cycle it estimates the live heap for the GC
     * trigger (Go's heapLive).  Reset by the cycle, world stopped. */
    struct atomic_u64 alloc_since_gc;                  /* [atomic] */
    /* Bytes allocated black during the current mark (mcache.h), folded
     * in when a cache is released; read and reset at mark termination. */
    struct atomic_u64 black_bytes;                     /* [atomic] */
};

/* Who released pages: the counters behind scavtrace (Go's releasedBg /
 * releasedEager) and the per-cycle stats. */
enum scav_kind {
    SCAV_IDLE,   /* the sysmon idle-span scavenger (pages free for scavenge_idle_ms) */
    SCAV_BG,     /* the background scavenger (retained memory toward its goal) */
    SCAV_EAGER,  /* allocation over the memory limit */
    SCAV_FORCED, /* gch_free_os_memory (Go debug.FreeOSMemory) */
    SCAV_NKINDS
};

struct mheap {
    struct lock lock;
    struct sysmem sys;              /* OS memory and its state counters */
    struct persistent pa;           /* off-heap metadata */
    struct persistent pa_rel;       /* the releasable pools' blocks (typebits, marks) */
    struct gcbits gcbits;           /* alloc/mark bitmaps */
    struct fixalloc spanalloc;      /* [lock] struct mspan records */
    struct fixalloc typebitsalloc[TYPEBITS_HDR_WORDS_MAX]; /* [lock] struct span_typebits
                                    * records, by header words - 1 */
    struct fixalloc markalloc[MARK_POOLS]; /* [lock] mark byte maps (mspan.h MB4), by
                                    * 64-byte units - 1 */
    struct arena_index index;       /* A1: written under lock, read by anyone */
    struct heaparena *arenas;       /* [lock] all arenas, address order */
    struct heaparena *last_arena;   /* [lock] the highest arena (list tail) */
    struct heaparena *cur;          /* [lock] arena the heap grows into */
    size_t heap_limit;              /* [immutable] bytes; 0 = none (H4) */
    struct atomic_u64 pages_mapped;   /* [write under lock, read atomic] H1 */
    struct atomic_u64 pages_inuse;    /* [write under lock, read atomic] */
    struct atomic_u64 pages_free;     /* [write under lock, read atomic] */
    struct atomic_u64 pages_released; /* [write under lock, read atomic] */
    struct atomic_u64 spans_inuse;    /* [write under lock, read atomic] */
    struct atomic_u32 sweepgen;     /* [atomic] +2 per GC cycle (mspan.h table) */
    struct atomic_u32 spans_pinned; /* [written with the world stopped] H5 */
    struct sweepstate sweep;        /* msweep.h */
    struct mprof prof;              /* heap profile buckets (mprof.h) */
    struct mspan emptyspan;         /* [immutable] sentinel: no free slot, ever */
    struct heap_counters counters;
    /* Releasing free pages to the OS (alloc/mscavenge.c). */
    struct lock scav_lock;          /* rank SCAVENGE: one release in flight; held for one
                                     * run (at most SCAV_MAX_RUN_PAGES), never a pass */
    struct heaparena *scav_busy;    /* [lock] arena whose pages [busy_first, +busy_n) are
                                     * out of the free set being released (H2), or NULL */
    size_t scav_busy_first, scav_busy_n; /* [lock] */
    pthread_cond_t scav_done;       /* [lock] broadcast when scav_busy goes back to NULL:
                                     * an allocation that found no pages waits on it (H6) */
    unsigned scav_waiters;          /* [lock] allocations waiting on scav_done: while
                                     * non-zero a pass starts no new run (H6's wait is
                                     * for one run, not a whole pass) */
    struct atomic_u64 scav_failed;  /* [atomic] releases the OS refused (madvise failed);
                                     * their runs were put back free and Ready */
    int64_t start_ns;               /* [immutable] zero of mheap_now_ms */
    bool huge_fresh;                /* [immutable after heap creation] advise each new
                                     * arena but the first MADV_HUGEPAGE as it is
                                     * reserved, and the first's fresh tail once the
                                     * heap passes HUGE_TAIL_AFTER_PAGES (mscavenge.c,
                                     * "Huge pages") */
    bool released_zeroed;           /* [immutable after heap creation] a released page
                                     * reads zero when reused (MADV_DONTNEED or
                                     * harddecommit; not MADV_FREE) */
    struct atomic_u64 memory_limit; /* [atomic] GOMEMLIMIT in bytes (UINT64_MAX: none):
                                     * a span allocation that leaves more Ready memory
                                     * releases free pages down to it (SCAV_EAGER) */
    struct atomic_u32 eager_off;    /* [atomic] the GC CPU limiter is on: no release on
                                     * allocation over the limit (gc/mgclimit.c) */
    struct atomic_u32 eager_refused; /* [atomic] the OS refused an eager release: no
                                     * eager release until the next cycle's end */
    struct atomic_u64 released_bytes[SCAV_NKINDS]; /* [atomic] bytes released, by kind,
                                     * ever (enum scav_kind) */
    struct atomic_u64 meta_released; /* [atomic] bytes of metadata pages given back,
                                     * ever (mheap_release_metadata) */
    struct mcentral central[NUM_SPAN_CLASSES];
    struct specials specials;       /* per-object records on spans (mspecial.h) */
};

/* mheap_init: an empty heap over the given OS operations.  Returns false
 * (nothing to undo) when the OS refuses the first metadata. */
bool mheap_init(struct mheap *h, const struct sys_ops *ops, bool madv_free, size_t heap_limit);
/* mheap_destroy: unmap everything; no thread may use the heap any more. */
void mheap_destroy(struct mheap *h);

/* mheap_alloc_span: a new in-use span of npages for span class spc, with
 * fresh zeroed alloc and mark bitmaps, published in the page map.  NULL
 * with gch_last_error() = GCH_ENOMEM when memory or the limit runs out.
 * Caller must not hold h->lock or any mcentral lock. */
struct mspan *mheap_alloc_span(struct mheap *h, size_t npages, spanclass_t spc);
/* mheap_free_span: return s's pages to the free pool (they stay Ready).
 * s must be on no list and held by no mcache. */
void mheap_free_span(struct mheap *h, struct mspan *s);
/* mheap_scavenge: release up to nbytes of free, Ready pages that have been
 * free for at least min_age_ms (0: any) to the OS, highest addresses
 * first; returns the bytes released and counts them under `kind`.  When
 * next_ms is not NULL it receives the ms until the next free Ready page
 * reaches min_age_ms (UINT32_MAX: none is waiting).  Takes scav_lock then
 * h->lock for each run of at most 4 MiB, dropping both between runs and
 * the heap lock around each madvise (alloc/mscavenge.c); SCAV_EAGER only
 * tries scav_lock and returns what it did when another release holds
 * it, and makes at most a few runs.  A run the OS refuses (scav_failed)
 * is made young again and the pass goes on below it; an eager pass
 * stops there and eager release stays off until the cycle's end
 * (eager_refused).  A pass starts no run while an allocation waits on
 * scav_done (H6).  Caller holds neither (nor any mcentral lock). */
size_t mheap_scavenge(struct mheap *h, size_t nbytes, uint32_t min_age_ms, enum scav_kind kind,
                      uint32_t *next_ms);
/* mheap_release_metadata: give back to the OS the pages of free typebits
 * and mark records (the records of freed spans: nobody reads them, mspan.h
 * MB4), pool by pool, for pools holding at least min_bytes of free
 * records (mfixalloc.h F2); returns the bytes given back.  Takes h->lock
 * twice per pool, and not while it sorts and madvises.  Called at the
 * end of every pass but an eager one that released heap pages (the heap
 * shrank, so spans were freed) and by every forced pass.  Caller holds
 * no lock. */
size_t mheap_release_metadata(struct mheap *h, size_t min_bytes);
/* mheap_limit_scavenge: release free pages (any age) until the Ready
 * memory (heap and metadata, sys.ready) is back under memory_limit, as
 * far as free pages allow (Go's allocation-time scavenging for the memory
 * limit).  Caller holds no lock. */
void mheap_limit_scavenge(struct mheap *h);
/* mheap_advise_huge: advise MADV_HUGEPAGE for every arena now wholly in
 * use that is not advised yet (alloc/mscavenge.c explains the policy);
 * returns how many.  Takes scav_lock then h->lock; caller holds neither. */
size_t mheap_advise_huge(struct mheap *h);
/* mheap_now_ms: the page-age clock, ms since the heap was made, wrapping
 * at 2^32 (ages are differences, so a wrap only matters to a page left
 * free and Ready for 49 days). */
static inline uint32_t mheap_now_ms(const struct mheap *h)
{
    return (uint32_t)((uint64_t)(sys_nanotime() - h->start_ns) / 1000000u);
}

/* mheap_span_of_heap: the in-use span holding p, or NULL.  Any thread;
 * unless the caller owns an object in it, read its fields only through
 * span_read_layout (the record may be reused meanwhile). */
static inline struct mspan *mheap_span_of_heap(const struct mheap *h, uintptr_t p)
{
    struct mspan *s = arena_span_of(&h->index, p);
    struct span_layout l;
    /* The entry may be stale if s was freed and its record reused since
     * we loaded it: bounds-check against a validated copy of the span we
     * now see (span_read_layout). */
    if (s == NULL || !span_read_layout(s, &l))
        return NULL;
    if (p < l.start || p >= l.start + l.npages * PAGE_SIZE)
        return NULL;
    return s;
}

/* mheap_object_base: the start of the slot holding p, or 0 when p is in
 * no in-use span or beyond the span's last slot. */
uintptr_t mheap_object_base(const struct mheap *h, uintptr_t p, struct mspan **sp);
/* mheap_object_lookup: as mheap_object_base, also copying the span's
 * validated layout into *out.  A caller that does not own an object in
 * the span must read span fields only from that copy: the record may be
 * reused by another span at any moment. */
uintptr_t mheap_object_lookup(const struct mheap *h, uintptr_t p, struct mspan **sp,
                              struct span_layout *out);

uint32_t mheap_sweepgen(const struct mheap *h);
/* mheap_spans_pinned: H5 is in force (no span may be freed). */
static inline bool mheap_spans_pinned(const struct mheap *h)
{
    return atomic_u32_load_relaxed(&h->spans_pinned) != 0;
}

/* mheap_is_valid: H1-H3 over every arena and span (O(heap)).  Caller
 * must make sure no thread allocates concurrently. */
bool mheap_is_valid(struct mheap *h);

#endif /* GCHEAP_ALLOC_MHEAP_H */
