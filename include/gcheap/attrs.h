/*
 * gcheap/attrs.h - the layout the inline fast paths may read.
 *
 * Every gch_thread begins with a gchi_thread_head; the inline functions in
 * include/gcheap/safepoint.h and gcheap/barrier.h read only these fields
 * (and, in debug builds, the owner tag at GCHI_THREAD_OWNER_TAG_OFFSET),
 * never the library's private structs.  The inline allocation path
 * (gcheap/alloc.h) reads the fields named by the offsets below.
 * gc/proc.c and alloc/malloc.c pin the layout with _Static_asserts.  Not
 * API: the names start with gchi_ and may change between releases.
 */
#ifndef GCHEAP_ATTRS_H
#define GCHEAP_ATTRS_H

#include <stdint.h>

struct gch_frame;

typedef struct gchi_thread_head {
    /* Nonzero while the collector wants this thread at a safepoint.
     * Written by the collector, read by the owner: both relaxed atomics
     * (alloc/atomic.h's mem_u32_*; the slow path synchronises under a
     * mutex). */
    uint32_t preempt;
    /* Nonzero while the write barrier is on (during a mark).  Written
     * by the collector with the owner stopped or blocking, read by the
     * owner: both relaxed atomics. */
    uint32_t wb_enabled;
    /* Top of the handle-frame stack.  [owner thread; read by the
     * collector only while the owner is stopped or blocking] */
    struct gch_frame *frames;
} gchi_thread_head;

/* Byte offset of the owner tag inside a gch_thread: the owning OS
 * thread's thread pointer while attached, else 0 (alloc/mcache.h K3).
 * Read by debug builds' inline gch_write (gcheap/barrier.h) and by the
 * inline allocation path (gcheap/alloc.h). */
#define GCHI_THREAD_OWNER_TAG_OFFSET 1112

/* The rest of the layout only the inline allocation path reads
 * (gcheap/alloc.h); alloc/malloc.c pins each offset with a
 * _Static_assert.  Every field is the owner thread's, or written only
 * while the owner is stopped; the inline path runs after the owner check.
 *   thread: SPANS      struct mspan *[] one cached span per span class
 *                      (size class * 2 + noscan);
 *           INLINE_OFF a uint16_t, nonzero when the library must serve
 *                      every allocation (gcstress, sanitizer tracking,
 *                      a collector callback on the thread: mcache.h K4);
 *           NEXT_SAMPLE an int64_t, bytes left before heap profiling
 *                      samples an object (alloc/mprof.h);
 *   span:   the allocation window (alloc/mspan.h M1-M3, next_free_fast):
 *           a uint64_t of free-slot bits from FREEINDEX (uint32_t) on,
 *           NELEMS (uint32_t) slots of ELEMSIZE (size_t) bytes from START
 *           (uintptr_t), ALLOC_COUNT (uint32_t) taken; at RARE a uint16_t,
 *           nonzero when a slot needs zeroing or the span's header bits
 *           need clearing; TYPEBITS, the span's heap bitmap (one bit per
 *           word of the span, uint64_t words; stored relaxed-atomic,
 *           since a marker may read a neighbour's bits meanwhile). */
#define GCHI_THREAD_SPANS_OFFSET 16
#define GCHI_THREAD_INLINE_OFF_OFFSET 1152
#define GCHI_THREAD_NEXT_SAMPLE_OFFSET 1136
#define GCHI_SPAN_ALLOC_CACHE_OFFSET 0
#define GCHI_SPAN_FREEINDEX_OFFSET 8
#define GCHI_SPAN_NELEMS_OFFSET 12
#define GCHI_SPAN_START_OFFSET 16
#define GCHI_SPAN_ELEMSIZE_OFFSET 24
#define GCHI_SPAN_ALLOC_COUNT_OFFSET 32
#define GCHI_SPAN_RARE_OFFSET 36
#define GCHI_SPAN_TYPEBITS_OFFSET 88

/* The inline fast paths' two atomic accesses: a relaxed load of a head
 * word and a release store of a reference slot.  GNU C (gcc, clang) uses
 * the __atomic builtins on any type.  Other C11 compilers get
 * <stdatomic.h> through two typed functions, which cover exactly what
 * the fast paths use (a uint32_t load, a void * store); the owner-tag
 * check of gcheap/barrier.h is GNU-only and calls out of line there.
 * GCHI_NO_GNU_ATOMICS forces the C11 path (tests/test_attrs_c11.c). */
#if defined(__GNUC__) && !defined(GCHI_NO_GNU_ATOMICS)
#define GCHI_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GCHI_LIKELY(x) __builtin_expect(!!(x), 1)
#define GCHI_LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define GCHI_STORE_RELEASE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* GNU C only: the inline allocation path's heap-bitmap stores. */
#define GCHI_STORE_RELAXED(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && \
    !defined(__STDC_NO_ATOMICS__)
#include <stdatomic.h>
#define GCHI_ATOMICS_C11 1
static inline uint32_t gchi_load_relaxed_u32(const uint32_t *p)
{
    return atomic_load_explicit((const _Atomic uint32_t *)p, memory_order_relaxed);
}
static inline void gchi_store_release_ptr(void **p, void *v)
{
    atomic_store_explicit((void *_Atomic *)p, v, memory_order_release);
}
#define GCHI_UNLIKELY(x) (x)
#define GCHI_LIKELY(x) (x)
#define GCHI_LOAD_RELAXED(p) gchi_load_relaxed_u32(p)
#define GCHI_STORE_RELEASE(p, v) gchi_store_release_ptr((p), (v))
#else
#error "gcheap's inline fast paths need GNU C __atomic builtins or C11 <stdatomic.h>"
#endif

#endif /* GCHEAP_ATTRS_H */
