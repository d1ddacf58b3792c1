/*
 * gcheap/alloc.h - the allocation fast path: gch_alloc, gch_alloc_array
 * and gch_alloc_noscan inline for objects of 1..GCHI_INLINE_MAX_SIZE bytes.
 * Included by gcheap.h (inside its extern "C" block, after gch_type); the
 * slow halves live in alloc/malloc.c, whose opening comment explains the
 * allocator (Go's mallocgc: per-thread cached spans, one per size class).
 *
 * The inline path (GNU C: it needs the thread pointer) takes the next
 * free slot of the thread's cached span of the object's class, as the
 * library's next_free_fast does, reading only the layout gcheap/attrs.h
 * publishes.  In order: t and ty usable (folds away for a constant type),
 * the owner check (K3: one load and one compare with the thread pointer,
 * so a detached or foreign handle goes to the library, which reports
 * GCH_EDETACHED or GCH_EWRONGTHREAD), a 2-byte load that is 0 unless the
 * library must serve every allocation (gcstress, sanitizer tracking, a
 * collector callback running on this thread: alloc/mcache.h K4), the
 * slot (black already while the collector marks: K5), then one
 * branch for the rare tail (a slot to zero, header bits to clear, or the
 * heap profile's sample due: gch_alloc_finish_slow), and for a masked type
 * the slot's heap-bitmap bits, which fold to constants when the type is
 * visible to the compiler.  Everything else - an empty cache window, a
 * full span, sizes over GCHI_INLINE_MAX_SIZE, trace-callback types,
 * errors - is gch_alloc_slow / gch_alloc_array_slow /
 * gch_alloc_noscan_slow, which do the whole allocation.  Defining GCHI_NO_INLINE_ALLOC before including gcheap.h
 * compiles the inline path out (every call goes to the _slow function).
 */
#ifndef GCHEAP_ALLOC_H
#define GCHEAP_ALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "gcheap/config.h"
#include "gcheap/attrs.h"
#include "gcheap/sizeclass.h"

/* The whole allocation, out of line: what gch_alloc, gch_alloc_noscan
 * and gch_alloc_array do when the inline path does not serve them
 * (alloc/malloc.c). */
GCH_API void *gch_alloc_slow(gch_thread *t, const gch_type *ty);
GCH_API void *gch_alloc_noscan_slow(gch_thread *t, size_t size);
GCH_API void *gch_alloc_array_slow(gch_thread *t, const gch_type *ty, size_t n);
/* gch_alloc_finish_slow: the inline path took the slot at v from span of
 * t's cache, for an object of `size` bytes of masked type ty (NULL:
 * noscan), and took the slot's size off the heap profile's count; zero
 * the slot if needed, record its heap bits, sample it if the count ran
 * out, and return it.  An entry point of the inline code below (ABI, not
 * API: see gcheap.h); not to be called directly. */
GCH_API void *gch_alloc_finish_slow(gch_thread *t, void *span, uintptr_t v, const gch_type *ty,
                                    size_t size);

#if defined(__GNUC__) && !defined(GCHI_ATOMICS_C11) && !defined(GCHI_NO_INLINE_ALLOC)
#define GCHI_ALLOC_INLINE 1

#define GCHI_FIELD(base, off, type) (*(type *)(void *)((base) + (off)))

/* gchi_mask_bits: the pointer words of a size-byte object made of
 * elements of masked type ty (one for gch_alloc), word 0 in bit 0; size
 * <= GCHI_INLINE_MAX_SIZE, so at most 64 words (the library's
 * mask_bits).  A constant for a type and count the compiler can see. */
static inline uint64_t gchi_mask_bits(const gch_type *ty, size_t size)
{
    size_t words = size / 8, elem_words = ty->size / 8;
    if (elem_words == 0)
        return 0; /* an element smaller than a word holds no aligned reference */
    size_t mw = elem_words < words ? elem_words : words; /* mask words to read */
    uint64_t bits = 0;
    for (size_t i = 0; i < (mw + 7) / 8; i++)
        bits |= (uint64_t)ty->ptrmask[i] << (8 * i);
    if (mw < 64)
        bits &= ((uint64_t)1 << mw) - 1;
    for (size_t have = mw; have < words; have *= 2) /* an array: repeat the element */
        bits |= bits << have;
    return words >= 64 ? bits : bits & (((uint64_t)1 << words) - 1);
}

/* gchi_set_heap_bits: the slot of elemsize bytes at v in span s gets
 * `bits` as its heap-bitmap bits, the rest of the slot's bits clear
 * (alloc/mspan.h Y1; the library's write_heap_bits). */
static inline void gchi_set_heap_bits(char *s, uintptr_t v, size_t elemsize, uint64_t bits)
{
    uint64_t *w = GCHI_FIELD(s, GCHI_SPAN_TYPEBITS_OFFSET, uint64_t *);
    size_t w0 = (v - GCHI_FIELD(s, GCHI_SPAN_START_OFFSET, uintptr_t)) / 8, n = elemsize / 8;
    uint64_t m = ((uint64_t)2 << (n - 1)) - 1; /* n low bits, 1 <= n <= 64 */
    size_t i = w0 / 64, sh = w0 % 64;
    GCHI_STORE_RELAXED(&w[i], (w[i] & ~(m << sh)) | (bits << sh));
    if (sh + n > 64) /* the slot straddles two bitmap words */
        GCHI_STORE_RELAXED(&w[i + 1], (w[i + 1] & ~(m >> (64 - sh))) | (bits >> (64 - sh)));
}

/* gchi_alloc_take: the next free slot of t's cached span of class spc
 * (*span gets the span), or 0, changing nothing, when the inline path
 * must leave this allocation to the library. */
static inline uintptr_t gchi_alloc_take(gch_thread *t, unsigned spc, char **span)
{
    char *tb = (char *)(void *)t;
    if (GCHI_UNLIKELY(GCHI_LOAD_RELAXED(&GCHI_FIELD(tb, GCHI_THREAD_OWNER_TAG_OFFSET, uintptr_t)) !=
                      (uintptr_t)__builtin_thread_pointer()))
        return 0;
    uint16_t off;
    memcpy(&off, tb + GCHI_THREAD_INLINE_OFF_OFFSET, sizeof off);
    if (GCHI_UNLIKELY(off != 0))
        return 0;
    char *s = GCHI_FIELD(tb, GCHI_THREAD_SPANS_OFFSET + spc * sizeof(void *), char *);
    uint64_t cache = GCHI_FIELD(s, GCHI_SPAN_ALLOC_CACHE_OFFSET, uint64_t);
    if (GCHI_UNLIKELY(cache == 0))
        return 0;
    unsigned bit = (unsigned)__builtin_ctzll(cache);
    uint32_t nelems = GCHI_FIELD(s, GCHI_SPAN_NELEMS_OFFSET, uint32_t);
    uint32_t idx = GCHI_FIELD(s, GCHI_SPAN_FREEINDEX_OFFSET, uint32_t) + bit;
    uint32_t next = idx + 1;
    if (GCHI_UNLIKELY(idx >= nelems || ((next & 63) == 0 && next != nelems)))
        return 0; /* the end of the span or of its 64-slot window */
    GCHI_FIELD(s, GCHI_SPAN_ALLOC_CACHE_OFFSET, uint64_t) = (cache >> bit) >> 1;
    GCHI_FIELD(s, GCHI_SPAN_FREEINDEX_OFFSET, uint32_t) = next;
    GCHI_FIELD(s, GCHI_SPAN_ALLOC_COUNT_OFFSET, uint32_t) += 1;
    *span = s;
    return GCHI_FIELD(s, GCHI_SPAN_START_OFFSET, uintptr_t) +
           (uintptr_t)idx * GCHI_FIELD(s, GCHI_SPAN_ELEMSIZE_OFFSET, size_t);
}

/* gchi_alloc_small: an object of 1..GCHI_INLINE_MAX_SIZE bytes of masked
 * type ty whose pointer words are `bits` (gchi_mask_bits, computed by the
 * caller before any store, so that a type the compiler cannot see is read
 * once), or noscan when ty is NULL; NULL when the library must serve it. */
static inline void *gchi_alloc_small(gch_thread *t, const gch_type *ty, size_t size, uint64_t bits)
{
    unsigned spc = (unsigned)gchi_inline_class8[(size + 7) / 8] * 2 + (ty == NULL);
    char *s;
    uintptr_t v = gchi_alloc_take(t, spc, &s);
    if (GCHI_UNLIKELY(v == 0))
        return NULL;
    size_t elemsize = GCHI_FIELD(s, GCHI_SPAN_ELEMSIZE_OFFSET, size_t);
    int64_t *next_sample = &GCHI_FIELD((char *)(void *)t, GCHI_THREAD_NEXT_SAMPLE_OFFSET, int64_t);
    uint16_t rare;
    memcpy(&rare, s + GCHI_SPAN_RARE_OFFSET, sizeof rare);
    /* The heap profile's whole cost when it samples nothing: one
     * subtract from the count and its sign test (alloc/mprof.h). */
    if (GCHI_UNLIKELY((*next_sample -= (int64_t)elemsize) < 0 || rare != 0))
        return gch_alloc_finish_slow(t, s, v, ty, size);
    if (ty != NULL)
        gchi_set_heap_bits(s, v, elemsize, bits);
    return (void *)v;
}
#else
#define GCHI_ALLOC_INLINE 0
#endif

static inline void *gch_alloc(gch_thread *t, const gch_type *ty)
{
#if GCHI_ALLOC_INLINE
    if (t != NULL && ty != NULL && ty->trace == NULL && ty->size - 1 < GCHI_INLINE_MAX_SIZE) {
        size_t size = ty->size;
        const gch_type *masked = ty->ptrmask != NULL ? ty : NULL;
        void *p = gchi_alloc_small(t, masked, size, masked ? gchi_mask_bits(ty, size) : 0);
        if (GCHI_LIKELY(p != NULL))
            return p;
    }
#endif
    return gch_alloc_slow(t, ty);
}

static inline void *gch_alloc_array(gch_thread *t, const gch_type *ty, size_t n)
{
#if GCHI_ALLOC_INLINE
    size_t size;
    if (t != NULL && ty != NULL && ty->trace == NULL && !__builtin_mul_overflow(ty->size, n, &size) &&
        size - 1 < GCHI_INLINE_MAX_SIZE && (ty->ptrmask == NULL || ty->size % 8 == 0 || n == 1)) {
        const gch_type *masked = ty->ptrmask != NULL ? ty : NULL;
        void *p = gchi_alloc_small(t, masked, size, masked ? gchi_mask_bits(ty, size) : 0);
        if (GCHI_LIKELY(p != NULL))
            return p;
    }
#endif
    return gch_alloc_array_slow(t, ty, n);
}

static inline void *gch_alloc_noscan(gch_thread *t, size_t size)
{
#if GCHI_ALLOC_INLINE
    if (t != NULL && size - 1 < GCHI_INLINE_MAX_SIZE) {
        void *p = gchi_alloc_small(t, NULL, size, 0);
        if (GCHI_LIKELY(p != NULL))
            return p;
    }
#endif
    return gch_alloc_noscan_slow(t, size);
}

#endif /* GCHEAP_ALLOC_H */
