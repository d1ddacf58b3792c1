/*
 * mprof.h - sampled heap profiling: which call stacks allocate, and how
 * much of what they allocated is still live.
 * Go counterpart: runtime/mprof.go (buckets, memRecord, mProf_Malloc,
 * mProf_Free, mProf_NextCycle, mProf_Flush, mProf_PostSweep) and the
 * sampling half of malloc.go (nextSample, profilealloc).  The pprof
 * writer is gc/pprof.c.  Overview: alloc/malloc.c.
 *
 * Sampling (MemProfileRate semantics): every mcache counts down the
 * bytes to its next sample (mcache.next_sample); each allocation
 * subtracts its slot size and, when the count goes negative, the object
 * is sampled and a new distance drawn from an exponential distribution
 * of mean `rate` bytes.  So an allocation of s bytes is sampled with
 * probability 1 - exp(-s / rate), independently of the others, and the
 * writer scales counts back by the inverse (as Go does).  rate 0: never
 * (next_sample is parked at INT64_MAX); rate 1: every allocation.
 *
 * A sampled object's stack (return addresses, innermost first, the
 * heap's own frames cut off: mprof_sample) selects a bucket keyed by
 * (stack, slot size).  Counts are published with Go's cycle delay, so a
 * profile shows one consistent state as of a mark termination: an
 * allocation counts toward the cycle after next (future[(c+2)%3]), a free
 * found by sweeping toward the next (future[(c+1)%3]); the flip (c+1)
 * publishes future[c%3], and the end of the sweep publishes
 * future[(c+1)%3], since every free of that generation is then known.
 *
 * Invariants:
 *   MP1 buckets are never freed or changed after publication (but for
 *       their counters): a hash chain or the all-list may be walked
 *       without the lock once its head is loaded with acquire;
 *   MP2 a future slot is published only when no event can still be
 *       accounted to it: the flip publishes future[c%3] with the world
 *       stopped (no allocation in flight, sweeping done, SW4), and the
 *       post-sweep flush runs only when cycle is still the one the last
 *       sweeper saw before it left;
 *   MP3 frees <= allocs in every bucket's active record once published
 *       (a free is accounted one cycle earlier than the allocation it
 *       undoes can be, never later).
 * Locking: lock (rank MPROF; takes only PERSISTENT inside) guards bucket
 *   insertion, the active records and the flush bookkeeping.  Future
 *   counters are atomic: allocation and sweeping add to them without the
 *   lock; a flush moves them into active under it.
 */
#ifndef GCHEAP_ALLOC_MPROF_H
#define GCHEAP_ALLOC_MPROF_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdint.h>
#include "atomic.h"
#include "lock.h"
#include "mfixalloc.h"

/* Frames kept per sampled stack (Go's maxStack is 32 too). */
#define MPROF_MAX_STACK 32
/* Hash chains in the bucket table: more costs 8 bytes each once the
 * first sample is taken, fewer lengthens the chains of programs with
 * many allocating stacks (Go: 179999 for all profiles together). */
#define MPROF_TABLE_SIZE 4096
/* Go's default MemProfileRate: one sample per 512 KiB on average. */
#define MPROF_DEFAULT_RATE (512 * 1024)

/* Object counts only: a bucket's objects all have its slot size, so its
 * byte counts are the counts times size (the pprof writer multiplies).
 * Go's memRecordCycle also keeps the two byte sums, 16 bytes more per
 * record, 64 per bucket (4 records). */
struct mprof_counts {
    uint64_t allocs, frees;
};

struct mprof_future {
    struct atomic_u64 allocs, frees;
};

/* Go counterpart: bucket + memRecord. */
struct mprof_bucket {
    struct mprof_bucket *next;      /* [immutable after publication] hash chain (MP1) */
    struct mprof_bucket *allnext;   /* [immutable after publication] every bucket */
    uint64_t hash;                  /* [immutable] of stk and size */
    size_t size;                    /* [immutable] slot size of its objects */
    uint32_t nstk;                  /* [immutable] */
    struct mprof_counts active;     /* [lock] published (MP2) */
    struct mprof_future future[3];  /* [atomic] accounted, not yet published */
    uintptr_t stk[];                /* [immutable] return addresses, innermost first */
};

struct mprof {
    struct lock lock;
    struct persistent *pa;          /* [immutable] bucket memory */
    int64_t rate;                   /* [immutable] MemProfileRate, bytes; 0 = off */
    struct atomic_ptr table;        /* [set once under lock, read acquire] MPROF_TABLE_SIZE
                                     * struct atomic_ptr chain heads, or NULL */
    struct atomic_ptr all;          /* [write under lock, read acquire] newest bucket */
    struct atomic_u32 cycle;        /* [written with the world stopped, read atomic] */
    uint32_t flushed;               /* [lock] cycle + 1 whose future[cycle%3] is published */
    struct atomic_u64 nsamples;     /* [atomic] objects sampled, ever */
    struct atomic_u64 nbuckets;     /* [atomic] buckets made, ever */
    struct atomic_u64 nlost;        /* [atomic] samples dropped: no memory for a bucket */
};

/* One published record, as the writer reads it. */
struct mprof_record {
    const uintptr_t *stk;
    uint32_t nstk;
    size_t size;
    struct mprof_counts c;
};

void mprof_init(struct mprof *p, struct persistent *pa, int64_t rate);
void mprof_destroy(struct mprof *p);

/* mprof_next_interval: bytes to allocate before the next sample, drawn
 * from an exponential distribution of mean rate (INT64_MAX when off),
 * advancing the caller's generator *rng. */
int64_t mprof_next_interval(int64_t rate, uint64_t *rng);

/* mprof_malloc: account a sampled object of `size` bytes allocated by
 * the stack stk[0..n): its bucket (made if new; NULL if memory ran out,
 * the sample then dropped).  Any thread; takes the lock only to insert. */
struct mprof_bucket *mprof_malloc(struct mprof *p, const uintptr_t *stk, uint32_t n, size_t size);
/* mprof_free: the sweeper freed a sampled object of bucket b (its
 * PROFILE special's hook, gchi_mprof_free).  No lock. */
void mprof_free(struct mprof *p, struct mprof_bucket *b);
/* mprof_next_cycle: a mark termination's flip: the profile cycle moves
 * on.  World stopped, sweeping done (MP2). */
void mprof_next_cycle(struct mprof *p);
/* mprof_post_sweep: the last sweeper of the generation in which the
 * profile cycle was `seen` has left: publish its frees (MP2). */
void mprof_post_sweep(struct mprof *p, uint32_t seen);

/* mprof_snapshot: the published records (each bucket with any event) in
 * a malloc'd array, *n of them; NULL with *n = 0 when there are none or
 * malloc fails.  Before any cycle published anything, every event
 * accounted so far is published first (Go's MemProfile does the same,
 * so a program that never collects still gets a profile).  Any thread. */
struct mprof_record *mprof_snapshot(struct mprof *p, size_t *n);

#endif /* GCHEAP_ALLOC_MPROF_H */
