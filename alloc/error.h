/*
 * error.h - the per-OS-thread error slot behind gch_last_error().
 * Overview: alloc/malloc.c.
 *
 * The slot is thread-local, like errno: it is not heap state, so two
 * heaps stay independent (DESIGN.md decision 1).  Setting it never
 * allocates; the message is formatted into a fixed buffer.  The
 * validators' GCH_CHECK and GCH_CHECK_CMP (below) leave their message
 * here.
 */
#ifndef GCHEAP_ALLOC_ERROR_H
#define GCHEAP_ALLOC_ERROR_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include "gcheap.h"
#include <stdbool.h>
#include "check.h"

/* gchi_set_error: record code e with a formatted message.  Returns NULL
 * so that allocation paths can `return gchi_set_error(...)`. */
GCH_COLD void *gchi_set_error(gch_error e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* gchi_scan_enter / _leave / gchi_in_scan: bracket the collector's
 * scanning on this OS thread, which runs the embedder's trace and scan
 * callbacks; an allocation or collection from inside one is a fatal
 * misuse wherever it happens (a worker thread, or a mutator doing its
 * root scan or an assist).  Thread-local like the error slot. */
void gchi_scan_enter(void);
void gchi_scan_leave(void);
bool gchi_in_scan(void);
/* gchi_sink_enter / _leave / gchi_in_sink: bracket a call of the
 * embedder's trace sink (gch_config.trace), which may run inside a cycle
 * (before the cycle's end is published): work that would wait for that
 * cycle, such as a gcstress collection, is put off while it runs. */
void gchi_sink_enter(void);
void gchi_sink_leave(void);
bool gchi_in_sink(void);

/* gchi_thread_tag: a non-zero word unique to each live OS thread: its
 * thread pointer (%fs base on x86-64, tpidr_el0 on arm64), one
 * instruction and no TLS variable, so the library needs no static TLS
 * when dlopen'ed.  The allocation fast path compares it with
 * mcache.owner_tag.  A thread that exits while attached may see its tag
 * reused by a later thread: detach before a thread exits (gcheap.h). */
static inline uintptr_t gchi_thread_tag(void) { return (uintptr_t)__builtin_thread_pointer(); }

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

#endif
