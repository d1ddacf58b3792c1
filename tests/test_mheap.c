/*
 * test_mheap.c - the page heap (alloc/mheap.h, alloc/marena.h).
 *
 * Works on a struct mheap directly (heap-allocated: it is large) over the
 * real OS calls, and checks what the rest of the allocator builds on:
 *   - span alloc / free keep H1 (pages_mapped == inuse + free + released),
 *     H2/H3 (mheap_is_valid) and S1 (the sysmem holds exactly the arenas
 *     plus the metadata) after every step;
 *   - page search is first fit by address: a freed hole is split by the
 *     next smaller request, and freed neighbours coalesce so that a larger
 *     request reuses the run at the same address, also across arenas;
 *     a random workload is checked against a brute-force first-fit search
 *     over the page bitmaps;
 *   - growth into new arenas, and a span larger than an arena;
 *   - mheap_span_of_heap / mheap_object_base inside, at the edges of and
 *     outside spans, and for addresses that are not in the heap at all;
 *   - mheap_scavenge releases free pages highest first, the next
 *     allocation reuses them (made Ready again, reading as zero), and the
 *     counters move accordingly; needzero is false only for fresh pages;
 *   - the heap limit (H4), and the gch_stats identities
 *     HeapSys == HeapInuse + HeapIdle and HeapReleased <= HeapIdle.
 */
#include "testutil.h"
#include "mheap.h"

#include <pthread.h>
#include <sys/mman.h>

#define LARGE make_spanclass(0, true)

static struct mheap *mh_new(size_t limit)
{
    struct mheap *h = calloc(1, sizeof *h);
    assert_non_null(h);
    assert_true(mheap_init(h, &sys_linux_ops, false, limit));
    return h;
}

static void mh_free(struct mheap *h)
{
    mheap_destroy(h);
    free(h);
}

static size_t count_arenas(const struct mheap *h)
{
    size_t n = 0;
    for (const struct heaparena *a = h->arenas; a != NULL; a = a->next)
        n++;
    return n;
}

/* check: every invariant we can see from outside, after every step. */
static void check(struct mheap *h)
{
    assert_valid(mheap_is_valid(h));
    uint64_t mapped = ld(&h->pages_mapped), inuse = ld(&h->pages_inuse);
    uint64_t freep = ld(&h->pages_free), rel = ld(&h->pages_released);
    if (mapped != inuse + freep + rel)
        fail_msg("H1: mapped %llu != inuse %llu + free %llu + released %llu",
                 (unsigned long long)mapped, (unsigned long long)inuse,
                 (unsigned long long)freep, (unsigned long long)rel);
    uint64_t held = ld(&h->sys.reserved) + ld(&h->sys.prepared) + ld(&h->sys.ready);
    uint64_t meta = ld(&h->pa.sys_bytes) + ld(&h->pa_rel.sys_bytes) + ld(&h->gcbits.sys_bytes);
    assert_int_equal(held, count_arenas(h) * ARENA_SIZE + meta); /* S1 */
    assert_int_equal(h->spanalloc.inuse, ld(&h->spans_inuse)); /* F1: records of live spans */
    /* Released pages are Prepared; in-use and free pages are Ready. */
    assert_int_equal(ld(&h->sys.prepared), rel * PAGE_SIZE);
    assert_int_equal(ld(&h->sys.ready), (inuse + freep) * PAGE_SIZE + meta);
    if (h->heap_limit != 0)
        assert_true(mapped * PAGE_SIZE <= h->heap_limit); /* H4 */
}

static struct mspan *span(struct mheap *h, size_t npages)
{
    struct mspan *s = mheap_alloc_span(h, npages, LARGE);
    assert_non_null(s);
    assert_int_equal(s->npages, npages);
    assert_int_equal(s->start % PAGE_SIZE, 0);
    assert_int_equal(atomic_u8_load_relaxed(&s->state), MSPAN_IN_USE);
    check(h);
    return s;
}

static void unspan(struct mheap *h, struct mspan *s)
{
    mheap_free_span(h, s);
    check(h);
}

/* page_is_free / page_is_released: the bitmaps, for white-box checks. */
static bool page_bit(const struct mheap *h, uintptr_t p, bool released)
{
    struct heaparena *a = arena_of(&h->index, p);
    assert_non_null(a);
    size_t i = (p - a->base) / PAGE_SIZE;
    const uint64_t *w = released ? a->scav_bits : a->free_bits;
    return (w[i / 64] >> (i % 64)) & 1;
}

/* brute_first_fit: the lowest address starting npages free pages in a
 * row (a run may continue into the next arena when it is adjacent), by
 * looking at every page; 0 if none. */
static uintptr_t brute_first_fit(const struct mheap *h, size_t npages)
{
    size_t run = 0;
    uintptr_t start = 0, prev_end = 0;
    for (const struct heaparena *a = h->arenas; a != NULL; a = a->next) {
        if (a->base != prev_end)
            run = 0;
        prev_end = a->base + ARENA_SIZE;
        for (size_t i = 0; i < PAGES_PER_ARENA; i++) {
            bool f = (a->free_bits[i / 64] >> (i % 64)) & 1;
            if (!f) {
                run = 0;
                continue;
            }
            if (run == 0)
                start = a->base + i * PAGE_SIZE;
            if (++run == npages)
                return start;
        }
    }
    return 0;
}

/* ---- alloc / free ------------------------------------------------------ */

/* The first span maps one growth step; its pages start released and the
 * span's become Ready; freeing gives them back as free Ready pages. */
static void test_alloc_free_basic(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    check(h);
    assert_int_equal(ld(&h->pages_mapped), 0);
    struct mspan *s = span(h, 1);
    assert_int_equal(ld(&h->pages_mapped), HEAP_GROW_PAGES);
    assert_int_equal(ld(&h->pages_inuse), 1);
    assert_int_equal(ld(&h->pages_free), 0);
    assert_int_equal(ld(&h->pages_released), HEAP_GROW_PAGES - 1);
    assert_int_equal(ld(&h->spans_inuse), 1);
    assert_int_equal(s->elemsize, PAGE_SIZE);
    assert_int_equal(s->nelems, 1);
    assert_int_equal(s->limit, s->start + PAGE_SIZE);
    assert_false(s->needzero);
    assert_true(addr_is_zero(s->start, PAGE_SIZE));
    memset((void *)s->start, 0x11, PAGE_SIZE); /* Ready: writable */
    assert_non_null(s->alloc_bits);
    assert_non_null(s->gcmarks);
    assert_int_equal(atomic_u32_load_relaxed(&s->sweepgen), mheap_sweepgen(h));
    assert_ptr_equal(mheap_span_of_heap(h, s->start), s);
    assert_false(page_bit(h, s->start, false));

    unspan(h, s);
    assert_int_equal(ld(&h->pages_inuse), 0);
    assert_int_equal(ld(&h->pages_free), 1);
    assert_int_equal(ld(&h->pages_released), HEAP_GROW_PAGES - 1);
    assert_int_equal(ld(&h->spans_inuse), 0);
    mh_free(h);
}

/* A4: the search hint follows the first free page (a page freed below
 * it lowers it; the search raises it past taken pages), and the
 * validator names A4 when a free page lies below it. */
static void test_free_hint(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    struct mspan *a = span(h, 1), *b = span(h, 1), *c = span(h, 1);
    struct heaparena *ar = arena_of(&h->index, a->start);
    size_t ia = (a->start - ar->base) / PAGE_SIZE;
    lock_acquire(&h->lock);
    assert_true(ar->free_hint >= ia + 1); /* a was found at the hint */
    lock_release(&h->lock);
    unspan(h, a); /* below the hint: lowers it */
    lock_acquire(&h->lock);
    assert_int_equal(ar->free_hint, ia);
    lock_release(&h->lock);
    check(h);
    struct mspan *d = span(h, 1); /* first fit: a's page again */
    assert_int_equal(d->start, a->start);
    lock_acquire(&h->lock);
    size_t saved = ar->free_hint;
    ar->free_hint = PAGES_PER_ARENA; /* a lie: free pages lie below */
    lock_release(&h->lock);
    assert_invalid(mheap_is_valid(h), "A4");
    lock_acquire(&h->lock);
    ar->free_hint = saved;
    lock_release(&h->lock);
    check(h);
    unspan(h, b);
    unspan(h, c);
    unspan(h, d);
    check(h);
    mh_free(h);
}

/* Splitting: consecutive requests take consecutive pages; a freed 3-page
 * hole is split by a 2-page and then a 1-page request (first fit: the
 * hole is the lowest free run), not served from the free tail. */
static void test_split_first_fit(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    struct mspan *a = span(h, 1), *b = span(h, 3), *c = span(h, 2);
    assert_int_equal(b->start, a->start + PAGE_SIZE);
    assert_int_equal(c->start, b->start + 3 * PAGE_SIZE);
    uintptr_t hole = b->start;
    unspan(h, b);
    assert_int_equal(ld(&h->pages_free), 3);
    struct mspan *d = span(h, 2);
    assert_int_equal(d->start, hole);
    struct mspan *e = span(h, 1);
    assert_int_equal(e->start, hole + 2 * PAGE_SIZE);
    assert_int_equal(ld(&h->pages_free), 0);
    /* The hole is used up: the next page comes after c. */
    struct mspan *g = span(h, 1);
    assert_int_equal(g->start, c->start + 2 * PAGE_SIZE);
    /* A request larger than any hole skips the holes. */
    unspan(h, d);
    struct mspan *big = span(h, 3);
    assert_int_equal(big->start, g->start + PAGE_SIZE);
    mh_free(h);
}

/* Coalescing: three freed neighbours form one 6-page run, which a 6-page
 * request then gets at the same address; a 7-page request does not fit
 * there (a live span follows) and goes above. */
static void test_coalesce(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    struct mspan *a = span(h, 2), *b = span(h, 2), *c = span(h, 2), *fence = span(h, 1);
    uintptr_t base = a->start;
    unspan(h, a);
    unspan(h, c); /* two separate 2-page holes */
    struct mspan *x = span(h, 3);
    assert_int_equal(x->start, fence->start + PAGE_SIZE); /* no hole fits 3 */
    unspan(h, x);
    unspan(h, b); /* now a, b, c coalesce */
    struct mspan *six = span(h, 6);
    assert_int_equal(six->start, base);
    unspan(h, six);
    struct mspan *seven = span(h, 7);
    assert_int_equal(seven->start, fence->start + PAGE_SIZE);
    /* Everything free: the whole mapped region is one run again. */
    unspan(h, seven);
    unspan(h, fence);
    struct mspan *all = span(h, HEAP_GROW_PAGES);
    assert_int_equal(all->start, base);
    assert_int_equal(ld(&h->pages_mapped), HEAP_GROW_PAGES);
    mh_free(h);
}

/* ---- growth ------------------------------------------------------------ */

/* Spans totalling 72 MiB need a second arena; freed, they coalesce with
 * each other, and across the arena boundary when the arenas are adjacent. */
static void test_grow_into_new_arenas(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    enum { N = 9, NP = 1024 };
    struct mspan *s[N];
    for (int i = 0; i < N; i++) {
        s[i] = span(h, NP);
        *(volatile char *)s[i]->start = 1;
        *(volatile char *)(s[i]->start + NP * PAGE_SIZE - 1) = 1;
        for (int j = 0; j < i; j++)
            assert_true(s[i]->start >= s[j]->start + NP * PAGE_SIZE ||
                        s[j]->start >= s[i]->start + NP * PAGE_SIZE);
    }
    assert_true(count_arenas(h) >= 2);
    assert_int_equal(ld(&h->pages_inuse), N * NP);
    assert_true(ld(&h->pages_mapped) >= N * NP);
    /* Arenas are kept in address order and each is 64 MiB aligned. */
    for (struct heaparena *a = h->arenas; a != NULL; a = a->next) {
        assert_int_equal(a->base % ARENA_SIZE, 0);
        assert_ptr_equal(arena_of(&h->index, a->base + ARENA_SIZE - 1), a);
        if (a->next != NULL)
            assert_true(a->next->base > a->base);
    }
    struct heaparena *a0 = h->arenas;
    bool adjacent = a0->next != NULL && a0->next->base == a0->base + ARENA_SIZE &&
                    a0->mapped_pages == PAGES_PER_ARENA;
    for (int i = 0; i < N; i++)
        unspan(h, s[i]);
    assert_int_equal(ld(&h->pages_inuse), 0);
    uintptr_t expect = brute_first_fit(h, N * NP);
    struct mspan *all = span(h, N * NP);
    if (expect != 0)
        assert_int_equal(all->start, expect);
    if (adjacent)
        assert_int_equal(all->start, a0->base); /* the run crosses the boundary */
    mh_free(h);
}

/* One span larger than an arena: its pages come from adjacent arenas and
 * every page, on either side of the boundary, maps back to it. */
static void test_span_larger_than_arena(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    struct mspan *small = span(h, 1);
    size_t np = PAGES_PER_ARENA + 100;
    struct mspan *s = span(h, np);
    uintptr_t end = s->start + np * PAGE_SIZE;
    uintptr_t boundary = (s->start + ARENA_SIZE) & ~(ARENA_SIZE - 1);
    assert_true(boundary > s->start && boundary < end);
    assert_ptr_not_equal(arena_of(&h->index, s->start), arena_of(&h->index, end - 1));
    const uintptr_t probes[] = {s->start, s->start + 1, boundary - 1, boundary, boundary + PAGE_SIZE,
                                end - PAGE_SIZE, end - 1};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        assert_ptr_equal(mheap_span_of_heap(h, probes[i]), s);
        assert_int_equal(mheap_object_base(h, probes[i], NULL), s->start);
        *(volatile char *)probes[i] = (char)i;
    }
    assert_false(s->needzero);
    assert_int_equal(s->elemsize, np * PAGE_SIZE);
    assert_int_equal(ld(&h->pages_inuse), np + 1);
    unspan(h, s);
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
        assert_null(mheap_span_of_heap(h, probes[i]));
    unspan(h, small);
    mh_free(h);
}

/* A free run that starts at the top of one arena and continues into the
 * next (adjacent) arena is found by first fit: with a partial lead in the
 * next arena, and passing through a whole free arena into a third. */
static void test_cross_arena_runs(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    /* One growth of three adjacent arenas (a single reservation). */
    struct mspan *x = span(h, 2 * PAGES_PER_ARENA + 100);
    uintptr_t a0 = x->start;
    assert_int_equal(a0 % ARENA_SIZE, 0);
    assert_int_equal(count_arenas(h), 3);
    struct mspan *y = span(h, 50); /* arena 2, pages 100..149 */
    assert_int_equal(y->start, a0 + 2 * ARENA_SIZE + 100 * PAGE_SIZE);
    unspan(h, x);
    struct mspan *z = span(h, PAGES_PER_ARENA - 10); /* leaves 10 pages atop arena 0 */
    assert_int_equal(z->start, a0);
    uintptr_t tail = a0 + (PAGES_PER_ARENA - 10) * PAGE_SIZE;

    /* 10 pages in arena 0 + 50 in arena 1. */
    struct mspan *s = span(h, 60);
    assert_int_equal(s->start, tail);
    assert_ptr_equal(mheap_span_of_heap(h, a0 + ARENA_SIZE + 49 * PAGE_SIZE), s);
    assert_null(mheap_span_of_heap(h, a0 + ARENA_SIZE + 50 * PAGE_SIZE));
    unspan(h, s);
    /* 10 + all of arena 1 + 60 of arena 2's 100 leading free pages. */
    size_t np = 10 + PAGES_PER_ARENA + 60;
    assert_int_equal(brute_first_fit(h, np), tail);
    s = span(h, np);
    assert_int_equal(s->start, tail);
    assert_ptr_equal(mheap_span_of_heap(h, a0 + 2 * ARENA_SIZE + 59 * PAGE_SIZE), s);
    unspan(h, s);
    /* A used first page of arena 1 breaks the run: 10 free pages atop
     * arena 0 do not join arena 1's pages 1.. for an 11-page request. */
    struct mspan *t1 = span(h, 10);
    assert_int_equal(t1->start, tail);
    struct mspan *t2 = span(h, 1);
    assert_int_equal(t2->start, a0 + ARENA_SIZE);
    unspan(h, t1);
    s = span(h, 11);
    assert_int_equal(s->start, a0 + ARENA_SIZE + PAGE_SIZE);
    unspan(h, s);
    unspan(h, t2);
    /* 10 + 8192 + 100 + 1 does not fit before y: the run after y wins
     * (or, if none is long enough, new arenas). */
    np = 10 + PAGES_PER_ARENA + 101;
    uint64_t mapped = ld(&h->pages_mapped);
    s = span(h, np);
    assert_true(s->start != tail);
    assert_true(s->start >= y->start + 50 * PAGE_SIZE || ld(&h->pages_mapped) > mapped);
    unspan(h, s);
    unspan(h, y);
    unspan(h, z);
    mh_free(h);
}

/* block_slot: occupy the 64 MiB slot at addr so no arena can go there
 * (false if something already does). */
static bool block_slot(uintptr_t addr)
{
    void *p = mmap((void *)addr, ARENA_SIZE, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    if ((uintptr_t)p != addr) { /* an old kernel ignoring the flag */
        munmap(p, ARENA_SIZE);
        return false;
    }
    return true;
}

/* Free runs in two arenas that are not adjacent in memory never combine:
 * the heap must grow instead of handing out a span over the gap. */
static void test_no_run_across_gap(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    struct mspan *x = span(h, PAGES_PER_ARENA); /* exactly one whole arena */
    uintptr_t a0 = x->start;
    bool below = block_slot(a0 - ARENA_SIZE), above = block_slot(a0 + ARENA_SIZE);
    struct mspan *y = span(h, PAGES_PER_ARENA); /* a second, distant arena */
    uintptr_t a1 = y->start;
    assert_true(a1 != a0 + ARENA_SIZE && a1 + ARENA_SIZE != a0);
    unspan(h, x);
    unspan(h, y); /* both arenas entirely free */
    size_t np = PAGES_PER_ARENA + 10;
    assert_int_equal(brute_first_fit(h, np), 0);
    uint64_t mapped = ld(&h->pages_mapped);
    struct mspan *s = span(h, np);
    assert_true(ld(&h->pages_mapped) > mapped);
    for (size_t k = 0; k < np; k += 1024)
        assert_non_null(arena_of(&h->index, s->start + k * PAGE_SIZE));
    *(volatile char *)(s->start + np * PAGE_SIZE - 1) = 1;
    unspan(h, s);
    if (below)
        munmap((void *)(a0 - ARENA_SIZE), ARENA_SIZE);
    if (above)
        munmap((void *)(a0 + ARENA_SIZE), ARENA_SIZE);
    mh_free(h);
}

/* ---- address lookups ---------------------------------------------------- */

/* For every byte of a small-class span: the slot base is the offset
 * rounded down to elemsize; the tail after the last slot has no object. */
static void check_object_bases(struct mheap *h, unsigned sc)
{
    size_t np = gchi_class_to_allocnpages[sc];
    struct mspan *s = mheap_alloc_span(h, np, make_spanclass(sc, false));
    assert_non_null(s);
    assert_int_equal(s->elemsize, gchi_class_to_size[sc]);
    assert_int_equal(s->nelems, gchi_class_to_nelems[sc]);
    assert_int_equal(s->limit, s->start + s->nelems * s->elemsize);
    for (uintptr_t off = 0; off < np * PAGE_SIZE; off++) {
        uintptr_t p = s->start + off;
        struct mspan *got = NULL;
        uintptr_t base = mheap_object_base(h, p, &got);
        assert_ptr_equal(mheap_span_of_heap(h, p), s);
        if (p < s->limit) {
            if (base != s->start + off / s->elemsize * s->elemsize)
                fail_msg("class %u offset %lu: base %#lx", sc, (unsigned long)off, (unsigned long)base);
            assert_ptr_equal(got, s);
        } else {
            assert_int_equal(base, 0);
        }
    }
    mheap_free_span(h, s);
}

static void test_object_base_small_classes(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    const unsigned classes[] = {1, 3, 5, 11, 35, 43, 67};
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        check_object_bases(h, classes[i]);
    check(h);
    mh_free(h);
}

/* Addresses at the edges of spans, in free pages, in reserved but unmapped
 * arena space, and outside the heap all answer "no span" / 0. */
static void test_span_of_heap_edges_and_outside(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    struct mspan *gap = span(h, 1);
    struct mspan *s = span(h, 2);
    struct mspan *after = span(h, 1);
    unspan(h, gap); /* the page below s is free */
    uintptr_t end = s->start + 2 * PAGE_SIZE;

    assert_null(mheap_span_of_heap(h, s->start - 1));
    assert_int_equal(mheap_object_base(h, s->start - 1, NULL), 0);
    assert_ptr_equal(mheap_span_of_heap(h, s->start), s);
    assert_ptr_equal(mheap_span_of_heap(h, end - 1), s);
    assert_int_equal(mheap_object_base(h, end - 1, NULL), s->start);
    assert_ptr_equal(mheap_span_of_heap(h, end), after); /* the neighbour, not s */
    assert_int_equal(mheap_object_base(h, end, NULL), end);
    unspan(h, after);
    assert_null(mheap_span_of_heap(h, end)); /* a free page */
    assert_int_equal(mheap_object_base(h, end, NULL), 0);

    /* Reserved, never mapped part of the arena. */
    struct heaparena *a = arena_of(&h->index, s->start);
    assert_non_null(a);
    assert_true(a->mapped_pages < PAGES_PER_ARENA);
    assert_null(mheap_span_of_heap(h, a->base + ARENA_SIZE - 1));
    assert_int_equal(mheap_object_base(h, a->base + a->mapped_pages * PAGE_SIZE, NULL), 0);

    /* Not in this heap at all. */
    int on_stack = 0;
    char *from_malloc = malloc(100);
    assert_non_null(from_malloc);
    const uintptr_t outside[] = {0,
                                 1,
                                 (uintptr_t)&on_stack,
                                 (uintptr_t)from_malloc,
                                 (uintptr_t)&test_span_of_heap_edges_and_outside,
                                 a->base - 1,
                                 a->base + ARENA_SIZE, /* next arena slot, not ours */
                                 (uintptr_t)1 << 47,
                                 ((uintptr_t)1 << 48) - 1,
                                 (uintptr_t)1 << 48,
                                 ~(uintptr_t)0};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        if (arena_of(&h->index, outside[i]) != NULL)
            continue; /* an adjacent arena of ours (not the case here) */
        assert_null(mheap_span_of_heap(h, outside[i]));
        assert_int_equal(mheap_object_base(h, outside[i], NULL), 0);
    }
    assert_null(arena_of(&h->index, (uintptr_t)&on_stack));
    assert_null(arena_of(&h->index, (uintptr_t)from_malloc));
    assert_null(arena_of(&h->index, ~(uintptr_t)0));
    free(from_malloc);

    /* A freed span is gone from every lookup. */
    uintptr_t start = s->start;
    unspan(h, s);
    assert_null(mheap_span_of_heap(h, start));
    assert_int_equal(mheap_object_base(h, start + 5, NULL), 0);
    mh_free(h);
}

/* ---- scavenging and reuse ------------------------------------------------ */

/* Released pages are reused by the next allocation (first fit), become
 * Ready again, read as zero, and the counters follow. */
static void test_scavenge_release_and_reuse(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    struct mspan *a = span(h, 4), *fence = span(h, 1);
    uintptr_t base = a->start;
    memset((void *)base, 0x5c, 4 * PAGE_SIZE);
    unspan(h, a);
    uint64_t rel0 = ld(&h->pages_released), free0 = ld(&h->pages_free);
    assert_int_equal(free0, 4);
    uint64_t calls = ld(&h->sys.unused_calls);

    assert_int_equal(mheap_scavenge(h, PAGE_SIZE - 1, 0, SCAV_FORCED, NULL), 0); /* less than a page */
    size_t got = mheap_scavenge(h, SIZE_MAX, 0, SCAV_FORCED, NULL);
    assert_int_equal(got, 4 * PAGE_SIZE);
    check(h);
    assert_int_equal(ld(&h->pages_released), rel0 + 4);
    assert_int_equal(ld(&h->pages_free), 0);
    assert_true(ld(&h->sys.unused_calls) > calls);
    for (int i = 0; i < 4; i++)
        assert_true(page_bit(h, base + i * PAGE_SIZE, true));
    assert_int_equal(mheap_scavenge(h, SIZE_MAX, 0, SCAV_FORCED, NULL), 0); /* nothing left to release */

    struct mspan *b = span(h, 4);
    assert_int_equal(b->start, base);
    assert_int_equal(ld(&h->pages_released), rel0);
    assert_false(b->needzero); /* released with MADV_DONTNEED: they read zero */
    assert_true(addr_is_zero(base, 4 * PAGE_SIZE));
    memset((void *)base, 1, 4 * PAGE_SIZE); /* Ready again */
    for (int i = 0; i < 4; i++)
        assert_false(page_bit(h, base + i * PAGE_SIZE, true));
    unspan(h, b);
    unspan(h, fence);
    mh_free(h);
}

/* Release order is highest address first, a partial request takes the top
 * pages of a run, and a span made of released and Ready pages moves each
 * kind out of its own counter. */
static void test_scavenge_order_and_mixed_reuse(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    struct mspan *a = span(h, 4), *b = span(h, 1), *c = span(h, 4), *d = span(h, 1);
    uintptr_t abase = a->start, cbase = c->start;
    unspan(h, a);
    unspan(h, c);
    assert_int_equal(mheap_scavenge(h, PAGE_SIZE, 0, SCAV_FORCED, NULL), PAGE_SIZE);
    check(h);
    assert_true(page_bit(h, cbase + 3 * PAGE_SIZE, true));
    for (int i = 0; i < 3; i++)
        assert_false(page_bit(h, cbase + i * PAGE_SIZE, true));
    assert_int_equal(mheap_scavenge(h, 2 * PAGE_SIZE, 0, SCAV_FORCED, NULL), 2 * PAGE_SIZE);
    check(h);
    assert_true(page_bit(h, cbase + PAGE_SIZE, true));
    assert_true(page_bit(h, cbase + 2 * PAGE_SIZE, true));
    assert_false(page_bit(h, cbase, true));
    for (int i = 0; i < 4; i++)
        assert_false(page_bit(h, abase + i * PAGE_SIZE, true)); /* lower run untouched */

    /* c's run: 1 Ready + 3 released pages. */
    uint64_t rel = ld(&h->pages_released), fr = ld(&h->pages_free);
    uint64_t prepared = ld(&h->sys.prepared);
    struct mspan *a2 = span(h, 4); /* first fit: a's Ready pages */
    assert_int_equal(a2->start, abase);
    assert_int_equal(ld(&h->pages_released), rel);
    assert_int_equal(ld(&h->pages_free), fr - 4);
    struct mspan *c2 = span(h, 4);
    assert_int_equal(c2->start, cbase);
    assert_true(c2->needzero); /* its one Ready page was used before */
    assert_int_equal(ld(&h->pages_released), rel - 3);
    assert_int_equal(ld(&h->pages_free), fr - 5);
    assert_int_equal(ld(&h->sys.prepared), prepared - 3 * PAGE_SIZE);
    memset((void *)cbase, 2, 4 * PAGE_SIZE);
    unspan(h, a2);
    unspan(h, b);
    unspan(h, c2);
    unspan(h, d);
    /* Releasing everything leaves no free Ready page. */
    mheap_scavenge(h, SIZE_MAX, 0, SCAV_FORCED, NULL);
    check(h);
    assert_int_equal(ld(&h->pages_free), 0);
    assert_int_equal(ld(&h->pages_released), ld(&h->pages_mapped));
    mh_free(h);
}

/* Across arenas the release order is also highest address first. */
static void test_scavenge_highest_arena_first(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    struct mspan *x = span(h, PAGES_PER_ARENA + 100); /* arenas 0 and 1 */
    uintptr_t a0 = x->start, a1 = a0 + ARENA_SIZE;
    struct mspan *y = span(h, 1);
    assert_int_equal(y->start, a1 + 100 * PAGE_SIZE);
    unspan(h, x); /* Ready free pages in both arenas */
    assert_int_equal(mheap_scavenge(h, PAGE_SIZE, 0, SCAV_FORCED, NULL), PAGE_SIZE);
    check(h);
    assert_true(page_bit(h, a1 + 99 * PAGE_SIZE, true));
    assert_false(page_bit(h, a0 + (PAGES_PER_ARENA - 1) * PAGE_SIZE, true));
    /* 99 more pages use up arena 1's Ready pages; the next comes from 0. */
    assert_int_equal(mheap_scavenge(h, 100 * PAGE_SIZE, 0, SCAV_FORCED, NULL), 100 * PAGE_SIZE);
    check(h);
    assert_true(page_bit(h, a1, true));
    assert_true(page_bit(h, a0 + (PAGES_PER_ARENA - 1) * PAGE_SIZE, true));
    assert_false(page_bit(h, a0 + (PAGES_PER_ARENA - 2) * PAGE_SIZE, true));
    unspan(h, y);
    mh_free(h);
}

/* needzero: fresh pages (never handed out) are known zero; any page that
 * was in a span before may hold old data. */
static void test_needzero(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    struct mspan *a = span(h, 3);
    assert_false(a->needzero);
    uintptr_t base = a->start;
    unspan(h, a);
    struct mspan *b = span(h, 1);
    assert_int_equal(b->start, base);
    assert_true(b->needzero);
    struct mspan *c = span(h, 4); /* 2 reused pages + 2 fresh */
    assert_int_equal(c->start, base + PAGE_SIZE);
    assert_true(c->needzero);
    struct mspan *d = span(h, 2); /* above everything used so far */
    assert_int_equal(d->start, base + 5 * PAGE_SIZE);
    assert_false(d->needzero);
    mh_free(h);
}

/* ---- limits and failures ------------------------------------------------ */

static void test_heap_limit(void **state)
{
    (void)state;
    struct mheap *h = mh_new(HEAP_GROW_PAGES * PAGE_SIZE);
    expect_error(mheap_alloc_span(h, HEAP_GROW_PAGES + 1, LARGE), GCH_ENOMEM);
    check(h);
    struct mspan *s = span(h, HEAP_GROW_PAGES - 1);
    struct mspan *t = span(h, 1);
    expect_error(mheap_alloc_span(h, 1, LARGE), GCH_ENOMEM);
    check(h);
    unspan(h, t);
    t = span(h, 1); /* room again */
    unspan(h, s);
    unspan(h, t);
    mh_free(h);
}

static void free_twice(void *arg)
{
    struct mheap *h = arg;
    struct mspan *s = mheap_alloc_span(h, 1, LARGE);
    mheap_free_span(h, s);
    mheap_free_span(h, s);
}

static void test_free_dead_span_is_fatal(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    expect_fatal(free_twice, h, "freeing a span that is not in use");
    check(h); /* the child's damage stayed in the child */
    mh_free(h);
}

/* ---- random workload against a brute-force first fit --------------------- */

static void test_random_first_fit(void **state)
{
    (void)state;
    struct mheap *h = mh_new(0);
    enum { MAXLIVE = 48 };
    struct mspan *live[MAXLIVE] = {0};
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    int grown = 0, matched = 0;
    for (int step = 0; step < 1200; step++) {
        size_t i = (size_t)(rng_next(&rng) % MAXLIVE);
        uint64_t r = rng_next(&rng);
        if (live[i] == NULL) {
            size_t np = 1 + (size_t)(r % 24);
            if (r % 97 == 0)
                np = PAGES_PER_ARENA + 1 + (size_t)(r % 500); /* crosses arenas */
            else if (r % 13 == 0)
                np = 300 + (size_t)(r % 700);
            uintptr_t expect = brute_first_fit(h, np);
            uint64_t mapped = ld(&h->pages_mapped);
            struct mspan *s = mheap_alloc_span(h, np, LARGE);
            assert_non_null(s);
            if (expect != 0) {
                if (s->start != expect)
                    fail_msg("step %d: %zu pages at %#lx, first fit is %#lx", step, np,
                             (unsigned long)s->start, (unsigned long)expect);
                assert_int_equal(ld(&h->pages_mapped), mapped); /* no growth needed */
                matched++;
            } else {
                assert_true(ld(&h->pages_mapped) > mapped);
                grown++;
            }
            for (size_t k = 0; k < np; k += 1 + np / 8)
                assert_ptr_equal(mheap_span_of_heap(h, s->start + k * PAGE_SIZE), s);
            live[i] = s;
        } else {
            mheap_free_span(h, live[i]);
            live[i] = NULL;
        }
        if (r % 50 == 0) {
            uint64_t rel = ld(&h->pages_released);
            size_t want = (size_t)(r >> 32) % (200 * PAGE_SIZE);
            size_t got = mheap_scavenge(h, want, 0, SCAV_FORCED, NULL);
            assert_true(got <= want);
            assert_int_equal(got % PAGE_SIZE, 0);
            assert_int_equal(ld(&h->pages_released), rel + got / PAGE_SIZE);
        }
        if (step % 20 == 0)
            check(h);
    }
    assert_true(matched > 100 && grown > 0);
    for (size_t i = 0; i < MAXLIVE; i++)
        if (live[i] != NULL)
            mheap_free_span(h, live[i]);
    check(h);
    assert_int_equal(ld(&h->pages_inuse), 0);
    assert_int_equal(ld(&h->spans_inuse), 0);
    mh_free(h);
}

/* ---- lock-free lookups racing with span reuse ---------------------------
 *
 * Regression test for the span-record reuse race: span records are
 * recycled at once (fixalloc LIFO) and mheap_alloc_span rewrites their
 * layout while lock-free readers may be reading it.  Readers copy the
 * layout under the span seqlock (span_read_layout, mspan.h); under
 * -DGCH_SANITIZE=thread any plain access on that path is reported, and in
 * every build each answer must be self-consistent.
 */
struct race_ctx {
    struct mheap *h;
    struct atomic_uptr probe; /* a start address recently handed out */
    struct atomic_u32 stop;
    unsigned long bad;        /* answers that cannot be right */
    unsigned long hits;
};

static void *race_reader(void *arg)
{
    struct race_ctx *c = arg;
    while (atomic_u32_load_acquire(&c->stop) == 0) {
        uintptr_t p0 = atomic_uptr_load_acquire(&c->probe);
        if (p0 == 0)
            continue;
        for (uintptr_t off = 0; off < 3 * PAGE_SIZE; off += 1000) {
            uintptr_t p = p0 + off;
            uintptr_t base = mheap_object_base(c->h, p, NULL);
            if (base == 0)
                continue;
            c->hits++;
            if (base > p || p - base >= 3 * PAGE_SIZE) /* no object is bigger here */
                c->bad++;
        }
    }
    return NULL;
}

static void test_lookup_races_with_span_reuse(void **state)
{
    (void)state;
    struct race_ctx c;
    memset(&c, 0, sizeof c);
    c.h = mh_new(0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, race_reader, &c), 0);
    static const unsigned classes[] = {0, 1, 3, 5, 40};
    for (int i = 0; i < 20000; i++) {
        unsigned sc = classes[i % 5];
        size_t np = sc == 0 ? 1 + (size_t)(i % 3) : gchi_class_to_allocnpages[sc];
        struct mspan *s = mheap_alloc_span(c.h, np, make_spanclass(sc, false));
        assert_non_null(s);
        atomic_uptr_store_release(&c.probe, s->start);
        mheap_free_span(c.h, s); /* the record is reused by the next alloc */
    }
    atomic_u32_store_release(&c.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(c.bad, 0);
    check(c.h);
    mh_free(c.h);
}

/* ---- through the public stats --------------------------------------------- */

static void check_stats(gch_heap *h, gch_stats *st)
{
    gch_read_stats(h, st);
    assert_int_equal(st->heap_sys, st->heap_inuse + st->heap_idle);
    assert_true(st->heap_released <= st->heap_idle);
    assert_int_equal(st->heap_sys, ld(&h->mheap.pages_mapped) * PAGE_SIZE);
    assert_int_equal(gchi_heap_verify(h), 0);
}

/* HeapReleased grows by what mheap_scavenge released, the next large
 * allocation takes it back (zeroed), and the identities hold throughout. */
static void test_stats_and_scavenge(void **state)
{
    struct fixture *f = *state;
    gch_stats st, st2;
    check_stats(f->h, &st);
    char *objs[6];
    for (int i = 0; i < 6; i++) {
        objs[i] = gch_alloc_noscan(f->t, 100000);
        assert_non_null(objs[i]);
        memset(objs[i], 0x3e, 100000);
    }
    assert_non_null(gch_alloc_noscan(f->t, 24));
    check_stats(f->h, &st);
    assert_true(st.heap_inuse >= 6 * 100000);
    assert_int_equal(gch_thread_flush(f->t), GCH_OK);
    for (int i = 0; i < 6; i++)
        gchi_free(f->t, objs[i]);
    check_stats(f->h, &st);
    size_t got = mheap_scavenge(&f->h->mheap, SIZE_MAX, 0, SCAV_FORCED, NULL);
    assert_true(got >= 6 * 13 * PAGE_SIZE); /* the six 13-page spans at least */
    check_stats(f->h, &st2);
    assert_int_equal(st2.heap_released, st.heap_released + got);
    assert_int_equal(st2.heap_idle, st.heap_idle);
    assert_int_equal(st2.heap_sys, st.heap_sys);
    char *again = gch_alloc_noscan(f->t, 100000);
    assert_ptr_equal(again, objs[0]); /* first fit reuses the released run */
    for (size_t k = 0; k < 100000; k++)
        assert_int_equal(again[k], 0);
    check_stats(f->h, &st);
    assert_int_equal(st.heap_released, st2.heap_released - 13 * PAGE_SIZE);
    assert_int_equal(st.heap_sys, st2.heap_sys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_free_basic),
        cmocka_unit_test(test_split_first_fit),
        cmocka_unit_test(test_free_hint),
        cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_grow_into_new_arenas),
        cmocka_unit_test(test_span_larger_than_arena),
        cmocka_unit_test(test_cross_arena_runs),
        cmocka_unit_test(test_no_run_across_gap),
        cmocka_unit_test(test_object_base_small_classes),
        cmocka_unit_test(test_span_of_heap_edges_and_outside),
        cmocka_unit_test(test_scavenge_release_and_reuse),
        cmocka_unit_test(test_scavenge_order_and_mixed_reuse),
        cmocka_unit_test(test_scavenge_highest_arena_first),
        cmocka_unit_test(test_needzero),
        cmocka_unit_test(test_heap_limit),
        cmocka_unit_test(test_free_dead_span_is_fatal),
        cmocka_unit_test(test_random_first_fit),
        cmocka_unit_test_setup_teardown(test_stats_and_scavenge, heap_setup, heap_teardown),
        cmocka_unit_test(test_lookup_races_with_span_reuse), /* span seqlock (mspan.h); TSan-checked */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
