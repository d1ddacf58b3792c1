/*
 * test_pagealloc.c - the page allocator's bit-run helpers (alloc/mpagealloc.h)
 * checked against a brute-force model.
 *
 * The heap's free and released page sets are 64-bit-word bitmaps, and every
 * page search (find_pages, scavenge_arena in mheap.c) is built from
 * bits_set_range / clear_range / count_range / next_set / next_clear /
 * find_run / trailing_run.  Their word-at-a-time masks are where off-by-one
 * errors hide: at a word boundary, at bit 0 and bit 63, at the ends of the
 * bitmap, and for empty ranges.  So each function is compared with a plain
 * bool-array model over many random cases (rng_next, fixed seeds), with the
 * random endpoints biased towards multiples of 64 and their neighbours, and
 * guard words on both sides catch any write outside the range.
 */
#include "testutil.h"
#include "mpagealloc.h"

#define NWORDS 6
#define NBITS (NWORDS * 64)
#define GUARD 0xA5A5A5A5A5A5A5A5ULL

/* A bitmap with one guard word on each side, and its model. */
struct bm {
    uint64_t raw[NWORDS + 2];
    bool model[NBITS];
};

static uint64_t *words(struct bm *b) { return b->raw + 1; }

static void bm_init(struct bm *b)
{
    memset(b, 0, sizeof *b);
    b->raw[0] = b->raw[NWORDS + 1] = GUARD;
}

/* bm_check: the bitmap equals the model, and the guards are intact. */
static void bm_check(struct bm *b)
{
    assert_true(b->raw[0] == GUARD);
    assert_true(b->raw[NWORDS + 1] == GUARD);
    for (size_t i = 0; i < NBITS; i++) {
        bool bit = (words(b)[i / 64] >> (i % 64)) & 1;
        if (bit != b->model[i])
            fail_msg("bit %zu is %d, model says %d", i, bit, b->model[i]);
    }
}

/* pick: a position in [lo, hi], half the time near a word boundary. */
static size_t pick(uint64_t *rng, size_t lo, size_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t r = rng_next(rng);
    if (r & 1) {
        size_t w = (size_t)((r >> 8) % (NWORDS + 1)) * 64;
        size_t delta = (size_t)((r >> 4) % 3); /* w - 1, w, w + 1 */
        if (w + delta >= 1) {
            size_t v = w + delta - 1;
            if (v >= lo && v <= hi)
                return v;
        }
    }
    return lo + (size_t)((r >> 16) % (hi - lo + 1));
}

/* ---- models ---------------------------------------------------------- */

static size_t model_count(const bool *m, size_t from, size_t n)
{
    size_t c = 0;
    for (size_t i = from; i < from + n; i++)
        c += m[i];
    return c;
}

static size_t model_next(const bool *m, size_t from, size_t end, bool want)
{
    for (size_t i = from; i < end; i++)
        if (m[i] == want)
            return i;
    return end;
}

static size_t model_find_run(const bool *m, size_t from, size_t end, size_t n)
{
    for (size_t i = from; i + n <= end; i++) {
        size_t k = 0;
        while (k < n && m[i + k])
            k++;
        if (k == n)
            return i;
    }
    return end;
}

static size_t model_trailing(const bool *m, size_t end)
{
    size_t run = 0;
    while (end > 0 && m[end - 1]) {
        run++;
        end--;
    }
    return run;
}

/* ---- tests ----------------------------------------------------------- */

/* Random sets and clears keep the bitmap equal to the model and never
 * touch the guard words. */
static void test_set_clear_random(void **state)
{
    (void)state;
    struct bm b;
    bm_init(&b);
    uint64_t rng = 0x1234567887654321ULL;
    for (int iter = 0; iter < 20000; iter++) {
        size_t from = pick(&rng, 0, NBITS);
        size_t to = pick(&rng, from, NBITS);
        bool set = rng_next(&rng) & 1;
        if (set)
            bits_set_range(words(&b), from, to - from);
        else
            bits_clear_range(words(&b), from, to - from);
        for (size_t i = from; i < to; i++)
            b.model[i] = set;
        if (iter % 16 == 0)
            bm_check(&b);
    }
    bm_check(&b);
}

/* Empty ranges change nothing, even at the very end of the bitmap (where
 * from / 64 is one past the last word). */
static void test_empty_ranges(void **state)
{
    (void)state;
    struct bm b;
    bm_init(&b);
    bits_set_range(words(&b), 0, NBITS);
    for (size_t i = 0; i < NBITS; i++)
        b.model[i] = true;
    for (size_t from = 0; from <= NBITS; from++) {
        bits_clear_range(words(&b), from, 0);
        assert_int_equal(bits_count_range(words(&b), from, 0), 0);
    }
    bm_check(&b);
    bits_clear_range(words(&b), 0, NBITS);
    for (size_t from = 0; from <= NBITS; from++)
        bits_set_range(words(&b), from, 0);
    memset(b.model, 0, sizeof b.model);
    bm_check(&b);
}

/* Every single-bit and every word-sized range at every offset. */
static void test_exhaustive_small_ranges(void **state)
{
    (void)state;
    struct bm b;
    for (size_t n = 1; n <= 65; n += 63) {
        for (size_t from = 0; from + n <= NBITS; from++) {
            bm_init(&b);
            bits_set_range(words(&b), from, n);
            for (size_t i = from; i < from + n; i++)
                b.model[i] = true;
            bm_check(&b);
            assert_int_equal(bits_count_range(words(&b), 0, NBITS), n);
            assert_int_equal(bits_next_set(words(&b), 0, NBITS), from);
            assert_int_equal(bits_next_clear(words(&b), from, NBITS), from + n);
            assert_int_equal(bits_trailing_run(words(&b), from + n), n);
            assert_int_equal(bits_find_run(words(&b), 0, NBITS, n), from);
            assert_int_equal(bits_find_run(words(&b), 0, NBITS, n + 1), NBITS);
            bits_clear_range(words(&b), from, n);
            assert_int_equal(bits_count_range(words(&b), 0, NBITS), 0);
        }
    }
}

/* fill_random: a random bitmap made of runs, so that long runs (across
 * words) and short gaps both occur. */
static void fill_random(struct bm *b, uint64_t *rng)
{
    bm_init(b);
    size_t i = 0;
    bool v = rng_next(rng) & 1;
    while (i < NBITS) {
        uint64_t r = rng_next(rng);
        size_t len = (r & 3) == 0 ? 1 + (size_t)((r >> 8) % 150) : 1 + (size_t)((r >> 8) % 6);
        if (len > NBITS - i)
            len = NBITS - i;
        if (v)
            bits_set_range(words(b), i, len);
        for (size_t k = i; k < i + len; k++)
            b->model[k] = v;
        i += len;
        v = !v;
    }
    bm_check(b);
}

/* The queries agree with the model on random bitmaps and random ranges. */
static void test_queries_random(void **state)
{
    (void)state;
    struct bm b;
    uint64_t rng = 0xfeedfacecafebeefULL;
    for (int map = 0; map < 300; map++) {
        fill_random(&b, &rng);
        const uint64_t *w = words(&b);
        for (int q = 0; q < 100; q++) {
            size_t from = pick(&rng, 0, NBITS);
            size_t end = pick(&rng, from, NBITS);
            assert_int_equal(bits_count_range(w, from, end - from),
                             model_count(b.model, from, end - from));
            assert_int_equal(bits_next_set(w, from, end), model_next(b.model, from, end, true));
            assert_int_equal(bits_next_clear(w, from, end), model_next(b.model, from, end, false));
            assert_int_equal(bits_trailing_run(w, end), model_trailing(b.model, end));
            size_t n = 1 + (size_t)(rng_next(&rng) % ((rng_next(&rng) & 1) ? 8 : 200));
            size_t got = bits_find_run(w, from, end, n);
            size_t want = model_find_run(b.model, from, end, n);
            if (got != want)
                fail_msg("find_run(from=%zu, end=%zu, n=%zu) = %zu, model %zu (map %d)", from, end,
                         n, got, want, map);
        }
        bm_check(&b); /* the queries are pure */
    }
}

/* All-ones and all-zeros bitmaps: the answers at the extremes. */
static void test_full_and_empty(void **state)
{
    (void)state;
    struct bm b;
    bm_init(&b);
    const uint64_t *w = words(&b);
    assert_int_equal(bits_next_set(w, 0, NBITS), NBITS);
    assert_int_equal(bits_next_clear(w, 0, NBITS), 0);
    assert_int_equal(bits_find_run(w, 0, NBITS, 1), NBITS);
    assert_int_equal(bits_trailing_run(w, NBITS), 0);
    assert_int_equal(bits_trailing_run(w, 0), 0);

    bits_set_range(words(&b), 0, NBITS);
    for (size_t i = 0; i < NBITS; i++)
        b.model[i] = true;
    bm_check(&b);
    assert_int_equal(bits_count_range(w, 0, NBITS), NBITS);
    assert_int_equal(bits_next_clear(w, 0, NBITS), NBITS);
    assert_int_equal(bits_next_set(w, 5, NBITS), 5);
    assert_int_equal(bits_find_run(w, 0, NBITS, NBITS), 0);
    assert_int_equal(bits_find_run(w, 1, NBITS, NBITS), NBITS); /* does not fit after 1 */
    assert_int_equal(bits_find_run(w, 64, NBITS, NBITS - 64), 64);
    for (size_t end = 0; end <= NBITS; end++)
        assert_int_equal(bits_trailing_run(w, end), end);
    /* A run must end by `end`, even when the bitmap goes on being set. */
    assert_int_equal(bits_find_run(w, 0, 100, 101), 100);
    assert_int_equal(bits_find_run(w, 0, 100, 100), 0);
    /* next_* never report beyond `end` even when the word has bits there. */
    bits_clear_range(words(&b), 70, 1);
    assert_int_equal(bits_next_clear(w, 0, 70), 70);
    assert_int_equal(bits_next_clear(w, 0, 71), 70);
    assert_int_equal(bits_next_clear(w, 71, 130), 130);
}

/* trailing_run stops exactly at a clear bit in each position of a word
 * and carries across whole set words. */
static void test_trailing_run_boundaries(void **state)
{
    (void)state;
    struct bm b;
    for (size_t hole = 0; hole < NBITS; hole++) {
        bm_init(&b);
        bits_set_range(words(&b), 0, NBITS);
        bits_clear_range(words(&b), hole, 1);
        assert_int_equal(bits_trailing_run(words(&b), NBITS), NBITS - hole - 1);
        assert_int_equal(bits_trailing_run(words(&b), hole), hole);
        assert_int_equal(bits_trailing_run(words(&b), hole + 1), 0);
        assert_int_equal(bits_count_range(words(&b), 0, NBITS), NBITS - 1);
        assert_int_equal(bits_next_clear(words(&b), 0, NBITS), hole);
    }
}

/* bits_popcount64 (the inline count the sweeper and bits_count_range
 * use instead of a libgcc call) agrees with a bit-by-bit count on every
 * single bit, all-ones, alternating patterns, and pseudo-random words. */
static unsigned naive_popcount(uint64_t x)
{
    unsigned n = 0;
    for (unsigned i = 0; i < 64; i++)
        n += (unsigned)((x >> i) & 1);
    return n;
}

static void test_popcount64(void **state)
{
    (void)state;
    assert_int_equal(bits_popcount64(0), 0);
    assert_int_equal(bits_popcount64(~(uint64_t)0), 64);
    assert_int_equal(bits_popcount64(0x5555555555555555u), 32);
    assert_int_equal(bits_popcount64(0xaaaaaaaaaaaaaaaau), 32);
    assert_int_equal(bits_popcount64(0xff000000000000ffu), 16);
    for (unsigned i = 0; i < 64; i++) {
        assert_int_equal(bits_popcount64((uint64_t)1 << i), 1);
        assert_int_equal(bits_popcount64(~((uint64_t)1 << i)), 63);
        assert_int_equal(bits_popcount64(~(uint64_t)0 >> i), 64 - i);
    }
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        assert_int_equal(bits_popcount64(x), naive_popcount(x));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_clear_random),
        cmocka_unit_test(test_empty_ranges),
        cmocka_unit_test(test_exhaustive_small_ranges),
        cmocka_unit_test(test_queries_random),
        cmocka_unit_test(test_full_and_empty),
        cmocka_unit_test(test_trailing_run_boundaries),
        cmocka_unit_test(test_popcount64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
