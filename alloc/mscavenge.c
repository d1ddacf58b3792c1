/*
 * mscavenge.c - releasing free pages to the OS: the mechanism.  Who
 * releases what and when (sysmon's idle rule, the background scavenger,
 * gch_free_os_memory) is policy, in gc/sysmon.c and gc/mgcscavenge.c.
 * Go counterpart: runtime/mgcscavenge.go ((*pageAlloc).scavengeOne and
 * the find/alloc/free dance around sysUnused).  Contract and H1-H2:
 * alloc/mheap.h.  Overview: alloc/malloc.c.
 *
 * madvise can take milliseconds for a large run, so the heap lock is not
 * held across it.  A release (1) finds, under h->lock, the highest run of
 * free Ready pages old enough, (2) takes it out of the free set (its free
 * bits cleared, recorded as h->scav_busy, still counted in pages_free:
 * H1 and H2 hold and no allocation can pick it), (3) drops h->lock and
 * calls sys_unused, (4) retakes h->lock and puts the run back as free
 * and released (free and scav bits set, pages_free -> pages_released).
 * Because free memory is only bits, putting it back coalesces with
 * whatever was freed next to it meanwhile.  scav_lock (taken first) lets
 * one release run at a time, so there is at most one busy run and the
 * verifier can find it.  A pass (many runs: gch_free_os_memory, the idle
 * scavenger) takes and drops both locks per run, so nobody waits behind
 * a whole pass; the release an allocation makes over the memory limit (a
 * RUNNING mutator, which a stop of the world would wait for) only tries
 * scav_lock and leaves the work to the release in flight.  An allocation
 * that finds no pages while a run is busy waits for it on scav_done (H6)
 * rather than fail at the heap limit.  If the OS refuses the advice
 * (madvise fails on mlock'd memory), the run goes back free and Ready
 * with its free_since set to now (so it is not every pass's first
 * candidate), the refusal is counted (scav_failed) and the pass goes on
 * below it; an eager release stops and stays off until the next cycle.
 * While an allocation waits for a busy run (H6, scav_waiters), no pass
 * starts another, so the wait is one madvise long.  An eager release
 * makes at most SCAV_EAGER_MAX_RUNS runs; sysmon releases the rest.
 *
 * Huge pages: every new arena but the heap's first is advised
 * MADV_HUGEPAGE as it is reserved (mheap.c reserve_arenas, under h->lock
 * before it has a page, so no other advice for it can come first): the
 * heap fills fresh memory from the bottom up, and a 4 KiB fault per page
 * was most of the cost of allocating there (bench_alloc, 64 B objects:
 * about half the CPU per allocation).  Not the first arena: a small heap
 * keeps its RSS to the 4 KiB page (GCBench's peak grew by about 3 MiB,
 * 10%, with its one arena advised); only once the heap has mapped 32 MiB
 * (HUGE_TAIL_AFTER_PAGES) is the first arena's fresh tail advised, from
 * the first 2 MiB boundary above every page a span has had (mheap.c
 * arena_advise_tail, under h->lock; no page there is resident, so
 * khugepaged finds nothing to fill in), and a->huge set, so a release
 * un-advises the whole arena first like any other; once that is done the
 * arena's tail may be advised again by its next growth (tail_advised
 * cleared: every arena's, so fresh memory never stays at 4 KiB pages for
 * good after a release, review F4).  Past 32 MiB, 2 MiB of
 * granularity is a few percent at most.  An arena whose every
 * page is in use (fully mapped, no free page) is advised MADV_HUGEPAGE
 * again, so a dense long-lived heap gets 2 MiB TLB entries back after a
 * release; before any page of an advised arena is released, the
 * arena is advised MADV_NOHUGEPAGE again, because khugepaged would
 * otherwise re-collapse the released holes (max_ptes_none is 511 by
 * default) and undo the release.  Advice covers whole 64 MiB arenas so
 * VMAs stay few (neighbours with equal flags merge), and is changed only
 * under scav_lock, or when a new arena is reserved (alloc/mheap.c
 * reserve_arenas, under h->lock, before the arena has a page, so no other
 * advice can precede it), or for the first arena's tail (under h->lock,
 * while a->huge is false, so no un-advice of that arena is in flight,
 * and while it is not wholly mapped, which sysmon's advice needs), so
 * the flag (a->huge: the arena or its tail) always says what the kernel
 * was asked (a refused madvise is not seen: see sys_linux.c).  A tail
 * advice makes sysmon's pass skip the arena (a->huge), so its lower part
 * stays at 4 KiB pages until a release un-advises it.
 * GODEBUG=disablethp=1 turns the HUGEPAGE side off.  Go 1.21.0
 * advised per 4 MiB chunk and backed that out in 1.21.1 for the
 * khugepaged and VMA-count problems; per-arena advice with NOHUGEPAGE
 * before release avoids both.
 *
 * Metadata: a pass that released heap pages (the heap shrank: spans
 * were freed) then gives back the pages of free typebits and mark
 * records, the span metadata sized by the heap (5% of it at 1 GiB live,
 * with the span records); every forced pass does, whatever it found.
 * mheap_release_metadata takes a pool's free list under h->lock, sorts
 * and madvises without it, and puts back what it kept (mfixalloc.h F2).
 * Span records are not given back: a lock-free reader may read a dead
 * one's layout_seq (mspan.h), which must survive.
 *
 * Invariants relied on: a page in the busy run is touched by nobody else
 * (not free, so not allocatable; in no span, so not freeable); arenas are
 * never unmapped before mheap_destroy, so the arena pointer stays valid
 * while h->lock is dropped; the search cursor only moves down, so one
 * call is O(pages scanned) even though the bitmaps change between runs.
 */
#define GCHI_BUILDING 1
#include "mheap.h"
#include "mpagealloc.h"

/* The most pages one madvise releases: the palloc chunk, 4 MiB.  Larger
 * runs are released in parts, so an allocation that could use part of a
 * big free run is kept out of it for one such call at most. */
#define SCAV_MAX_RUN_PAGES ((size_t)512)
/* A pool gives its free records back once they come to 64 KiB (16 pages):
 * below that a pass would sort for a page or two. */
#define META_RELEASE_MIN_BYTES ((size_t)64 << 10)

/* page_is_candidate: page i of a is free, Ready and at least min_age ms
 * old; *wait is lowered to the ms until a younger free Ready page
 * qualifies.  Caller holds h->lock. */
static bool page_is_candidate(const struct heaparena *a, size_t i, uint32_t now, uint32_t min_age,
                              uint32_t *wait)
{
    uint64_t bit = (uint64_t)1 << (i % 64);
    if ((a->free_bits[i / 64] & bit) == 0 || (a->scav_bits[i / 64] & bit) != 0)
        return false;
    uint32_t age = now - a->free_since[i];
    if (age >= min_age)
        return true;
    if (min_age - age < *wait)
        *wait = min_age - age;
    return false;
}

/* top_run: the highest run of candidate pages of a ending at or below
 * page `end`, at most `max` pages long (its top pages): its first page in
 * *first and its length, 0 when none.  Whole words without a free Ready
 * page are skipped.  Caller holds h->lock. */
static size_t top_run(const struct heaparena *a, size_t end, size_t max, uint32_t now,
                      uint32_t min_age, uint32_t *wait, size_t *first)
{
    size_t i = end;
    while (i > 0) {
        size_t w = (i - 1) / 64;
        if ((a->free_bits[w] & ~a->scav_bits[w]) == 0) {
            i = w * 64; /* nothing free and Ready in this word */
            continue;
        }
        i--;
        if (!page_is_candidate(a, i, now, min_age, wait))
            continue;
        size_t top = i + 1;
        while (i > 0 && top - i < max && page_is_candidate(a, i - 1, now, min_age, wait))
            i--;
        *first = i;
        return top - i;
    }
    return 0;
}

/* phys_align: shrink [*first, *first + n) to whole OS pages when they are
 * larger than ours (arm64 with 16 or 64 KiB pages); returns the new
 * length, 0 if no whole OS page is inside. */
static size_t phys_align(const struct heaparena *a, size_t *first, size_t n)
{
    size_t phys = sys_phys_page_size();
    if (phys <= PAGE_SIZE)
        return n;
    uintptr_t lo = a->base + *first * PAGE_SIZE, hi = lo + n * PAGE_SIZE;
    lo = (lo + phys - 1) & ~(uintptr_t)(phys - 1);
    hi &= ~(uintptr_t)(phys - 1);
    if (hi <= lo)
        return 0;
    *first = (lo - a->base) / PAGE_SIZE;
    return (hi - lo) / PAGE_SIZE;
}

/* advise_huge: tell the kernel whether arena a should be backed by huge
 * pages.  Caller holds scav_lock (so advice is ordered) and not h->lock;
 * the one other advice, a new arena's at reservation, comes before it
 * has a page (above). */
static void advise_huge(struct mheap *h, struct heaparena *a, bool huge)
{
    if (h->sys.ops.huge != NULL)
        h->sys.ops.huge(h->sys.ops.ctx, (void *)a->base, ARENA_SIZE, huge);
}

/* release_run: steps 2-4 of the file comment for pages [first, first+n)
 * of a; false if the OS refused (the run goes back free and Ready, and
 * is counted in scav_failed).  Called and returns with scav_lock and
 * h->lock held (h->lock dropped inside). */
static bool release_run(struct mheap *h, struct heaparena *a, size_t first, size_t n)
{
    GCH_ASSERT_INTERNAL(h->scav_busy == NULL);
    bits_clear_range(a->free_bits, first, n);
    a->free_pages -= n;
    h->scav_busy = a;
    h->scav_busy_first = first;
    h->scav_busy_n = n;
    bool unhuge = a->huge;
    a->huge = false;
    lock_release(&h->lock);
    if (unhuge)
        advise_huge(h, a, false); /* before the holes, so khugepaged leaves them */
    bool ok = sys_unused(&h->sys, (void *)(a->base + first * PAGE_SIZE), n * PAGE_SIZE);
    lock_acquire(&h->lock);
    /* The un-advice is done: the arena's fresh tail (pages no span has
     * had, never released) may be advised again at its next growth
     * (arena_advise_tail), or later growth there would fault 4 KiB
     * pages for good. */
    if (unhuge && a->mapped_pages < PAGES_PER_ARENA)
        a->tail_advised = false;
    GCH_ASSERT_INTERNAL(/*H2*/ bits_count_range(a->free_bits, first, n) == 0);
    arena_set_free(a, first, n);
    a->free_pages += n;
    h->scav_busy = NULL;
    pthread_cond_broadcast(&h->scav_done); /* H6: allocations waiting for these pages */
    if (!ok) {
        atomic_u64_add_relaxed(&h->scav_failed, 1);
        uint32_t now = mheap_now_ms(h); /* young again: not the first candidate of every pass */
        for (size_t i = first; i < first + n; i++)
            a->free_since[i] = now;
        return false; /* still free and Ready, still in pages_free */
    }
    bits_set_range(a->scav_bits, first, n);
    atomic_u64_sub_relaxed(&h->pages_free, n);
    atomic_u64_add_relaxed(&h->pages_released, n);
    return true;
}

/* Where a pass goes on after dropping its locks: the arena it is in and
 * the page below which it looks next (the cursor only moves down). */
struct scav_cursor {
    struct heaparena *a; /* NULL: every arena seen */
    size_t end;
};

/* How one step of a pass ended.  YIELDED: an allocation waits for the
 * run just put back (H6), so the pass starts no new one. */
enum scav_step { SCAV_STEP_RELEASED, SCAV_STEP_NONE_LEFT, SCAV_STEP_REFUSED, SCAV_STEP_YIELDED };

/* The most runs (each at most SCAV_MAX_RUN_PAGES) one eager release
 * makes: it runs on a RUNNING allocator, which every stop of the world
 * waits for; the background scavenger (kicked by the limit's setter and
 * by each cycle) releases the rest of the excess. */
#define SCAV_EAGER_MAX_RUNS 4

/* scavenge_step: release the next candidate run below the cursor, at
 * most `want` pages; its length in *got.  Caller holds scav_lock and
 * h->lock. */
static enum scav_step scavenge_step(struct mheap *h, struct scav_cursor *c, size_t want,
                                    uint32_t min_age, uint32_t *wait, size_t *got)
{
    *got = 0;
    if (h->scav_waiters != 0) {
        *wait = 0; /* come back soon: the pass is cut short, not done */
        return SCAV_STEP_YIELDED;
    }
    while (c->a != NULL) {
        size_t first = 0;
        size_t n = top_run(c->a, c->end, want < SCAV_MAX_RUN_PAGES ? want : SCAV_MAX_RUN_PAGES,
                           mheap_now_ms(h), min_age, wait, &first);
        if (n == 0) {
            c->a = c->a->prev; /* highest addresses first (Go's order: the heap stays dense low) */
            c->end = c->a != NULL ? c->a->mapped_pages : 0;
            continue;
        }
        c->end = first;
        size_t afirst = first;
        size_t an = phys_align(c->a, &afirst, n);
        if (an == 0)
            continue;
        if (!release_run(h, c->a, afirst, an))
            return SCAV_STEP_REFUSED;
        *got = an;
        return SCAV_STEP_RELEASED;
    }
    return SCAV_STEP_NONE_LEFT;
}

/* scav_lock_take: take scav_lock; an eager release (a RUNNING allocator)
 * only tries, and gives up while another release is in flight. */
static bool scav_lock_take(struct mheap *h, enum scav_kind kind)
{
    if (kind == SCAV_EAGER)
        return lock_tryacquire(&h->scav_lock);
    lock_acquire(&h->scav_lock);
    return true;
}

/* pass_goes_on: whether a pass of `kind` that made `runs` steps, the
 * last ending in r, takes another.  A refusal ends no pass but the eager
 * one, which then backs off until the next cycle (eager_refused). */
static bool pass_goes_on(struct mheap *h, enum scav_kind kind, enum scav_step r, unsigned runs)
{
    if (kind == SCAV_EAGER && r == SCAV_STEP_REFUSED)
        atomic_u32_store_relaxed(&h->eager_refused, 1);
    if (kind == SCAV_EAGER && runs >= SCAV_EAGER_MAX_RUNS)
        return false;
    return r == SCAV_STEP_RELEASED || (r == SCAV_STEP_REFUSED && kind != SCAV_EAGER);
}

size_t mheap_scavenge(struct mheap *h, size_t nbytes, uint32_t min_age_ms, enum scav_kind kind,
                      uint32_t *next_ms)
{
    GCH_ASSERT(kind < SCAV_NKINDS);
    size_t want = nbytes / PAGE_SIZE, done = 0;
    uint32_t wait = UINT32_MAX;
    struct scav_cursor c = {NULL, 0};
    bool first = true, more = true;
    unsigned runs = 0;
    /* Both locks for one run at a time: between runs an allocation may
     * take h->lock and an eager release scav_lock. */
    while (done < want && more && scav_lock_take(h, kind)) {
        lock_acquire(&h->lock);
        if (first) {
            c.a = h->last_arena;
            c.end = c.a != NULL ? c.a->mapped_pages : 0;
            first = false;
        }
        size_t got;
        enum scav_step r = scavenge_step(h, &c, want - done, min_age_ms, &wait, &got);
        lock_release(&h->lock);
        lock_release(&h->scav_lock);
        done += got;
        more = pass_goes_on(h, kind, r, ++runs);
    }
    if (done > 0)
        atomic_u64_add_relaxed(&h->released_bytes[kind], (uint64_t)done * PAGE_SIZE);
    if (kind == SCAV_FORCED || (done > 0 && kind != SCAV_EAGER))
        mheap_release_metadata(h, kind == SCAV_FORCED ? 0 : META_RELEASE_MIN_BYTES);
    if (next_ms != NULL)
        *next_ms = wait;
    return done * PAGE_SIZE;
}

/* release_pool: mheap_release_metadata for one pool. */
static size_t release_pool(struct mheap *h, struct fixalloc *f, size_t min_bytes)
{
    struct fixrelease r;
    lock_acquire(&h->lock);
    bool took = fixalloc_release_take(f, min_bytes, &r);
    lock_release(&h->lock);
    if (!took)
        return 0;
    fixalloc_release(f, &h->sys, &r); /* the taken records are ours alone (F1) */
    lock_acquire(&h->lock);
    fixalloc_release_put(f, &r);
    lock_release(&h->lock);
    return r.released_bytes;
}

size_t mheap_release_metadata(struct mheap *h, size_t min_bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < TYPEBITS_HDR_WORDS_MAX; i++)
        n += release_pool(h, &h->typebitsalloc[i], min_bytes);
    for (size_t i = 0; i < MARK_POOLS; i++)
        n += release_pool(h, &h->markalloc[i], min_bytes);
    if (n > 0)
        atomic_u64_add_relaxed(&h->meta_released, n);
    return n;
}

size_t mheap_advise_huge(struct mheap *h)
{
    size_t n = 0;
    lock_acquire(&h->scav_lock);
    lock_acquire(&h->lock);
    for (struct heaparena *a = h->arenas; a != NULL; a = a->next) {
        if (a->huge || a->free_pages != 0 || a->mapped_pages != PAGES_PER_ARENA)
            continue;
        a->huge = true;
        lock_release(&h->lock); /* a stays: arenas live until mheap_destroy */
        advise_huge(h, a, true);
        n++;
        lock_acquire(&h->lock);
    }
    lock_release(&h->lock);
    lock_release(&h->scav_lock);
    return n;
}

void mheap_limit_scavenge(struct mheap *h)
{
    uint64_t limit = atomic_u64_load_relaxed(&h->memory_limit);
    uint64_t ready = atomic_u64_load_relaxed(&h->sys.ready);
    if (ready <= limit || atomic_u64_load_relaxed(&h->pages_free) == 0 ||
        atomic_u32_load_relaxed(&h->eager_off) != 0 || atomic_u32_load_relaxed(&h->eager_refused) != 0)
        return; /* under the limit, nothing free, the CPU limiter is on, or the OS refused */
    mheap_scavenge(h, ready - limit + PAGE_SIZE - 1, 0, SCAV_EAGER, NULL);
}
