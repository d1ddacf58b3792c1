/*
 * mheap.c - page heap: arena reservation, page search, span alloc/free,
 * coalescing, growth and releasing memory to the OS.
 * Go counterpart: runtime/mheap.go, mpagealloc.go, malloc.go (sysAlloc,
 * arena hints).  Contract and invariants H1-H4, A1-A3: mheap.h, marena.h.
 * Overview: alloc/malloc.c.
 *
 * Free memory has no span record: it is the set bits of the per-arena
 * free bitmaps, so neighbours coalesce by construction when a span's
 * pages are freed, and splitting is taking a prefix of a run.  The search
 * is first fit in address order (Go's policy, which keeps the heap dense
 * at low addresses and lets the scavenger release the high end), and a run
 * may cross from one arena into an adjacent one.
 */
#define GCHI_BUILDING 1
#include "mheap.h"
#include "error.h"
#include "mpagealloc.h"
#include "track.h"

/* ---- arenas ------------------------------------------------------------- */

/* arena_register: make arena metadata for [base, base + ARENA_SIZE) and
 * publish it in the index (A1).  prev, when not NULL, is a registered
 * arena below base: the address-ordered insertion starts there, so that
 * registering k adjacent arenas is O(k), not O(k^2).  Caller holds
 * h->lock. */
static struct heaparena *arena_register(struct mheap *h, uintptr_t base, struct heaparena *prev)
{
    struct heaparena *a = persistent_alloc(&h->pa, sizeof *a, 64);
    if (a == NULL)
        return NULL;
    uintptr_t ai = base >> ARENA_SHIFT;
    struct atomic_ptr *l1 = &h->index.l1[ai >> ARENA_L2_BITS];
    struct arena_l2 *l2 = atomic_ptr_load_relaxed(l1);
    if (l2 == NULL) {
        l2 = persistent_alloc(&h->pa, sizeof *l2, 64);
        if (l2 == NULL)
            return NULL; /* a is lost to the persistent pool; the heap is intact */
        atomic_ptr_store_release(l1, l2);
    }
    a->base = base;
    /* Keep h->arenas in address order so the first-fit search sees
     * adjacent arenas one after the other. */
    struct heaparena **pp = prev != NULL ? &prev->next : &h->arenas;
    struct heaparena *before = prev;
    while (*pp != NULL && (*pp)->base < base) {
        before = *pp;
        pp = &(*pp)->next;
    }
    a->next = *pp;
    a->prev = before;
    if (a->next != NULL)
        a->next->prev = a;
    else
        h->last_arena = a;
    *pp = a;
    atomic_ptr_store_release(&l2->arena[ai & (ARENA_L2_ENTRIES - 1)], a);
    return a;
}

static uintptr_t round_up(uintptr_t x, uintptr_t a) { return (x + a - 1) & ~(a - 1); }

/* reserve_arenas: reserve k adjacent, ARENA_SIZE-aligned arenas, preferring
 * the address just above the highest arena so the heap stays contiguous.
 * Returns the first arena's metadata or NULL.  Caller holds h->lock. */
static struct heaparena *reserve_arenas(struct mheap *h, size_t k)
{
    uintptr_t size = k * ARENA_SIZE;
    uintptr_t hint = h->last_arena != NULL ? h->last_arena->base + ARENA_SIZE : 0;
    uintptr_t p = (uintptr_t)sys_reserve(&h->sys, (void *)hint, size);
    if (p != 0 && (p & (ARENA_SIZE - 1)) != 0) {
        sys_free(&h->sys, (void *)p, size, SYS_RESERVED);
        p = 0;
    }
    if (p == 0) {
        /* Over-reserve by one arena and trim to alignment. */
        uintptr_t raw = (uintptr_t)sys_reserve(&h->sys, NULL, size + ARENA_SIZE);
        if (raw == 0)
            return NULL;
        p = round_up(raw, ARENA_SIZE);
        if (p > raw)
            sys_free(&h->sys, (void *)raw, p - raw, SYS_RESERVED);
        uintptr_t tail = raw + size + ARENA_SIZE - (p + size);
        if (tail > 0)
            sys_free(&h->sys, (void *)(p + size), tail, SYS_RESERVED);
    }
    if ((p >> ARENA_SHIFT) + k > ((uintptr_t)1 << (ARENA_L1_BITS + ARENA_L2_BITS))) {
        sys_free(&h->sys, (void *)p, size, SYS_RESERVED);
        return NULL; /* beyond the index's 48-bit address space */
    }
    struct heaparena *first = NULL, *prev = NULL;
    bool advise = h->huge_fresh && h->sys.ops.huge != NULL;
    bool huge = advise && h->arenas != NULL; /* not the heap's first arena */
    for (size_t i = 0; i < k; i++) {
        struct heaparena *a = arena_register(h, p + i * ARENA_SIZE, prev);
        if (a == NULL) {
            /* Arenas registered so far stay (empty, Reserved); give back
             * the address space nobody indexes. */
            sys_free(&h->sys, (void *)(p + i * ARENA_SIZE), size - i * ARENA_SIZE, SYS_RESERVED);
            return first;
        }
        if (first == NULL)
            first = a;
        prev = a;
        a->tail_advised = huge; /* the first arena's tail: arena_advise_tail */
        if (huge) { /* no page mapped yet: no other advice can precede this */
            a->huge = true;
            h->sys.ops.huge(h->sys.ops.ctx, (void *)a->base, ARENA_SIZE, true);
        }
        huge = advise;
    }
    return first;
}

/* arena_os_map: make pages [first, first + n) of a accessible and count
 * them Prepared.  The first call maps the rest of the arena in one
 * mprotect (sys_map_ahead), so later steps need no OS call: an mprotect
 * that extends the heap's mapping waits for every page fault in flight in
 * the VMA it merges into (a fresh huge page's fault zeroes 2 MiB), while
 * the caller holds h->lock, which stalled a second allocating thread at
 * every 4 MiB step (bench_alloc, 64 B on two threads: 14 ms of mprotect
 * per 192 MiB).  The OS counts the range mapped ahead at once (VmData,
 * RLIMIT_DATA, strict overcommit), so it stops at heap_limit; with
 * harddecommit, whose point is that memory the heap does not use faults,
 * nothing is mapped ahead.  One try per arena: if the OS refuses, every
 * step is mapped on its own.  Caller holds h->lock. */
static bool arena_os_map(struct mheap *h, struct heaparena *a, size_t first, size_t n)
{
    void *v = (void *)(a->base + first * PAGE_SIZE);
    if (first + n <= a->ahead_pages) {
        sys_map_premapped(&h->sys, n * PAGE_SIZE);
        return true;
    }
    size_t end = PAGES_PER_ARENA;
    if (h->heap_limit != 0) { /* mheap_grow checked that the step itself fits */
        size_t room = h->heap_limit / PAGE_SIZE - atomic_u64_load_relaxed(&h->pages_mapped);
        if (end - first > room)
            end = first + room;
    }
    if (!a->ahead_tried && !h->sys.hard_decommit && end > first + n) {
        a->ahead_tried = true;
        if (sys_map_ahead(&h->sys, v, (end - first) * PAGE_SIZE)) {
            a->ahead_pages = end;
            sys_map_premapped(&h->sys, n * PAGE_SIZE);
            return true;
        }
    }
    if (!sys_map(&h->sys, v, n * PAGE_SIZE))
        return false;
    a->ahead_pages = first + n;
    return true;
}

/* arena_map_pages: Reserved -> Prepared for n pages at the arena's mapped
 * end; they join the free pool as released pages (H2).  Caller holds
 * h->lock. */
static bool arena_map_pages(struct mheap *h, struct heaparena *a, size_t n)
{
    size_t first = a->mapped_pages;
    GCH_ASSERT_INTERNAL(first + n <= PAGES_PER_ARENA);
    if (!arena_os_map(h, a, first, n))
        return false;
    arena_set_free(a, first, n);
    bits_set_range(a->scav_bits, first, n);
    a->free_pages += n;
    a->mapped_pages += n;
    atomic_u64_add_relaxed(&h->pages_mapped, n);
    atomic_u64_add_relaxed(&h->pages_released, n);
    return true;
}

/* arena_advise_tail: once the heap has mapped HUGE_TAIL_AFTER_PAGES,
 * advise MADV_HUGEPAGE for the part of arena a (the heap's first, which
 * reserve_arenas left at 4 KiB pages) from the first 2 MiB boundary at or
 * above zeroed_base to its end: pages no span has had, so nothing there is
 * resident and every 2 MiB unit it holds is wholly fresh.  Then fresh
 * memory faults per 2 MiB there too, as in the later arenas, while a
 * small heap keeps 4 KiB granularity.  Once per arena (tail_advised),
 * and again after a release un-advised it (mscavenge.c release_run),
 * and only while the arena is not wholly mapped and a->huge is false:
 * sysmon's advice (mheap_advise_huge) takes only wholly mapped arenas, and
 * a release of an arena not advised (a->huge false when it took the run)
 * un-advises nothing, so no other advice for a can be in flight.  A
 * release in flight may be dropping pages below zeroed_base, outside the
 * tail.  Caller holds h->lock. */
static void arena_advise_tail(struct mheap *h, struct heaparena *a)
{
    if (a->tail_advised || a->huge || !h->huge_fresh || a->mapped_pages == PAGES_PER_ARENA ||
        atomic_u64_load_relaxed(&h->pages_mapped) < HUGE_TAIL_AFTER_PAGES)
        return;
    a->tail_advised = true;
    size_t first = round_up(a->zeroed_base, HUGE_PAGE_PAGES);
    if (first >= PAGES_PER_ARENA)
        return;
    if (h->sys.ops.huge == NULL) /* huge_fresh implies it today (gc/proc.c) */
        return;
    a->huge = true; /* so the first release un-advises the arena (mscavenge.c) */
    h->sys.ops.huge(h->sys.ops.ctx, (void *)(a->base + first * PAGE_SIZE),
                    (PAGES_PER_ARENA - first) * PAGE_SIZE, true);
}

/* mheap_grow: map at least npages more pages that form one free run.
 * Caller holds h->lock.  Go counterpart: (*mheap).grow. */
static bool mheap_grow(struct mheap *h, size_t npages)
{
    size_t ask = round_up(npages, HEAP_GROW_PAGES);
    if (h->heap_limit != 0) {
        size_t have = atomic_u64_load_relaxed(&h->pages_mapped);
        size_t cap = h->heap_limit / PAGE_SIZE;
        if (have + npages > cap)
            return false; /* H4 */
        if (have + ask > cap)
            ask = cap - have;
    }
    struct heaparena *a = h->cur;
    if (a != NULL && PAGES_PER_ARENA - a->mapped_pages >= npages) {
        size_t room = PAGES_PER_ARENA - a->mapped_pages;
        arena_advise_tail(h, a);
        return arena_map_pages(h, a, ask < room ? ask : room);
    }
    size_t k = (ask + PAGES_PER_ARENA - 1) / PAGES_PER_ARENA;
    a = reserve_arenas(h, k);
    if (a == NULL)
        return false;
    uintptr_t base = a->base;
    size_t left = ask;
    for (size_t i = 0; i < k && left > 0; i++) {
        /* reserve_arenas may have registered fewer than k arenas (out of
         * metadata): only adjacent ones extend the run. */
        a = arena_of(&h->index, base + i * ARENA_SIZE);
        if (a == NULL)
            break;
        size_t n = left < PAGES_PER_ARENA ? left : PAGES_PER_ARENA;
        /* Grow into this arena from now on, even if mapping fails: the
         * next attempt retries it instead of reserving yet another. */
        h->cur = a;
        if (!arena_map_pages(h, a, n))
            break; /* what was mapped stays usable */
        left -= n;
    }
    return left == 0;
}

/* ---- page search -------------------------------------------------------- */

/* find_pages: the lowest address of a free run of npages, or 0.  Caller
 * holds h->lock. */
static uintptr_t find_pages(struct mheap *h, size_t npages)
{
    size_t run = 0;            /* free pages carried over from earlier arenas */
    uintptr_t run_start = 0, prev_end = 0;
    for (struct heaparena *a = h->arenas; a != NULL; a = a->next) {
        if (a->base != prev_end)
            run = 0;
        prev_end = a->base + ARENA_SIZE;
        if (a->free_pages == 0) {
            run = 0;
            continue;
        }
        if (run > 0) {
            size_t lead = bits_next_clear(a->free_bits, 0, PAGES_PER_ARENA);
            if (run + lead >= npages)
                return run_start;
            if (lead == PAGES_PER_ARENA) {
                run += lead;
                continue;
            }
        }
        /* A4: nothing below the hint is free; the first free page is
         * the next hint (the search below starts there). */
        size_t from = bits_next_set(a->free_bits, a->free_hint, PAGES_PER_ARENA);
        a->free_hint = from;
        size_t i = bits_find_run(a->free_bits, from, PAGES_PER_ARENA, npages);
        if (i < PAGES_PER_ARENA)
            return a->base + i * PAGE_SIZE;
        run = bits_trailing_run(a->free_bits, PAGES_PER_ARENA);
        run_start = a->base + (PAGES_PER_ARENA - run) * PAGE_SIZE;
    }
    return 0;
}

/* range_needs_zero: whether pages [first, first + n) of a may hold old
 * data: a page below zeroed_base was used before, unless it was released
 * since and released pages read zero (released_zeroed).  Caller holds
 * h->lock, before the pages leave the free set. */
static bool range_needs_zero(const struct mheap *h, const struct heaparena *a, size_t first, size_t n)
{
    size_t lim = first + n < a->zeroed_base ? first + n : a->zeroed_base;
    if (lim <= first)
        return false;
    size_t used = lim - first;
    if (h->released_zeroed)
        used -= bits_count_range(a->scav_bits, first, lim - first);
    return used > 0;
}

/* make_ready: released pages [i, j) of a become Ready.  Those at or
 * above zeroed_base were never in a span, so never released by the
 * scavenger: sys_map made them accessible, and harddecommit has nothing
 * to undo there.  Caller holds h->lock. */
static void make_ready(struct mheap *h, struct heaparena *a, size_t i, size_t j)
{
    size_t mid = j < a->zeroed_base ? j : i > a->zeroed_base ? i : a->zeroed_base;
    if (mid > i)
        sys_used(&h->sys, (void *)(a->base + i * PAGE_SIZE), (mid - i) * PAGE_SIZE);
    if (j > mid)
        sys_used_fresh(&h->sys, (void *)(a->base + mid * PAGE_SIZE), (j - mid) * PAGE_SIZE);
}

/* take_pages: mark [base, base + npages pages) in use, making released
 * pages Ready (H2).  Returns whether any page may hold old data (a
 * released page reads zero unless released with MADV_FREE).  Caller
 * holds h->lock. */
static bool take_pages(struct mheap *h, uintptr_t base, size_t npages)
{
    bool needzero = false;
    while (npages > 0) {
        struct heaparena *a = arena_of(&h->index, base);
        size_t first = (base - a->base) / PAGE_SIZE;
        size_t n = PAGES_PER_ARENA - first < npages ? PAGES_PER_ARENA - first : npages;
        needzero |= range_needs_zero(h, a, first, n);
        /* Released sub-runs go back to Ready, one sys_used per run. */
        size_t i = first, end = first + n, released = 0;
        while ((i = bits_next_set(a->scav_bits, i, end)) < end) {
            size_t j = bits_next_clear(a->scav_bits, i, end);
            make_ready(h, a, i, j);
            released += j - i;
            i = j;
        }
        GCH_ASSERT_INTERNAL(/*H2*/ bits_count_range(a->free_bits, first, n) == n);
        bits_clear_range(a->scav_bits, first, n);
        bits_clear_range(a->free_bits, first, n);
        a->free_pages -= n;
        atomic_u64_sub_relaxed(&h->pages_released, released);
        atomic_u64_sub_relaxed(&h->pages_free, n - released);
        atomic_u64_add_relaxed(&h->pages_inuse, n);
        if (end > a->zeroed_base)
            a->zeroed_base = end;
        base += n * PAGE_SIZE;
        npages -= n;
    }
    return needzero;
}

/* give_pages: return in-use pages to the free pool as Ready pages (they
 * coalesce with free neighbours through the bitmap).  Caller holds
 * h->lock. */
static void give_pages(struct mheap *h, uintptr_t base, size_t npages)
{
    uint32_t now = mheap_now_ms(h);
    while (npages > 0) {
        struct heaparena *a = arena_of(&h->index, base);
        size_t first = (base - a->base) / PAGE_SIZE;
        size_t n = PAGES_PER_ARENA - first < npages ? PAGES_PER_ARENA - first : npages;
        GCH_ASSERT_INTERNAL(/*H2*/ bits_count_range(a->free_bits, first, n) == 0);
        arena_set_free(a, first, n);
        for (size_t i = first; i < first + n; i++)
            a->free_since[i] = now; /* the idle scavenger's clock starts */
        a->free_pages += n;
        atomic_u64_sub_relaxed(&h->pages_inuse, n);
        atomic_u64_add_relaxed(&h->pages_free, n);
        base += n * PAGE_SIZE;
        npages -= n;
    }
}

/* set_span_map: point every page of [base, npages) at s (or NULL), A2. */
static void set_span_map(struct mheap *h, uintptr_t base, size_t npages, struct mspan *s)
{
    for (size_t i = 0; i < npages; i++) {
        uintptr_t p = base + i * PAGE_SIZE;
        struct heaparena *a = arena_of(&h->index, p);
        atomic_ptr_store_release(&a->spans[(p - a->base) >> PAGE_SHIFT], s);
    }
}

/* ---- spans -------------------------------------------------------------- */

/* typebits_pool: the fixalloc of s's typebits record, sized by its slot
 * count (s->nelems is set from allocation to free). */
static struct fixalloc *typebits_pool(struct mheap *h, const struct mspan *s)
{
    size_t n = typebits_hdr_words(s->nelems);
    GCH_ASSERT_INTERNAL(n >= 1 && n <= TYPEBITS_HDR_WORDS_MAX);
    return &h->typebitsalloc[n - 1];
}

/* mark_pool: the fixalloc of s's mark bytes, by size (MB4). */
static struct fixalloc *mark_pool(struct mheap *h, const struct mspan *s)
{
    size_t n = mark_bytes(s->nelems) / 64;
    GCH_ASSERT_INTERNAL(n >= 1 && n <= MARK_POOLS);
    return &h->markalloc[n - 1];
}

/* find_pages_or_grow: find_pages, growing the heap if none fit.  Caller
 * holds h->lock. */
static uintptr_t find_pages_or_grow(struct mheap *h, size_t npages)
{
    uintptr_t base = find_pages(h, npages);
    if (base == 0) {
        /* Search again even when growth fell short: what it mapped may
         * complete a run with free pages already there. */
        mheap_grow(h, npages);
        base = find_pages(h, npages);
    }
    return base;
}

/* find_pages_or_wait: find_pages_or_grow, and while nothing fits but a
 * release is in flight, wait for its pages to come back and search
 * again (H6).  Returns 0 when nothing fits and no release is in flight.
 * Caller holds h->lock (dropped while waiting). */
static uintptr_t find_pages_or_wait(struct mheap *h, size_t npages)
{
    uintptr_t base = find_pages_or_grow(h, npages);
    while (base == 0 && h->scav_busy != NULL) {
        /* H6: pages out of the free set for a release come back when it
         * ends (one madvise of at most 4 MiB); at the heap limit they may
         * be the only ones.  While we wait no pass starts another run
         * (scav_waiters), so this is one run's wait, not a pass's. */
        h->scav_waiters++;
        lock_wait(&h->lock, &h->scav_done);
        h->scav_waiters--;
        base = find_pages_or_grow(h, npages);
    }
    return base;
}

struct mspan *mheap_alloc_span(struct mheap *h, size_t npages, spanclass_t spc)
{
    GCH_ASSERT(npages > 0);
    /* GB1: the heap grows only with the sweep's spare arena in hand, so a
     * refusal is reported here, not met by a sweep that cannot stop. */
    if (!gcbits_reserve(&h->gcbits)) {
        gchi_set_error(GCH_ENOMEM, "out of memory for the sweep's reserve of alloc bits");
        return NULL;
    }
    lock_acquire(&h->lock);
    uintptr_t base = find_pages_or_wait(h, npages);
    struct mspan *s = base != 0 ? fixalloc_alloc(&h->spanalloc) : NULL;
    if (s == NULL) {
        bool limited = h->heap_limit != 0 &&
                       (atomic_u64_load_relaxed(&h->pages_mapped) + npages) * PAGE_SIZE > h->heap_limit;
        lock_release(&h->lock);
        if (base == 0 && limited)
            gchi_set_error(GCH_ENOMEM, "heap limit of %zu bytes reached (allocating %zu pages)",
                           h->heap_limit, npages);
        else
            gchi_set_error(GCH_ENOMEM, "out of memory allocating %zu pages", npages);
        return NULL;
    }
    /* Seqlock writer: a lock-free reader still holding this record from
     * its previous life sees an odd or changed layout_seq and drops what
     * it copied (span_read_layout).  Only this function rewrites the
     * layout of a record, under h->lock. */
    uint32_t seq = atomic_u32_load_relaxed(&s->layout_seq);
    atomic_u32_store_relaxed(&s->layout_seq, seq + 1);
    span_init_layout(s, base, npages, spc); /* release stores, after the odd seq */
    atomic_u32_store_release(&s->layout_seq, seq + 2);
    s->alloc_bits = gcbits_alloc(&h->gcbits, bitmap_bytes(s->nelems));
    s->gcmarks = s->alloc_bits ? fixalloc_alloc(mark_pool(h, s)) : NULL; /* zeroed */
    if (s->gcmarks != NULL && span_needs_typebits(spc)) {
        GCH_ASSERT_INTERNAL(npages == 1);
        s->typebits = fixalloc_alloc(typebits_pool(h, s)); /* zeroed */
        if (s->typebits == NULL) {
            fixalloc_free(mark_pool(h, s), s->gcmarks);
            s->gcmarks = NULL;
        }
    }
    if (s->gcmarks == NULL) {
        fixalloc_free(&h->spanalloc, s);
        lock_release(&h->lock);
        gchi_set_error(GCH_ENOMEM, "out of memory for span bitmaps");
        return NULL;
    }
    s->needzero = take_pages(h, base, npages);
    /* Relaxed: published together with the other fields by the state
     * store-release below. */
    atomic_u32_store_relaxed(&s->sweepgen, atomic_u32_load_relaxed(&h->sweepgen));
    atomic_ptr_store_relaxed(&s->specials, NULL); /* SP4: a freed span's list was empty */
    s->specials_tail = NULL;
    set_span_map(h, base, npages, s);
    atomic_u64_add_relaxed(&h->spans_inuse, 1);
    /* Publication: every field above is visible to a thread that loads
     * IN_USE with acquire (mheap_span_of_heap). */
    atomic_u8_store_release(&s->state, MSPAN_IN_USE);
    lock_release(&h->lock);
    mheap_limit_scavenge(h); /* over GOMEMLIMIT: give free pages back */
    return s;
}

void mheap_free_span(struct mheap *h, struct mspan *s)
{
    if (mheap_spans_pinned(h))
        gch_fatal("freeing a span while the collector marks (H5)", (uintptr_t)s, s->start, 0);
    specials_free_span(h, s); /* SP4: normally empty already (the sweep emptied it) */
    lock_acquire(&h->lock);
    GCH_ASSERT_INTERNAL(s->list == NULL);
    if (atomic_u8_load_relaxed(&s->state) != MSPAN_IN_USE)
        gch_fatal("freeing a span that is not in use", (uintptr_t)s, s->start, 0);
    atomic_u8_store_release(&s->state, MSPAN_DEAD);
    set_span_map(h, s->start, s->npages, NULL);
    give_pages(h, s->start, s->npages);
    atomic_u64_sub_relaxed(&h->spans_inuse, 1);
    if (s->typebits != NULL)
        fixalloc_free(typebits_pool(h, s), s->typebits);
    s->typebits = NULL;
    fixalloc_free(mark_pool(h, s), s->gcmarks);
    s->gcmarks = NULL;
    fixalloc_free(&h->spanalloc, s);
    lock_release(&h->lock);
}

uintptr_t mheap_object_base(const struct mheap *h, uintptr_t p, struct mspan **sp)
{
    struct span_layout l;
    return mheap_object_lookup(h, p, sp, &l);
}

uintptr_t mheap_object_lookup(const struct mheap *h, uintptr_t p, struct mspan **sp,
                              struct span_layout *out)
{
    struct mspan *s = arena_span_of(&h->index, p);
    struct span_layout l;
    if (s == NULL || !span_read_layout(s, &l) || p < l.start || p >= l.limit)
        return 0;
    if (sp != NULL)
        *sp = s;
    *out = l;
    if (l.divmagic == 0)
        return l.start;
    uint32_t idx = (uint32_t)(((uint64_t)(p - l.start) * l.divmagic) >> 32);
    return l.start + (uintptr_t)idx * l.elemsize;
}

uint32_t mheap_sweepgen(const struct mheap *h) { return atomic_u32_load_acquire(&h->sweepgen); }

/* ---- lifecycle ---------------------------------------------------------- */

bool mheap_init(struct mheap *h, const struct sys_ops *ops, bool madv_free, size_t heap_limit)
{
    memset(h, 0, sizeof *h);
    /* Spinning: two allocating threads take it once per span each (every
     * 128 objects of 64 B), and a plain mutex slept on about one in ten
     * of those (bench_alloc 64 B, two threads: about 2300-2450 futex
     * sleeps per 192 MiB, 510-540 spinning; system CPU per allocation
     * 31 -> 22 ns). */
    lock_init_spinning(&h->lock, LOCKRANK_MHEAP);
    lock_init(&h->scav_lock, LOCKRANK_SCAVENGE);
    if (pthread_cond_init(&h->scav_done, NULL) != 0)
        return false;
    h->start_ns = sys_nanotime();
    h->released_zeroed = !madv_free;
    sysmem_init(&h->sys, ops, madv_free);
    persistent_init(&h->pa, &h->sys);
    persistent_init_chunk(&h->pa_rel, &h->sys, PERSISTENT_RELEASABLE_CHUNK);
    gcbits_init(&h->gcbits, &h->sys);
    sweepstate_init(&h->sweep, false);
    mprof_init(&h->prof, &h->pa, 0); /* the rate is set by gch_heap_new */
    /* Never zero reused span records: layout_seq must survive reuse for
     * the seqlock (mspan.h), and fixalloc's free link overlaps only
     * alloc_cache, which no lock-free reader reads. */
    _Static_assert(offsetof(struct mspan, alloc_cache) == 0 &&
                       sizeof(struct fixlink) <= sizeof(uint64_t),
                   "fixlink overlaps only alloc_cache");
    fixalloc_init(&h->spanalloc, sizeof(struct mspan), &h->pa, false);
    /* Typebits and mark records go back to the OS with their spans
     * (mheap_release_metadata); typebits are words only: 8-byte records
     * (mspan.h). */
    for (size_t i = 0; i < TYPEBITS_HDR_WORDS_MAX; i++) {
        fixalloc_init_align(&h->typebitsalloc[i], sizeof(struct span_typebits) + (i + 1) * sizeof(uint64_t), 8,
                            &h->pa_rel, true);
        fixalloc_set_releasable(&h->typebitsalloc[i]);
    }
    for (size_t i = 0; i < MARK_POOLS; i++) {
        fixalloc_init(&h->markalloc[i], (i + 1) * 64, &h->pa_rel, true);
        fixalloc_set_releasable(&h->markalloc[i]);
    }
    h->heap_limit = heap_limit;
    atomic_u64_store_relaxed(&h->memory_limit, UINT64_MAX);
    /* Go starts its sweep generation at 0 too; uint32 wrap-around is
     * harmless because only differences are compared. */
    atomic_u32_store_relaxed(&h->sweepgen, 0);
    span_init_layout(&h->emptyspan, 0, 0, 0);
    h->emptyspan.nelems = 0;
    h->emptyspan.limit = 0;
    for (size_t i = 0; i < NUM_SPAN_CLASSES; i++)
        mcentral_init(&h->central[i], (spanclass_t)i, h);
    specials_init(h);
    return true;
}

void mheap_destroy(struct mheap *h)
{
    /* Unmap whole arenas.  The sysmem counters are not adjusted: the
     * sysmem dies with the heap, and its metadata (persistent, gcbits)
     * is released last because the arena records live there. */
    for (struct heaparena *a = h->arenas; a != NULL; a = a->next) {
        track_unmap(a->base, ARENA_SIZE); /* Z1: a later mapping here starts unpoisoned */
        h->sys.ops.release(h->sys.ops.ctx, (void *)a->base, ARENA_SIZE);
    }
    h->arenas = h->cur = h->last_arena = NULL;
    gcbits_release_all(&h->gcbits);
    persistent_release_all(&h->pa_rel);
    persistent_release_all(&h->pa);
    for (size_t i = 0; i < NUM_SPAN_CLASSES; i++)
        lock_destroy(&h->central[i].lock);
    sweepstate_destroy(&h->sweep);
    mprof_destroy(&h->prof);
    specials_destroy(h);
    pthread_cond_destroy(&h->scav_done);
    lock_destroy(&h->scav_lock);
    lock_destroy(&h->lock);
}

/* ---- validation --------------------------------------------------------- */

/* arena_is_valid: H2 and A2 for every mapped page of a; adds the arena's
 * page counts to the totals.  Pages being released (h->scav_busy) count
 * as free, as pages_free counts them.  Caller holds h->lock. */
static bool arena_is_valid(const struct mheap *h, struct heaparena *a, size_t *inuse, size_t *free,
                           size_t *released)
{
    size_t nfree = 0;
    for (size_t i = 0; i < PAGES_PER_ARENA; i++) {
        bool f = (a->free_bits[i / 64] >> (i % 64)) & 1;
        bool r = (a->scav_bits[i / 64] >> (i % 64)) & 1;
        struct mspan *s = atomic_ptr_load_relaxed(&a->spans[i]);
        uintptr_t p = a->base + i * PAGE_SIZE;
        if (i >= a->mapped_pages) {
            GCH_CHECK("A3", !f && !r && s == NULL);
            continue;
        }
        GCH_CHECK("H2", f || !r); /* released pages are free */
        GCH_CHECK("A4", !f || i >= a->free_hint);
        if (h->scav_busy == a && i >= h->scav_busy_first && i < h->scav_busy_first + h->scav_busy_n) {
            GCH_CHECK("H2", !f && s == NULL); /* out of the free set, in no span */
            (*free)++;
            continue;
        }
        if (f) {
            nfree++;
            *released += r;
            *free += !r;
            GCH_CHECK("A2", s == NULL);
        } else {
            (*inuse)++;
            GCH_CHECK("A2", s != NULL && atomic_u8_load_relaxed(&s->state) == MSPAN_IN_USE);
            GCH_CHECK("H3", p >= s->start && p < s->start + s->npages * PAGE_SIZE);
        }
    }
    GCH_CHECK_CMP("H2", nfree, ==, a->free_pages);
    return true;
}

/* pages_are_valid: the arena list, every arena, and H1/H4 over the page
 * counters.  Caller holds h->lock. */
static bool pages_are_valid(struct mheap *h)
{
    size_t inuse = 0, free = 0, released = 0, mapped = 0;
    struct heaparena *before = NULL;
    for (struct heaparena *a = h->arenas; a != NULL; before = a, a = a->next) {
        GCH_CHECK("arena list", a->prev == before && (before == NULL || before->base < a->base));
        if (!arena_is_valid(h, a, &inuse, &free, &released))
            return false;
        mapped += a->mapped_pages;
    }
    GCH_CHECK("arena list", h->last_arena == before); /* the list's tail */
    GCH_CHECK_CMP("H1", mapped, ==, atomic_u64_load_relaxed(&h->pages_mapped));
    GCH_CHECK_CMP("H1", inuse, ==, atomic_u64_load_relaxed(&h->pages_inuse));
    GCH_CHECK_CMP("H1", free, ==, atomic_u64_load_relaxed(&h->pages_free));
    GCH_CHECK_CMP("H1", released, ==, atomic_u64_load_relaxed(&h->pages_released));
    GCH_CHECK_CMP("H1", mapped, ==, inuse + free + released);
    GCH_CHECK("H4", h->heap_limit == 0 || mapped * PAGE_SIZE <= h->heap_limit);
    return true;
}

bool mheap_is_valid(struct mheap *h)
{
    lock_acquire(&h->lock);
    bool ok = pages_are_valid(h);
    lock_release(&h->lock);
    for (size_t i = 0; i < NUM_SPAN_CLASSES && ok; i++)
        ok = mcentral_is_valid(&h->central[i], mheap_sweepgen(h));
    return ok;
}
