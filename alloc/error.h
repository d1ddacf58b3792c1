/*
 * error.h - the per-OS-thread error slot behind gch_last_error().
 * Overview: alloc/malloc.c.
 *
 * The slot is thread-local, like errno: it is not heap state, so two
 * heaps stay independent (DESIGN.md decision 1).  Setting it never
 * allocates; the message is formatted into a fixed buffer.
 */
#ifndef GCHEAP_ALLOC_ERROR_H
#define GCHEAP_ALLOC_ERROR_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include "gcheap.h"
#include "check.h"

/* gchi_set_error: record code e with a formatted message.  Returns NULL
 * so that allocation paths can `return gchi_set_error(...)`. */
GCH_COLD void *gchi_set_error(gch_error e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* gchi_thread_tag_byte: one byte per OS thread whose address identifies
 * the thread in O(1) without a call (pthread_self is a call).  The
 * allocation fast path compares it with mcache.owner_tag.  initial-exec:
 * an address computation from the thread pointer, no __tls_get_addr. */
extern _Thread_local char gchi_thread_tag_byte __attribute__((tls_model("initial-exec")));

static inline uintptr_t gchi_thread_tag(void) { return (uintptr_t)&gchi_thread_tag_byte; }

#endif
