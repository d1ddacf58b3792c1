/*
 * track.h - making the heap's objects visible to AddressSanitizer and
 * to Valgrind's memcheck.  Bottom layer; no-ops unless enabled.
 * Go counterpart: asanpoison / asanunpoison in runtime/malloc.go and
 * runtime/mgcsweep.go.
 *
 * A VM built with a sanitizer sees a use of a freed heap object as the
 * error it is, instead of reading whatever the slot holds next:
 *   - ASan: enabled when the library is compiled with
 *     -fsanitize=address (GCH_SANITIZE=address).  A span's slots are
 *     poisoned when a span of a size class is made, an object is
 *     unpoisoned as it is handed out and poisoned again when the sweeper
 *     (or gchi_free) frees it.  Objects are 8-byte aligned and a multiple
 *     of 8 bytes (alloc/mcache.h K2), ASan's shadow granule, so the
 *     poisoning is exact.  Memory leaving the heap is unpoisoned first,
 *     so that a later mapping at the same address starts clean.
 *   - Valgrind: enabled by GCH_VALGRIND=1 (CMake option GCH_VALGRIND,
 *     needs <valgrind/memcheck.h>).  The same points issue memcheck
 *     client requests: a fresh span's slots become no-access, an object
 *     handed out is a malloc-like block (defined: objects are zeroed),
 *     and a freed one a free-like block, so memcheck reports an access
 *     to it with the stack that freed it ("inside a block ... free'd").
 *     Objects still live when the heap is freed are never freed-like:
 *     run memcheck with --leak-check=no, or expect them as leaks.
 * Invariant Z1 (tracked builds): a slot is addressable exactly while its
 * object is allocated (from track_alloc to track_free); the allocator
 * itself writes a slot only inside that window (zeroing, clobberfree
 * before the free).
 */
#ifndef GCHEAP_ALLOC_TRACK_H
#define GCHEAP_ALLOC_TRACK_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define GCH_TRACK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GCH_TRACK_ASAN 1
#endif
#endif
#ifndef GCH_TRACK_ASAN
#define GCH_TRACK_ASAN 0
#endif

#ifndef GCH_VALGRIND
#define GCH_VALGRIND 0
#endif

#if GCH_TRACK_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if GCH_VALGRIND
#include <valgrind/memcheck.h>
#endif

/* GCH_TRACKING: nonzero when either tool is compiled in (the sweeper
 * then visits each freed object even without clobberfree). */
#define GCH_TRACKING (GCH_TRACK_ASAN || GCH_VALGRIND)

/* track_span_fresh: the n bytes at p are a new span's slots, all free. */
static inline void track_span_fresh(uintptr_t p, size_t n)
{
#if GCH_TRACK_ASAN
    ASAN_POISON_MEMORY_REGION((void *)p, n);
#endif
#if GCH_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS((void *)p, n);
#endif
    (void)p;
    (void)n;
}

/* track_alloc: the object of n bytes at p is handed out (zeroed next, or
 * fresh from the OS). */
static inline void track_alloc(uintptr_t p, size_t n)
{
#if GCH_TRACK_ASAN
    ASAN_UNPOISON_MEMORY_REGION((void *)p, n);
#endif
#if GCH_VALGRIND
    VALGRIND_MALLOCLIKE_BLOCK((void *)p, n, 0, 1);
#endif
    (void)p;
    (void)n;
}

/* track_free: the object of n bytes at p is freed (after clobberfree). */
static inline void track_free(uintptr_t p, size_t n)
{
#if GCH_TRACK_ASAN
    ASAN_POISON_MEMORY_REGION((void *)p, n);
#endif
#if GCH_VALGRIND
    VALGRIND_FREELIKE_BLOCK((void *)p, 0);
#endif
    (void)p;
    (void)n;
}

/* track_zero_free: zero the n bytes at p, free slots that stay free
 * (a needzero span's, cleared in bulk when a cache takes it: mspan.h
 * span_zero_free); no-access again afterwards. */
static inline void track_zero_free(uintptr_t p, size_t n)
{
#if GCH_TRACK_ASAN
    ASAN_UNPOISON_MEMORY_REGION((void *)p, n);
#endif
#if GCH_VALGRIND
    VALGRIND_MAKE_MEM_UNDEFINED((void *)p, n);
#endif
    /* In calls of at most 2 KiB: glibc's memset turns to rep stosb above
     * that, which valgrind counts as one instruction per byte, so
     * callgrind would overstate the cost tenfold; vector stores cost the
     * CPU about as much at these sizes (a span is 8-32 KiB, in cache). */
    for (size_t i = 0; i < n; i += 2048)
        memset((void *)(p + i), 0, n - i < 2048 ? n - i : 2048);
#if GCH_TRACK_ASAN
    ASAN_POISON_MEMORY_REGION((void *)p, n);
#endif
#if GCH_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS((void *)p, n);
#endif
}

/* track_unmap: the n bytes at p leave the heap (unmapped). */
static inline void track_unmap(uintptr_t p, size_t n)
{
#if GCH_TRACK_ASAN
    ASAN_UNPOISON_MEMORY_REGION((void *)p, n);
#endif
    (void)p;
    (void)n;
}

#endif /* GCHEAP_ALLOC_TRACK_H */
