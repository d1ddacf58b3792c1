/*
 * test_sizeclasses.c - checks the generated size-class tables.
 * Subject: alloc/sizeclasses.{h,c}, written by scripts/mksizeclasses.py.
 * Go counterpart: internal/runtime/gc/sizeclasses.go (the published table).
 *
 * Owns: nothing in the library; it only reads the const tables.
 * What it proves:
 *   - the tables equal Go's published table, copied into this file from
 *     shared/spec/go-runtime.md section 9 (never from the generator);
 *   - the size->class lookup gives, for every size 1..MAX_SMALL_SIZE, the
 *     smallest class that can hold it (brute force);
 *   - the generator's invariants S1-S5 (see the script's opening comment)
 *     hold in the compiled data.
 * Size 0: the lookup maps it to class 0 ("no class"). The allocator must
 * answer size-0 requests before it looks up a class, as Go returns its
 * zero-size sentinel; test_size_zero_maps_to_no_class pins that contract.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sizeclasses.h"

#define PAGE_BYTES ((size_t)1 << SC_PAGE_SHIFT)
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* One row of Go's table (spec section 9.1), copied from the spec. */
struct go_class {
    unsigned cls;
    unsigned size;      /* bytes/obj */
    unsigned span;      /* bytes/span */
    unsigned objects;
    unsigned tail;      /* tail waste in bytes */
    uint32_t divmagic;
};

static const struct go_class go_table[] = {
    /* class  bytes/obj  bytes/span  objects  tail  div magic */
    {  1,     8,  8192, 1024,   0, 536870912},
    {  2,    16,  8192,  512,   0, 268435456},
    {  3,    24,  8192,  341,   8, 178956971},
    {  4,    32,  8192,  256,   0, 134217728},
    {  5,    48,  8192,  170,  32,  89478486},
    {  6,    64,  8192,  128,   0,  67108864},
    {  7,    80,  8192,  102,  32,  53687092},
    {  8,    96,  8192,   85,  32,  44739243},
    {  9,   112,  8192,   73,  16,  38347923},
    { 10,   128,  8192,   64,   0,  33554432},
    { 11,   144,  8192,   56, 128,  29826162},
    { 12,   160,  8192,   51,  32,  26843546},
    { 13,   176,  8192,   46,  96,  24403224},
    { 14,   192,  8192,   42, 128,  22369622},
    { 15,   208,  8192,   39,  80,  20648882},
    { 16,   224,  8192,   36, 128,  19173962},
    { 17,   240,  8192,   34,  32,  17895698},
    { 18,   256,  8192,   32,   0,  16777216},
    { 19,   288,  8192,   28, 128,  14913081},
    { 20,   320,  8192,   25, 192,  13421773},
    { 21,   352,  8192,   23,  96,  12201612},
    { 22,   384,  8192,   21, 128,  11184811},
    { 23,   416,  8192,   19, 288,  10324441},
    { 24,   448,  8192,   18, 128,   9586981},
    { 25,   480,  8192,   17,  32,   8947849},
    { 26,   512,  8192,   16,   0,   8388608},
    { 27,   576,  8192,   14, 128,   7456541},
    { 28,   640,  8192,   12, 512,   6710887},
    { 29,   704,  8192,   11, 448,   6100806},
    { 30,   768,  8192,   10, 512,   5592406},
    { 31,   896,  8192,    9, 128,   4793491},
    { 32,  1024,  8192,    8,   0,   4194304},
    { 33,  1152,  8192,    7, 128,   3728271},
    { 34,  1280,  8192,    6, 512,   3355444},
    { 35,  1408, 16384,   11, 896,   3050403},
    { 36,  1536,  8192,    5, 512,   2796203},
    { 37,  1792, 16384,    9, 256,   2396746},
    { 38,  2048,  8192,    4,   0,   2097152},
    { 39,  2304, 16384,    7, 256,   1864136},
    { 40,  2688,  8192,    3, 128,   1597831},
    { 41,  3072, 24576,    8,   0,   1398102},
    { 42,  3200, 16384,    5, 384,   1342178},
    { 43,  3456, 24576,    7, 384,   1242757},
    { 44,  4096,  8192,    2,   0,   1048576},
    { 45,  4864, 24576,    5, 256,    883012},
    { 46,  5376, 16384,    3, 256,    798916},
    { 47,  6144, 24576,    4,   0,    699051},
    { 48,  6528, 32768,    5, 128,    657931},
    { 49,  6784, 40960,    6, 256,    633103},
    { 50,  6912, 49152,    7, 768,    621379},
    { 51,  8192,  8192,    1,   0,    524288},
    { 52,  9472, 57344,    6, 512,    453439},
    { 53,  9728, 49152,    5, 512,    441506},
    { 54, 10240, 40960,    4,   0,    419431},
    { 55, 10880, 32768,    3, 128,    394759},
    { 56, 12288, 24576,    2,   0,    349526},
    { 57, 13568, 40960,    3, 256,    316552},
    { 58, 14336, 57344,    4,   0,    299594},
    { 59, 16384, 16384,    1,   0,    262144},
    { 60, 18432, 73728,    4,   0,    233017},
    { 61, 19072, 57344,    3, 128,    225198},
    { 62, 20480, 40960,    2,   0,    209716},
    { 63, 21760, 65536,    3, 256,    197380},
    { 64, 24576, 24576,    1,   0,    174763},
    { 65, 27264, 81920,    3, 128,    157533},
    { 66, 28672, 57344,    2,   0,    149797},
    { 67, 32768, 32768,    1,   0,    131072},
};

/* size_to_class8, 129 entries, from the spec */
static const uint8_t spec_size_to_class8[] = {
    0, 1, 2, 3, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10,
    10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 16, 17, 17, 18,
    18, 19, 19, 19, 19, 20, 20, 20, 20, 21, 21, 21, 21, 22, 22, 22,
    22, 23, 23, 23, 23, 24, 24, 24, 24, 25, 25, 25, 25, 26, 26, 26,
    26, 27, 27, 27, 27, 27, 27, 27, 27, 28, 28, 28, 28, 28, 28, 28,
    28, 29, 29, 29, 29, 29, 29, 29, 29, 30, 30, 30, 30, 30, 30, 30,
    30, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
    32,
};

/* size_to_class128, 249 entries, from the spec */
static const uint8_t spec_size_to_class128[] = {
    32, 33, 34, 35, 36, 37, 37, 38, 38, 39, 39, 40, 40, 40, 41, 41,
    41, 42, 43, 43, 44, 44, 44, 44, 44, 45, 45, 45, 45, 45, 45, 46,
    46, 46, 46, 47, 47, 47, 47, 47, 47, 48, 48, 48, 49, 49, 50, 51,
    51, 51, 51, 51, 51, 51, 51, 51, 51, 52, 52, 52, 52, 52, 52, 52,
    52, 52, 52, 53, 53, 54, 54, 54, 54, 55, 55, 55, 55, 55, 56, 56,
    56, 56, 56, 56, 56, 56, 56, 56, 56, 57, 57, 57, 57, 57, 57, 57,
    57, 57, 57, 58, 58, 58, 58, 58, 58, 59, 59, 59, 59, 59, 59, 59,
    59, 59, 59, 59, 59, 59, 59, 59, 59, 60, 60, 60, 60, 60, 60, 60,
    60, 60, 60, 60, 60, 60, 60, 60, 60, 61, 61, 61, 61, 61, 62, 62,
    62, 62, 62, 62, 62, 62, 62, 62, 62, 63, 63, 63, 63, 63, 63, 63,
    63, 63, 63, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 67, 67, 67, 67, 67, 67, 67,
    67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67,
    67, 67, 67, 67, 67, 67, 67, 67, 67,
};

/* class_to_allocnpages from spec section 9.2 */
static const uint8_t spec_allocnpages[] = {
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3,
    4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4,
};

/* size_class: the allocator's lookup, restated for the test.
 * Valid for 0 <= size <= MAX_SMALL_SIZE. The second index is computed in
 * size_t on purpose: for 1017..1024, size - SMALL_SIZE_MAX wraps and the
 * +127 brings it back to a value below 128, i.e. index 0. */
static unsigned size_class(size_t size)
{
    if (size <= SMALL_SIZE_MAX - 8)
        return gchi_size_to_class8[(size + SMALL_SIZE_DIV - 1) / SMALL_SIZE_DIV];
    return gchi_size_to_class128[(size - SMALL_SIZE_MAX + LARGE_SIZE_DIV - 1) /
                                 LARGE_SIZE_DIV];
}

/* smallest_fit: brute-force answer, the first class whose size >= size. */
static unsigned smallest_fit(size_t size)
{
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++)
        if (gchi_class_to_size[c] >= size)
            return c;
    return 0;
}

static void test_constants(void **state)
{
    (void)state;
    assert_int_equal(NUM_SIZE_CLASSES, 68);
    assert_int_equal(MAX_SMALL_SIZE, 32768);
    assert_int_equal(TINY_SIZE, 16);
    assert_int_equal(SMALL_SIZE_DIV, 8);
    assert_int_equal(SMALL_SIZE_MAX, 1024);
    assert_int_equal(LARGE_SIZE_DIV, 128);
    assert_int_equal(PAGE_BYTES, 8192);
    assert_int_equal(COUNT_OF(gchi_size_to_class8), 129);
    assert_int_equal(COUNT_OF(gchi_size_to_class128), 249);
    assert_int_equal(gchi_class_to_size[NUM_SIZE_CLASSES - 1], MAX_SMALL_SIZE);
}

/* Class 0 is the large-object marker: every per-class table holds 0. */
static void test_class_zero_is_empty(void **state)
{
    (void)state;
    assert_int_equal(gchi_class_to_size[0], 0);
    assert_int_equal(gchi_class_to_allocnpages[0], 0);
    assert_int_equal(gchi_class_to_nelems[0], 0);
    assert_int_equal(gchi_class_to_divmagic[0], 0);
}

static void test_matches_go_table(void **state)
{
    (void)state;
    assert_int_equal(COUNT_OF(go_table), NUM_SIZE_CLASSES - 1);
    for (size_t i = 0; i < COUNT_OF(go_table); i++) {
        const struct go_class *g = &go_table[i];
        unsigned c = g->cls;
        size_t span = gchi_class_to_allocnpages[c] * PAGE_BYTES;
        assert_int_equal(c, i + 1);
        assert_int_equal(gchi_class_to_size[c], g->size);
        assert_int_equal(span, g->span);
        assert_int_equal(gchi_class_to_nelems[c], g->objects);
        assert_int_equal(span - (size_t)gchi_class_to_nelems[c] * g->size, g->tail);
        assert_int_equal(gchi_class_to_divmagic[c], g->divmagic);
    }
}

static void test_allocnpages_match_spec(void **state)
{
    (void)state;
    assert_int_equal(COUNT_OF(spec_allocnpages), NUM_SIZE_CLASSES);
    assert_memory_equal(gchi_class_to_allocnpages, spec_allocnpages,
                        sizeof spec_allocnpages);
}

static void test_size_to_class8_matches_spec(void **state)
{
    (void)state;
    assert_int_equal(COUNT_OF(spec_size_to_class8), COUNT_OF(gchi_size_to_class8));
    for (size_t i = 0; i < COUNT_OF(spec_size_to_class8); i++)
        assert_int_equal(gchi_size_to_class8[i], spec_size_to_class8[i]);
}

static void test_size_to_class128_matches_spec(void **state)
{
    (void)state;
    assert_int_equal(COUNT_OF(spec_size_to_class128), COUNT_OF(gchi_size_to_class128));
    for (size_t i = 0; i < COUNT_OF(spec_size_to_class128); i++)
        assert_int_equal(gchi_size_to_class128[i], spec_size_to_class128[i]);
}

/* Every small size, both lookup branches, against the brute-force answer. */
static void test_lookup_every_size(void **state)
{
    (void)state;
    for (size_t size = 1; size <= MAX_SMALL_SIZE; size++) {
        unsigned c = size_class(size);
        assert_int_equal(c, smallest_fit(size));
        assert_true(c >= 1 && c < NUM_SIZE_CLASSES);
        assert_true(gchi_class_to_size[c] >= size);
    }
}

/* The 1017..1024 sizes go through the wrapped index of the 128 table. */
static void test_lookup_wrap_boundary(void **state)
{
    (void)state;
    assert_int_equal(size_class(896), 31);
    assert_int_equal(size_class(1016), 32);   /* last size the 8-byte table serves */
    for (size_t size = 1017; size <= 1024; size++) {
        assert_int_equal((size - SMALL_SIZE_MAX + LARGE_SIZE_DIV - 1) / LARGE_SIZE_DIV, 0);
        assert_int_equal(size_class(size), 32);
    }
    assert_int_equal(size_class(1025), 33);
}

static void test_size_zero_maps_to_no_class(void **state)
{
    (void)state;
    assert_int_equal(size_class(0), 0);
    assert_int_equal(gchi_class_to_size[size_class(0)], 0);
}

static void test_sizes_increase_in_steps_of_8(void **state)
{
    (void)state;
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
        assert_true(gchi_class_to_size[c] > gchi_class_to_size[c - 1]);
        assert_int_equal(gchi_class_to_size[c] % 8, 0);
    }
}

/* S3: what a span cannot use after its last object is at most 1/8. */
static void test_tail_waste_at_most_one_eighth(void **state)
{
    (void)state;
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
        size_t span = gchi_class_to_allocnpages[c] * PAGE_BYTES;
        size_t tail = span % gchi_class_to_size[c];
        assert_true(gchi_class_to_allocnpages[c] >= 1);
        assert_true(tail * 8 <= span);
    }
}

static void test_nelems_fill_span(void **state)
{
    (void)state;
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
        size_t span = gchi_class_to_allocnpages[c] * PAGE_BYTES;
        assert_int_equal(gchi_class_to_nelems[c], span / gchi_class_to_size[c]);
    }
}

/* Generator rules, seen from the output: neighbours never share both page
 * count and object count (they would have merged), and no class could grow
 * to a larger multiple of LARGE_SIZE_DIV without losing an object. */
static void test_merge_and_raise_rules(void **state)
{
    (void)state;
    for (unsigned c = 2; c < NUM_SIZE_CLASSES; c++)
        assert_false(gchi_class_to_allocnpages[c] == gchi_class_to_allocnpages[c - 1] &&
                     gchi_class_to_nelems[c] == gchi_class_to_nelems[c - 1]);
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
        size_t span = gchi_class_to_allocnpages[c] * PAGE_BYTES;
        size_t widest = (span / gchi_class_to_nelems[c]) & ~(size_t)(LARGE_SIZE_DIV - 1);
        assert_true(widest <= gchi_class_to_size[c]);
    }
}

/* S4: the magic reciprocal gives the exact slot index for every byte
 * offset in a span, end included, which is what object lookup relies on. */
static void test_divmagic_exact_over_span(void **state)
{
    (void)state;
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
        uint32_t size = gchi_class_to_size[c];
        uint32_t magic = gchi_class_to_divmagic[c];
        uint32_t span = (uint32_t)(gchi_class_to_allocnpages[c] * PAGE_BYTES);
        assert_int_equal(magic, UINT32_MAX / size + 1);
        for (uint32_t n = 0; n <= span; n++) {
            uint32_t q = (uint32_t)(((uint64_t)n * magic) >> 32);
            if (q != n / size)
                fail_msg("class %u: offset %u gives %u, want %u", c, n, q, n / size);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_class_zero_is_empty),
        cmocka_unit_test(test_matches_go_table),
        cmocka_unit_test(test_allocnpages_match_spec),
        cmocka_unit_test(test_size_to_class8_matches_spec),
        cmocka_unit_test(test_size_to_class128_matches_spec),
        cmocka_unit_test(test_lookup_every_size),
        cmocka_unit_test(test_lookup_wrap_boundary),
        cmocka_unit_test(test_size_zero_maps_to_no_class),
        cmocka_unit_test(test_sizes_increase_in_steps_of_8),
        cmocka_unit_test(test_tail_waste_at_most_one_eighth),
        cmocka_unit_test(test_nelems_fill_span),
        cmocka_unit_test(test_merge_and_raise_rules),
        cmocka_unit_test(test_divmagic_exact_over_span),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
