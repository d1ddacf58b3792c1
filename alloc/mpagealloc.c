/*
 * mpagealloc.c - word-at-a-time bit-run operations for the page
 * allocator's free and released bitmaps (see mpagealloc.h).
 */
#define GCHI_BUILDING 1
#include "mpagealloc.h"

/* range_mask: the bits of word `word` that fall in [from, from+n). */
static uint64_t range_mask(size_t word, size_t from, size_t to)
{
    size_t lo = word * 64, hi = lo + 64;
    size_t a = from > lo ? from - lo : 0;
    size_t b = to < hi ? to - lo : 64;
    if (a >= b)
        return 0;
    uint64_t m = b == 64 ? ~(uint64_t)0 : (((uint64_t)1 << b) - 1);
    return m & ~(((uint64_t)1 << a) - 1);
}

void bits_set_range(uint64_t *w, size_t from, size_t n)
{
    for (size_t i = from / 64; n > 0 && i <= (from + n - 1) / 64; i++)
        w[i] |= range_mask(i, from, from + n);
}

void bits_clear_range(uint64_t *w, size_t from, size_t n)
{
    for (size_t i = from / 64; n > 0 && i <= (from + n - 1) / 64; i++)
        w[i] &= ~range_mask(i, from, from + n);
}

size_t bits_count_range(const uint64_t *w, size_t from, size_t n)
{
    size_t c = 0;
    for (size_t i = from / 64; n > 0 && i <= (from + n - 1) / 64; i++)
        c += bits_popcount64(w[i] & range_mask(i, from, from + n));
    return c;
}

/* next_with: first index in [from, end) whose bit equals `want`. */
static size_t next_with(const uint64_t *w, size_t from, size_t end, int want)
{
    while (from < end) {
        size_t i = from / 64;
        uint64_t x = want ? w[i] : ~w[i];
        x &= ~(uint64_t)0 << (from % 64);
        if (x != 0) {
            size_t at = i * 64 + (size_t)__builtin_ctzll(x);
            return at < end ? at : end;
        }
        from = (i + 1) * 64;
    }
    return end;
}

size_t bits_next_set(const uint64_t *w, size_t from, size_t end) { return next_with(w, from, end, 1); }
size_t bits_next_clear(const uint64_t *w, size_t from, size_t end) { return next_with(w, from, end, 0); }

size_t bits_find_run(const uint64_t *w, size_t from, size_t end, size_t n)
{
    while (from < end) {
        size_t a = bits_next_set(w, from, end);
        if (a == end || end - a < n)
            return end;
        size_t b = bits_next_clear(w, a, a + n);
        if (b == a + n)
            return a;
        from = b;
    }
    return end;
}

size_t bits_trailing_run(const uint64_t *w, size_t end)
{
    size_t run = 0;
    while (end > 0) {
        size_t i = (end - 1) / 64, top = (end - 1) % 64;
        uint64_t x = w[i] << (63 - top); /* bit end-1 moves to bit 63 */
        size_t ones = ~x == 0 ? 64 : (size_t)__builtin_clzll(~x);
        if (ones < top + 1)
            return run + ones;
        run += top + 1; /* the word is set down to bit 0: go on below */
        end -= top + 1;
    }
    return run;
}
