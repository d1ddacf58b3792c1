/*
 * mspan.h - a span: a run of pages holding one large object or many
 * objects of one size class.
 * Go counterpart: runtime/mheap.go (type mspan), mbitmap.go (alloc bits).
 * Overview: alloc/malloc.c.
 *
 * Span states (field state, Go's mSpanState):
 *   MSPAN_DEAD   -> MSPAN_IN_USE  mheap_alloc_span, store-release after every
 *                                 other field is set (publication point)
 *   MSPAN_IN_USE -> MSPAN_DEAD    mheap_free_span, under the heap lock
 * A reader that finds a span through the page map loads state with
 * acquire first and trusts the other fields only if it reads IN_USE.
 *
 * Sweep generations (sg = mheap.sweepgen, +2 per GC cycle; DESIGN.md 9):
 *   s->sweepgen == sg - 2   the span needs sweeping
 *   s->sweepgen == sg - 1   the span is being swept
 *   s->sweepgen == sg       swept, ready for use
 *   s->sweepgen == sg + 1   (Go: cached before sweeping began) never in
 *                           gcheap: every cache is flushed before a flip
 *   s->sweepgen == sg + 3   swept, then cached by an mcache
 *
 * Allocation state of slot i (Go's freeindex / allocBits / allocCache):
 *   M1 every slot below freeindex is allocated;
 *   M2 a slot at or above freeindex is free iff its alloc bit is clear;
 *   M3 alloc_cache holds the complement of the 64 alloc bits starting at
 *      freeindex rounded down to 64, shifted right by freeindex % 64
 *      (a set bit = a free slot), while the span is cached;
 *   M4 (gcheap) while a span is not cached its alloc bits are exact:
 *      mcentral_uncache_span() records slots below freeindex in the bits
 *      and resets freeindex to 0;
 *   M5 alloc_count == number of allocated slots.
 *
 * Locking: alloc_cache/freeindex/alloc_count belong to the mcache that
 * holds the span, otherwise to the owning mcentral's lock.  start, npages,
 * spanclass, elemsize, nelems, divmagic are immutable while IN_USE.
 * Span records are reused as soon as a span is freed, so a lock-free
 * lookup (mheap_object_base, any thread) may read a record while
 * mheap_alloc_span rewrites it: such readers copy the layout with
 * span_read_layout(), which validates the copy with layout_seq.
 */
#ifndef GCHEAP_ALLOC_MSPAN_H
#define GCHEAP_ALLOC_MSPAN_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "track.h"
#include "atomic.h"
#include "check.h"
#include "lock.h"
#include "sizeclasses.h"
#include "sys.h"

#define PAGE_SHIFT 13
#define PAGE_SIZE ((size_t)1 << PAGE_SHIFT)
_Static_assert(PAGE_SHIFT == SC_PAGE_SHIFT, "size classes were generated for another page size");

#define NUM_SPAN_CLASSES (NUM_SIZE_CLASSES << 1)
typedef uint8_t spanclass_t;

static inline spanclass_t make_spanclass(unsigned sizeclass, bool noscan)
{
    return (spanclass_t)((sizeclass << 1) | (noscan ? 1u : 0u));
}
static inline unsigned spanclass_sizeclass(spanclass_t spc) { return spc >> 1; }
static inline bool spanclass_noscan(spanclass_t spc) { return (spc & 1) != 0; }

enum mspan_state { MSPAN_DEAD = 0, MSPAN_IN_USE = 1 };

struct spanlist;
struct special;

struct mspan {
    /* hot: read by next_free_fast on every small allocation */
    uint64_t alloc_cache;        /* [owner mcache] M3 */
    uint32_t freeindex;          /* [owner mcache | mcentral lock] M1, M2 */
    uint32_t nelems;             /* [immutable while in use] */
    uintptr_t start;             /* [immutable while in use] first byte */
    size_t elemsize;             /* [immutable while in use] slot size */
    uint32_t alloc_count;        /* [owner mcache | mcentral lock] M5 */
    bool needzero;               /* [owner mcache | mcentral lock] slots may hold old data */
    bool has_headers;            /* [owner mcache | mcentral lock] some slot's header bit
                                  * may be set (typebits spans) */
    spanclass_t spanclass;       /* [immutable while in use] */
    struct atomic_u8 state;      /* [store-release at publication] enum mspan_state */
    struct atomic_u32 layout_seq; /* [write under heap lock, read atomic] odd while
                                   * mheap_alloc_span rewrites the layout (seqlock) */

    uint32_t divmagic;           /* [immutable while in use] object index by multiply */
    uint16_t alloc_count_before_cache; /* [owner mcache] for stats at uncache (<= nelems,
                                  * at most PAGE_SIZE / 8 for a cacheable span) */
    bool black;                  /* [owner mcache] cached during a mark: its free slots'
                                  * mark bits are set (span_colour_free, mcache.h K5) */
    struct atomic_u32 sweepgen;  /* [atomic acq/rel] table above */
    size_t npages;               /* [immutable while in use] */
    uintptr_t limit;             /* [immutable while in use] end of the last slot / large object */
    uint8_t *alloc_bits;         /* [mcentral lock, or the owning mcache at uncache (M4), or
                                  * the allocator before publication] 1 bit per slot */
    uint8_t *gcmarks;            /* [relaxed byte stores while marking; sweeper] one
                                  * mark byte per slot, 0 or 1 (MB1-MB4 below) */
    struct span_typebits *typebits; /* [allocating mcache writes a slot's bits;
                                     * read for marked objects] scan spans with
                                     * slots <= HEAPBITS_MAX_SIZE, else NULL */
    uint64_t wordmask;           /* [immutable while in use] bit k set for each word k < 64
                                  * of a slot: a typebits object's word bits (mgcmark.c) */
    const struct gch_type *largetype; /* [set before the large object is returned]
                                  * the gch_type of a large scan object */
    size_t largesize;            /* [set with largetype] bytes it was allocated with
                                  * (n x its type's size): Y3 */
    struct atomic_ptr specials;  /* [stripe lock; acquire load for the lock-free "any?"
                                  * test] struct special list, alloc/mspecial.h SP1-SP4 */
    struct special *specials_tail; /* [stripe lock] the list's last record, or NULL: objects
                                  * are mostly given records in address order, so an
                                  * append and a miss past the end cost O(1) */

    struct mspan *next, *prev;   /* [lock: owning list] */
    struct spanlist *list;       /* [lock: owning list] the list holding it, or NULL */
};

/*
 * Type information of scan objects (ARCHITECTURE.md, "collector" step 1):
 *   - slots <= HEAPBITS_MAX_SIZE: a heap bitmap with one bit per word of
 *     the span (1 = the word holds a reference), written at allocation
 *     from the type's mask; and a header bitmap with one bit per slot,
 *     set when the object carries a type header instead (trace-callback
 *     types);
 *   - slots > HEAPBITS_MAX_SIZE: every object carries a type header;
 *   - large objects: the type is span->largetype.
 * A type header is the object's gch_type pointer in the LAST word of its
 * slot (the size class is chosen for size + MALLOC_HEADER), so the object
 * always starts at its slot: interior-pointer lookup and alignment do not
 * depend on the type.  Go counterpart: mbitmap.go (heapBitsInSpan, malloc
 * headers at the slot start; ours sit at the end).
 *   Y1 the mcache that allocates a scan object writes, before returning
 *      it, the slot's header bit and its word bits: the mask's for an
 *      object without a header, all clear for one with a header (so a
 *      reader may test the word bits first and the header bit only when
 *      they are all clear, as the fast drain does);
 *   Y2 a slot with its header bit set (or any slot of a > 512-byte scan
 *      span) holds its gch_type pointer at slot + elemsize - 8;
 *   Y3 the collector scans exactly the bytes an object was allocated with
 *      (n x its type's size), never the slack after them that
 *      gch_usable_size also reports: heap bits past the object are clear;
 *      a large object's size is span->largesize; a headered object whose
 *      slot leaves room for a whole element past its n elements (where a
 *      scan by whole elements would overrun) carries its size in the word
 *      before the header and HEADER_SIZED in the header word; any other
 *      headered object holds exactly n whole elements before its header.
 */
#define HEAPBITS_MAX_SIZE 512
#define MALLOC_HEADER 8
#define MALLOC_SIZED_HEADER 16 /* the size word, then the type word */
#define HEADER_SIZED ((uintptr_t)1) /* header word bit 0 (gch_type is 8-aligned): Y3 */

/* The record is 128 bytes of word bits plus one header word per 64 slots
 * (typebits_hdr_words), in 8-byte records (every access is a whole
 * word): a 48-byte class carries 152 bytes per span, not the 256 a
 * header bitmap for 1024 slots would take (issue 15: 60 K such spans at
 * 256 MiB live), and a class of 128 bytes or more 136, not 144 (250 K
 * such spans at the 1 GiB pauses workload's peak). */
#define TYPEBITS_HDR_WORDS_MAX (PAGE_SIZE / 8 / 64) /* 1024 slots of 8 bytes */
struct span_typebits {
    uint64_t words[PAGE_SIZE / 8 / 64]; /* 1 bit per word of the (1-page) span */
    uint64_t hdr[];                     /* 1 bit per slot: has a type header */
};

/* typebits_hdr_words: the header words of a typebits span of nelems slots. */
static inline size_t typebits_hdr_words(size_t nelems) { return (nelems + 63) / 64; }

/*
 * Bitmap access shared with a concurrent marker.  While marking, the
 * marker reads alloc, mark and heap bits that allocating threads write,
 * and several markers set mark bytes at once; every such byte or word is
 * accessed with a relaxed atomic (plain code on x86).  Each alloc-bit
 * and heap-bit word has one writer at a time (the owning mcache, or the
 * mcentral lock holder), which stores the value it computed from its own
 * read; mark bytes are stored whole, one per slot (MB2 below).
 * Ordering comes from elsewhere: an object's bits are written before the
 * object's address is published (a release store or a lock).
 */
static inline bool bit_load(const uint8_t *bits, uint32_t i)
{
    return (mem_u8_load_relaxed(&bits[i / 8]) >> (i % 8)) & 1;
}
/* bit_set_atomic: set bit i; true if this call set it (it was clear).
 * Bitmaps are 8-byte aligned whole words (gcbits_alloc, bitmap_bytes),
 * so on a little-endian machine bit i is bit i % 64 of word i / 64 and
 * one word-sized atomic bit-test-and-set does it (x86: lock bts, where
 * a byte OR whose old value is needed compiles to a cmpxchg loop). */
static inline bool bit_set_atomic(uint8_t *bits, uint32_t i)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return !mem_u64_bts_relaxed((uint64_t *)(void *)bits + i / 64, i % 64);
#else
    uint8_t m = (uint8_t)(1u << (i % 8));
    return (mem_u8_or_relaxed(&bits[i / 8], m) & m) == 0;
#endif
}
/*
 * Mark bytes (Boehm's parallel marker's representation): one byte per
 * slot, 1 = marked, set by a relaxed byte store (a plain mov on x86), not
 * a locked read-modify-write.
 *   MB1 a mark byte only goes 0 -> 1 while marking; only the sweeper of
 *       the span writes 0 (zeroing the whole map, MB4; specials_sweep may
 *       set one first, SP5), and span_uncolour_free for free slots no
 *       marker marks (X2).
 *   MB2 no store clobbers a neighbour: each slot has its own byte, so
 *       markers, the allocate-black colouring (K5) and a large object's
 *       black mark never lose each other's marks.
 *   MB3 two markers may both see a byte clear and both mark it: the
 *       object is then queued and scanned twice (harmless: scanning only
 *       shades) and its bytes counted twice in the marked bytes, which
 *       the pacer reads as an estimate (bounded: at most one extra count
 *       per marker that raced for it; the sweep's count is exact; the
 *       heap-limit retry reads it too, gc/mgc.c, so near the limit an
 *       overcount can end the retries one cycle early).  A marker never
 *       marks an object allocated black while it looked: it reads the
 *       byte again after the alloc bit (gc/mgcmark.c grey), and the
 *       allocator publishes the alloc bit after the mark.
 *   MB4 the map lives as long as its span (a fixalloc record of the heap,
 *       mheap.h markalloc, taken and freed with the span under the heap
 *       lock): the sweep packs it into the span's next alloc bits
 *       (mark_pack8) and zeroes it in place, since nothing reads a span's
 *       marks between the end of a mark and its sweep but its sweeper
 *       (markers and the weak and ephemeron passes run while marking,
 *       checkmark with the world stopped before the flip).  Go instead
 *       takes fresh mark bits from gcBits arenas: a byte map kept over
 *       three epochs would cost three bytes a slot.
 */
/* mark_bytes: bytes of a mark map for n slots: whole 64-byte units (the
 * fixalloc pools, MARK_POOLS; the sweep packs 8 slots at a time). */
static inline size_t mark_bytes(uint32_t n) { return ((size_t)n + 63) / 64 * 64; }
#define MARK_POOLS (PAGE_SIZE / 8 / 64) /* 1024 slots of 8 bytes: 16 units */
static inline bool mark_load(const uint8_t *marks, uint32_t i) { return mem_u8_load_relaxed(&marks[i]) != 0; }
/* load_le64: 8 bitmap bytes as one word, bit 0 = the lowest slot. */
static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}
/* mem_order: a bitmap word as it lies in memory (bit i of the word from
 * load_le64 is slot i), to store or OR whole words. */
static inline uint64_t mem_order(uint64_t x)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}
/* mark_store: mark slot i (MB1, MB2). */
static inline void mark_store(uint8_t *marks, uint32_t i) { mem_u8_store_relaxed(&marks[i], 1); }
/* mark_pack8: the 8 mark bytes at p (each 0 or 1) as 8 bits, bit k for
 * byte k: the multiply moves byte k's low bit to bit 56 + k, and no
 * other partial product reaches bits 56-63 or carries into them. */
static inline unsigned mark_pack8(const uint8_t *p)
{
    return (unsigned)((load_le64(p) * 0x0102040810204080u) >> 56);
}
/* mark_pack64: the 64 mark bytes at p as 64 bits, bit k for byte k (the
 * sweep's unit: one alloc-bitmap word).  With SSE2 (every x86-64) 16
 * bytes at a time: a shift left by 7 moves each byte's bit 0 to its top
 * bit (bytes are 0 or 1, so nothing crosses into a neighbour) and
 * movemask gathers the top bits; else 8 times mark_pack8. */
static inline uint64_t mark_pack64(const uint8_t *p)
{
    uint64_t r = 0;
#ifdef __SSE2__
    for (unsigned k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        r |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_slli_epi64(v, 7)) << (16 * k);
    }
#else
    for (unsigned k = 0; k < 8; k++)
        r |= (uint64_t)mark_pack8(p + 8 * k) << (8 * k);
#endif
    return r;
}

/* mark_count64: the marks among the 64 mark bytes at p, whose
 * mark_pack64 is bits.  With SSE2 the bytes (each 0 or 1) are summed
 * where they lie: three byte adds (at most 4 a lane) and one psadbw,
 * against about 20 instructions for a popcount without the popcnt
 * instruction (the library is built for generic x86-64). */
static inline unsigned mark_count64(const uint8_t *p, uint64_t bits)
{
#ifdef __SSE2__
    (void)bits;
    __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i v2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    __m128i v3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
    __m128i sum = _mm_sad_epu8(_mm_add_epi8(_mm_add_epi8(v0, v1), _mm_add_epi8(v2, v3)), _mm_setzero_si128());
    return (unsigned)_mm_cvtsi128_si32(sum) + (unsigned)_mm_extract_epi16(sum, 4);
#else
    return (unsigned)__builtin_popcountll(bits);
#endif
}

static inline uint64_t word_load(const uint64_t *w) { return mem_u64_load_relaxed(w); }
static inline void word_store(uint64_t *w, uint64_t v) { mem_u64_store_relaxed(w, v); }

/* span_needs_typebits: spans of class spc carry a struct span_typebits. */
static inline bool span_needs_typebits(spanclass_t spc)
{
    unsigned sc = spanclass_sizeclass(spc);
    return !spanclass_noscan(spc) && sc != 0 && gchi_class_to_size[sc] <= HEAPBITS_MAX_SIZE;
}

/* span_typebits_has_header: span_slot_has_header for a span with
 * typebits (a small scan class, span_needs_typebits): its header bit. */
static inline bool span_typebits_has_header(const struct mspan *s, uintptr_t v)
{
    uint32_t idx = (uint32_t)(((uint64_t)(v - s->start) * s->divmagic) >> 32);
    return (word_load(&s->typebits->hdr[idx / 64]) >> (idx % 64)) & 1;
}

/* span_slot_has_header: the slot holding the object at v carries a type
 * header (Y2).  Caller owns the object (its span cannot be reused). */
static inline bool span_slot_has_header(const struct mspan *s, uintptr_t v)
{
    if (spanclass_noscan(s->spanclass) || spanclass_sizeclass(s->spanclass) == 0)
        return false;
    if (s->typebits == NULL)
        return true; /* slots > HEAPBITS_MAX_SIZE: always */
    return span_typebits_has_header(s, v);
}

/* header_type: the gch_type a header word names (Y2, Y3). */
static inline const struct gch_type *header_type(uintptr_t word)
{
    return (const struct gch_type *)(word & ~HEADER_SIZED);
}

/* header_load: the header word of the headered object at v (Y2).  The
 * allocating mcache wrote it before publishing v. */
static inline uintptr_t header_load(const struct mspan *s, uintptr_t v)
{
    return mem_uptr_load_relaxed((const uintptr_t *)(v + s->elemsize - MALLOC_HEADER));
}

/* header_object_size: the bytes the headered object at v was allocated
 * with, or for an unsized header the slot less the header, which holds
 * exactly its whole elements (Y3). */
static inline size_t header_object_size(const struct mspan *s, uintptr_t v, uintptr_t word)
{
    if ((word & HEADER_SIZED) == 0)
        return s->elemsize - MALLOC_HEADER;
    return mem_size_load_relaxed((const size_t *)(v + s->elemsize - MALLOC_SIZED_HEADER));
}

/* span_slot_header_bytes: the bytes at the end of the slot holding the
 * object at v that carry its type (0, 8 or 16: Y2, Y3).  Caller owns the
 * object (its span cannot be reused). */
static inline size_t span_slot_header_bytes(const struct mspan *s, uintptr_t v)
{
    if (!span_slot_has_header(s, v))
        return 0;
    return (header_load(s, v) & HEADER_SIZED) != 0 ? MALLOC_SIZED_HEADER : MALLOC_HEADER;
}

/* bitmap_bytes: bytes of an alloc/mark bitmap for n slots, rounded to
 * whole 64-bit words so the allocCache can always load 8 bytes. */
static inline size_t bitmap_bytes(uint32_t n) { return ((size_t)n + 63) / 64 * 8; }

static inline bool bit_is_set(const uint8_t *bits, uint32_t i) { return (bits[i / 8] >> (i % 8)) & 1; }
static inline void bit_set(uint8_t *bits, uint32_t i) { bits[i / 8] |= (uint8_t)(1u << (i % 8)); }
static inline void bit_clear(uint8_t *bits, uint32_t i) { bits[i / 8] &= (uint8_t)~(1u << (i % 8)); }


/* span_refill_alloc_cache: set alloc_cache from the 64 alloc bits at
 * byte whichbyte (a multiple of 8).  Go counterpart: refillAllocCache. */
static inline void span_refill_alloc_cache(struct mspan *s, uint32_t whichbyte)
{
    s->alloc_cache = ~load_le64(s->alloc_bits + whichbyte);
}

/*
 * next_free_fast: take the next free slot from the alloc cache, or
 * return 0 when the cache has nothing usable (empty window, end of span,
 * or the next slot starts a new 64-slot window that needs a refill).
 * Caller owns the span through its mcache.  Go counterpart: nextFreeFast.
 */
static GCH_ALWAYS_INLINE uintptr_t next_free_fast(struct mspan *s)
{
    uint64_t cache = s->alloc_cache;
    if (cache == 0)
        return 0;
    unsigned bit = (unsigned)__builtin_ctzll(cache);
    uint32_t idx = s->freeindex + bit;
    if (idx >= s->nelems)
        return 0;
    uint32_t next = idx + 1;
    if ((next & 63) == 0 && next != s->nelems)
        return 0; /* let next_free_index refill the window */
    s->alloc_cache = (cache >> bit) >> 1; /* two shifts: bit + 1 may be 64 */
    s->freeindex = next;
    s->alloc_count++;
    uintptr_t v = s->start + (uintptr_t)idx * s->elemsize;
    track_alloc(v, s->elemsize); /* sanitizer builds only (track.h) */
    return v;
}

/* span_next_free_index: the index of the next free slot at or after
 * freeindex, advancing freeindex past it; nelems when the span is full.
 * Caller owns the span.  Go counterpart: nextFreeIndex. */
uint32_t span_next_free_index(struct mspan *s);

/* span_object_index: slot number of address p, which lies in the span.
 * Uses a 32x32->64 multiply instead of a division (Go's divMagic). */
static inline uint32_t span_object_index(const struct mspan *s, uintptr_t p)
{
    return (uint32_t)(((uint64_t)(p - s->start) * s->divmagic) >> 32);
}

/* span_init_class: fill the immutable fields for a span of size class sc
 * (0 = one large object of npages pages). */
void span_init_layout(struct mspan *s, uintptr_t start, size_t npages, spanclass_t spc);

/* span_prepare_cache: set freeindex/alloc_cache for handing the span to an
 * mcache (M3). */
void span_prepare_cache(struct mspan *s);
/* span_zero_free: zero every free slot of s (alloc bit clear) and clear
 * needzero, so that the slots a cache hands out need no zeroing one by
 * one (the inline path's rare tail).  Caller owns the uncached span with
 * exact alloc bits (M4); its free slots stay zero while it is cached,
 * since no slot is freed then (C3), and until a sweep or a free of an
 * object sets needzero again. */
void span_zero_free(struct mspan *s);
/* span_colour_free: set the mark byte of every free slot of s (alloc bit
 * clear), so that each object a cache hands out from it during a mark is
 * already black (mcache.h K5), and set s->black.  Caller owns the
 * uncached span with exact alloc bits (M4, freeindex 0); markers may be
 * marking its objects meanwhile: relaxed byte stores (MB2). */
void span_colour_free(struct mspan *s);
/* span_uncolour_free: undo span_colour_free for the slots s still has
 * free (at or above freeindex, alloc bit clear), before the cache gives
 * it back and commits its alloc bits; clear s->black.  The slots below
 * freeindex were handed out and stay black. */
void span_uncolour_free(struct mspan *s);
/* span_slot_coloured_free: whether slot idx of s is a free slot whose mark
 * bit span_colour_free set (the slots span_uncolour_free would clear), not
 * an object.  Reads the owner cache's freeindex and black: only the owner
 * thread, or anyone while the world is stopped (gc/mcheckmark.c). */
static inline bool span_slot_coloured_free(const struct mspan *s, uint32_t idx)
{
    return s->black && idx >= s->freeindex && !bit_load(s->alloc_bits, idx);
}
/* span_commit_alloc_bits: establish M4 when a span leaves its mcache (and
 * for a large object's one slot, malloc_large): slots below freeindex. */
void span_commit_alloc_bits(struct mspan *s);

bool span_is_valid(const struct mspan *s);

/* struct span_layout: the fields a lock-free lookup needs, copied. */
struct span_layout {
    uintptr_t start, limit;
    size_t npages, elemsize;
    uint32_t divmagic;
    spanclass_t spanclass;
};

/* span_read_layout: copy s's layout if s is in use and its record was not
 * rewritten while we read (seqlock reader; the writer is
 * mheap_alloc_span).  Any thread, no lock.  Acquire loads of the fields
 * keep the second read of layout_seq after them. */
static inline bool span_read_layout(const struct mspan *s, struct span_layout *l)
{
    uint32_t seq = atomic_u32_load_acquire(&s->layout_seq);
    if ((seq & 1) != 0 || atomic_u8_load_acquire(&s->state) != MSPAN_IN_USE)
        return false;
    l->start = GCHI_SEQ_LOAD(&s->start);
    l->npages = GCHI_SEQ_LOAD(&s->npages);
    l->limit = GCHI_SEQ_LOAD(&s->limit);
    l->elemsize = GCHI_SEQ_LOAD(&s->elemsize);
    l->divmagic = GCHI_SEQ_LOAD(&s->divmagic);
    l->spanclass = GCHI_SEQ_LOAD(&s->spanclass);
    return atomic_u32_load_relaxed(&s->layout_seq) == seq;
}

/* ---- gcBits arenas: storage for alloc bitmaps ----------------------------- */

/*
 * Alloc bitmaps are bump-allocated from 64 KiB arenas so that the
 * collector can retire a whole cycle's at once (Go's gcBitsArenas; the
 * sweep writes each span's next ones, from its mark bytes).  Arenas
 * move next -> current -> previous -> free at each gcbits_new_epoch(),
 * so a bitmap is reused only two epochs after it was last handed out.
 * An arena's bytes not yet handed out are zero (fresh from the OS, or
 * cleared as it leaves the free list), so bitmaps come zeroed.
 *   GB1 a sweep cannot undo its claim of a span, and the OS may refuse an
 *       arena at any time, so one arena is kept back (spare): a sweeper
 *       whose request neither the arena being filled, the free list nor
 *       the OS can serve takes the spare (gcbits_alloc_sweep).  The spare
 *       is taken again, from the free list or the OS, where a refusal can
 *       still be reported or waited out (gcbits_reserve): by every span
 *       allocation before it takes pages (mheap_alloc_span: ENOMEM), and
 *       by every sweeper that may stop before it claims a span (the
 *       background sweeper, proportional credit, reclaim, a refill's
 *       sweep), which stops instead while the spare cannot be had.  A
 *       sweep's request is at most 128 bytes, so the spare serves 511
 *       sweeps; the check and the claim are two steps, so a sweeper that
 *       passed the check can still find the spare spent by a sweep that
 *       must finish (sweep termination, gch_collect's wait, a
 *       gcstoptheworld=2 cycle's).  Such a sweep, finding the spare gone and the OS
 *       refusing, retries for about a second, then fails with a fatal
 *       error that says so.  A cycle would be one of those (its sweep
 *       termination, in the pause), so a cycle start first sweeps what
 *       is left with the world running, reserved, and declines while the
 *       spare cannot be had (gc/mgc.c gc_start_kind; not gch_collect's);
 *       an allocation at the heap limit sweeps reserved too
 *       (gc_sweep_wait).  So a refusal that lasts ends in the ENOMEM of
 *       the allocations that need memory; the fatal error is left to
 *       gch_collect, gcstoptheworld=2, and a refusal that begins while a
 *       sweep that must finish runs.
 * Locking: gcbits.lock (rank GCBITS) guards the lists and the spare;
 * a bitmap from the arena being filled takes one atomic add, no lock.
 */
struct gcbits_arena;

struct gcbits {
    struct lock lock;
    struct sysmem *sys;                /* [immutable] */
    struct atomic_ptr next;            /* [write under lock (release), read acquire]
                                        * arena being filled: allocations bump its
                                        * used count without the lock (mspan.c) */
    struct gcbits_arena *current;      /* [lock] previous epoch */
    struct gcbits_arena *previous;     /* [lock] the epoch before */
    struct gcbits_arena *free;         /* [lock] reusable arenas */
    struct gcbits_arena *all;          /* [lock] every arena, for release */
    struct atomic_ptr spare;           /* [write under lock, read atomic] GB1: an
                                        * arena kept back for the sweep, or NULL */
    struct atomic_u64 spare_taken;     /* [write under lock] sweeps the spare served */
    struct atomic_u64 sys_bytes;       /* [write under lock] */
    struct atomic_u64 handed_bytes;    /* [atomic] bitmap bytes handed out, ever */
};

void gcbits_init(struct gcbits *g, struct sysmem *sys);
/* gcbits_alloc: a zeroed bitmap of nbytes (multiple of 8, <= 1024); NULL
 * when the OS refuses memory. */
uint8_t *gcbits_alloc(struct gcbits *g, size_t nbytes);
/* gcbits_alloc_sweep: a zeroed bitmap of nbytes (<= 128) for a sweep,
 * not written (an arena's bytes not yet handed out are zero: new arenas
 * come zeroed from the OS, reused ones are cleared as they are taken;
 * the sweep stores only its nonzero words); when the OS refuses an
 * arena, from the spare (GB1).  NULL only when the spare is gone too. */
uint8_t *gcbits_alloc_sweep(struct gcbits *g, size_t nbytes);
/* gcbits_reserve: hold the spare arena (GB1), taking it from the free
 * list or the OS; false when the OS refuses.  One relaxed load when the
 * spare is held. */
bool gcbits_reserve(struct gcbits *g);
void gcbits_new_epoch(struct gcbits *g);
void gcbits_release_all(struct gcbits *g);

#endif /* GCHEAP_ALLOC_MSPAN_H */
