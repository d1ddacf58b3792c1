/*
 * test_typeinfo.c - the type information recorded for scan objects.
 * Subject: malloc_typed and its helpers in alloc/malloc.c, span_typebits
 * and span_slot_has_header in alloc/mspan.h ("Type information of scan
 * objects", invariants Y1 and Y2), gch_usable_size in gc/proc.c.
 * Go counterpart: mbitmap.go (heapBitsInSpan, malloc headers), the
 * heapSetType calls of mallocgcSmallScanNoHeader / ...Header / Large.
 *
 * What it proves, reading the internal structures directly:
 *   - mask types of 1..64 words (<= 512 bytes): the slot's word bits are
 *     exactly the mask's (bits past the object clear), its header bit is
 *     clear, and no neighbouring slot's bits change (neighbours carry the
 *     complementary mask), also for slots that straddle two 64-bit words
 *     of the bitmap (classes of 24, 48, 80 bytes);
 *   - arrays (gch_alloc_array): the element mask repeated per element;
 *   - trace-callback types of any small size, and mask types over 512
 *     bytes: the class of size + 8, the gch_type pointer in the last word
 *     of the slot, the header bit set when the slot has heap bits (<= 512
 *     bytes), no heap bits otherwise, gch_usable_size == slot - 8, the
 *     object at its slot's start; an array whose slot would leave room
 *     for a whole element more records its size too (Y3: the class of
 *     size + 16, usable slot - 16);
 *   - 32760 bytes is the largest scan object with a header; 32761 and more
 *     are large objects whose span holds the type (largetype);
 *   - a slot reused by an object of another kind gets the new kind's
 *     header bit and word bits, all clear for a headered object (also
 *     with a recycled typebits record);
 *   - noscan spans and scan spans of classes over 512 bytes have no
 *     typebits; scan spans of classes up to 512 bytes have them.
 */
#include "testutil.h"
#include "mheap.h"
#include "mspan.h"
#include "msize.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static struct mspan *span_of(gch_heap *h, const void *p)
{
    struct mspan *s = mheap_span_of_heap(&h->mheap, (uintptr_t)p);
    assert_non_null(s);
    return s;
}

static bool word_bit(const struct mspan *s, size_t w)
{
    return (s->typebits->words[w / 64] >> (w % 64)) & 1;
}

/* slot_bits: the heap bits of the slot holding p (<= 64 words), bit 0 =
 * the slot's first word; read bit by bit, independent of the writer. */
static uint64_t slot_bits(const struct mspan *s, const void *p)
{
    size_t w0 = ((uintptr_t)p - s->start) / 8, n = s->elemsize / 8;
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++)
        if (word_bit(s, w0 + i))
            bits |= (uint64_t)1 << i;
    return bits;
}

static size_t slot_index(const struct mspan *s, const void *p)
{
    return ((uintptr_t)p - s->start) / s->elemsize;
}

static bool hdr_bit(const struct mspan *s, const void *p)
{
    size_t i = slot_index(s, p);
    return (s->typebits->hdr[i / 64] >> (i % 64)) & 1;
}

/* header_of: the type the header names (bit 0 flags a sized header, Y3). */
static const gch_type *header_of(const struct mspan *s, const void *p)
{
    uintptr_t word;
    memcpy(&word, (const char *)p + s->elemsize - 8, sizeof word);
    return (const gch_type *)(word & ~(uintptr_t)1);
}

/* header_sized: the header records the object's size (Y3). */
static bool header_sized(const struct mspan *s, const void *p)
{
    uintptr_t word;
    memcpy(&word, (const char *)p + s->elemsize - 8, sizeof word);
    return (word & 1) != 0;
}

static bool mask_bit(const uint8_t *mask, size_t i) { return (mask[i / 8] >> (i % 8)) & 1; }

/* expected_bits: the pointer bits of n elements of ty (a mask type whose
 * size is a multiple of 8) over a slot of slot_words words. */
static uint64_t expected_bits(const gch_type *ty, size_t n, size_t slot_words)
{
    size_t ew = ty->size / 8, words = ew * n;
    uint64_t bits = 0;
    for (size_t w = 0; w < words && w < slot_words; w++)
        if (mask_bit(ty->ptrmask, w % ew))
            bits |= (uint64_t)1 << w;
    return bits;
}

/* A mask type and its complement (same size, every word flipped). */
struct mask_pair {
    uint8_t mask[8], inv[8];
    gch_type ty, cty;
};

static void make_pair(struct mask_pair *mp, size_t size, const uint8_t *mask)
{
    size_t words = size / 8;
    memset(mp, 0, sizeof *mp);
    memcpy(mp->mask, mask, (words + 7) / 8);
    for (size_t w = 0; w < words; w++)
        if (!mask_bit(mask, w))
            mp->inv[w / 8] |= (uint8_t)(1u << (w % 8));
    mp->ty = (gch_type){"mask", size, mp->mask, NULL};
    mp->cty = (gch_type){"inverse", size, mp->inv, NULL};
}

/*
 * check_alternating: allocate n objects (arrays of `elems` elements when
 * elems > 0), alternating a mask type and its complement, then check
 * every slot: its class, its bits (exactly the mask's, nothing past the
 * object), its header bit clear.  Checking after all allocations shows
 * that no write touched a neighbour.  Returns the number of checked
 * slots that straddle two bitmap words.
 */
static size_t check_alternating(struct fixture *f, const struct mask_pair *mp, size_t elems,
                                size_t n)
{
    size_t bytes = mp->ty.size * (elems ? elems : 1);
    assert_true(bytes <= 512);
    unsigned sc = size_to_class(bytes);
    void **objs = calloc(n, sizeof *objs);
    assert_non_null(objs);
    for (size_t i = 0; i < n; i++) {
        const gch_type *ty = i % 2 ? &mp->cty : &mp->ty;
        objs[i] = elems ? gch_alloc_array(f->t, ty, elems) : gch_alloc(f->t, ty);
        assert_non_null(objs[i]);
    }
    size_t straddling = 0;
    for (size_t i = 0; i < n; i++) {
        const gch_type *ty = i % 2 ? &mp->cty : &mp->ty;
        struct mspan *s = span_of(f->h, objs[i]);
        assert_int_equal(s->spanclass, make_spanclass(sc, false));
        assert_non_null(s->typebits);
        assert_int_equal(((uintptr_t)objs[i] - s->start) % s->elemsize, 0);
        size_t sw = s->elemsize / 8;
        uint64_t want = expected_bits(ty, elems ? elems : 1, sw);
        uint64_t got = slot_bits(s, objs[i]);
        if (got != want)
            fail_msg("%zu bytes (%zu elements), object %zu: bits %#llx, expected %#llx", bytes,
                     elems, i, (unsigned long long)got, (unsigned long long)want);
        assert_false(hdr_bit(s, objs[i]));
        assert_false(span_slot_has_header(s, (uintptr_t)objs[i]));
        assert_int_equal(gch_usable_size(f->h, objs[i]), s->elemsize);
        size_t w0 = ((uintptr_t)objs[i] - s->start) / 8;
        straddling += w0 / 64 != (w0 + sw - 1) / 64;
    }
    free(objs);
    return straddling;
}

/* ---- mask types up to 512 bytes ----------------------------------------- */

static void test_mask_bits_of_single_objects(void **state)
{
    struct fixture *f = *state;
    static const struct {
        size_t size;
        uint8_t mask[8];
    } cases[] = {
        {8, {0x01}},                                            /* 1 word */
        {16, {0x02}},                                           /* second word */
        {24, {0x05}},                                           /* first and last */
        {40, {0x1b}},                                           /* 5 words in 48 */
        {48, {0x21}},                                           /* first and last */
        {64, {0x55}},                                           /* alternating */
        {80, {0xaa, 0x02}},                                     /* alternating, odd */
        {100, {0xff, 0xff}},       /* 12 words in 14: mask bits 12..15 ignored */
        {128, {0x01, 0x80}},                                    /* first/last of 16 */
        {256, {0x55, 0x55, 0x55, 0x55}},                        /* 32 words */
        {384, {0x01, 0, 0, 0, 0, 0x80}},                        /* 48 words */
        {504, {0xff, 0x00, 0xff, 0x00, 0xff, 0x00, 0xff, 0x7f}}, /* 63 words in 64 */
        {512, {0x01, 0, 0, 0, 0, 0, 0, 0x80}},                  /* 64 words */
        {512, {0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55}},
        {512, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
    };
    for (size_t i = 0; i < COUNT_OF(cases); i++) {
        struct mask_pair mp;
        make_pair(&mp, cases[i].size, cases[i].mask);
        size_t nelems = gchi_class_to_nelems[size_to_class(cases[i].size)];
        /* more than a span: slots at both ends of a span, and a refill */
        check_alternating(f, &mp, 0, nelems + 7);
    }
}

/* The 100-byte object's slot has 14 words: its mask covers 16 bits of
 * which only 12 are words of the object. */
static void test_mask_bits_stop_at_the_object(void **state)
{
    struct fixture *f = *state;
    static const uint8_t ones[2] = {0xff, 0xff};
    const gch_type ty = {"t100", 100, ones, NULL};
    void *p = gch_alloc(f->t, &ty);
    assert_non_null(p);
    struct mspan *s = span_of(f->h, p);
    assert_int_equal(s->elemsize, 112);
    assert_int_equal(slot_bits(s, p), 0xfff);
}

/* Slots crossing a 64-bit word of the bitmap: 3, 6 and 10 words per slot. */
static void test_mask_bits_straddle_bitmap_words(void **state)
{
    struct fixture *f = *state;
    static const struct {
        size_t size;
        uint8_t mask[2];
    } cases[] = {{24, {0x05}}, {48, {0x2d}}, {80, {0x01, 0x02}}, {48, {0x3f}}};
    for (size_t i = 0; i < COUNT_OF(cases); i++) {
        struct mask_pair mp;
        make_pair(&mp, cases[i].size, cases[i].mask);
        size_t nelems = gchi_class_to_nelems[size_to_class(cases[i].size)];
        size_t straddling = check_alternating(f, &mp, 0, 2 * nelems);
        if (straddling < 2)
            fail_msg("%zu bytes: only %zu straddling slots checked", cases[i].size, straddling);
    }
}

/* ---- arrays ---------------------------------------------------------------- */

static void test_array_bits_repeat_the_element_mask(void **state)
{
    struct fixture *f = *state;
    static const uint8_t ptr_int[1] = {0x1}; /* {void *, int64} */
    static const uint8_t ptr_int_ptr[1] = {0x5}; /* {void *, int64, void *} */
    static const size_t counts[] = {1, 2, 3, 5, 7, 8, 16, 31, 32};
    for (size_t i = 0; i < COUNT_OF(counts); i++) {
        struct mask_pair mp;
        make_pair(&mp, 16, ptr_int);
        size_t nelems = gchi_class_to_nelems[size_to_class(16 * counts[i])];
        check_alternating(f, &mp, counts[i], nelems + 3);
    }
    static const size_t counts3[] = {1, 2, 5, 10, 21};
    for (size_t i = 0; i < COUNT_OF(counts3); i++) {
        struct mask_pair mp;
        make_pair(&mp, 24, ptr_int_ptr);
        size_t nelems = gchi_class_to_nelems[size_to_class(24 * counts3[i])];
        check_alternating(f, &mp, counts3[i], nelems + 3);
    }
    /* a spot check against a literal: 3 pairs in the 48-byte class */
    const gch_type pair = {"pair", 16, ptr_int, NULL};
    void *p = gch_alloc_array(f->t, &pair, 3);
    struct mspan *s = span_of(f->h, p);
    assert_int_equal(s->elemsize, 48);
    assert_int_equal(slot_bits(s, p), 0x15); /* 010101 */
    /* 5 triples: 120 bytes in the 128-byte class, the last word clear */
    const gch_type triple = {"triple", 24, ptr_int_ptr, NULL};
    p = gch_alloc_array(f->t, &triple, 5);
    s = span_of(f->h, p);
    assert_int_equal(s->elemsize, 128);
    assert_int_equal(slot_bits(s, p), 0x5b6d); /* 101 101 101 101 101 */
    /* 33 pairs (528 bytes) are over 512: a header naming the element type;
     * the 576-byte slot has room for two more pairs, so the header also
     * records the size (Y3): 16 bytes of header */
    p = gch_alloc_array(f->t, &pair, 33);
    s = span_of(f->h, p);
    assert_int_equal(s->spanclass, make_spanclass(size_to_class(544), false));
    assert_int_equal(s->elemsize, 576);
    assert_null(s->typebits);
    assert_ptr_equal(header_of(s, p), &pair);
    assert_true(header_sized(s, p));
    uint64_t recorded;
    memcpy(&recorded, (const char *)p + s->elemsize - 16, 8);
    assert_int_equal(recorded, 528);
    assert_int_equal(gch_usable_size(f->h, p), s->elemsize - 16);
    /* 35 pairs (560 bytes) leave less than a pair: an 8-byte header */
    p = gch_alloc_array(f->t, &pair, 35);
    s = span_of(f->h, p);
    assert_int_equal(s->elemsize, 576);
    assert_false(header_sized(s, p));
    assert_int_equal(gch_usable_size(f->h, p), s->elemsize - 8);
}

/* ---- type headers ------------------------------------------------------------ */

static void trace_nothing(gch_visitor *v, void *obj, size_t size)
{
    (void)v;
    (void)obj;
    (void)size;
}

/* check_header_object: p, an object of ty (size bytes), has a header. */
static void check_header_object(struct fixture *f, const void *p, const gch_type *ty, size_t size)
{
    struct mspan *s = span_of(f->h, p);
    unsigned sc = size_to_class(size + 8);
    if (size > 8 && size <= 16)
        sc = size_to_class(32); /* 16-aligned (gcheap.h), not the 24-byte class */
    assert_int_equal(s->spanclass, make_spanclass(sc, false));
    assert_int_equal(s->elemsize, gchi_class_to_size[sc]);
    assert_int_equal(((uintptr_t)p - s->start) % s->elemsize, 0); /* object at its slot */
    assert_ptr_equal(header_of(s, p), ty);
    assert_true(span_slot_has_header(s, (uintptr_t)p));
    if (s->elemsize <= 512) {
        assert_non_null(s->typebits);
        assert_true(hdr_bit(s, p));
    } else {
        assert_null(s->typebits);
    }
    assert_int_equal(gch_usable_size(f->h, p), s->elemsize - 8);
    assert_true(gch_usable_size(f->h, p) >= size);
    assert_true(mem_all(p, 0, s->elemsize - 8));
    /* the header word belongs to the object */
    assert_ptr_equal(gch_object_base(f->h, (const char *)p + s->elemsize - 1), p);
    assert_ptr_equal(gch_object_base(f->h, (const char *)p + s->elemsize - 8), p);
}

static void test_trace_types_carry_a_header(void **state)
{
    struct fixture *f = *state;
    static const size_t sizes[] = {8, 16, 100, 504, 505, 600};
    for (size_t i = 0; i < COUNT_OF(sizes); i++) {
        const gch_type ty = {"traced", sizes[i], NULL, trace_nothing};
        /* a mask object of the same class next to each traced object:
         * its header bit stays clear, its bits stay set */
        size_t sc = size_to_class(sizes[i] + 8);
        if (sizes[i] > 8 && sizes[i] <= 16)
            sc = size_to_class(32); /* 16-aligned (gcheap.h), not the 24-byte class */
        size_t slot = gchi_class_to_size[sc];
        static const uint8_t ones[64] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        size_t msize = slot <= 512 ? slot : slot - 8;
        const gch_type masked = {"masked", msize, ones, NULL};
        enum { N = 40 };
        void *tr[N], *mk[N];
        for (int k = 0; k < N; k++) {
            tr[k] = gch_alloc(f->t, &ty);
            assert_non_null(tr[k]);
            memset(tr[k], 0xEE, gch_usable_size(f->h, tr[k]));
            mk[k] = gch_alloc(f->t, &masked);
            assert_non_null(mk[k]);
        }
        for (int k = 0; k < N; k++) {
            struct mspan *ts = span_of(f->h, tr[k]), *ms = span_of(f->h, mk[k]);
            assert_int_equal(ts->spanclass, ms->spanclass); /* the same class */
            assert_ptr_equal(header_of(ts, tr[k]), &ty);
            assert_true(span_slot_has_header(ts, (uintptr_t)tr[k]));
            assert_int_equal(gch_usable_size(f->h, tr[k]), slot - 8);
            assert_true(mem_all(tr[k], 0xEE, slot - 8));
            if (slot <= 512) {
                assert_true(hdr_bit(ts, tr[k]));
                assert_false(hdr_bit(ms, mk[k]));
                assert_false(span_slot_has_header(ms, (uintptr_t)mk[k]));
                assert_int_equal(slot_bits(ms, mk[k]),
                                 slot / 8 == 64 ? ~(uint64_t)0 : ((uint64_t)1 << (slot / 8)) - 1);
                assert_int_equal(gch_usable_size(f->h, mk[k]), slot);
            } else {
                assert_ptr_equal(header_of(ms, mk[k]), &masked);
                assert_int_equal(gch_usable_size(f->h, mk[k]), slot - 8);
            }
        }
        /* a fresh one, checked in full */
        void *p = gch_alloc(f->t, &ty);
        check_header_object(f, p, &ty, sizes[i]);
    }
    /* 8 -> 16; 16 -> 32, not 24: a 16-byte object is 16-aligned (gcheap.h) */
    const gch_type t8 = {"t8", 8, NULL, trace_nothing};
    const gch_type t16 = {"t16", 16, NULL, trace_nothing};
    assert_int_equal(span_of(f->h, gch_alloc(f->t, &t8))->elemsize, 16);
    assert_int_equal(span_of(f->h, gch_alloc(f->t, &t16))->elemsize, 32);
    /* an array of a trace type: one header naming the element type */
    const gch_type t24 = {"t24", 24, NULL, trace_nothing};
    void *a = gch_alloc_array(f->t, &t24, 4);
    check_header_object(f, a, &t24, 96);
}

static void test_mask_types_over_512_bytes_carry_a_header(void **state)
{
    struct fixture *f = *state;
    static const uint8_t ones[MAX_SMALL_SIZE / 64] = {0xff};
    static const size_t sizes[] = {513, 600, 1400, 4000, 8184, 32760};
    for (size_t i = 0; i < COUNT_OF(sizes); i++) {
        const gch_type ty = {"big", sizes[i], ones, NULL};
        for (int k = 0; k < 3; k++) {
            void *p = gch_alloc(f->t, &ty);
            assert_non_null(p);
            check_header_object(f, p, &ty, sizes[i]);
        }
    }
    /* 512 bytes: heap bits, no header, the whole slot usable */
    const gch_type t512 = {"t512", 512, ones, NULL};
    void *p = gch_alloc(f->t, &t512);
    struct mspan *s = span_of(f->h, p);
    assert_int_equal(s->elemsize, 512);
    assert_non_null(s->typebits);
    assert_false(hdr_bit(s, p));
    assert_int_equal(gch_usable_size(f->h, p), 512);
    /* 600 -> 608 -> the 640-byte class; 4000 -> 4008 -> the 4096-byte one */
    const gch_type t600 = {"t600", 600, ones, NULL}, t4000 = {"t4000", 4000, ones, NULL};
    assert_int_equal(span_of(f->h, gch_alloc(f->t, &t600))->elemsize, 640);
    assert_int_equal(span_of(f->h, gch_alloc(f->t, &t4000))->elemsize, 4096);
    /* 4088 + 8 still fits 4096; 4089 + 8 does not */
    const gch_type t4088 = {"t4088", 4088, ones, NULL}, t4089 = {"t4089", 4089, ones, NULL};
    assert_int_equal(span_of(f->h, gch_alloc(f->t, &t4088))->elemsize, 4096);
    assert_true(span_of(f->h, gch_alloc(f->t, &t4089))->elemsize > 4096);
}

/* ---- large scan objects ------------------------------------------------------- */

static void check_large_typed(struct fixture *f, const gch_type *ty, size_t size, void *p)
{
    assert_non_null(p);
    struct mspan *s = span_of(f->h, p);
    size_t npages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
    assert_int_equal(s->spanclass, make_spanclass(0, false));
    assert_int_equal(s->start, (uintptr_t)p);
    assert_int_equal(s->npages, npages);
    assert_ptr_equal(s->largetype, ty);
    assert_null(s->typebits);
    assert_false(span_slot_has_header(s, (uintptr_t)p));
    assert_int_equal(gch_usable_size(f->h, p), npages * PAGE_SIZE);
    assert_true(mem_all(p, 0, npages * PAGE_SIZE));
}

static void test_header_limit_and_large_objects(void **state)
{
    struct fixture *f = *state;
    static const uint8_t ones[MAX_SMALL_SIZE / 64] = {0xff};
    /* 32760 + 8 = 32768: the last class, with a header */
    const gch_type t32760 = {"t32760", 32760, ones, NULL};
    void *p = gch_alloc(f->t, &t32760);
    check_header_object(f, p, &t32760, 32760);
    assert_int_equal(span_of(f->h, p)->spanclass, make_spanclass(NUM_SIZE_CLASSES - 1, false));
    assert_null(span_of(f->h, p)->largetype);
    /* 32761 and over: large */
    const gch_type t32761 = {"t32761", 32761, ones, NULL};
    check_large_typed(f, &t32761, 32761, gch_alloc(f->t, &t32761));
    const gch_type t100k = {"t100k", 100000, NULL, trace_nothing};
    check_large_typed(f, &t100k, 100000, gch_alloc(f->t, &t100k));
    const gch_type tr32761 = {"tr32761", 32761, NULL, trace_nothing};
    check_large_typed(f, &tr32761, 32761, gch_alloc(f->t, &tr32761));
    const gch_type tr32760 = {"tr32760", 32760, NULL, trace_nothing};
    check_header_object(f, gch_alloc(f->t, &tr32760), &tr32760, 32760);
    const gch_type word = {"word", 8, ones, NULL};
    check_large_typed(f, &word, 32768, gch_alloc_array(f->t, &word, 4096));
    /* an array of masks: 12500 words */
    void *a = gch_alloc_array(f->t, &word, 12500);
    check_large_typed(f, &word, 100000, a);
    /* a large noscan object has no type */
    void *n = gch_alloc_noscan(f->t, 100000);
    assert_null(span_of(f->h, n)->largetype);
    /* a large span reused by a noscan object forgets the type */
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gchi_free(f->t, a);
    void *b = gch_alloc_noscan(f->t, 100000);
    assert_ptr_equal(b, a);
    assert_null(span_of(f->h, b)->largetype);
}

/* ---- slot reuse ----------------------------------------------------------------- */

static void test_slot_reuse_rewrites_type_info(void **state)
{
    struct fixture *f = *state;
    const gch_type traced = {"traced", 8, NULL, trace_nothing}; /* 16-byte slots */
    static const uint8_t m01[1] = {0x1}, m10[1] = {0x2}, m11[1] = {0x3};
    const gch_type a = {"a", 16, m01, NULL}, b = {"b", 16, m10, NULL}, c = {"c", 16, m11, NULL};
    const unsigned sc = size_to_class(16);
    const uint32_t nelems = gchi_class_to_nelems[sc];
    /* fill one span with traced objects */
    void **objs = calloc(nelems, sizeof *objs);
    assert_non_null(objs);
    for (uint32_t i = 0; i < nelems; i++) {
        objs[i] = gch_alloc(f->t, &traced);
        assert_non_null(objs[i]);
    }
    struct mspan *s = span_of(f->h, objs[0]);
    assert_ptr_equal(span_of(f->h, objs[nelems - 1]), s); /* one full span */
    assert_int_equal(s->alloc_count, nelems);
    for (uint32_t i = 0; i < nelems; i++)
        assert_true(hdr_bit(s, objs[i]));
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);

    /* traced -> mask: the freed slot is the span's only free one */
    void *victim = objs[nelems / 2 + 1];
    gchi_free(f->t, victim);
    void *p = gch_alloc(f->t, &c);
    assert_ptr_equal(p, victim);
    assert_false(hdr_bit(s, p));
    assert_false(span_slot_has_header(s, (uintptr_t)p));
    assert_int_equal(slot_bits(s, p), 0x3);
    assert_true(mem_all(p, 0, 16)); /* the old header is gone */
    assert_int_equal(gch_usable_size(f->h, p), 16);
    /* the neighbours keep their headers */
    assert_true(hdr_bit(s, objs[nelems / 2]));
    assert_true(hdr_bit(s, objs[nelems / 2 + 2]));
    assert_ptr_equal(header_of(s, objs[nelems / 2]), &traced);

    /* mask -> another mask: the old bits do not survive */
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gchi_free(f->t, p);
    p = gch_alloc(f->t, &b);
    assert_ptr_equal(p, victim);
    assert_int_equal(slot_bits(s, p), 0x2);
    assert_false(hdr_bit(s, p));
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gchi_free(f->t, p);
    p = gch_alloc(f->t, &a);
    assert_ptr_equal(p, victim);
    assert_int_equal(slot_bits(s, p), 0x1);

    /* mask -> traced: the header bit comes back, and the header */
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gchi_free(f->t, p);
    p = gch_alloc(f->t, &traced);
    assert_ptr_equal(p, victim);
    assert_true(hdr_bit(s, p));
    assert_int_equal(slot_bits(s, p), 0); /* Y1: the mask's bits are gone too */
    assert_ptr_equal(header_of(s, p), &traced);
    assert_int_equal(gch_usable_size(f->h, p), 8);
    free(objs);
}

/* A span of headers freed whole gives its typebits record back; the next
 * span (which may take the same record) must show no stale header bit. */
static void test_recycled_typebits_have_no_stale_bits(void **state)
{
    struct fixture *f = *state;
    const gch_type traced = {"traced", 24, NULL, trace_nothing}; /* 32-byte slots */
    static const uint8_t m[1] = {0x9};                            /* words 0 and 3 */
    const gch_type masked = {"masked", 32, m, NULL};
    const uint32_t nelems = gchi_class_to_nelems[size_to_class(32)];
    void **objs = calloc(nelems, sizeof *objs);
    assert_non_null(objs);
    for (uint32_t i = 0; i < nelems; i++)
        objs[i] = gch_alloc(f->t, &traced);
    struct mspan *s = span_of(f->h, objs[0]);
    assert_ptr_equal(span_of(f->h, objs[nelems - 1]), s);
    uintptr_t start = s->start;
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    for (uint32_t i = 0; i < nelems; i++)
        gchi_free(f->t, objs[i]);
    assert_null(mheap_span_of_heap(&f->h->mheap, start)); /* the span went */
    for (uint32_t i = 0; i < nelems; i++) {
        objs[i] = gch_alloc(f->t, &masked);
        assert_non_null(objs[i]);
    }
    for (uint32_t i = 0; i < nelems; i++) {
        struct mspan *t = span_of(f->h, objs[i]);
        assert_false(hdr_bit(t, objs[i]));
        assert_int_equal(slot_bits(t, objs[i]), 0x9);
        assert_int_equal(gch_usable_size(f->h, objs[i]), 32);
    }
    free(objs);
}

/* ---- which spans have typebits ------------------------------------------------- */

static void test_typebits_only_for_scan_classes_up_to_512(void **state)
{
    struct fixture *f = *state;
    static const uint8_t ones[MAX_SMALL_SIZE / 64] = {0xff};
    for (unsigned sc = 1; sc < NUM_SIZE_CLASSES; sc++) {
        size_t cs = gchi_class_to_size[sc];
        /* a scan object of class sc (over 512 bytes: 8 bytes less, for
         * the header) */
        const gch_type ty = {"t", cs <= 512 ? cs : cs - 8, ones, NULL};
        void *p = gch_alloc(f->t, &ty);
        assert_non_null(p);
        struct mspan *s = span_of(f->h, p);
        assert_int_equal(s->spanclass, make_spanclass(sc, false));
        if (cs <= 512) {
            assert_non_null(s->typebits);
            assert_true(span_needs_typebits(s->spanclass));
        } else {
            assert_null(s->typebits);
            assert_false(span_needs_typebits(s->spanclass));
            assert_true(span_slot_has_header(s, (uintptr_t)p));
        }
        assert_null(s->largetype);
        /* noscan objects of the class: never typebits, never a header */
        {
            void *n = gch_alloc_noscan(f->t, cs);
            struct mspan *ns = span_of(f->h, n);
            assert_int_equal(ns->spanclass, make_spanclass(sc, true));
            assert_null(ns->typebits);
            assert_false(span_needs_typebits(ns->spanclass));
            assert_false(span_slot_has_header(ns, (uintptr_t)n));
            assert_int_equal(gch_usable_size(f->h, n), cs);
            const gch_type plain = {"plain", cs, NULL, NULL};
            void *q = gch_alloc(f->t, &plain);
            assert_null(span_of(f->h, q)->typebits);
            assert_int_equal(gch_usable_size(f->h, q), cs);
        }
    }
    /* a 3-byte noscan object: the 8-byte noscan class (no tiny blocks) */
    void *t = gch_alloc_noscan(f->t, 3);
    struct mspan *ts = span_of(f->h, t);
    assert_int_equal(ts->spanclass, make_spanclass(1, true));
    assert_null(ts->typebits);
}

/* Sub-word masked types: one object is fine (its word bits stay clear:
 * no aligned reference fits); arrays of them are refused, since element
 * references could not be word-aligned.  Used to divide by zero. */
static void test_subword_mask_types(void **state)
{
    struct fixture *f = *state;
    static const uint8_t m1[1] = {1};
    static const gch_type s4 = {"s4", 4, m1, NULL};
    static const gch_type s12 = {"s12", 12, m1, NULL};
    void *p = gch_alloc(f->t, &s4);
    assert_non_null(p);
    struct mspan *s = mheap_span_of_heap(&f->h->mheap, (uintptr_t)p);
    size_t w = ((uintptr_t)p - s->start) / 8;
    assert_int_equal((s->typebits->words[w / 64] >> (w % 64)) & 1, 0);
    void *q = gch_alloc(f->t, &s12); /* word 0 is a reference */
    assert_non_null(q);
    s = mheap_span_of_heap(&f->h->mheap, (uintptr_t)q);
    w = ((uintptr_t)q - s->start) / 8;
    assert_int_equal((s->typebits->words[w / 64] >> (w % 64)) & 3, 1);
    expect_error(gch_alloc_array(f->t, &s4, 4), GCH_EINVAL);
    assert_null(gch_alloc_array(f->t, &s12, 3));
    assert_int_equal(gch_last_error(), GCH_EINVAL);
    assert_non_null(gch_alloc_array(f->t, &s12, 1)); /* one element is fine */
}

/* Typebits records are sized by the span's slot count (issue 15): the
 * record of every scan span up to 512 bytes comes from the pool of its
 * header-word count, 128 bytes of word bits plus a word per 64 slots
 * (8-byte records: not rounded to 16);
 * and the header bit of a full 16-byte span's last slot (the last bit of
 * its 8-word header bitmap) is set and read back. */
static void test_typebits_sized_by_slot_count(void **state)
{
    struct fixture *f = *state;
    static const uint8_t ones[64] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct mheap *mh = &f->h->mheap;
    for (unsigned sc = 1; sc < NUM_SIZE_CLASSES && gchi_class_to_size[sc] <= 512; sc++) {
        const gch_type ty = {"t", gchi_class_to_size[sc], ones, NULL};
        struct mspan *s = span_of(f->h, gch_alloc(f->t, &ty));
        size_t words = typebits_hdr_words(s->nelems);
        assert_true(words >= 1 && words <= TYPEBITS_HDR_WORDS_MAX);
        assert_true(words * 64 >= s->nelems && (words - 1) * 64 < s->nelems);
        const struct fixalloc *pool = &mh->typebitsalloc[words - 1];
        assert_int_equal(pool->size, 128 + 8 * words);
        assert_int_equal((uintptr_t)s->typebits % 8, 0);
        assert_true(pool->inuse >= 1);
    }
    const gch_type traced = {"traced", 8, NULL, trace_nothing}; /* 16-byte slots, 512 a span */
    enum { N = 2 * 512 };
    void *p[N];
    for (int k = 0; k < N; k++)
        p[k] = gch_alloc(f->t, &traced);
    int last = 0;
    for (int k = 0; k < N; k++) {
        struct mspan *s = span_of(f->h, p[k]);
        assert_int_equal(s->nelems, 512);
        assert_true(hdr_bit(s, p[k]));
        last += slot_index(s, p[k]) == 511;
    }
    assert_true(last >= 1); /* one span at least was filled to its last slot */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mask_bits_of_single_objects, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_mask_bits_stop_at_the_object, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_mask_bits_straddle_bitmap_words, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_array_bits_repeat_the_element_mask, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_trace_types_carry_a_header, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_mask_types_over_512_bytes_carry_a_header, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_header_limit_and_large_objects, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_slot_reuse_rewrites_type_info, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_recycled_typebits_have_no_stale_bits, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_subword_mask_types, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_typebits_only_for_scan_classes_up_to_512, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_typebits_sized_by_slot_count, heap_setup, heap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
