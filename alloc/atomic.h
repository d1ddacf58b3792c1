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

#endif /* GCHEAP_ALLOC_ATOMIC_H */
