/*
 * mfixalloc.h - off-heap metadata allocators.
 * Go counterparts: persistentalloc (runtime/malloc.go) and fixalloc
 * (runtime/mfixalloc.go).  Overview: alloc/malloc.c.
 *
 * struct persistent hands out zeroed, never-individually-freed blocks
 * carved from OS chunks (sys_alloc); everything goes back to the OS at
 * once when the heap is freed.  struct fixalloc keeps a free list of
 * fixed-size records (span structs, thread records) on top of it.
 *
 * Invariants:
 *   P1 every chunk a persistent holds is on its chunk list, so
 *      persistent_release_all() returns all of it;
 *   F1 a record is handed out, on f->free, in a released run
 *      (f->released), or on a list a release has taken (below), and in
 *      one of them only; f->inuse counts the handed-out ones, f->nfree
 *      those on f->free.
 *   F2 a record in a released run is read or written by nobody until
 *      fixalloc_alloc hands it out again (zeroed): its memory may read
 *      zero at any time (MADV_DONTNEED), so it holds no link.
 * Giving memory back (releasable pools, fixalloc_set_releasable:
 * typebits and mark records, which nobody reads once their span is
 * freed): fixalloc_release_take
 * takes the whole free list (owner's lock held, O(1)); fixalloc_release
 * (no lock: the taken records are the caller's alone) sorts it, releases
 * the OS pages that lie wholly inside runs of adjacent free records, and
 * keeps those records as released runs (start, count; the descriptor
 * lives outside the released pages); fixalloc_release_put (owner's lock)
 * puts the rest back on the free list and the runs on f->released.
 * fixalloc_alloc takes the free list first, then a released run (its
 * first touch faults a zero page in), then fresh memory.
 * Locking: persistent has its own lock (rank PERSISTENT, a leaf).
 *   fixalloc is not thread-safe: its owner's lock guards it (the span
 *   allocator's by MHEAP, the thread records' by THREADS).
 */
#ifndef GCHEAP_ALLOC_MFIXALLOC_H
#define GCHEAP_ALLOC_MFIXALLOC_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stddef.h>
#include "lock.h"
#include "sys.h"

struct persistent_chunk;

struct persistent {
    struct lock lock;
    struct sysmem *sys;               /* [immutable] */
    char *cur, *end;                  /* [lock] bump region of the newest chunk */
    struct persistent_chunk *chunks;  /* [lock] every chunk, for release (P1) */
    struct atomic_u64 sys_bytes;      /* [write under lock, read atomic] bytes mapped */
    size_t chunk;                     /* [immutable] bytes mapped at a time */
};

/* A releasable pool's blocks (fixalloc_set_releasable): 64 KiB,
 * page-aligned, so that the pages a release gives back are not cut by
 * other pools' blocks every 16 KiB (there, one page in four straddled a
 * block edge and stayed).  Their own persistent's chunks hold a header
 * page and 16 of them, so no chunk tail goes unused (from the shared
 * 256 KiB chunks, the 1 GiB pauses workload mapped 7% more metadata for
 * the same resident size).  Address space until used: a block's records
 * become resident as they are handed out. */
#define FIXALLOC_RELEASABLE_BLOCK ((size_t)64 << 10)
#define PERSISTENT_RELEASABLE_CHUNK (4096 + 16 * FIXALLOC_RELEASABLE_BLOCK)

/* persistent_init: 256 KiB chunks; persistent_init_chunk: chunk bytes
 * (a multiple of 4096). */
void persistent_init(struct persistent *p, struct sysmem *sys);
void persistent_init_chunk(struct persistent *p, struct sysmem *sys, size_t chunk);
/* persistent_alloc: size zeroed bytes aligned to align (a power of two
 * <= 4096).  NULL when the OS refuses memory. */
void *persistent_alloc(struct persistent *p, size_t size, size_t align);
void persistent_release_all(struct persistent *p);

struct fixlink { struct fixlink *next; };

/* A run of n adjacent free records from start (F2), or a spare
 * descriptor on f->spare. */
struct fixrun {
    char *start;
    size_t n;
    struct fixrun *next;
};

struct fixalloc {
    size_t size;               /* [immutable] bytes per record, >= sizeof(fixlink) */
    struct persistent *pa;     /* [immutable] */
    struct fixlink *free;      /* [owner's lock] */
    char *chunk;               /* [owner's lock] unused tail of the current block */
    size_t nchunk;             /* [owner's lock] bytes left in chunk */
    size_t inuse;              /* [owner's lock] records handed out (F1) */
    size_t nfree;              /* [owner's lock] records on free (F1) */
    size_t kept;               /* [owner's lock] of those, at most this many were put back
                                * by the last release pass (pages it could not give
                                * back); kept <= nfree */
    struct fixrun *released;   /* [owner's lock] runs of released records (F2) */
    struct fixrun *spare;      /* [owner's lock] unused run descriptors */
    bool zero;                 /* [immutable] zero records taken from the free list */
    bool releasable;           /* [immutable after the first record] a zeroed pool whose
                                * free records may be given back (F2) */
};

/* fixalloc_init: records of size bytes rounded up to 16 (so 16-byte
 * aligned: blocks are 64-byte aligned). */
void fixalloc_init(struct fixalloc *f, size_t size, struct persistent *pa, bool zero);
/* fixalloc_init_align: records of size bytes rounded up to align (a power
 * of two, 8 to 64), each align-aligned.  Pools of many small records of
 * 8-byte words take 8: a 136-byte typebits record would cost 144 at 16. */
void fixalloc_init_align(struct fixalloc *f, size_t size, size_t align, struct persistent *pa, bool zero);
/* fixalloc_set_releasable: let a zeroed pool's free records be given
 * back (fixalloc_release below); before its first record.  Its blocks
 * are 64 KiB and page-aligned. */
void fixalloc_set_releasable(struct fixalloc *f);
/* fixalloc_alloc: one record, or NULL when the OS refuses memory. */
void *fixalloc_alloc(struct fixalloc *f);
void fixalloc_free(struct fixalloc *f, void *v);

/* What a release takes from a pool and gives back (above). */
struct fixrelease {
    struct fixlink *list;      /* the records taken */
    size_t n;                  /* how many */
    struct fixlink *tail;      /* after fixalloc_release: the last of list */
    struct fixrun *runs;       /* after fixalloc_release: the released runs */
    struct fixrun *spare;      /* descriptors to use, then the unused ones */
    size_t released_bytes;     /* after fixalloc_release: bytes given back */
};

/* fixalloc_release_take: take f's free list into r if it holds at least
 * min_bytes of records more than the last pass put back (any, with
 * min_bytes 0: a forced pass); false (r empty) if not.  The records a
 * pass could not give back share pages with records in use, so taking
 * them again alone would sort them for nothing at every scavenger step
 * (review of memory3, M1: release 15-60x slower after a shrink).  Owner's
 * lock held. */
bool fixalloc_release_take(struct fixalloc *f, size_t min_bytes, struct fixrelease *r);
/* fixalloc_release: give back the OS pages wholly covered by adjacent
 * records of r (ops.unused, MADV_DONTNEED); no lock held.  May allocate
 * (malloc for the sort, persistent_alloc for descriptors); on failure it
 * releases less, never loses a record. */
void fixalloc_release(struct fixalloc *f, struct sysmem *sys, struct fixrelease *r);
/* fixalloc_release_put: r's records and runs back into f.  Owner's lock. */
void fixalloc_release_put(struct fixalloc *f, struct fixrelease *r);

#endif /* GCHEAP_ALLOC_MFIXALLOC_H */
