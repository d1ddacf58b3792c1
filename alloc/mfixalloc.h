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
 *   F1 a record is either handed out or on f->free, never both;
 *      f->inuse counts the handed-out ones.
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
};

void persistent_init(struct persistent *p, struct sysmem *sys);
/* persistent_alloc: size zeroed bytes aligned to align (a power of two
 * <= 4096).  NULL when the OS refuses memory. */
void *persistent_alloc(struct persistent *p, size_t size, size_t align);
void persistent_release_all(struct persistent *p);

struct fixlink { struct fixlink *next; };

struct fixalloc {
    size_t size;               /* [immutable] bytes per record, >= sizeof(fixlink) */
    struct persistent *pa;     /* [immutable] */
    struct fixlink *free;      /* [owner's lock] */
    char *chunk;               /* [owner's lock] unused tail of the current block */
    size_t nchunk;             /* [owner's lock] bytes left in chunk */
    size_t inuse;              /* [owner's lock] records handed out (F1) */
    bool zero;                 /* [immutable] zero records taken from the free list */
};

/* fixalloc_init: records of size bytes rounded up to 16 (so 16-byte
 * aligned: blocks are 64-byte aligned). */
void fixalloc_init(struct fixalloc *f, size_t size, struct persistent *pa, bool zero);
/* fixalloc_init_align: records of size bytes rounded up to align (a power
 * of two, 8 to 64), each align-aligned.  Pools of many small records of
 * 8-byte words take 8: a 136-byte typebits record would cost 144 at 16. */
void fixalloc_init_align(struct fixalloc *f, size_t size, size_t align, struct persistent *pa, bool zero);
/* fixalloc_alloc: one record, or NULL when the OS refuses memory. */
void *fixalloc_alloc(struct fixalloc *f);
void fixalloc_free(struct fixalloc *f, void *v);

#endif /* GCHEAP_ALLOC_MFIXALLOC_H */
