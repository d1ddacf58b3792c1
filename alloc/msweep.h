/*
 * msweep.h - sweeping: applying a cycle's mark bits to the spans, lazily,
 * in the background and in proportion to allocation.
 * Go counterpart: runtime/mgcsweep.go (sweepLocked.sweep, sweepone,
 * activeSweep, deductSweepCredit) and mheap.go (reclaim).  Overview of
 * the cycle: gc/mgc.c; of the allocator: alloc/malloc.c.
 *
 * The mechanism lives in alloc/ because mcentral sweeps the spans it is
 * about to hand out; the policy (when to flip, the background sweeper
 * thread, sweep termination) is gc/mgcsweep.c.
 *
 * Owns: struct sweepstate (a field of struct mheap).
 * Invariants (sg = mheap.sweepgen; span states: the table in mspan.h):
 *   SW1 exactly one thread sweeps a span: the one whose compare-and-swap
 *       moves its sweepgen from sg - 2 to sg - 1 (span_claim_sweep).  No
 *       span is cached at a flip (the collector flushes every cache first),
 *       so Go's sg + 1 state never occurs: mcentral_uncache_span treats it
 *       as a fatal error;
 *   SW2 after a flip, spans enter only the swept lists, so a class whose
 *       unswept lists were once seen empty stays so: every class below
 *       cursor has empty unswept lists;
 *   SW3 state = DRAINED | n: n threads are inside a sweep (between
 *       sweep_begin and sweep_end); no thread enters once DRAINED is set,
 *       which happens when cursor has passed every class; sweeping is
 *       done when state == DRAINED exactly;
 *   SW4 the flip (mheap_sweep_flip) happens only with the world stopped
 *       and sweeping done, and stores the new sweepgen before it clears
 *       DRAINED, so a thread that enters a sweep sees the new sweepgen.
 * Locking: sweeping takes the mcentral, heap and gcbits locks one at a
 *   time (gcbits only to start a new arena: a bitmap is one atomic add)
 *   and holds none while applying the marks; done_lock (a leaf) only
 *   guards the sleep of threads waiting for the sweep to end.
 */
#ifndef GCHEAP_ALLOC_MSWEEP_H
#define GCHEAP_ALLOC_MSWEEP_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <pthread.h>
#include "mspan.h"

struct mheap;

#define SWEEP_DRAINED 0x80000000u

struct sweepstate {
    struct lock done_lock;          /* rank SWEEPDONE: sleeping until done */
    pthread_cond_t done_cond;       /* sweeping finished or a flip happened */
    struct atomic_u32 state;        /* [atomic acq/rel] SW3 */
    struct atomic_u32 cursor;       /* [atomic] next span class to sweep from (SW2) */
    struct atomic_u64 pages_swept;  /* [atomic] pages swept since the flip */
    /* Proportional sweeping (Go's sweepPagesPerByte, as a ratio): the
     * pace_pages in use at the flip, less the pace_swept_basis swept
     * when the pace was set, must be swept over pace_bytes of allocation
     * after alloc_since_gc was pace_spent_basis (Go's pagesSweptBasis and
     * sweepHeapLiveBasis).  0 pace_bytes: no pacing.  The pace is set at
     * the flip, world stopped, and again by a setting (gch_set_gc_percent
     * ...), world running: a sweeper may then read old and new fields
     * mixed once, which makes one credit payment early or late, no more. */
    struct atomic_u64 pace_pages;   /* [written at the flip, world stopped] */
    struct atomic_u64 pace_bytes;   /* [atomic] */
    struct atomic_u64 pace_swept_basis; /* [atomic] */
    struct atomic_u64 pace_spent_basis; /* [atomic] */
    struct atomic_u64 nflips;       /* [written under done_lock, read atomic] sweep
                                     * generations started */
    bool clobberfree;               /* [immutable] GODEBUG=clobberfree */
};

void sweepstate_init(struct sweepstate *sw, bool clobberfree);
void sweepstate_destroy(struct sweepstate *sw);

/* span_claim_sweep: SW1's claim, sg - 2 -> sg - 1; false if another
 * thread owns the sweep or the span needs none. */
bool span_claim_sweep(struct mspan *s, uint32_t sg);
/* span_sweep: apply the mark bytes to s, which the caller claimed (SW1)
 * and which is on no list: count the marks, pack them into fresh alloc
 * bits, zero the mark bytes (mspan.h MB4), reset freeindex.  Returns the
 * number of live objects; the caller publishes the new sweepgen.  With
 * no live object and !keep_empty the caller must free s
 * (mheap_sweep_release does): it takes no fresh alloc bits. */
uint32_t span_sweep(struct mheap *h, struct mspan *s, bool keep_empty);
/* mheap_sweep_release: give a swept span back: to the heap when it is
 * empty, else to its class's swept lists at sweepgen sg. */
void mheap_sweep_release(struct mheap *h, struct mspan *s, uint32_t sg);

/* sweep_begin / sweep_end: bracket a sweep (SW3).  sweep_begin returns
 * false when there is nothing left to sweep. */
bool sweep_begin(struct mheap *h);
void sweep_end(struct mheap *h);

/* mheap_sweep_one: sweep one span from any class.  Returns its page
 * count (the pages it freed in *freed when freed is not NULL), 0 when no
 * unswept span is left.  Any thread, attached or not. */
size_t mheap_sweep_one(struct mheap *h, size_t *freed);
/* mheap_sweep_one_reserved: mheap_sweep_one for a sweeper that may stop:
 * 0 too, sweeping nothing, while the spare gcBits arena cannot be had
 * (mspan.h GB1). */
size_t mheap_sweep_one_reserved(struct mheap *h, size_t *freed);
/* mheap_sweep_done: every span of this generation is swept (SW3). */
bool mheap_sweep_done(const struct mheap *h);
/* mheap_sweep_finish: sweep whatever is left, then sleep until the
 * threads still sweeping are done (sweep termination, the heap limit). */
void mheap_sweep_finish(struct mheap *h);
/* mheap_sweep_finish_reserved: mheap_sweep_finish for a caller that may
 * stop instead: false, with nothing waited for, when the spare gcBits
 * arena cannot be had (mspan.h GB1: the OS refuses; the caller's own
 * failure stands).  A thread holding no lock. */
bool mheap_sweep_finish_reserved(struct mheap *h);
/* mheap_sweep_wait: sleep until sweeping is done or generation gen (a
 * value of sweep.nflips) has been succeeded by another. */
void mheap_sweep_wait(struct mheap *h, uint64_t gen);
/* mheap_sweep_flip: start a new sweep generation: sweepgen += 2, a new
 * gcbits epoch, every listed span now unswept.  World stopped, sweeping
 * done, no span cached (SW4). */
void mheap_sweep_flip(struct mheap *h);
/* mheap_sweep_pace: sweep the pages of this generation not swept yet
 * over the next `bytes` of allocation (0: do not pace).  After the flip
 * (world stopped) or from a setting (any time; see pace_bytes). */
void mheap_sweep_pace(struct mheap *h, uint64_t bytes);
/* mheap_sweep_credit: proportional sweeping before the caller takes
 * `bytes` more (Go's deductSweepCredit). */
void mheap_sweep_credit(struct mheap *h, uint64_t bytes);
/* mheap_reclaim: sweep until npages were freed or nothing is left
 * unswept, before the caller allocates npages from the heap. */
void mheap_reclaim(struct mheap *h, size_t npages);

/* struct sweep_alloc: how an allocation gets the span it needs (for
 * mheap_alloc_swept).  find: a span of the caller's class that sweeping
 * gave room (may_sweep: it may sweep spans of that class itself; false
 * after a reclaim, which swept them); NULL for a large object, which
 * takes none.  grow: a span from the heap (NULL, error set, at the
 * limit). */
struct sweep_alloc {
    struct mspan *(*find)(void *ctx, bool may_sweep);
    struct mspan *(*grow)(void *ctx);
};
/* mheap_alloc_swept: the sweeping an allocation of npages pages does
 * before it takes its span, then the span: the proportional credit, a
 * span sweeping freed (how->find), the reclaim of npages from any class
 * and find again, all timed into *sweep_ns while the generation is not
 * swept; then how->grow; and at the heap limit, with spans still
 * unswept, the rest of the sweep and both again (the reclaim stops at
 * its page count, which need not be a run).  Clears the error when that
 * last try succeeds.  NULL when all failed (error set).  It sweeps
 * only while the spare gcBits arena can be had (mspan.h GB1), so a
 * refusal of the OS ends in its NULL, not in a sweep that cannot stop
 * (nor in a cycle, which declines to start then: GB1).  A running thread holding no lock: no flip happens before it
 * returns. */
struct mspan *mheap_alloc_swept(struct mheap *h, size_t npages, struct atomic_u64 *sweep_ns,
                                const struct sweep_alloc *how, void *ctx);

#endif /* GCHEAP_ALLOC_MSWEEP_H */
