/*
 * test_alloc.c - the object allocation paths of alloc/malloc.c.
 * Subject: gch_alloc / gch_alloc_noscan / gch_alloc_array, the address
 * queries (gch_object_base, gch_is_heap_pointer, gch_usable_size) and the
 * object counters behind gch_read_stats.  Go counterpart: mallocgc and
 * its per-size helpers (spec section 9.3-9.4), MemStats (section 10.1).
 *
 * What it proves:
 *   - small path, every size class, scan and noscan: 8-byte alignment (and
 *     the alignment of the class's slot size), the right span class by the
 *     type-information rule (mspan.h, "Type information of scan objects":
 *     scan objects of trace types or over 512 bytes take the class of
 *     size + 8 and keep their gch_type pointer in the slot's last word;
 *     scan objects over 32760 bytes are large), usable size == class size
 *     (less the 8-byte header when there is one), zeroed memory, writable
 *     to the full usable size without disturbing any other object or
 *     header;
 *   - the header's promise "16-byte aligned for objects of 16 bytes or
 *     more" (test_alignment_16_for_requests_of_16_or_more);
 *   - no tiny allocator: noscan requests of 1..15 bytes take a whole 8- or
 *     16-byte slot like any other size (test_small_every_size_class,
 *     test_small_noscan_objects_never_share_a_slot);
 *   - large objects (> 32 KiB up to 100 MiB): own span, zeroed, whole
 *     pages usable, every interior address maps to the base;
 *   - address -> object base for every byte of sampled objects of several
 *     classes, NULL in span tail waste, freed spans and memory outside the
 *     heap (stack, static, malloc, absurd addresses);
 *   - zeroing on reuse of freed slots, freed spans and freed large objects;
 *   - MemStats identities after gch_thread_flush (TinyAllocs stays 0).
 */
#include "testutil.h"
#include "msize.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* A mask of no reference words that still makes a type "scan": the
 * allocator only separates mask/trace types from noscan ones. */
static const uint8_t scan_mask[MAX_SMALL_SIZE / 64] = {0};

static struct mspan *span_of(gch_heap *h, const void *p)
{
    return mheap_span_of_heap(&h->mheap, (uintptr_t)p);
}

static size_t class_size_of(size_t size) { return gchi_class_to_size[size_to_class(size)]; }

/* brute_class: the smallest class holding size, found without the lookup
 * tables under test in msize.h. */
static unsigned brute_class(size_t size)
{
    for (unsigned sc = 1; sc < NUM_SIZE_CLASSES; sc++)
        if (gchi_class_to_size[sc] >= size)
            return sc;
    return 0;
}

/* The scan types alloc_kind uses, one per small size, kept for the life
 * of the program: a header names its type (mspan.h, Y2). */
static gch_type scan_types[MAX_SMALL_SIZE + 1];

static const gch_type *scan_type_of(size_t size)
{
    if (size > MAX_SMALL_SIZE)
        return NULL;
    scan_types[size] = (gch_type){"scan", size, scan_mask, NULL};
    return &scan_types[size];
}

static void *alloc_kind(gch_thread *t, size_t size, bool scan)
{
    if (!scan)
        return gch_alloc_noscan(t, size);
    const gch_type *st = scan_type_of(size);
    if (st != NULL)
        return gch_alloc(t, st);
    /* large: the mask is not read at allocation (the span holds the type) */
    gch_type ty = {"scan", size, scan_mask, NULL};
    return gch_alloc(t, &ty);
}

/* The type-information rule (mspan.h, "Type information of scan
 * objects"), restated without the allocator's code: */
/* expected_header: a scan object of a trace type, or over 512 bytes,
 * carries its gch_type pointer in the last word of a slot. */
static bool expected_header(size_t size, bool scan, bool has_trace)
{
    return scan && (has_trace || size > 512) && size <= MAX_SMALL_SIZE - 8;
}

/* expected_class: the size class of the object, 0 for a large one. */
static unsigned expected_class(size_t size, bool scan, bool has_trace)
{
    if (expected_header(size, scan, has_trace))
        return brute_class(size + 8);
    if (size > MAX_SMALL_SIZE || (scan && (has_trace || size > 512)))
        return 0;
    return brute_class(size);
}

/* expected_slot: the bytes the object occupies (its slot, or its pages). */
static size_t expected_slot(size_t size, bool scan, bool has_trace)
{
    unsigned sc = expected_class(size, scan, has_trace);
    return sc != 0 ? gchi_class_to_size[sc] : (size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
}

/* expected_usable: what gch_usable_size must answer. */
static size_t expected_usable(size_t size, bool scan, bool has_trace)
{
    return expected_slot(size, scan, has_trace) - (expected_header(size, scan, has_trace) ? 8 : 0);
}

/* header_of: the type header of a slot (its last word). */
static const gch_type *header_of(const void *p, size_t slot)
{
    uintptr_t word;
    memcpy(&word, (const char *)p + slot - 8, sizeof word);
    return (const gch_type *)(word & ~(uintptr_t)1); /* bit 0: a sized header (Y3) */
}

/* ---- small path, every size class ----------------------------------------- */

struct filled {
    unsigned char *p;
    size_t n;
    unsigned char byte;
    const gch_type *hdr; /* expected at p + n, or NULL: no header */
};

struct filled_vec {
    struct filled *v;
    size_t n, cap;
};

static void filled_push(struct filled_vec *fv, void *p, size_t n, unsigned char byte,
                        const gch_type *hdr)
{
    if (fv->n == fv->cap) {
        fv->cap = fv->cap ? fv->cap * 2 : 1024;
        fv->v = realloc(fv->v, fv->cap * sizeof *fv->v);
        assert_non_null(fv->v);
    }
    fv->v[fv->n++] = (struct filled){p, n, byte, hdr};
}

/* check_small_object: the checks every object of the small-size range
 * must pass (a scan object over 32760 bytes is large); fills it with
 * `byte` over its whole usable size and records it. */
static void check_small_object(struct fixture *f, struct filled_vec *fv, size_t size, bool scan,
                               unsigned char byte)
{
    unsigned char *p = alloc_kind(f->t, size, scan);
    assert_non_null(p);
    unsigned sc = expected_class(size, scan, false);
    bool hdr = expected_header(size, scan, false);
    size_t slot = expected_slot(size, scan, false);
    size_t usable = expected_usable(size, scan, false);
    assert_true(usable >= size);
    assert_int_equal((uintptr_t)p % 8, 0);
    /* A slot's address is start + i * size: aligned as far as both allow. */
    size_t natural = slot & -slot;
    assert_int_equal((uintptr_t)p % (natural < 8192 ? natural : 8192), 0);
    assert_int_equal(gch_usable_size(f->h, p), usable);
    struct mspan *s = span_of(f->h, p);
    assert_non_null(s);
    assert_int_equal(s->spanclass, make_spanclass(sc, !scan));
    assert_int_equal(s->elemsize, slot);
    if (sc == 0)
        assert_int_equal(s->start, (uintptr_t)p);
    assert_true(mem_all(p, 0, usable));
    if (hdr)
        assert_ptr_equal(header_of(p, slot), scan_type_of(size));
    else if (scan && sc != 0 && slot > usable)
        fail_msg("size %zu: slot %zu, usable %zu without a header", size, slot, usable);
    memset(p, byte, usable);
    filled_push(fv, p, usable, byte, hdr ? header_of(p, slot) : NULL);
}

static void verify_filled(const struct filled_vec *fv)
{
    for (size_t i = 0; i < fv->n; i++) {
        if (!mem_all(fv->v[i].p, fv->v[i].byte, fv->v[i].n))
            fail_msg("object %zu at %p (%zu bytes) was overwritten", i, (void *)fv->v[i].p,
                     fv->v[i].n);
        if (fv->v[i].hdr != NULL && header_of(fv->v[i].p, fv->v[i].n + 8) != fv->v[i].hdr)
            fail_msg("object %zu at %p: type header overwritten", i, (void *)fv->v[i].p);
    }
}

static size_t next_size(size_t s)
{
    if (s < 1024)
        return s + 1;
    if (s < 4096)
        return s + 8;
    return s + 72;
}

static void test_small_every_size_class(void **state)
{
    struct fixture *f = *state;
    struct filled_vec fv = {0};
    unsigned byte = 1;
    bool seen[NUM_SIZE_CLASSES] = {false};
    for (int scan = 0; scan <= 1; scan++) {
        for (size_t size = 1; size <= MAX_SMALL_SIZE; size = next_size(size)) {
            check_small_object(f, &fv, size, scan, (unsigned char)(byte++ | 1));
            check_small_object(f, &fv, size, scan, (unsigned char)(byte++ | 1));
            seen[expected_class(size, scan, false)] = true;
        }
        /* Both edges of every class. */
        for (unsigned sc = 2; sc < NUM_SIZE_CLASSES; sc++) {
            size_t lo = gchi_class_to_size[sc - 1] + 1, hi = gchi_class_to_size[sc];
            check_small_object(f, &fv, lo, scan, (unsigned char)(byte++ | 1));
            check_small_object(f, &fv, hi, scan, (unsigned char)(byte++ | 1));
            /* scan objects with a header: both edges of the class too */
            if (scan && hi > 512 + 8) {
                check_small_object(f, &fv, lo - 8, scan, (unsigned char)(byte++ | 1));
                check_small_object(f, &fv, hi - 8, scan, (unsigned char)(byte++ | 1));
            }
        }
    }
    for (unsigned sc = 1; sc < NUM_SIZE_CLASSES; sc++)
        assert_true(seen[sc]);
    /* Scan objects reach every class too, and the largest ones are large. */
    bool seen_scan[NUM_SIZE_CLASSES] = {false};
    for (size_t size = 1; size <= MAX_SMALL_SIZE; size++)
        seen_scan[expected_class(size, true, false)] = true;
    for (unsigned sc = 1; sc < NUM_SIZE_CLASSES; sc++)
        assert_true(seen_scan[sc]);
    assert_true(seen_scan[0]);
    verify_filled(&fv);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    verify_filled(&fv);
    free(fv.v);
}

/* The class lookup the allocator uses must agree with brute force. */
static void test_small_class_lookup_matches_brute_force(void **state)
{
    (void)state;
    for (size_t size = 1; size <= MAX_SMALL_SIZE; size++)
        if (size_to_class(size) != brute_class(size))
            fail_msg("size %zu: class %u, expected %u", size, size_to_class(size),
                     brute_class(size));
}

/* gcheap.h: "aligned to at least 8 bytes, and to 16 bytes for objects of
 * 16 bytes and of 25 bytes or more" (the 24-byte class is 8-aligned). */
static void test_alignment_16_for_requests_of_16_or_more(void **state)
{
    struct fixture *f = *state;
    for (int scan = 0; scan <= 1; scan++) {
        for (size_t size = 16; size <= 4096; size += (size < 1024 ? 1 : 8)) {
            size_t align = size > 16 && size <= 24 ? 8 : 16;
            for (int k = 0; k < 4; k++) {
                void *p = alloc_kind(f->t, size, scan);
                assert_non_null(p);
                if ((uintptr_t)p % align != 0)
                    fail_msg("%s request of %zu bytes got %p, not %zu-byte aligned",
                             scan ? "scan" : "noscan", size, p, align);
            }
        }
    }
}

static void test_alloc_array(void **state)
{
    struct fixture *f = *state;
    static const uint8_t pair_mask[1] = {0x3};
    const gch_type pair = {"pair", 16, pair_mask, NULL};
    const gch_type bytes = {"bytes", 1, NULL, NULL};
    void **v = gch_alloc_array(f->t, &pair, 10);
    assert_non_null(v);
    assert_int_equal(gch_usable_size(f->h, v), class_size_of(160));
    assert_int_equal(span_of(f->h, v)->spanclass, make_spanclass(size_to_class(160), false));
    assert_true(mem_all(v, 0, 160));
    /* 1-byte noscan elements: 3 of them take an 8-byte slot. */
    char *t3 = gch_alloc_array(f->t, &bytes, 3);
    assert_non_null(t3);
    assert_int_equal(span_of(f->h, t3)->spanclass, make_spanclass(1, true));
    assert_int_equal(gch_usable_size(f->h, t3), 8);
    char *b16 = gch_alloc_array(f->t, &bytes, 16);
    assert_int_equal(gch_usable_size(f->h, b16), 16);
    /* 32 pairs (512 bytes) still take their class's word bits; 33 carry
     * a header, and since the class of 528 + 8 bytes would leave room for
     * more pairs, a sized one (mspan.h Y3): the class of 528 + 16. */
    void *b32 = gch_alloc_array(f->t, &pair, 32);
    assert_int_equal(span_of(f->h, b32)->spanclass, make_spanclass(expected_class(512, true, false), false));
    assert_int_equal(gch_usable_size(f->h, b32), 512);
    void *b33 = gch_alloc_array(f->t, &pair, 33);
    assert_int_equal(span_of(f->h, b33)->spanclass, make_spanclass(brute_class(544), false));
    assert_int_equal(gch_usable_size(f->h, b33), class_size_of(544) - 16);
    assert_ptr_equal(header_of(b33, class_size_of(544)), &pair);
    assert_true(mem_all(b33, 0, class_size_of(544) - 16));
    /* The largest array with a header (32752 + 8 bytes: the last class),
     * and one element more: a large object, whose span holds the type. */
    size_t nmax = (MAX_SMALL_SIZE - 8) / 16;
    void *small = gch_alloc_array(f->t, &pair, nmax);
    assert_non_null(small);
    assert_int_equal(span_of(f->h, small)->spanclass, make_spanclass(NUM_SIZE_CLASSES - 1, false));
    assert_int_equal(gch_usable_size(f->h, small), MAX_SMALL_SIZE - 8);
    assert_ptr_equal(header_of(small, MAX_SMALL_SIZE), &pair);
    assert_true(mem_all(small, 0, MAX_SMALL_SIZE - 8));
    void *large = gch_alloc_array(f->t, &pair, nmax + 1);
    assert_non_null(large);
    assert_int_equal(span_of(f->h, large)->spanclass, make_spanclass(0, false));
    assert_ptr_equal(span_of(f->h, large)->largetype, &pair);
    assert_int_equal(gch_usable_size(f->h, large), MAX_SMALL_SIZE);
    assert_true(mem_all(large, 0, MAX_SMALL_SIZE));
    void *larger = gch_alloc_array(f->t, &pair, MAX_SMALL_SIZE / 16 + 1);
    assert_int_equal(spanclass_sizeclass(span_of(f->h, larger)->spanclass), 0);
    assert_int_equal(gch_usable_size(f->h, larger), MAX_SMALL_SIZE + PAGE_SIZE);
}

/* ---- small objects: no tiny packing ------------------------------------ */

static void trace_nothing(gch_visitor *v, void *obj, size_t size)
{
    (void)v;
    (void)obj;
    (void)size;
}

/* Small objects of every kind each take a whole slot of their class: typed
 * 8-byte objects, trace types with their header, noscan requests of 1..16
 * bytes (issue 13: a 5-byte type came back at odd addresses; issue 16: a
 * tiny object's usable size covered its neighbour).  Two objects allocated
 * one after the other never share a slot, every one is 8-byte aligned
 * (16 from 9 bytes), and writing its whole usable size leaves the other
 * intact. */
static void test_small_noscan_objects_never_share_a_slot(void **state)
{
    struct fixture *f = *state;
    static const uint8_t one[1] = {1};
    const gch_type masked = {"masked", 8, one, NULL};
    const gch_type traced = {"traced", 12, NULL, trace_nothing};
    const gch_type five = {"five", 5, NULL, NULL};
    for (int i = 0; i < 100; i++) {
        void *m = gch_alloc(f->t, &masked);
        void *t = gch_alloc(f->t, &traced);
        assert_int_equal(span_of(f->h, m)->spanclass, make_spanclass(1, false));
        assert_int_equal(gch_usable_size(f->h, m), 8);
        /* a trace type: 12 bytes + the 8-byte header would fit the 24-byte
         * class, but a 9..16-byte object is 16-aligned (gcheap.h): the
         * 32-byte class, whose slack past the object holds a whole element
         * more, so the size is recorded too (a 16-byte header, Y3) */
        assert_int_equal(span_of(f->h, t)->spanclass, make_spanclass(4, false));
        assert_int_equal(gch_usable_size(f->h, t), 16);
        assert_int_equal((uintptr_t)t % 16, 0);
        assert_ptr_equal(header_of(t, 32), &traced);
    }
    for (size_t size = 1; size <= 16; size++) {
        for (int i = 0; i < 200; i++) {
            unsigned char *a = i % 2 ? gch_alloc_noscan(f->t, size) : gch_alloc(f->t, &five);
            size_t asz = i % 2 ? size : 5;
            unsigned char *b = gch_alloc_noscan(f->t, size);
            assert_non_null(a);
            assert_non_null(b);
            assert_int_equal((uintptr_t)a % (asz > 8 ? 16 : 8), 0);
            assert_int_equal((uintptr_t)b % (size > 8 ? 16 : 8), 0);
            size_t ua = gch_usable_size(f->h, a), ub = gch_usable_size(f->h, b);
            assert_int_equal(ua, asz > 8 ? 16 : 8);
            assert_int_equal(ub, size > 8 ? 16 : 8);
            assert_true(b >= a + ua || b + ub <= a); /* disjoint */
            memset(b, 0x5B, ub);
            memset(a, 0xA5, ua); /* what gch_usable_size promised */
            assert_true(mem_all(b, 0x5B, ub));
            assert_ptr_equal(gch_object_base(f->h, a + ua - 1), a);
        }
    }
    gch_stats st;
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gch_read_stats(f->h, &st);
    assert_int_equal(st.tiny_allocs, 0);
}

/* ---- large objects ------------------------------------------------------ */

static void check_large(struct fixture *f, size_t size, bool scan)
{
    gch_stats before, after;
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gch_read_stats(f->h, &before);
    unsigned char *p = alloc_kind(f->t, size, scan);
    assert_non_null(p);
    size_t npages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
    struct mspan *s = span_of(f->h, p);
    assert_non_null(s);
    assert_int_equal(s->start, (uintptr_t)p); /* own span, object at its start */
    assert_int_equal(s->npages, npages);
    assert_int_equal(s->nelems, 1);
    assert_int_equal(s->spanclass, make_spanclass(0, !scan));
    assert_int_equal((uintptr_t)p % PAGE_SIZE, 0);
    size_t usable = npages * PAGE_SIZE;
    assert_int_equal(gch_usable_size(f->h, p), usable);
    assert_true(mem_all(p, 0, usable));
    memset(p, 0x5A, usable);
    /* interior pointers, sampled every 4 KiB and at the edges */
    for (size_t off = 0; off < usable; off += 4093)
        assert_ptr_equal(gch_object_base(f->h, p + off), p);
    assert_ptr_equal(gch_object_base(f->h, p + size - 1), p);
    assert_ptr_equal(gch_object_base(f->h, p + usable - 1), p);
    assert_ptr_not_equal(gch_object_base(f->h, p + usable), p);
    assert_ptr_not_equal(gch_object_base(f->h, p - 1), p);
    assert_int_equal(gch_usable_size(f->h, p + 8), 0);
    /* on class 0's full list: never cached (M4) */
    struct mcentral *c = &f->h->mheap.central[s->spanclass];
    unsigned si = (mheap_sweepgen(&f->h->mheap) / 2) & 1;
    assert_ptr_equal(s->list, &c->full[si]);
    gch_read_stats(f->h, &after); /* large objects count at once */
    assert_int_equal(after.by_size[0].mallocs, before.by_size[0].mallocs + 1);
    assert_int_equal(after.mallocs, before.mallocs + 1);
    assert_int_equal(after.heap_alloc, before.heap_alloc + usable);
    assert_int_equal(after.total_alloc, before.total_alloc + usable);
    assert_true(after.heap_inuse >= before.heap_inuse + usable);
    assert_true(mem_all(p, 0x5A, usable));
    /* freed at once (large spans are never cached); the next one of the
     * same size takes the same pages and must see zeros */
    gchi_free(f->t, p);
    gch_read_stats(f->h, &after);
    assert_int_equal(after.heap_alloc, before.heap_alloc);
    assert_int_equal(after.heap_inuse, before.heap_inuse);
    assert_int_equal(after.by_size[0].frees, before.by_size[0].frees + 1);
    assert_null(gch_object_base(f->h, p));
}

static void test_large_objects(void **state)
{
    struct fixture *f = *state;
    const size_t sizes[] = {MAX_SMALL_SIZE + 1, 40000, 65536, 1 << 20, (1 << 20) + 1,
                            (size_t)100 << 20};
    for (size_t i = 0; i < COUNT_OF(sizes); i++) {
        check_large(f, sizes[i], false);
        check_large(f, sizes[i], true);
    }
}

/* ---- address -> object ------------------------------------------------------- */

static void test_interior_pointers_every_byte(void **state)
{
    struct fixture *f = *state;
    /* classes with and without tail waste, one to several pages per span */
    const size_t sizes[] = {8, 24, 48, 144, 1408, 3072, 3200, 6784, 9472, 32768};
    for (size_t i = 0; i < COUNT_OF(sizes); i++) {
        unsigned sc = brute_class(sizes[i]);
        /* scan objects over 512 bytes carry an 8-byte header: ask for
         * 8 bytes less to land in the class of sizes[i] */
        size_t request = sizes[i] > 512 ? sizes[i] - 8 : sizes[i];
        assert_int_equal(expected_class(request, true, false), sc);
        uint32_t nelems = gchi_class_to_nelems[sc];
        /* fill a whole span so first, middle and last slots exist */
        unsigned char *first = NULL, *last = NULL;
        for (uint32_t k = 0; k < nelems; k++) {
            unsigned char *p = alloc_kind(f->t, request, true);
            assert_non_null(p);
            if (k == 0)
                first = p;
            last = p;
        }
        struct mspan *s = span_of(f->h, first);
        assert_ptr_equal(span_of(f->h, last), s);
        assert_int_equal(s->spanclass, make_spanclass(sc, false));
        unsigned char *samples[3] = {first, first + (nelems / 2) * s->elemsize, last};
        for (int k = 0; k < 3; k++) {
            for (size_t off = 0; off < s->elemsize; off++) {
                void *base = gch_object_base(f->h, samples[k] + off);
                if (base != samples[k])
                    fail_msg("class %u: %p + %zu -> %p", sc, (void *)samples[k], off, base);
                assert_true(gch_is_heap_pointer(f->h, samples[k] + off));
            }
        }
        /* tail waste: past the last slot, inside the span's pages */
        uintptr_t end = s->start + s->npages * PAGE_SIZE;
        assert_int_equal(s->limit, s->start + (uintptr_t)nelems * gchi_class_to_size[sc]);
        assert_int_equal(end - s->limit,
                         gchi_class_to_allocnpages[sc] * PAGE_SIZE - nelems * gchi_class_to_size[sc]);
        for (uintptr_t a = s->limit; a < end; a++) {
            assert_null(gch_object_base(f->h, (void *)a));
            assert_false(gch_is_heap_pointer(f->h, (void *)a));
            assert_int_equal(gch_usable_size(f->h, (void *)a), 0);
        }
    }
}

static int a_static_object;

static void test_addresses_outside_the_heap(void **state)
{
    struct fixture *f = *state;
    int on_stack = 0;
    char *from_malloc = malloc(4096);
    assert_non_null(from_malloc);
    assert_non_null(gch_alloc_noscan(f->t, 100)); /* the heap has an arena */
    const void *outside[] = {
        NULL, (void *)1, (void *)4096, &on_stack, &a_static_object, from_malloc,
        from_malloc + 4095, (void *)(uintptr_t)test_addresses_outside_the_heap,
        (void *)((uintptr_t)1 << 47), (void *)((uintptr_t)1 << 48), (void *)UINTPTR_MAX,
        (void *)(UINTPTR_MAX - 4095), (void *)0xffff800000000000ULL, (void *)0x8000000000000000ULL,
    };
    for (size_t i = 0; i < COUNT_OF(outside); i++) {
        assert_null(gch_object_base(f->h, outside[i]));
        assert_false(gch_is_heap_pointer(f->h, outside[i]));
        if (outside[i] != NULL) /* NULL: test_usable_size_of_null */
            assert_int_equal(gch_usable_size(f->h, outside[i]), 0);
    }
    /* another heap's objects are outside this one */
    gch_heap *h2 = gch_heap_new(NULL);
    assert_non_null(h2);
    gch_thread *t2 = gch_thread_attach(h2);
    assert_non_null(t2);
    void *other = gch_alloc_noscan(t2, 64);
    void *other_large = gch_alloc_noscan(t2, 100000);
    assert_ptr_equal(gch_object_base(h2, other), other);
    assert_null(gch_object_base(f->h, other));
    assert_null(gch_object_base(f->h, other_large));
    assert_int_equal(gch_thread_detach(t2), GCH_OK);
    heap_free_checked(h2);
    free(from_malloc);
}

/* gch_usable_size: "0 if p is not the start of an object in this heap";
 * NULL is no object, also in a heap that has objects.  Probed in a child
 * process so that a crash fails this test only, in every build. */
static int usable_size_of_null_in_child(gch_heap *h)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka's handlers would longjmp back into the test runner */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        _exit(gch_usable_size(h, NULL) == 0 ? 0 : 3);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void test_usable_size_of_null(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(gch_usable_size(NULL, NULL), 0);
    int empty = usable_size_of_null_in_child(f->h);
    assert_non_null(gch_alloc_noscan(f->t, 100));
    int used = usable_size_of_null_in_child(f->h);
    if (empty != 0 || used != 0)
        fail_msg("gch_usable_size(h, NULL) crashed or was non-zero: child status %#x (empty "
                 "heap), %#x (heap in use)", empty, used);
}

/* Memory of a freed object, and pages mapped but in no span, are no
 * object. */
static void test_freed_and_free_pages_are_not_objects(void **state)
{
    struct fixture *f = *state;
    unsigned char *big = gch_alloc_noscan(f->t, 1 << 20);
    assert_non_null(big);
    gchi_free(f->t, big);
    for (size_t off = 0; off < (1 << 20); off += 512) {
        assert_null(gch_object_base(f->h, big + off));
        assert_int_equal(gch_usable_size(f->h, big + off), 0);
    }
    /* a whole small span freed */
    void *objs[128];
    for (int i = 0; i < 128; i++)
        objs[i] = gch_alloc_noscan(f->t, 64);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    struct mspan *s = span_of(f->h, objs[0]);
    uintptr_t start = s->start;
    for (int i = 0; i < 128; i++)
        gchi_free(f->t, objs[i]);
    for (uintptr_t a = start; a < start + PAGE_SIZE; a += 8)
        assert_null(gch_object_base(f->h, (void *)a));
}

/* ---- zeroing on reuse ----------------------------------------------------- */

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static bool in_sorted(const uintptr_t *v, size_t n, uintptr_t p)
{
    return bsearch(&p, v, n, sizeof *v, cmp_ptr) != NULL;
}

/* reuse_slots: fill n objects of size with 0xAA, free every other one,
 * allocate n/2 again: each must be one of the freed slots, and zeroed;
 * the survivors keep their bytes. */
static void reuse_slots(struct fixture *f, size_t size, bool scan, size_t n)
{
    unsigned char **objs = calloc(n, sizeof *objs);
    uintptr_t *freed = calloc(n, sizeof *freed);
    size_t nfreed = 0;
    for (size_t i = 0; i < n; i++) {
        objs[i] = alloc_kind(f->t, size, scan);
        assert_non_null(objs[i]);
        memset(objs[i], 0xAA, gch_usable_size(f->h, objs[i]));
    }
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    for (size_t i = 0; i < n; i += 2) {
        gchi_free(f->t, objs[i]);
        freed[nfreed++] = (uintptr_t)objs[i];
    }
    qsort(freed, nfreed, sizeof *freed, cmp_ptr);
    size_t usable = expected_usable(size, scan, false);
    assert_int_equal(gch_usable_size(f->h, objs[1]), usable);
    for (size_t i = 0; i < nfreed; i++) {
        unsigned char *p = alloc_kind(f->t, size, scan);
        assert_non_null(p);
        if (!in_sorted(freed, nfreed, (uintptr_t)p))
            fail_msg("size %zu: %p is not a freed slot (partial spans come first)", size, (void *)p);
        if (!mem_all(p, 0, usable))
            fail_msg("size %zu: reused slot %p is not zeroed", size, (void *)p);
        if (expected_header(size, scan, false) &&
            header_of(p, expected_slot(size, scan, false)) != scan_type_of(size))
            fail_msg("size %zu: reused slot %p has no type header", size, (void *)p);
    }
    for (size_t i = 1; i < n; i += 2)
        assert_true(mem_all(objs[i], 0xAA, usable));
    free(objs);
    free(freed);
}

static void test_zero_on_reuse_of_freed_slots(void **state)
{
    struct fixture *f = *state;
    reuse_slots(f, 64, false, 1000);
    reuse_slots(f, 48, true, 1000);
    reuse_slots(f, 16, false, 2000);
    reuse_slots(f, 5, false, 3000); /* 8-byte slots: no tiny blocks */
    reuse_slots(f, 8, true, 3000);
    reuse_slots(f, 1408, false, 100);
    reuse_slots(f, 32760, true, 8); /* + its 8-byte header: the 32 KiB class */
}

/* A whole span returned to the heap, and a freed large object: their
 * pages come back zeroed to whatever takes them next. */
static void test_zero_on_reuse_of_freed_pages(void **state)
{
    struct fixture *f = *state;
    void *objs[128];
    for (int i = 0; i < 128; i++) {
        objs[i] = gch_alloc_noscan(f->t, 64);
        memset(objs[i], 0xAA, 64);
    }
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    uintptr_t start = span_of(f->h, objs[0])->start;
    for (int i = 0; i < 128; i++)
        gchi_free(f->t, objs[i]);
    /* first fit: the next span of any class takes the lowest free pages */
    unsigned char *p = alloc_kind(f->t, 256, true);
    assert_int_equal(span_of(f->h, p)->start, start);
    for (int i = 0; i < 32; i++, p = alloc_kind(f->t, 256, true))
        assert_true(mem_all(p, 0, 256));

    unsigned char *big = gch_alloc_noscan(f->t, 1 << 20);
    memset(big, 0xAA, 1 << 20);
    gchi_free(f->t, big);
    unsigned char *again = gch_alloc_noscan(f->t, 1 << 20);
    assert_ptr_equal(again, big);
    assert_true(mem_all(again, 0, 1 << 20));
    memset(again, 0xAA, 1 << 20);
    gchi_free(f->t, again);
    /* small spans carved out of the freed large object's pages */
    size_t hits = 0;
    for (int i = 0; i < 64; i++) {
        unsigned char *q = gch_alloc_noscan(f->t, 32768);
        assert_true(mem_all(q, 0, 32768));
        hits += q >= big && q < big + (1 << 20);
    }
    assert_true(hits > 0);
}

/* ---- statistics ------------------------------------------------------ */

static void check_identities(const gch_stats *st)
{
    assert_int_equal(st->heap_objects, st->mallocs - st->frees);
    assert_true(st->total_alloc >= st->heap_alloc);
    assert_int_equal(st->heap_sys, st->heap_inuse + st->heap_idle);
    assert_true(st->heap_alloc <= st->heap_inuse);
    assert_true(st->heap_released <= st->heap_idle);
    assert_true(st->sys >= st->heap_sys);
    uint64_t m = st->tiny_allocs, fr = st->tiny_allocs;
    for (unsigned sc = 0; sc < NUM_SIZE_CLASSES; sc++) {
        m += st->by_size[sc].mallocs;
        fr += st->by_size[sc].frees;
        if (sc > 0)
            assert_int_equal(st->by_size[sc].size, gchi_class_to_size[sc]);
    }
    assert_int_equal(st->mallocs, m);
    assert_int_equal(st->frees, fr);
}

struct live {
    void *p;
    size_t slot; /* what HeapAlloc counts: the slot, header included */
    unsigned sc;
};

static void test_stats_identities(void **state)
{
    struct fixture *f = *state;
    gch_stats st;
    gch_read_stats(f->h, &st);
    assert_int_equal(st.mallocs, 0);
    assert_int_equal(st.heap_alloc, 0);
    check_identities(&st);

    enum { N = 50000 };
    struct live *objs = calloc(N, sizeof *objs);
    uint64_t per_class[NUM_SIZE_CLASSES] = {0};
    uint64_t bytes = 0, nobj = 0;
    uint64_t rng = 42;
    for (size_t i = 0; i < N; i++) {
        uint64_t r = rng_next(&rng);
        size_t size;
        bool scan = (r >> 8) & 1;
        if (r % 1000 == 0)
            size = MAX_SMALL_SIZE + 1 + (r >> 20) % 300000;
        else if (r % 3 == 0)
            size = 1 + (r >> 16) % 15;
        else
            size = 1 + (r >> 16) % ((r >> 40) % 8 == 0 ? 4000 : 256);
        void *p = alloc_kind(f->t, size, scan);
        assert_non_null(p);
        unsigned sc = expected_class(size, scan, false);
        size_t slot = expected_slot(size, scan, false);
        assert_int_equal(spanclass_sizeclass(span_of(f->h, p)->spanclass), sc);
        assert_int_equal(gch_usable_size(f->h, p), expected_usable(size, scan, false));
        per_class[sc]++;
        bytes += slot;
        objs[nobj++] = (struct live){p, slot, sc};
    }
    /* Before the flush, the cached spans' counts may be missing. */
    gch_read_stats(f->h, &st);
    assert_true(st.mallocs <= N);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gch_read_stats(f->h, &st);
    check_identities(&st);
    assert_int_equal(st.tiny_allocs, 0);
    assert_int_equal(st.mallocs, N);
    assert_int_equal(st.frees, 0);
    assert_int_equal(st.heap_objects, nobj);
    for (unsigned sc = 0; sc < NUM_SIZE_CLASSES; sc++)
        assert_int_equal(st.by_size[sc].mallocs, per_class[sc]);
    assert_int_equal(st.heap_alloc, bytes);
    assert_int_equal(st.total_alloc, st.heap_alloc);

    /* Free a third of the objects: Frees and HeapAlloc follow. */
    gch_stats after;
    uint64_t freed = 0, freed_bytes = 0, freed_class[NUM_SIZE_CLASSES] = {0};
    for (size_t i = 0; i < nobj; i += 3) {
        gchi_free(f->t, objs[i].p);
        freed++;
        freed_bytes += objs[i].slot;
        freed_class[objs[i].sc]++;
    }
    gch_read_stats(f->h, &after);
    check_identities(&after);
    assert_int_equal(after.mallocs, st.mallocs);
    assert_int_equal(after.frees, st.frees + freed);
    assert_int_equal(after.heap_objects, st.heap_objects - freed);
    assert_int_equal(after.heap_alloc, st.heap_alloc - freed_bytes);
    assert_int_equal(after.total_alloc, st.total_alloc);
    assert_true(after.heap_inuse <= st.heap_inuse);
    for (unsigned sc = 0; sc < NUM_SIZE_CLASSES; sc++)
        assert_int_equal(after.by_size[sc].frees, freed_class[sc]);
    free(objs);
}

/* Go packs 1000 one-byte objects into 63 tiny blocks; gcheap gives each
 * an 8-byte slot of its own (alloc/malloc.c: no tiny allocator). */
static void test_stats_one_byte_objects(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 1000; i++)
        assert_non_null(gch_alloc_noscan(f->t, 1));
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    gch_stats st;
    gch_read_stats(f->h, &st);
    check_identities(&st);
    assert_int_equal(st.by_size[1].mallocs, 1000);
    assert_int_equal(st.tiny_allocs, 0);
    assert_int_equal(st.mallocs, 1000);
    assert_int_equal(st.frees, 0);
    assert_int_equal(st.heap_objects, 1000);
    assert_int_equal(st.heap_alloc, 1000 * 8);
    assert_int_equal(st.total_alloc, 1000 * 8);
    assert_int_equal(st.heap_inuse, PAGE_SIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_small_every_size_class, heap_setup, heap_teardown),
        cmocka_unit_test(test_small_class_lookup_matches_brute_force),
        cmocka_unit_test_setup_teardown(test_alignment_16_for_requests_of_16_or_more, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_alloc_array, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_small_noscan_objects_never_share_a_slot, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_large_objects, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_interior_pointers_every_byte, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_addresses_outside_the_heap, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_usable_size_of_null, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_freed_and_free_pages_are_not_objects, heap_setup,
                                        heap_teardown),
        cmocka_unit_test_setup_teardown(test_zero_on_reuse_of_freed_slots, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_zero_on_reuse_of_freed_pages, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_stats_identities, heap_setup, heap_teardown),
        cmocka_unit_test_setup_teardown(test_stats_one_byte_objects, heap_setup, heap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
