/*
 * gcheap/barrier.h - the write barrier: every store of a reference into
 * a heap object or a registered global root goes through it.
 * Included by gcheap.h (inside its extern "C" block, after GCH_API); the
 * slow halves live in gc/mbarrier.c, whose opening comment explains the
 * barrier (Go's hybrid barrier: the old and the new value are shaded).
 *
 * With the collector not marking, gch_write is one relaxed load of the
 * thread's barrier flag, a predictable branch and the store (in builds
 * with GCH_DEBUG >= 1, also the owner-tag check below).  The store
 * is atomic with release order in both paths (a plain move on x86): a
 * thread that loads the slot with acquire order sees the object's fields
 * as they were written before the store, and a marker scanning the
 * object concurrently never reads a torn pointer.  While it
 * marks, the store takes the out-of-line path, which records both values
 * in the thread's barrier buffer first.  Handle-frame slots and values
 * reported by thread scanners are written without a barrier.
 */
#ifndef GCHEAP_BARRIER_H
#define GCHEAP_BARRIER_H

#include <stddef.h>
#include <stdint.h>
#include "gcheap/config.h"
#include "gcheap/attrs.h"

typedef struct gch_thread gch_thread;

GCH_API void gch_write_slow(gch_thread *t, void **slot, void *value);
/* gch_write_check_slow: the out-of-line half of gchi_write_check below:
 * fatal unless t is attached and owned by the calling OS thread.  An
 * entry point of the inline code (ABI, not API: see gcheap.h); not to be
 * called directly. */
GCH_API void gch_write_check_slow(gch_thread *t);

/* gchi_write_check: with GCH_DEBUG >= 1 (the default when the embedder
 * does not set it), gch_write checks that t is attached and owned by the
 * calling OS thread: one load and one compare of the owner tag, then a
 * fatal error naming the handle.  GCH_DEBUG=0 compiles it out. */
static inline void gchi_write_check(gch_thread *t)
{
#if GCH_DEBUG >= 1
#if defined(__GNUC__) && !defined(GCHI_ATOMICS_C11)
    const char *base = (const char *)(const void *)t;
    if (GCHI_UNLIKELY(t == NULL ||
                      GCHI_LOAD_RELAXED((const uintptr_t *)(const void *)(base +
                                        GCHI_THREAD_OWNER_TAG_OFFSET)) !=
                          (uintptr_t)__builtin_thread_pointer()))
        gch_write_check_slow(t);
#else
    gch_write_check_slow(t); /* checks, and returns when t is fine */
#endif
#else
    (void)t;
#endif
}

/* gch_write: *slot = value, where slot is a reference field of a heap
 * object or a registered global root, on behalf of attached thread t,
 * which must be owned by the calling OS thread (checked in debug builds;
 * always on the barrier's slow path). */
static inline void gch_write(gch_thread *t, void **slot, void *value)
{
    gchi_write_check(t);
    const gchi_thread_head *hd = (const gchi_thread_head *)(const void *)t;
    if (GCHI_UNLIKELY(GCHI_LOAD_RELAXED(&hd->wb_enabled) != 0))
        gch_write_slow(t, slot, value);
    else
        GCHI_STORE_RELEASE(slot, value);
}

/* gch_write_range: copy n reference slots from src to dst (the regions
 * may overlap, as memmove), each store through the barrier.  dst lies in
 * a heap object or a global root range; src may be anywhere. */
GCH_API void gch_write_range(gch_thread *t, void **dst, void *const *src, size_t n);
/* gch_write_clear: store NULL into n reference slots, through the barrier. */
GCH_API void gch_write_clear(gch_thread *t, void **dst, size_t n);
/* gch_write_cas: atomically replace *slot with desired if it holds
 * expected (sequentially consistent), through the barrier.  Returns
 * nonzero on success; on failure *slot is unchanged.  While the collector
 * marks, the barrier shades the value the slot actually held when the
 * CAS ran, and desired only if the CAS succeeded; expected itself is
 * never dereferenced or shaded, so it may be a stale value the caller
 * kept across safepoints (an object that has since been freed), as a
 * CAS retry loop does. */
GCH_API int gch_write_cas(gch_thread *t, void **slot, void *expected, void *desired);

#endif /* GCHEAP_BARRIER_H */
