/*
 * gcheap/attrs.h - the layout the inline fast paths may read.
 *
 * Every gch_thread begins with a gchi_thread_head; the inline functions in
 * include/gcheap/safepoint.h (and later the barrier and allocation fast
 * paths) read only these fields, never the library's private structs.
 * gc/heap.c pins the layout with _Static_asserts.  Not API: the names
 * start with gchi_ and may change between releases.
 */
#ifndef GCHEAP_ATTRS_H
#define GCHEAP_ATTRS_H

#include <stdint.h>

struct gch_frame;

typedef struct gchi_thread_head {
    /* Nonzero while the collector wants this thread at a safepoint.
     * Written by the collector, read by the owner: both with relaxed
     * __atomic builtins (the slow path synchronises under a mutex). */
    uint32_t preempt;
    /* Nonzero while the write barrier is on (the collector issue). */
    uint32_t wb_enabled;
    /* Top of the handle-frame stack.  [owner thread; read by the
     * collector only while the owner is stopped or blocking] */
    struct gch_frame *frames;
} gchi_thread_head;

/* Byte offset of the allocator cache inside a gch_thread. */
#define GCHI_THREAD_MCACHE_OFFSET 16
/* Byte offset of the owner tag inside a gch_thread: the owning OS
 * thread's thread pointer while attached, else 0 (alloc/mcache.h K3).
 * Read only by debug builds' inline gch_write (gcheap/barrier.h). */
#define GCHI_THREAD_OWNER_TAG_OFFSET 1112

#if defined(__GNUC__)
#define GCHI_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GCHI_LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define GCHI_STORE_RELEASE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#else
#define GCHI_UNLIKELY(x) (x)
#define GCHI_LOAD_RELAXED(p) (*(volatile __typeof__(*(p)) *)(p))
#define GCHI_STORE_RELEASE(p, v) (*(volatile __typeof__(*(p)) *)(p) = (v))
#endif

#endif /* GCHEAP_ATTRS_H */
