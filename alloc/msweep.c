/*
 * msweep.c - sweeping spans: one at a time, from any thread.
 * Go counterpart: runtime/mgcsweep.go, mheap.go (reclaim).  Contract and
 * invariants SW1-SW4: alloc/msweep.h.  Overview: gc/mgc.c.
 *
 * Unlike Go, which walks lock-free span sets, a sweeper here pops an
 * unswept span off its class's list under the mcentral lock and then
 * claims it by compare-and-swap; the lists give the claim its target,
 * the CAS makes the ownership explicit for every path that sweeps (the
 * mcentral refill, mheap_sweep_one, the reclaim before a heap
 * allocation).
 */
#define GCHI_BUILDING 1
#include "msweep.h"
#include "error.h"
#include "mheap.h"
#include "mpagealloc.h"

#include <time.h>

/* Spans one reclaim may sweep looking for free pages. */
#define RECLAIM_SWEEP_BUDGET 100
/* The longest wait, in ms, between retries of alloc bits the OS refused
 * (sweep_alloc_bits): 1 + 2 + ... + 512 ms, about a second in all. */
#define SWEEP_BITS_WAIT_MS 512u

void sweepstate_init(struct sweepstate *sw, bool clobberfree)
{
    lock_init(&sw->done_lock, LOCKRANK_SWEEPDONE);
    pthread_cond_init(&sw->done_cond, NULL);
    atomic_u32_store_relaxed(&sw->state, SWEEP_DRAINED); /* nothing to sweep yet */
    atomic_u32_store_relaxed(&sw->cursor, NUM_SPAN_CLASSES);
    atomic_u64_store_relaxed(&sw->pages_swept, 0);
    atomic_u64_store_relaxed(&sw->pace_pages, 0);
    atomic_u64_store_relaxed(&sw->pace_bytes, 0);
    atomic_u64_store_relaxed(&sw->pace_swept_basis, 0);
    atomic_u64_store_relaxed(&sw->pace_spent_basis, 0);
    atomic_u64_store_relaxed(&sw->nflips, 0);
    sw->clobberfree = clobberfree;
}

void sweepstate_destroy(struct sweepstate *sw)
{
    pthread_cond_destroy(&sw->done_cond);
    lock_destroy(&sw->done_lock);
}

/* wake_waiters: sweeping finished or a new generation began. */
static void wake_waiters(struct sweepstate *sw)
{
    lock_acquire(&sw->done_lock);
    pthread_cond_broadcast(&sw->done_cond);
    lock_release(&sw->done_lock);
}

bool span_claim_sweep(struct mspan *s, uint32_t sg)
{
    uint32_t want = sg - 2;
    return atomic_u32_cas_acq_rel(&s->sweepgen, &want, sg - 1);
}

/* clobber: fill a freed object with 0xdeadbeef words (GODEBUG=clobberfree). */
static void clobber(uintptr_t obj, size_t size)
{
    for (size_t i = 0; i + 4 <= size; i += 4) {
        uint32_t v = 0xdeadbeefu;
        memcpy((void *)(obj + i), &v, 4);
    }
}

/* free_object: what happens to a freed object besides its bit: the
 * clobberfree fill, then the sanitizers' poison (track.h, Z1). */
static void free_object(const struct mheap *h, uintptr_t obj, size_t size)
{
    if (h->sweep.clobberfree)
        clobber(obj, size);
    track_free(obj, size);
}

/* count_frees: the statistics for `freed` objects of s. */
static void count_frees(struct mheap *h, const struct mspan *s, uint32_t freed)
{
    unsigned sc = spanclass_sizeclass(s->spanclass);
    if (sc == 0) {
        atomic_u64_add_relaxed(&h->counters.large_frees, 1);
        atomic_u64_add_relaxed(&h->counters.large_free_bytes, s->elemsize);
    } else {
        atomic_u64_add_relaxed(&h->counters.small_frees[sc], freed);
    }
}

/* sweep_alloc_bits: nbytes of fresh alloc bits for s from this epoch's
 * gcBits arena, zeroed.  The span is claimed and cannot be
 * given back, and reusing its old alloc bits would outlive their epoch,
 * so when the OS refuses an arena the spare serves (mspan.h GB1); with
 * the spare spent too (only a sweep that must finish gets here: the
 * others stop while the spare is gone) retry while the OS may recover,
 * about a second, with no lock held. */
static uint8_t *sweep_alloc_bits(struct mheap *h, const struct mspan *s, size_t nbytes)
{
    uint8_t *alloc = gcbits_alloc_sweep(&h->gcbits, nbytes);
    for (unsigned ms = 1; alloc == NULL && ms <= SWEEP_BITS_WAIT_MS; ms *= 2) {
        struct timespec ts = {0, (long)ms * 1000000L};
        nanosleep(&ts, NULL);
        alloc = gcbits_alloc_sweep(&h->gcbits, nbytes);
    }
    if (alloc == NULL)
        gch_fatal("out of memory: the OS refused the alloc bits a sweep needs (a 64 KiB gcBits "
                  "arena) for a second, and the reserve arena was spent; the heap cannot finish "
                  "sweeping", (uintptr_t)s, nbytes, 0);
    return alloc;
}

uint32_t span_sweep(struct mheap *h, struct mspan *s, bool keep_empty)
{
    GCH_ASSERT_INTERNAL(s->list == NULL);
    GCH_ASSERT_INTERNAL(/*K5: no coloured free slot left*/ !s->black);
    if (span_has_specials(s)) /* SP4, SP5: before the marks are counted */
        specials_sweep(h, s);
    /* The mark bytes packed are the new alloc bits (Go swaps its mark
     * bitmap in), in a fresh map from this epoch's gcBits arena (the old
     * one dies with its arena two epochs later: mspan.h), taken at the
     * first live word; the mark bytes are then zeroed in place (MB4).  A
     * span about to be freed takes none (binary-trees frees half the
     * spans it sweeps, and their fresh bits were a sixth of the gcBits
     * arenas): its alloc bits name its zeroed mark bytes, all clear,
     * until mheap_free_span drops the record. */
    size_t nbytes = bitmap_bytes(s->nelems);
    GCH_ASSERT_INTERNAL(mark_bytes(s->nelems) == 8 * nbytes);
    uint8_t *marks = s->gcmarks; /* a local: the stores below cannot move it */
    uint64_t *alloc = NULL;      /* 8-byte aligned (gcbits) */
    uint32_t live = 0;
    for (size_t w = 0; w < nbytes / 8; w++) { /* bytes past nelems: 0 */
        uint64_t bits = mark_pack64(marks + 64 * w);
        if (bits == 0) /* the fresh bits are zero already (gcbits_alloc_sweep) */
            continue;
        if (alloc == NULL)
            alloc = (uint64_t *)(void *)sweep_alloc_bits(h, s, nbytes);
        alloc[w] = mem_order(bits);
        live += mark_count64(marks + 64 * w, bits);
        memset(marks + 64 * w, 0, 64); /* zeroed in place for the next mark (MB4) */
    }
    if (alloc == NULL && keep_empty) {
        alloc = (uint64_t *)(void *)sweep_alloc_bits(h, s, nbytes);
        memset(alloc, 0, nbytes); /* zero already: touched by a write first (gcbits_alloc) */
    }
    GCH_ASSERT_INTERNAL(live <= s->alloc_count);
    uint32_t freed = s->alloc_count - live;
    if (freed > 0) {
        if (h->sweep.clobberfree || GCH_TRACKING)
            for (uint32_t i = 0; i < s->nelems; i++)
                if (bit_is_set(s->alloc_bits, i) && (alloc == NULL || !bit_is_set((uint8_t *)alloc, i)))
                    free_object(h, s->start + (uintptr_t)i * s->elemsize, s->elemsize);
        count_frees(h, s, freed);
    }
    /* release: gch_add_cleanup's debug walk reads it unsynchronised
     * (gc/mweak.c reach_add) */
    GCHI_SEQ_STORE(&s->alloc_bits, alloc != NULL ? (uint8_t *)alloc : marks);
    s->alloc_count = live;
    s->freeindex = 0;
    s->alloc_cache = 0;
    if (freed > 0)
        s->needzero = true;
    atomic_u64_add_relaxed(&h->sweep.pages_swept, s->npages);
    return live;
}

void mheap_sweep_release(struct mheap *h, struct mspan *s, uint32_t sg)
{
    if (s->alloc_count == 0)
        mheap_free_span(h, s);
    else
        mcentral_push_swept(&h->central[s->spanclass], s, sg);
}

/* ---- who is sweeping (SW3) ---------------------------------------------- */

bool sweep_begin(struct mheap *h)
{
    uint32_t st = atomic_u32_load_acquire(&h->sweep.state);
    while ((st & SWEEP_DRAINED) == 0) {
        if (atomic_u32_cas_acq_rel(&h->sweep.state, &st, st + 1))
            return true;
    }
    return false;
}

void sweep_end(struct mheap *h)
{
    /* Before the count drops: no flip can happen until it has (SW4). */
    uint32_t prof_cycle = atomic_u32_load_relaxed(&h->prof.cycle);
    uint32_t st = atomic_u32_sub_release(&h->sweep.state, 1);
    GCH_ASSERT_INTERNAL((st & ~SWEEP_DRAINED) != ~SWEEP_DRAINED); /* no underflow */
    if (st == SWEEP_DRAINED) { /* the last sweeper out: done (SW3) */
        mprof_post_sweep(&h->prof, prof_cycle); /* every free of the generation is in */
        wake_waiters(&h->sweep);
    }
}

/* mark_drained: no unswept span is left on any list (SW2, SW3). */
static void mark_drained(struct mheap *h)
{
    uint32_t st = atomic_u32_load_relaxed(&h->sweep.state);
    while ((st & SWEEP_DRAINED) == 0 &&
           !atomic_u32_cas_acq_rel(&h->sweep.state, &st, st | SWEEP_DRAINED)) {
    }
}

bool mheap_sweep_done(const struct mheap *h)
{
    return atomic_u32_load_acquire(&h->sweep.state) == SWEEP_DRAINED;
}

/* ---- sweeping any class ------------------------------------------------- */

size_t mheap_sweep_one(struct mheap *h, size_t *freed)
{
    if (freed != NULL)
        *freed = 0;
    if (!sweep_begin(h))
        return 0;
    uint32_t sg = mheap_sweepgen(h); /* after sweep_begin: SW4 */
    struct mspan *s = NULL;
    uint32_t cur = atomic_u32_load_relaxed(&h->sweep.cursor);
    while (cur < NUM_SPAN_CLASSES) {
        s = mcentral_take_unswept(&h->central[cur], sg);
        if (s != NULL)
            break;
        /* A failed CAS loads where another sweeper moved the cursor. */
        if (atomic_u32_cas_acq_rel(&h->sweep.cursor, &cur, cur + 1))
            cur++;
    }
    size_t npages = 0;
    if (s != NULL) {
        npages = s->npages;
        if (span_sweep(h, s, false) == 0 && freed != NULL) /* empty: freed below */
            *freed = npages;
        mheap_sweep_release(h, s, sg);
    } else {
        mark_drained(h);
    }
    sweep_end(h);
    return npages;
}

size_t mheap_sweep_one_reserved(struct mheap *h, size_t *freed)
{
    if (!gcbits_reserve(&h->gcbits)) {
        if (freed != NULL)
            *freed = 0;
        return 0;
    }
    return mheap_sweep_one(h, freed);
}

void mheap_sweep_wait(struct mheap *h, uint64_t gen)
{
    struct sweepstate *sw = &h->sweep;
    lock_acquire(&sw->done_lock);
    while (!mheap_sweep_done(h) && atomic_u64_load_relaxed(&sw->nflips) == gen)
        lock_wait(&sw->done_lock, &sw->done_cond);
    lock_release(&sw->done_lock);
}

void mheap_sweep_finish(struct mheap *h)
{
    uint64_t gen = atomic_u64_load_relaxed(&h->sweep.nflips);
    while (mheap_sweep_one(h, NULL) != 0) {
    }
    /* Others may still be inside a sweep of their own span: sleep until
     * the last one leaves (it may have been descheduled). */
    mheap_sweep_wait(h, gen);
}

void mheap_sweep_flip(struct mheap *h)
{
    GCH_ASSERT(/*SW4*/ mheap_sweep_done(h));
    gcbits_new_epoch(&h->gcbits); /* before any new mark bits (mspan.h) */
    atomic_u64_store_relaxed(&h->sweep.pages_swept, 0);
    atomic_u64_store_relaxed(&h->sweep.pace_bytes, 0);
    atomic_u64_store_relaxed(&h->sweep.pace_swept_basis, 0);
    atomic_u64_store_relaxed(&h->sweep.pace_spent_basis, 0);
    /* Before any sweeper can enter: the pages this generation sweeps. */
    atomic_u64_store_relaxed(&h->sweep.pace_pages, atomic_u64_load_relaxed(&h->pages_inuse));
    atomic_u32_store_relaxed(&h->sweep.cursor, 0);
    mprof_next_cycle(&h->prof); /* the profile's cycles follow the flips (MP2) */
    atomic_u32_store_release(&h->sweepgen, mheap_sweepgen(h) + 2);
    atomic_u32_store_release(&h->sweep.state, 0); /* SW4: after the sweepgen */
    lock_acquire(&h->sweep.done_lock);
    atomic_u64_add_relaxed(&h->sweep.nflips, 1); /* releases waiters of the last one */
    pthread_cond_broadcast(&h->sweep.done_cond);
    lock_release(&h->sweep.done_lock);
}

void mheap_sweep_pace(struct mheap *h, uint64_t bytes)
{
    atomic_u64_store_relaxed(&h->sweep.pace_swept_basis, atomic_u64_load_relaxed(&h->sweep.pages_swept));
    atomic_u64_store_relaxed(&h->sweep.pace_spent_basis,
                             atomic_u64_load_relaxed(&h->counters.alloc_since_gc));
    atomic_u64_store_relaxed(&h->sweep.pace_bytes, bytes);
}

void mheap_sweep_credit(struct mheap *h, uint64_t bytes)
{
    uint64_t pace = atomic_u64_load_relaxed(&h->sweep.pace_bytes);
    if (pace == 0 || (atomic_u32_load_relaxed(&h->sweep.state) & SWEEP_DRAINED) != 0)
        return;
    uint64_t spent = atomic_u64_load_relaxed(&h->counters.alloc_since_gc) + bytes;
    uint64_t spent0 = atomic_u64_load_relaxed(&h->sweep.pace_spent_basis);
    uint64_t swept0 = atomic_u64_load_relaxed(&h->sweep.pace_swept_basis);
    uint64_t pages = atomic_u64_load_relaxed(&h->sweep.pace_pages);
    /* Pages that must be swept by now: of those left when the pace was
     * set, the same fraction as of the allocation budget spent since
     * (128-bit product: no overflow; a mixed read never wraps). */
    spent = spent > spent0 ? spent - spent0 : 0;
    uint64_t left = pages > swept0 ? pages - swept0 : 0;
    uint64_t target = swept0 + (spent >= pace ? left : (uint64_t)((unsigned __int128)left * spent / pace));
    while (atomic_u64_load_relaxed(&h->sweep.pages_swept) < target)
        if (mheap_sweep_one_reserved(h, NULL) == 0)
            break;
}

void mheap_reclaim(struct mheap *h, size_t npages)
{
    /* Bounded, so that one allocation does not pay for a whole
     * generation: proportional credit sweeps the rest, and an allocation
     * that fails at the heap limit sweeps everything and retries. */
    size_t got = 0, freed;
    for (unsigned n = 0; got < npages && n < RECLAIM_SWEEP_BUDGET; n++) {
        if (mheap_sweep_one_reserved(h, &freed) == 0)
            break;
        got += freed;
    }
}

bool mheap_sweep_finish_reserved(struct mheap *h)
{
    uint64_t gen = atomic_u64_load_relaxed(&h->sweep.nflips);
    do {
        if (!gcbits_reserve(&h->gcbits))
            return false;
    } while (mheap_sweep_one(h, NULL) != 0);
    mheap_sweep_wait(h, gen);
    return true;
}

struct mspan *mheap_alloc_swept(struct mheap *h, size_t npages, struct atomic_u64 *sweep_ns,
                                const struct sweep_alloc *how, void *ctx)
{
    /* Timed while a sweep is on: the credit, the sweeping and the reclaim
     * (the caller's GC time; growing the heap is not). */
    int64_t t0 = mheap_sweep_done(h) ? 0 : sys_nanotime();
    mheap_sweep_credit(h, (uint64_t)npages * PAGE_SIZE);
    struct mspan *s = how->find != NULL ? how->find(ctx, true) : NULL;
    if (s == NULL) {
        /* Reclaiming sweeps other classes too, and may sweep spans of
         * the caller's that have room: look again before growing. */
        mheap_reclaim(h, npages);
        if (how->find != NULL)
            s = how->find(ctx, false);
    }
    if (t0 != 0)
        sys_time_add(sweep_ns, t0);
    if (s == NULL)
        s = how->grow(ctx);
    if (s == NULL && !mheap_sweep_done(h) && mheap_sweep_finish_reserved(h)) {
        /* At the heap limit: sweeping the rest may free a run, or slots
         * of the caller's class. */
        s = how->find != NULL ? how->find(ctx, false) : NULL;
        if (s == NULL)
            s = how->grow(ctx);
        if (s != NULL)
            gch_clear_error();
    }
    return s;
}
