/*
 * proc.h - gc/proc.c's internal entry points: heap creation over other
 * OS operations (fault-injection tests) and the whole-heap verifier.
 * The public ones (gch_heap_new, gch_thread_attach, ...) are gcheap.h's.
 */
#ifndef GCHEAP_GC_PROC_H
#define GCHEAP_GC_PROC_H

#ifndef GCHI_BUILDING
#error "internal header"
#endif

#include "gcheap.h"

struct sys_ops;

/* gchi_heap_new_with_ops: gch_heap_new over replacement OS operations
 * (fault-injection tests). */
gch_heap *gchi_heap_new_with_ops(const gch_config *cfg, const struct sys_ops *ops);
/* gchi_heap_verify: 0 when every checked invariant holds, else a small
 * positive number naming the part that failed (1 = pages, spans and
 * span lists; 2 = thread records and their grey queues and barrier
 * buffers; 3 = the workbuf pool), with gch_last_error_message() naming
 * the invariant, the expression, where, and the values (GCH_CHECK).
 * While no cycle runs it also checks that no grey work is left (G8, B2).
 * No thread may allocate concurrently. */
int gchi_heap_verify(gch_heap *h);

#endif
