/*
 * check.h - assertions, fatal errors and compiler hints.
 * Bottom layer: includes nothing of gcheap but the public config.
 *
 * GCH_ASSERT           level >= 1: cheap checks of API misuse
 * GCH_ASSERT_INTERNAL  level >= 2: internal invariants, cited by name (C1, H2, ...)
 * GCH_ASSERT_EXPENSIVE level >= 3: O(n) walks
 * gch_fatal            always on: print what broke, a backtrace, abort()
 * GCH_CHECK, GCH_CHECK_CMP  in validators (*_is_valid, gchi_heap_verify):
 *                      a failed check returns false, naming itself
 *
 * Failing assertions go to gch_fatal, which never allocates: it may run
 * with heap locks held or with malloc's state unknown.
 */
#ifndef GCHEAP_ALLOC_CHECK_H
#define GCHEAP_ALLOC_CHECK_H

#ifndef GCHI_BUILDING
#error "internal header: include <gcheap.h> instead"
#endif

#include <stdbool.h>
#include <stdint.h>
#include "gcheap/config.h"

#define GCH_LIKELY(x) __builtin_expect(!!(x), 1)
#define GCH_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GCH_NOINLINE __attribute__((noinline))
#define GCH_ALWAYS_INLINE inline __attribute__((always_inline))
#define GCH_NORETURN _Noreturn
#define GCH_COLD __attribute__((cold))

/* gch_fatal: report an unrecoverable state and abort.  msg is a fixed
 * sentence; the three values (object, span, slot or any words that help)
 * are printed in hex when non-zero.  Never allocates. */
GCH_NORETURN GCH_COLD void gch_fatal(const char *msg, uintptr_t a, uintptr_t b, uintptr_t c);
/* gch_fatalf: as gch_fatal but with a printf-style message formatted
 * into a stack buffer. */
GCH_NORETURN GCH_COLD void gch_fatalf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* gch_assert_fail: the target of the assertion macros. */
GCH_NORETURN GCH_COLD void gch_assert_fail(const char *expr, const char *file, int line);

#define GCHI_ASSERT_ON(x) \
    (GCH_LIKELY(x) ? (void)0 : gch_assert_fail(#x, __FILE__, __LINE__))
#define GCHI_ASSERT_OFF(x) ((void)sizeof(!(x)))

#if GCH_DEBUG >= 1
#define GCH_ASSERT(x) GCHI_ASSERT_ON(x)
#else
#define GCH_ASSERT(x) GCHI_ASSERT_OFF(x)
#endif
#if GCH_DEBUG >= 2
#define GCH_ASSERT_INTERNAL(x) GCHI_ASSERT_ON(x)
#else
#define GCH_ASSERT_INTERNAL(x) GCHI_ASSERT_OFF(x)
#endif
#if GCH_DEBUG >= 3
#define GCH_ASSERT_EXPENSIVE(x) GCHI_ASSERT_ON(x)
#else
#define GCH_ASSERT_EXPENSIVE(x) GCHI_ASSERT_OFF(x)
#endif

/* Validators (the *_is_valid walkers and gchi_heap_verify) state each
 * invariant they check with one of these, in a function returning bool:
 *   GCH_CHECK(name, cond)          name: the invariant cited ("H1", "C2");
 *   GCH_CHECK_CMP(name, a, op, b)  a op b over unsigned values, and both
 *                                  values are reported.
 * A failed check returns false from the validator at once, after
 * gchi_check_failed (alloc/error.c) left as the thread's last error
 * (GCH_ESTATE) "invariant NAME failed: EXPR at FILE:LINE" plus the two
 * values: the caller (a test's teardown) prints which check broke, not
 * "2 != 0".  A validator that holds a lock runs its checks in a helper
 * called under the lock, so the early return cannot leak it; a check of
 * a sub-validator's result uses a plain `if (!sub()) return false;` so
 * the innermost failure's message stays. */
GCH_COLD void gchi_check_failed(const char *name, const char *expr, const char *file, int line,
                                uint64_t a, uint64_t b, bool values);
#define GCH_CHECK(name, cond)                                                           \
    do {                                                                                \
        if (GCH_UNLIKELY(!(cond))) {                                                    \
            gchi_check_failed(name, #cond, __FILE__, __LINE__, 0, 0, false);            \
            return false;                                                               \
        }                                                                               \
    } while (0)
#define GCH_CHECK_CMP(name, a, op, b)                                                   \
    do {                                                                                \
        uint64_t gchi_a_ = (uint64_t)(a), gchi_b_ = (uint64_t)(b);                      \
        if (GCH_UNLIKELY(!(gchi_a_ op gchi_b_))) {                                      \
            gchi_check_failed(name, #a " " #op " " #b, __FILE__, __LINE__, gchi_a_,     \
                              gchi_b_, true);                                           \
            return false;                                                               \
        }                                                                               \
    } while (0)

#endif /* GCHEAP_ALLOC_CHECK_H */
