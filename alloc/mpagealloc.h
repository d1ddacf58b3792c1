/*
 * mpagealloc.h - bitmap helpers for the page allocator.
 * Go counterpart: runtime/mpallocbits.go (bit runs); the search over
 * arenas lives in mheap.c.  Overview: alloc/malloc.c.
 *
 * A bitmap here is an array of 64-bit words, bit i of word i/64 = page i.
 * All functions are pure: they touch only the words passed in.
 */
#ifndef GCHEAP_ALLOC_MPAGEALLOC_H
#define GCHEAP_ALLOC_MPAGEALLOC_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stddef.h>
#include <stdint.h>

/* bits_popcount64: the set bits of x.  The library is built for generic
 * x86-64, which has no POPCNT instruction, so __builtin_popcountll would
 * be a call into libgcc (__popcountdi2) per word; this is the same
 * branch-free count inline (pairs, nibbles, bytes, then one multiply to
 * sum the bytes), and the instruction itself where the compiler is told
 * the target has it (-mpopcnt, -march=native). */
static inline unsigned bits_popcount64(uint64_t x)
{
#if defined(__GNUC__) && defined(__POPCNT__)
    return (unsigned)__builtin_popcountll(x);
#else
    x = x - ((x >> 1) & 0x5555555555555555u);
    x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
    return (unsigned)((x * 0x0101010101010101u) >> 56);
#endif
}

/* bits_set_range / bits_clear_range: set or clear bits [from, from+n). */
void bits_set_range(uint64_t *w, size_t from, size_t n);
void bits_clear_range(uint64_t *w, size_t from, size_t n);
/* bits_count_range: set bits in [from, from+n). */
size_t bits_count_range(const uint64_t *w, size_t from, size_t n);
/* bits_next_set / bits_next_clear: the first index in [from, end) whose
 * bit is set (clear), or end if none. */
size_t bits_next_set(const uint64_t *w, size_t from, size_t end);
size_t bits_next_clear(const uint64_t *w, size_t from, size_t end);
/* bits_find_run: the first index in [from, end) starting a run of at
 * least n set bits that ends by end, or end if none. */
size_t bits_find_run(const uint64_t *w, size_t from, size_t end, size_t n);
/* bits_trailing_run: the run of set bits ending at `end` (exclusive): its
 * length, 0 if bit end-1 is clear. */
size_t bits_trailing_run(const uint64_t *w, size_t end);

#endif
