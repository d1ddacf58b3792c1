/*
 * atomic.h - C11 atomics behind one-member wrapper structs.
 * Bottom layer.  STYLE.md habit 6.
 *
 * A wrapped value cannot be read or written by accident with a plain
 * access (which for _Atomic would silently be seq_cst): every access
 * names its memory order in the helper's name.  Fields protected by a
 * lock stay plain; these are only for data read without the lock.
 */
#ifndef GCHEAP_ALLOC_ATOMIC_H
#define GCHEAP_ALLOC_ATOMIC_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct atomic_u8 { _Atomic uint8_t v; };
struct atomic_u32 { _Atomic uint32_t v; };
struct atomic_u64 { _Atomic uint64_t v; };
struct atomic_i64 { _Atomic int64_t v; };
struct atomic_uptr { _Atomic uintptr_t v; };
struct atomic_ptr { void *_Atomic v; };

#define GCHI_ATOMIC_OPS(name, T)                                                        \
    static inline T name##_load_relaxed(const struct name *a)                           \
    { return atomic_load_explicit((T _Atomic *)&a->v, memory_order_relaxed); }          \
    static inline T name##_load_acquire(const struct name *a)                           \
    { return atomic_load_explicit((T _Atomic *)&a->v, memory_order_acquire); }          \
    static inline void name##_store_relaxed(struct name *a, T x)                        \
    { atomic_store_explicit(&a->v, x, memory_order_relaxed); }                          \
    static inline void name##_store_release(struct name *a, T x)                        \
    { atomic_store_explicit(&a->v, x, memory_order_release); }                          \
    static inline bool name##_cas_acq_rel(struct name *a, T *expected, T desired)       \
    { return atomic_compare_exchange_strong_explicit(&a->v, expected, desired,          \
                                                     memory_order_acq_rel,              \
                                                     memory_order_acquire); }

GCHI_ATOMIC_OPS(atomic_u8, uint8_t)
GCHI_ATOMIC_OPS(atomic_u32, uint32_t)
GCHI_ATOMIC_OPS(atomic_u64, uint64_t)
GCHI_ATOMIC_OPS(atomic_i64, int64_t)
GCHI_ATOMIC_OPS(atomic_uptr, uintptr_t)

#define GCHI_ATOMIC_ARITH(name, T)                                                      \
    static inline T name##_add_relaxed(struct name *a, T x)                             \
    { return atomic_fetch_add_explicit(&a->v, x, memory_order_relaxed) + x; }           \
    static inline T name##_sub_relaxed(struct name *a, T x)                             \
    { return atomic_fetch_sub_explicit(&a->v, x, memory_order_relaxed) - x; }           \
    static inline T name##_or_relaxed(struct name *a, T x)                              \
    { return atomic_fetch_or_explicit(&a->v, x, memory_order_relaxed); }              \
    static inline T name##_and_relaxed(struct name *a, T x)                             \
    { return atomic_fetch_and_explicit(&a->v, x, memory_order_relaxed); }             \
    static inline T name##_sub_release(struct name *a, T x)                             \
    { return atomic_fetch_sub_explicit(&a->v, x, memory_order_release) - x; }

GCHI_ATOMIC_ARITH(atomic_u8, uint8_t)
GCHI_ATOMIC_ARITH(atomic_u32, uint32_t)
GCHI_ATOMIC_ARITH(atomic_u64, uint64_t)
GCHI_ATOMIC_ARITH(atomic_i64, int64_t)
GCHI_ATOMIC_ARITH(atomic_uptr, uintptr_t)

static inline void *atomic_ptr_load_relaxed(const struct atomic_ptr *a)
{ return atomic_load_explicit((void *_Atomic *)&a->v, memory_order_relaxed); }
static inline void *atomic_ptr_load_acquire(const struct atomic_ptr *a)
{ return atomic_load_explicit((void *_Atomic *)&a->v, memory_order_acquire); }
static inline void atomic_ptr_store_relaxed(struct atomic_ptr *a, void *x)
{ atomic_store_explicit(&a->v, x, memory_order_relaxed); }
static inline void atomic_ptr_store_release(struct atomic_ptr *a, void *x)
{ atomic_store_explicit(&a->v, x, memory_order_release); }

/* Plain fields that lock-free readers copy and then validate with a
 * sequence counter (a seqlock: the mspan layout, see mheap_alloc_span).
 * The field keeps its plain type for the code that owns it; only the
 * racing writer and the racing readers use these. */
#define GCHI_SEQ_STORE(p, x) __atomic_store_n((p), (x), __ATOMIC_RELEASE)
#define GCHI_SEQ_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)

/* Atomic access to plain memory the library does not own the type of:
 * heap slots (void *, written by the embedder through gch_write and read
 * by markers), mark and alloc bitmap bytes and words, the object headers
 * a span's concurrent readers load, and the gchi_thread_head words the
 * public inline fast paths read (include/gcheap/attrs.h, which cannot
 * use the wrappers above).  Same rule: the order is in the name, and no
 * other file spells __atomic_ (scripts/check_style.py). */
#define GCHI_MEM_OPS(name, T)                                                           \
    static inline T name##_load_relaxed(const T *p)                                     \
    { return __atomic_load_n(p, __ATOMIC_RELAXED); }                                    \
    static inline T name##_load_acquire(const T *p)                                     \
    { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }                                    \
    static inline void name##_store_relaxed(T *p, T x)                                  \
    { __atomic_store_n(p, x, __ATOMIC_RELAXED); }                                       \
    static inline void name##_store_release(T *p, T x)                                  \
    { __atomic_store_n(p, x, __ATOMIC_RELEASE); }
GCHI_MEM_OPS(mem_u8, uint8_t)
GCHI_MEM_OPS(mem_u32, uint32_t)
GCHI_MEM_OPS(mem_u64, uint64_t)
GCHI_MEM_OPS(mem_uptr, uintptr_t)
GCHI_MEM_OPS(mem_size, size_t)

/* mem_u8_or_relaxed: *p |= m; returns the old byte. */
static inline uint8_t mem_u8_or_relaxed(uint8_t *p, uint8_t m)
{ return __atomic_fetch_or(p, m, __ATOMIC_RELAXED); }
/* mem_u64_or_relaxed / mem_u64_and_relaxed: *p |= m / *p &= m, as one
 * atomic read-modify-write (mark-bit words other markers set too). */
static inline void mem_u64_or_relaxed(uint64_t *p, uint64_t m)
{ (void)__atomic_fetch_or(p, m, __ATOMIC_RELAXED); }
static inline void mem_u64_or_release(uint64_t *p, uint64_t m)
{ (void)__atomic_fetch_or(p, m, __ATOMIC_RELEASE); }
static inline void mem_u64_and_relaxed(uint64_t *p, uint64_t m)
{ (void)__atomic_fetch_and(p, m, __ATOMIC_RELAXED); }
/* mem_u64_bts_relaxed: set bit b % 64 of *p; true if it was already set.
 * Spelled (mask from b & 63, old & mask != 0) so that GCC 12 emits one
 * lock bts on x86, not a load and cmpxchg loop (clang 14 still emits the
 * loop: correct, slower).  Keep the & 63: a memory bts with a register
 * offset addresses a bit string and could reach past the word. */
static inline bool mem_u64_bts_relaxed(uint64_t *p, unsigned b)
{
    uint64_t m = (uint64_t)1 << (b & 63);
    return (__atomic_fetch_or(p, m, __ATOMIC_RELAXED) & m) != 0;
}

/* Heap reference slots.  A slot holds a (possibly tagged) reference, so
 * the loads return its bits as a word; the stores take the pointer. */
static inline uintptr_t slot_load_relaxed(void *const *slot)
{ return __atomic_load_n((const uintptr_t *)(const void *)slot, __ATOMIC_RELAXED); }
static inline uintptr_t slot_load_acquire(void *const *slot)
{ return __atomic_load_n((const uintptr_t *)(const void *)slot, __ATOMIC_ACQUIRE); }
static inline void slot_store_release(void **slot, void *x)
{ __atomic_store_n(slot, x, __ATOMIC_RELEASE); }
/* slot_cas_seq_cst: if *slot == *expected store desired and return true;
 * else copy *slot into *expected and return false.  Sequentially
 * consistent either way (gch_write_cas's contract, gcheap.h). */
static inline bool slot_cas_seq_cst(void **slot, void **expected, void *desired)
{ return __atomic_compare_exchange_n(slot, expected, desired, false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST); }

#endif /* GCHEAP_ALLOC_ATOMIC_H */
