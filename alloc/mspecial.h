/*
 * mspecial.h - specials: per-object records attached to a span
 * (finalizers, cleanups, weak handles, heap-profile samples), found by
 * the object's offset, acted on when the sweep frees the object.
 * Go counterpart: runtime/mheap.go (special, addspecial, removespecial,
 * freeSpecial, the pageSpecials bitmap), mgcsweep.go (the two passes
 * over a dead object's specials).  Overview of what the kinds do:
 * gc/mfinal.c.
 *
 * A record is a struct special embedded as the FIRST member of a kind's
 * own struct (struct special_profile below, struct special_finalizer in
 * gc/), taken from that kind's fixalloc by special_alloc.  Each kind is
 * registered once, before the heap has threads, with its record size,
 * flags and a `dead` hook that the sweep calls.
 *
 * Invariants:
 *   SP1 a span's list is sorted by (offset, kind); offset is the
 *       distance from the span start to the START of the object (the
 *       slot start), so every record of an object is consecutive;
 *       span->specials_tail is its last record (NULL when empty);
 *   SP2 a record is on exactly one span's list, or on none (being
 *       allocated, handed to a dead hook, or freed); a kind flagged
 *       SPECIAL_UNIQUE has at most one record per object;
 *   SP3 the span's bit in its arena's special_bits (on its first page)
 *       is set iff its list is non-empty; both change together under the
 *       span's stripe lock, so a walker of the bitmap that takes the
 *       stripe lock sees the list the bit promised;
 *   SP4 a record names a live object: records are added only for
 *       objects the caller holds (so marked in the cycle that sweeps
 *       their span, or allocated after it), and the sweep unlinks the
 *       records of each object it frees before the span's mark bits
 *       become its alloc bits; a span goes back to the heap with an empty
 *       list (mheap_free_span empties it first, defensively);
 *   SP5 an unmarked object with a SPECIAL_REVIVES record (a finalizer)
 *       is not freed: the sweep sets its mark bit and hands only its
 *       SPECIAL_ON_UNREACHABLE records (finalizers, weak handles) to
 *       their hooks; its other records wait until it is really freed.
 * Locking: lists and SP3's bits: one of 64 stripe locks (rank SPECIAL),
 *   chosen by the span's start page; a caller that holds the lock and an
 *   object of the span (or the world stopped, or the span pinned while
 *   marking, H5) may read the list.  The fixallocs: alloc_lock (rank
 *   SPECIALALLOC, taken without the stripe lock).  Dead hooks run with no
 *   specials lock held, on whatever thread sweeps (attached or not, the
 *   background sweeper): they must not allocate heap objects.
 *   span->specials is read without the lock only as SP3's fast test (an
 *   acquire load; NULL means "nothing for this span").
 */
#ifndef GCHEAP_ALLOC_MSPECIAL_H
#define GCHEAP_ALLOC_MSPECIAL_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lock.h"
#include "mfixalloc.h"

struct mheap;
struct mspan;

/* Kinds, in list order for one object (SP1).  Values are stable: they
 * index the registration table. */
enum special_kind {
    SPECIAL_NONE = 0,
    SPECIAL_FINALIZER = 1, /* gch_set_finalizer (gc/mfinal.c) */
    SPECIAL_WEAK = 2,      /* gch_weak handle (gc/mfinal.c) */
    SPECIAL_CLEANUP = 3,   /* gch_add_cleanup (gc/mfinal.c) */
    SPECIAL_EPHEMERON = 4, /* reserved for ephemeron keys (gc/mfinal.c) */
    SPECIAL_PROFILE = 5,   /* a sampled allocation (mprof: gchi_mprof_free) */
    SPECIAL_NKINDS
};

/* Kind flags (specials_register). */
#define SPECIAL_UNIQUE 1u          /* at most one record per object (SP2) */
#define SPECIAL_REVIVES 2u         /* an unmarked object survives the sweep (SP5) */
#define SPECIAL_ON_UNREACHABLE 4u  /* handled at the first sweep that finds the object
                                    * unmarked, even if revived (SP5) */

struct special {
    struct special *next;  /* [stripe lock] SP1 */
    uintptr_t offset;      /* [set before linking, then immutable] object start - span start */
    uint8_t kind;          /* [immutable] enum special_kind */
};

/* special_profile: the PROFILE kind's record (mprof fills bucket). */
struct special_profile {
    struct special sp;
    void *bucket;          /* [owner: mprof] the sampled stack's bucket */
};

/* special_dead_fn: the object at obj (size bytes: its slot, or the large
 * object's span) is unreachable; sp is unlinked and owned by the hook.
 * Return true if the hook keeps the record (it must free it later with
 * special_free), false to have the caller free it.  No specials lock is
 * held; must not allocate heap objects. */
typedef bool (*special_dead_fn)(void *ctx, struct mheap *h, struct special *sp, uintptr_t obj,
                                size_t size);

struct special_kind_ops {
    size_t size;           /* [immutable after registration] record bytes */
    unsigned flags;        /* [immutable after registration] SPECIAL_* */
    special_dead_fn dead;  /* [immutable after registration] NULL: just free */
    void *ctx;             /* [immutable after registration] */
};

#define SPECIAL_STRIPES 64

struct specials {
    struct lock locks[SPECIAL_STRIPES];          /* rank SPECIAL: span lists, SP3 bits */
    struct lock alloc_lock;                      /* rank SPECIALALLOC: fa[] */
    struct fixalloc fa[SPECIAL_NKINDS];          /* [alloc_lock] one per registered kind */
    struct special_kind_ops ops[SPECIAL_NKINDS]; /* [immutable after registration] */
    struct atomic_u64 nrecords;                  /* [atomic] records handed out, all kinds */
};

/* specials_init: the stripes, the allocator, and the PROFILE kind
 * (its dead hook calls gchi_mprof_free).  Part of mheap_init. */
void specials_init(struct mheap *h);
void specials_destroy(struct mheap *h);
/* specials_register: set a kind's record size (>= sizeof(struct
 * special)), flags and dead hook.  Before the heap has any thread (heap
 * creation); a kind may be registered again to replace its hook, and to
 * change its size while it has no record. */
void specials_register(struct mheap *h, enum special_kind kind, size_t size, unsigned flags,
                       special_dead_fn dead, void *ctx);

/* special_alloc: a zeroed record of a registered kind, kind set, on no
 * list; NULL (gch_last_error() = GCH_ENOMEM) when the OS refuses memory.
 * Caller holds no specials lock. */
struct special *special_alloc(struct mheap *h, enum special_kind kind);
/* special_free: give back a record that is on no list.  Caller holds no
 * specials lock. */
void special_free(struct mheap *h, struct special *sp);

/* span_specials_lock: the stripe lock guarding s's list (SP3). */
struct lock *span_specials_lock(struct mheap *h, const struct mspan *s);

/* span_has_specials: the fast test, no lock: false means s has no
 * record now (a sweep of s may skip the specials pass). */
bool span_has_specials(const struct mspan *s);

/* special_add_locked: link sp (offset set by the caller) into s's list
 * at its place (SP1).  False, linking nothing, when sp's kind is
 * SPECIAL_UNIQUE and the object already has one.  Caller holds s's
 * stripe lock and a reference to the object. */
bool special_add_locked(struct mheap *h, struct mspan *s, struct special *sp);
/* special_find_locked: the first record of kind at offset, or NULL.
 * Caller holds s's stripe lock. */
struct special *special_find_locked(const struct mspan *s, uintptr_t offset,
                                    enum special_kind kind);
/* special_unlink_locked: unlink sp, which is on s's list.  Caller holds
 * s's stripe lock; sp is the caller's afterwards. */
void special_unlink_locked(struct mheap *h, struct mspan *s, struct special *sp);
/* special_unlink_next_locked: unlink and return the record after prev
 * (prev NULL: the first), which must exist; O(1) for a caller walking
 * the list.  Caller holds s's stripe lock. */
struct special *special_unlink_next_locked(struct mheap *h, struct mspan *s, struct special *prev);

/* special_add / special_remove: the same taking the stripe lock;
 * special_remove unlinks and returns the first record of kind at offset
 * (NULL if none).  Caller holds a reference to the object. */
bool special_add(struct mheap *h, struct mspan *s, struct special *sp);
struct special *special_remove(struct mheap *h, struct mspan *s, uintptr_t offset,
                               enum special_kind kind);

/* specials_sweep: SP4/SP5 for a span being swept (the caller owns the
 * sweep, SW1), before its mark bits are counted: revive the unmarked
 * objects that have a SPECIAL_REVIVES record (their mark bit is set),
 * unlink the records of the unmarked ones, then run the dead hooks with
 * no lock held.  Called by span_sweep when span_has_specials(s). */
void specials_sweep(struct mheap *h, struct mspan *s);
/* specials_free_object: the object at offset is freed explicitly
 * (gchi_free): free its SPECIAL_REVIVES records (a finalizer is dropped,
 * never queued for a freed object) and hand each other record to its
 * dead hook. */
void specials_free_object(struct mheap *h, struct mspan *s, uintptr_t offset);
/* specials_free_span: s goes back to the heap: hand every record left
 * to its dead hook (SP4's defensive half).  Caller holds no lock. */
void specials_free_span(struct mheap *h, struct mspan *s);

/* specials_for_each_span: call fn(ctx, s) for every span whose SP3 bit
 * is set, walking the arena index.  Spans must not be freed meanwhile:
 * the world is stopped or the spans are pinned (H5).  fn takes the
 * stripe lock itself if lists may change under it. */
void specials_for_each_span(struct mheap *h, void (*fn)(void *ctx, struct mspan *s), void *ctx);

/* gchi_mprof_free: a sampled object (PROFILE record rec) was freed;
 * size = its slot.  A weak no-op here: mprof's strong definition
 * replaces it.  No specials lock held; must not allocate heap objects. */
void gchi_mprof_free(struct mheap *h, struct special_profile *rec, uintptr_t obj, size_t size);

#endif /* GCHEAP_ALLOC_MSPECIAL_H */
