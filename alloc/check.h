/*
 * check.h - assertions, fatal errors and compiler hints.
 * Bottom layer: includes nothing of gcheap but the public config.
 *
 * GCH_ASSERT           level >= 1: cheap checks of API misuse
 * GCH_ASSERT_INTERNAL  level >= 2: internal invariants, cited by name (C1, H2, ...)
 * GCH_ASSERT_EXPENSIVE level >= 3: O(n) walks
 * gch_fatal            always on: print what broke, a backtrace, abort()
 * (The validators' GCH_CHECK and GCH_CHECK_CMP, which report through the
 * error slot, are alloc/error.h's.)
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

/* The validators' GCH_CHECK and GCH_CHECK_CMP are alloc/error.h's: a
 * failed check leaves its message in the error slot. */

#endif /* GCHEAP_ALLOC_CHECK_H */
